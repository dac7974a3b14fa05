"""The dead-letter tool of the runbook (python -m subsidy_runtime.dlq) on a real Kafka broker: it lists what a
dead-letter topic holds, selects by consumer and failure, publishes nothing in a dry run, and replays the
original value, key and headers to the original topic, marked as replayed."""

from __future__ import annotations

import asyncio
import base64
import io
import uuid
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from subsidy_contracts.deadletter import DeadLetter, FailureKind
from subsidy_contracts.topics import dead_letter_topic
from subsidy_runtime import dlq
from tests.conftest import Stack

pytestmark = [pytest.mark.infra]

# Topics of their own: the platform's dead-letter and event topics are read by other tests, which must not
# meet these records (one of them is deliberately not JSON).
SERVICE = "dlqtest"
TARGET = "dlqtest.replayed.v1"


async def _create_topics(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(dead_letter_topic(SERVICE).name, 1, 1), NewTopic(TARGET, 1, 1)], validate_only=False
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


def _dead_letter(consumer: str, failure: FailureKind, event_id: str, value: str) -> DeadLetter:
    return DeadLetter(
        service=SERVICE,
        consumer=consumer,
        failure=failure,
        reason="handler failed: KeyError 'template'",
        error_class="KeyError",
        original_topic=TARGET,
        original_partition=4,
        original_offset=1234,
        original_key="application-7",
        original_headers={"correlation_id": "c-1", "event_type": "x"},
        original_value=value,
        event_id=event_id,
        event_type="x",
        attempts=4,
        failed_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    )


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k", partition=0)
    finally:
        await producer.stop()


async def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await dlq.topic_partitions(bootstrap, topic)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def _read_new(bootstrap: str, topic: str, since: dict[int, int]) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(since)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        for tp in partitions:
            consumer.seek(tp, since[tp.partition])
            while await consumer.position(tp) < ends[tp]:
                records.extend((await consumer.getmany(tp, timeout_ms=2000)).get(tp, []))
        return records
    finally:
        await consumer.stop()


def _run(*args: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert dlq.main(list(args)) == 0
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_list_dry_run_and_replay(infra: Stack) -> None:
    bootstrap = infra.bootstrap
    dead = dead_letter_topic(SERVICE).name
    asyncio.run(_create_topics(bootstrap))
    wanted_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    payload = orjson.dumps({"event_id": wanted_id, "hello": "世界"}).decode()
    asyncio.run(
        _produce(
            bootstrap,
            dead,
            [
                _dead_letter("messages", FailureKind.PROCESSING, wanted_id, payload).model_dump_json().encode(),
                _dead_letter("messages", FailureKind.INVALID, other_id, "{}").model_dump_json().encode(),
                _dead_letter("other", FailureKind.PROCESSING, str(uuid.uuid4()), "{}").model_dump_json().encode(),
                b"not a dead-letter record",
            ],
        )
    )
    common = ("--bootstrap", bootstrap, "--service", SERVICE)

    listed = _run("list", *common)
    assert listed[-1] == {
        "topic": dead,
        "records": 4,
        "selected": 3,
        "unreadable": 1,
        "replayed": 0,
        "dry_run": False,
    }

    before = asyncio.run(_ends(bootstrap, TARGET))
    dry = _run("replay", *common, "--consumer", "messages", "--failure", "processing")
    assert [line["event_id"] for line in dry[:-1]] == [wanted_id]
    assert dry[-1]["dry_run"] is True
    assert dry[-1]["replayed"] == 0
    assert asyncio.run(_ends(bootstrap, TARGET)) == before, "a dry run published something"

    done = _run("replay", *common, "--consumer", "messages", "--failure", "processing", "--execute")
    assert done[-1]["replayed"] == 1
    replayed = asyncio.run(_read_new(bootstrap, TARGET, before))
    assert len(replayed) == 1
    record = replayed[0]
    assert record.value.decode() == payload
    assert record.key == b"application-7"
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["correlation_id"] == "c-1"
    assert headers[dlq.REPLAYED_FROM_HEADER] == f"{dead}:0:{listed[0]['offset']}"
    assert datetime.fromisoformat(headers[dlq.REPLAYED_AT_HEADER]).tzinfo is not None


def test_a_base64_value_is_replayed_as_the_original_bytes() -> None:
    raw = b"\xff\xfe not utf-8"
    record = _dead_letter("messages", FailureKind.UNDECODABLE, "", "").model_copy(
        update={"original_value": base64.b64encode(raw).decode(), "original_value_encoding": "base64"}
    )
    assert dlq.original_value(record) == raw
