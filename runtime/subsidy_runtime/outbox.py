"""Transactional outbox: state changes and the records that announce them commit together; a relay
publishes the records afterwards.

The relay is one leader per service (a PostgreSQL advisory lock held on its own connection), reads rows in
id order, publishes each with its key through the idempotent, acks=all producer, waits for every
acknowledgement and only then deletes the rows in the same transaction. A crash between the acks and the
commit republishes those rows: consumers de-duplicate on the event id (inbox), so effects stay exactly-once.
Per-key order holds because every writer of an entity's events locks that entity's row first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from subsidy_contracts.envelope import Event
from subsidy_contracts.topics import topic_for

from .db import Connection
from .logging import get_logger
from .metrics import ServiceMetrics

log = get_logger(__name__)

JSON = "application/json"


@dataclass(frozen=True)
class OutboxRecord:
    topic: str
    key: str | None
    value: str
    headers: dict[str, str]
    event_type: str | None = None


def record_for(event: Event) -> OutboxRecord:
    return OutboxRecord(
        topic=topic_for(event.event_type).name,
        key=event.subject_key,
        value=event.model_dump_json(),
        headers=event_headers(event),
        event_type=event.event_type,
    )


def event_headers(event: Event) -> dict[str, str]:
    """Kafka headers that let consumers route or skip a record without parsing it."""
    return headers_for(
        event.event_type, event.schema_version, str(event.event_id), str(event.correlation_id), event.producer
    )


def headers_for(event_type: str, version: int, event_id: str, correlation_id: str, producer: str) -> dict[str, str]:
    """event_headers from the envelope's fields, for writers that serialise events without building the model."""
    return {
        "content-type": JSON,
        "event_type": event_type,
        "schema_version": str(version),
        "event_id": event_id,
        "correlation_id": correlation_id,
        "producer": producer,
    }


def json_event_record(
    *,
    topic: str,
    event_type: str,
    version: int,
    producer: str,
    event_id: str,
    correlation_id: str,
    subject_key: str,
    occurred_at: str,
    payload: dict[str, Any],
) -> OutboxRecord:
    """The outbox record of an event whose payload is already in its JSON form, enveloped as Event serialises
    itself (keys in its order, no causation): for bulk writers, where building and dumping the pydantic model per
    event costs more than the rest of the work. Their tests read such records back through the contracts."""
    document = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": occurred_at,
        "producer": producer,
        "correlation_id": correlation_id,
        "causation_id": None,
        "subject_key": subject_key,
        "payload": payload,
    }
    return OutboxRecord(
        topic=topic,
        key=subject_key,
        value=orjson.dumps(document).decode(),
        headers=headers_for(event_type, version, event_id, correlation_id, producer),
        event_type=event_type,
    )


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


async def write_outbox(conn: Connection, schema: str, records: Sequence[OutboxRecord]) -> None:
    """Insert records in one statement and wake the relay when the transaction commits."""
    if not records:
        return
    # One statement: the rows, and a NOTIFY that PostgreSQL delivers when the transaction commits.
    await conn.execute(
        """WITH written AS (
               INSERT INTO outbox (topic, key, event_type, headers, value)
               SELECT t.topic, t.key, t.event_type, t.headers::jsonb, t.value
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS t(topic, key, event_type, headers, value)
               RETURNING 1)
           SELECT pg_notify($6, '') WHERE EXISTS (SELECT 1 FROM written)""",
        [r.topic for r in records],
        [r.key for r in records],
        [r.event_type for r in records],
        [orjson.dumps(r.headers).decode() for r in records],
        [r.value for r in records],
        notify_channel(schema),
    )


@dataclass
class Transaction:
    """A database transaction and the records it will publish when it commits.

    Handlers and HTTP endpoints write their state through `conn` and announce it with `publish`; the
    runtime writes the staged records to the outbox inside the same transaction.
    """

    conn: Connection
    schema: str
    staged: list[OutboxRecord] = field(default_factory=list)
    deferred: list[tuple[Event, str]] = field(default_factory=list)

    def publish(self, *events: Event) -> None:
        self.staged.extend(record_for(e) for e in events)

    def publish_record(self, record: OutboxRecord) -> None:
        self.staged.append(record)

    def defer(self, event: Event, reason: str) -> None:
        """Try this consumed event again later, through the service's retry topic (consumers only)."""
        self.deferred.append((event, reason))

    async def flush(self) -> None:
        staged, self.staged = self.staged, []
        await write_outbox(self.conn, self.schema, staged)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, schema: str) -> AsyncIterator[Transaction]:
    """A transaction on a pooled connection whose published events are written to the outbox when it commits."""
    async with pool.acquire() as conn, conn.transaction():
        tx = Transaction(conn, schema)
        yield tx
        await tx.flush()


Publish = Callable[[OutboxRecord], Awaitable[Any]]
"""Sends one record and returns an awaitable that resolves when the broker acknowledged it."""


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        pool: asyncpg.Pool,
        schema: str,
        publish: Publish,
        metrics: ServiceMetrics,
        batch_size: int = 2000,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._dsn = dsn
        self._pool = pool
        self._schema = schema
        self._publish = publish
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self.last_error: str | None = None

    async def run(self) -> None:
        """Relay until stopped; follower instances wait for the leader's lock."""
        while not self._stopping.is_set():
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, broker down ...: back off, then try again
                self.is_leader = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay interrupted", error=self.last_error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _lead(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn, server_settings={"search_path": self._schema, "application_name": "outbox-relay"}
        )
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self._schema}"):
                self.is_leader = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=2.0)
                if self._stopping.is_set():
                    return
            self.is_leader = True
            await conn.add_listener(notify_channel(self._schema), self._on_notify)
            log.info("outbox relay leading", schema=self._schema)
            while not self._stopping.is_set():
                self._wake.clear()
                published = await self.drain_once()
                self.last_error = None
                if published < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            await self.drain_once()  # publish what the last transactions wrote before stopping
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def drain_once(self) -> int:
        """Publish one batch of rows in id order; returns how many were published."""
        started = time.perf_counter()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, event_type, headers, value FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            pending = [
                await self._publish(OutboxRecord(r["topic"], r["key"], r["value"], r["headers"], r["event_type"]))
                for r in rows
            ]
            await asyncio.gather(*pending)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        per_topic: dict[str, int] = {}
        for r in rows:
            per_topic[r["topic"]] = per_topic.get(r["topic"], 0) + 1
        for topic, n in per_topic.items():
            self._metrics.events_produced.labels(topic).inc(n)
        self._metrics.outbox_publish_seconds.observe(time.perf_counter() - started)
        return len(rows)

    async def observe_backlog(self) -> None:
        """Update the backlog gauges (called periodically, not per batch: count(*) is not free)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
            )
        assert row is not None
        self._metrics.outbox_backlog.set(row["n"])
        self._metrics.outbox_lag.set(max(0.0, float(row["age"])))
