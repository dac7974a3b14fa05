"""Inspect and replay a service's dead-letter topic.

    python -m subsidy_runtime.dlq list   --bootstrap HOST:PORT --service eligibility [filters]
    python -m subsidy_runtime.dlq replay --bootstrap HOST:PORT --service eligibility [filters] [--execute]

Both read the dead-letter topic from its beginning up to its end at the moment the command starts (records
written meanwhile wait for the next run) and select records by consumer, failure kind, event id and time.
`replay` publishes each selected record's original value, key and headers back to its original topic with
acks=all and the idempotent producer, plus the headers replayed_from_dead_letter (topic:partition:offset)
and replayed_at. Without --execute it only says what it would publish.

Replaying to the original topic is safe for every consumer group of that topic: each service's inbox
skips event ids it already applied, so only the consumer that failed applies the event again. Fix the cause
first (a new rule pack, a corrected contract, a repaired database): a record replayed unchanged into the same
bug is dead-lettered again, with attempts counted anew.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from subsidy_contracts.deadletter import DeadLetter, FailureKind
from subsidy_contracts.topics import dead_letter_topic

from .settings import idempotent_producer

REPLAYED_FROM_HEADER = "replayed_from_dead_letter"
REPLAYED_AT_HEADER = "replayed_at"


@dataclass(frozen=True)
class Selection:
    consumer: str | None = None
    failures: frozenset[FailureKind] = frozenset()
    event_ids: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: DeadLetter) -> bool:
        return (
            (self.consumer is None or record.consumer == self.consumer)
            and (not self.failures or record.failure in self.failures)
            and (not self.event_ids or (record.event_id or "") in self.event_ids)
            and (self.since is None or record.failed_at >= self.since)
            and (self.until is None or record.failed_at < self.until)
        )


@dataclass(frozen=True)
class Found:
    partition: int
    offset: int
    record: DeadLetter | None  # None: the dead-letter record itself could not be read
    problem: str | None = None


def original_value(record: DeadLetter) -> bytes:
    if record.original_value_encoding == "base64":
        return base64.b64decode(record.original_value)
    return record.original_value.encode("utf-8")


def replay_headers(
    record: DeadLetter, topic: str, partition: int, offset: int, now: datetime
) -> list[tuple[str, bytes]]:
    headers = {k: v for k, v in record.original_headers.items() if k not in (REPLAYED_FROM_HEADER, REPLAYED_AT_HEADER)}
    headers[REPLAYED_FROM_HEADER] = f"{topic}:{partition}:{offset}"
    headers[REPLAYED_AT_HEADER] = now.isoformat()
    return [(k, v.encode("utf-8")) for k, v in headers.items()]


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition ids, from the broker (the consumer's metadata cache may not know the topic yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="subsidy-dlq-tool")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [t for t in described if t.get("topic") == topic and not t.get("error_code")]
    if not found or not found[0].get("partitions"):
        raise LookupError(f"topic {topic} does not exist")
    return sorted(int(p["partition"]) for p in found[0]["partitions"])


async def read_dead_letters(bootstrap: str, topic: str) -> list[Found]:
    """Every record of the topic up to its current end, in partition and offset order."""
    partitions = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, client_id="subsidy-dlq-tool"
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[Found] = []
        for tp in assigned:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=2000, max_records=500)
                for record in batch.get(tp, []):
                    if record.offset >= ends[tp]:
                        break
                    found.append(_parse(record.partition, record.offset, record.value))
        return found
    finally:
        await consumer.stop()


def _parse(partition: int, offset: int, value: bytes | None) -> Found:
    try:
        return Found(partition, offset, DeadLetter.model_validate_json(value or b""))
    except ValueError as exc:
        return Found(partition, offset, None, problem=f"unreadable dead-letter record: {type(exc).__name__}")


async def replay(
    bootstrap: str, topic: str, selected: Iterable[Found], *, now: datetime | None = None
) -> list[tuple[Found, str]]:
    """Publishes the selected records to their original topics; returns (record, 'topic:partition:offset')."""
    moment = now or datetime.now(UTC)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=idempotent_producer(),
        client_id="subsidy-dlq-replay",
    )
    await producer.start()
    try:
        published: list[tuple[Found, str]] = []
        for found in selected:
            record = found.record
            assert record is not None
            meta = await producer.send_and_wait(
                record.original_topic,
                original_value(record),
                key=record.original_key.encode("utf-8") if record.original_key is not None else None,
                headers=replay_headers(record, topic, found.partition, found.offset, moment),
            )
            published.append((found, f"{meta.topic}:{meta.partition}:{meta.offset}"))
        return published
    finally:
        await producer.stop()


def _summary(found: Found) -> dict[str, object]:
    if found.record is None:
        return {"partition": found.partition, "offset": found.offset, "problem": found.problem}
    r = found.record
    return {
        "partition": found.partition,
        "offset": found.offset,
        "consumer": r.consumer,
        "failure": r.failure.value,
        "event_type": r.event_type,
        "event_id": r.event_id,
        "original": f"{r.original_topic}:{r.original_partition}:{r.original_offset}",
        "attempts": r.attempts,
        "failed_at": r.failed_at.isoformat(),
        "reason": r.reason[:300],
    }


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a time zone (e.g. 2026-11-30T08:00:00+08:00)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subsidy_runtime.dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--service", required=True, help="whose dead-letter topic: registration, eligibility ...")
    parser.add_argument("--consumer", help="only records of this consumer group")
    parser.add_argument("--failure", action="append", choices=[k.value for k in FailureKind], default=[])
    parser.add_argument("--event-id", action="append", default=[], help="only these event ids (repeatable)")
    parser.add_argument("--since", type=_parse_time, help="failed at or after (ISO 8601 with zone)")
    parser.add_argument("--until", type=_parse_time, help="failed before (ISO 8601 with zone)")
    parser.add_argument("--execute", action="store_true", help="replay: really publish (default: dry run)")
    args = parser.parse_args(argv)

    topic = dead_letter_topic(args.service).name
    selection = Selection(
        consumer=args.consumer,
        failures=frozenset(FailureKind(f) for f in args.failure),
        event_ids=frozenset(args.event_id),
        since=args.since,
        until=args.until,
    )
    try:
        found = asyncio.run(read_dead_letters(args.bootstrap, topic))
    except LookupError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    unreadable = [f for f in found if f.record is None]
    selected = [f for f in found if f.record is not None and selection.matches(f.record)]
    out = sys.stdout
    for f in selected if args.command == "replay" else [*selected, *unreadable]:
        out.write(orjson.dumps(_summary(f)).decode() + "\n")
    published: list[tuple[Found, str]] = []
    if args.command == "replay" and args.execute:
        published = asyncio.run(replay(args.bootstrap, topic, selected))
    result = {
        "topic": topic,
        "records": len(found),
        "selected": len(selected),
        "unreadable": len(unreadable),
        "replayed": len(published),
        "dry_run": args.command == "replay" and not args.execute,
    }
    out.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
