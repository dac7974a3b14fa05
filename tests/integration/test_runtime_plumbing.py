"""The shared runtime on real Kafka and PostgreSQL: inbox de-duplication, transient retries in place, the
retry topic, dead letters with reasons, and the outbox relay. A small in-process service ("rtest") with its
own role and schema is built on ServiceRuntime exactly as the four services are."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from subsidy_contracts.registration import ApplicationWithdrawn, ApplicationWithdrawnPayload
from subsidy_contracts.topics import Topic, dead_letter_topic, retry_topic
from subsidy_runtime.migrations import Migration, MigrationError, migrate, service_migrations
from subsidy_runtime.outbox import OutboxRecord, OutboxRelay, Transaction
from subsidy_runtime.provision import provision
from subsidy_runtime.service import ServiceRuntime
from subsidy_runtime.settings import ServiceSettings
from tests.conftest import Stack
from tests.e2e.invariants import read_topic

pytestmark = [pytest.mark.infra]
INPUT = Topic("rtest.input.v1", 3, key="application id", description="test input", events=(ApplicationWithdrawn,))
OUTPUT = "rtest.output.v1"


class Behaviour:
    """What the handler does per reason: fail for good, fail transiently a few times, defer once."""

    def __init__(self) -> None:
        self.transient_failures_left = 2
        self.deferred: set[uuid.UUID] = set()
        self.calls = 0


async def _handler(tx: Transaction, events: list[ApplicationWithdrawn], behaviour: Behaviour) -> None:
    behaviour.calls += 1
    applied = []
    for e in events:
        reason = e.payload.reason
        if reason == "poison":
            raise ValueError(f"cannot apply {e.payload.application_id}")
        if reason == "flaky" and behaviour.transient_failures_left > 0:
            behaviour.transient_failures_left -= 1
            raise ConnectionError("database went away")
        if reason == "later" and e.event_id not in behaviour.deferred:
            behaviour.deferred.add(e.event_id)
            tx.defer(e, "not yet")
            continue
        applied.append(e)
    await tx.conn.executemany(
        "INSERT INTO items (application_id, reason) VALUES ($1, $2)",
        [(e.payload.application_id, e.payload.reason) for e in applied],
    )


def _event(reason: str, application_id: uuid.UUID | None = None) -> ApplicationWithdrawn:
    app_id = application_id or uuid.uuid4()
    payload = ApplicationWithdrawnPayload(
        application_id=app_id, programme_id="sx.internship-subsidy", reason=reason, withdrawn_at=datetime.now(UTC)
    )
    return ApplicationWithdrawn.create(payload, producer="test", subject_key=str(app_id), correlation_id=uuid.uuid4())


async def _publish(stack: Stack, *records: tuple[bytes, bytes | None, list[tuple[str, bytes]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for value, key, headers in records:
            await producer.send_and_wait(INPUT.name, value, key=key, headers=headers)
    finally:
        await producer.stop()


def _record(e: ApplicationWithdrawn) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    return e.model_dump_json().encode(), e.subject_key.encode(), [("event_type", e.event_type.encode())]


async def _wait_for(predicate: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def rtest(infra: Stack) -> AsyncIterator[tuple[ServiceRuntime, Behaviour]]:
    admin_url = infra.admin_dsn.rsplit("/", 1)[0] + "/postgres"
    await provision(admin_url, infra.env["PG_DATABASE"], ["rtest"])
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(t.name, t.partitions, 1)
                for t in (INPUT, dead_letter_topic("rtest"), retry_topic("rtest"), Topic(OUTPUT, 1, "-", "test output"))
            ]
        )
    finally:
        await admin.close()
    settings = ServiceSettings(
        service_name="rtest",
        database_url=infra.dsn("rtest"),
        kafka_bootstrap_servers=infra.bootstrap,
        retry_max_attempts=3,
        retry_base_delay_s=0.05,
        consumer_batch_timeout_ms=50,
        instance_id="test",
    )
    runtime = ServiceRuntime(
        settings, migrations_package="tests.integration.rtest_sql", title="rtest", description="test"
    )
    behaviour = Behaviour()

    @runtime.consumer(INPUT, events=[ApplicationWithdrawn], name="items")
    async def handle(tx: Transaction, events: list[ApplicationWithdrawn]) -> None:
        await _handler(tx, events, behaviour)

    await runtime.start()
    try:
        yield runtime, behaviour
    finally:
        await runtime.stop()


async def _items(runtime: ServiceRuntime) -> dict[uuid.UUID, str]:
    async with runtime.pool.acquire() as conn:
        return {r["application_id"]: r["reason"] for r in await conn.fetch("SELECT * FROM items")}


async def test_redelivered_events_are_applied_once(rtest: tuple[ServiceRuntime, Behaviour], infra: Stack) -> None:
    runtime, _ = rtest
    events = [_event("ok") for _ in range(5)]
    await _publish(infra, *(_record(e) for e in events), _record(events[0]), _record(events[3]))
    ids = {e.payload.application_id for e in events}

    async def all_applied() -> bool:
        return ids <= set(await _items(runtime))

    await _wait_for(all_applied)
    await asyncio.sleep(1.0)  # give the duplicates time to arrive too
    async with runtime.pool.acquire() as conn:
        inbox = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE message_id = ANY($1::text[])", [str(e.event_id) for e in events]
        )
    assert inbox == 5
    sample = runtime.metrics.registry.get_sample_value("subsidy_events_duplicate_total", {"consumer": "items"})
    assert sample is not None
    assert sample >= 2


async def test_transient_failure_is_retried_in_place(rtest: tuple[ServiceRuntime, Behaviour], infra: Stack) -> None:
    runtime, behaviour = rtest
    event = _event("flaky")
    await _publish(infra, _record(event))

    async def applied() -> bool:
        return event.payload.application_id in await _items(runtime)

    await _wait_for(applied)
    assert behaviour.transient_failures_left == 0
    transient = runtime.metrics.registry.get_sample_value(
        "subsidy_events_failed_total", {"consumer": "items", "kind": "transient"}
    )
    assert transient is not None
    assert transient >= 2


async def test_poison_event_goes_through_retries_to_the_dead_letter_topic(
    rtest: tuple[ServiceRuntime, Behaviour], infra: Stack
) -> None:
    runtime, _ = rtest
    poison, fine = _event("poison"), _event("ok")
    await _publish(infra, _record(poison), _record(fine))

    async def dead_lettered() -> bool:
        async with runtime.pool.acquire() as conn:
            return bool(
                await conn.fetchval("SELECT count(*) FROM dead_letters WHERE event_id = $1", str(poison.event_id))
            )

    await _wait_for(dead_lettered)
    assert fine.payload.application_id in await _items(runtime)  # the rest of the batch was applied
    assert poison.payload.application_id not in await _items(runtime)
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM dead_letters WHERE event_id = $1", str(poison.event_id))
    assert row is not None
    assert row["failure"] == "retries_exhausted"
    assert "ValueError: cannot apply" in row["reason"]
    assert row["original_topic"] == INPUT.name  # the original coordinates survive the trip through the retry topic
    assert row["record"]["attempts"] == 3

    async def on_topic() -> bool:
        letters = [orjson.loads(r.value) for r in await read_topic(infra.bootstrap, "rtest.dead-letter.v1")]
        return any(d.get("event_id") == str(poison.event_id) for d in letters)

    await _wait_for(on_topic)
    retried = [orjson.loads(r.value) for r in await read_topic(infra.bootstrap, "rtest.retry.v1")]
    assert sum(1 for d in retried if d["event_id"] == str(poison.event_id)) == 2  # attempts 2 and 3


async def test_deferred_event_is_applied_from_the_retry_topic(
    rtest: tuple[ServiceRuntime, Behaviour], infra: Stack
) -> None:
    runtime, behaviour = rtest
    event = _event("later")
    await _publish(infra, _record(event))

    async def applied() -> bool:
        return event.payload.application_id in await _items(runtime)

    await _wait_for(applied)
    assert event.event_id in behaviour.deferred


async def test_outbox_relay_publishes_in_order_and_empties_the_outbox(
    rtest: tuple[ServiceRuntime, Behaviour], infra: Stack
) -> None:
    runtime, _ = rtest
    marker = uuid.uuid4().hex
    async with runtime.transaction() as tx:
        for i in range(50):
            tx.publish_record(OutboxRecord(OUTPUT, "same-key", orjson.dumps({"marker": marker, "i": i}).decode(), {}))

    async def published() -> bool:
        values = [orjson.loads(r.value) for r in await read_topic(infra.bootstrap, OUTPUT)]
        return sum(1 for v in values if v.get("marker") == marker) >= 50

    await _wait_for(published)
    values = [orjson.loads(r.value) for r in await read_topic(infra.bootstrap, OUTPUT)]
    order = [v["i"] for v in values if v.get("marker") == marker]
    assert order == list(range(50))  # one key, one partition: commit order is publication order
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_only_one_relay_leads(rtest: tuple[ServiceRuntime, Behaviour]) -> None:
    runtime, _ = rtest
    assert runtime.relay is not None
    assert runtime.relay.is_leader

    async def never(_: OutboxRecord) -> Any:
        raise AssertionError("a follower must not publish")

    follower = OutboxRelay(
        dsn=runtime.settings.database_url, pool=runtime.pool, schema="rtest", publish=never, metrics=runtime.metrics
    )
    task = asyncio.create_task(follower.run())
    await asyncio.sleep(1.5)
    assert not follower.is_leader
    await follower.stop()
    await asyncio.wait_for(task, timeout=10)


async def test_each_role_sees_only_its_own_schema(infra: Stack) -> None:
    conn = await asyncpg.connect(infra.dsn("eligibility"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM registration.persons LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.sneaky (x int)")
        # Its own schema is its to use.
        await conn.execute("CREATE TABLE eligibility.role_probe (x int); INSERT INTO eligibility.role_probe VALUES (1)")
        assert await conn.fetchval("SELECT x FROM role_probe") == 1  # found through its search_path
        await conn.execute("DROP TABLE eligibility.role_probe")
    finally:
        await conn.close()


async def test_migrations_rerun_is_a_no_op_and_an_edited_migration_is_refused(
    rtest: tuple[ServiceRuntime, Behaviour],
) -> None:
    runtime, _ = rtest
    migrations = service_migrations("tests.integration.rtest_sql")
    async with runtime.pool.acquire() as conn:
        assert await migrate(conn, "rtest", migrations) == []
        edited = [*migrations[:-1], Migration(migrations[-1].version, migrations[-1].sql + "\n-- edited\n")]
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "rtest", edited)
