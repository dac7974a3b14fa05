"""Batch consumers with exactly-once effects.

A consumer reads a batch, decodes each record against the contract, and applies the whole batch in one
database transaction: the inbox rows (one per event id), the handler's state changes and the outbox rows
it publishes. The Kafka offsets are committed only after that transaction commits. A redelivery finds its
inbox rows and changes nothing.

Failures are sorted by what can be done about them:
- transient (database or network unavailable): the batch is retried in place with backoff, then re-read
  from Kafka (the offsets were not committed), so nothing is skipped and order is kept;
- undecodable or invalid records: dead-lettered at once with the validation errors as the reason;
- a handler error on a valid event: the batch is split to isolate the event, which goes to the retry topic
  and, after the last attempt, to the dead-letter topic. The other events of the batch are applied.
"""

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar, Union

import orjson
from aiokafka import ConsumerRecord
from fast_depends.library.serializer import OptionItem, Serializer, SerializerProto
from fast_depends.pydantic import PydanticSerializer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import Field, TypeAdapter, ValidationError, create_model
from pydantic.json_schema import SkipJsonSchema

from subsidy_contracts.deadletter import DeadLetter, FailureKind
from subsidy_contracts.envelope import Event
from subsidy_contracts.topics import Topic, dead_letter_topic, retry_topic

from .db import is_transient
from .logging import get_logger
from .outbox import JSON, OutboxRecord, Transaction

log = get_logger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Transaction, list[Any]], Awaitable[None]]

RETRY_CONSUMER = "x-retry-consumer"
RETRY_ATTEMPT = "x-retry-attempt"
RETRY_DUE_MS = "x-retry-due-ms"
RETRY_REASON = "x-retry-reason"
ORIGINAL_TOPIC = "x-original-topic"
ORIGINAL_PARTITION = "x-original-partition"
ORIGINAL_OFFSET = "x-original-offset"


@dataclass(frozen=True)
class Delivery:
    """One consumed record: its decoded event, or why it could not be decoded."""

    record: ConsumerRecord[Any, Any]
    event: Event | None
    failure: FailureKind | None = None
    reason: str | None = None
    attempt: int = 1

    @property
    def headers(self) -> dict[str, str]:
        return {k: v.decode("utf-8", "replace") for k, v in (self.record.headers or ())}

    @property
    def inbox_id(self) -> str:
        if self.event is not None:
            base = str(self.event.event_id)
            return base if self.attempt == 1 else f"{base}#attempt-{self.attempt}"
        r = self.record
        return f"kafka:{r.topic}:{r.partition}:{r.offset}"

    def original(self) -> tuple[str, int, int]:
        h = self.headers
        if ORIGINAL_TOPIC in h:
            return h[ORIGINAL_TOPIC], int(h[ORIGINAL_PARTITION]), int(h[ORIGINAL_OFFSET])
        return self.record.topic, self.record.partition, self.record.offset


class _DeadLetterCause(NamedTuple):
    delivery: Delivery
    failure: FailureKind
    reason: str
    error_class: str | None


class _Poisoned(Exception):
    def __init__(self, delivery: Delivery, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.delivery = delivery
        self.cause = cause


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc or '(root)'}: {err.get('msg')}")
    return "; ".join(parts)


def event_union(events: Sequence[type[Event]]) -> Any:
    """One event class, or a union of them discriminated by event_type."""
    if len(events) == 1:
        return events[0]
    union = Union.__getitem__(tuple(events))
    return Annotated.__class_getitem__((union, Field(discriminator="event_type")))  # type: ignore[attr-defined]


def lenient_item_type(contract: Any) -> Any:
    """The contract type, or anything else as a fallback (hidden from the JSON schema).

    FastStream validates the whole batch against the handler's signature; with the fallback a record that
    does not match the contract does not fail its batch, and the consumer can dead-letter it alone.
    """
    fallback: Any = SkipJsonSchema.__class_getitem__(Any)  # type: ignore[type-arg]
    union = Union.__getitem__((contract, fallback))
    return Annotated.__class_getitem__((union, Field(union_mode="left_to_right")))  # type: ignore[attr-defined]


class _Unchecked(Serializer):
    def __init__(self, *, name: str, options: list[OptionItem], response_type: Any) -> None:
        super().__init__(name=name, options=options, response_type=response_type)
        # The AsyncAPI document takes its payload schema from the handler's parameters, and only the name from here.
        self.model = create_model(name)

    def __call__(self, call_kwargs: dict[str, Any]) -> dict[str, Any]:
        return call_kwargs


class UncheckedArguments(SerializerProto):
    """FastStream's serializer for the platform's brokers: handlers get their arguments as decoded, unvalidated.

    Every subscriber here reads the raw Kafka records and decodes each one itself (EventConsumer.decode), so
    that a record breaking its contract is dead-lettered alone; FastStream validating the same batch against
    the declared body type first cost about 9 % of registration's CPU (py-spy, under the pipeline
    benchmark). The declared types still document the contracts in the AsyncAPI documents."""

    def __call__(self, *, name: str, options: list[OptionItem], response_type: Any) -> Serializer:
        return _Unchecked(name=name, options=options, response_type=response_type)

    @staticmethod
    def encode(message: Any) -> bytes:
        return PydanticSerializer.encode(message)  # what FastStream publishes, as by default


class EventConsumer(Generic[E]):
    """Consumes some event types from one topic in batches and hands them to a handler."""

    def __init__(
        self,
        runtime: Any,
        *,
        name: str,
        topic: Topic,
        events: Sequence[type[E]],
        handler: Handler,
        max_records: int | None = None,
        description: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.topic = topic
        self.events = tuple(events)
        self.handler = handler
        self.max_records = max_records
        self.description = description
        self.group_id = f"{runtime.settings.service_name}.{name}"
        self._types = {e.type_name(): e for e in self.events}
        union = event_union(self.events)
        self._union = union
        self._adapter: TypeAdapter[Any] = TypeAdapter(union)
        self._last_lag_update = 0.0

    # ------------------------------------------------------------------------------------ subscription
    def subscribe(self, broker: KafkaBroker) -> None:
        """Register the batch subscriber; its declared payload is the contract (for the AsyncAPI document).

        Records that do not match still reach `_on_batch` (the lenient item type) so they can be
        dead-lettered one by one instead of failing the whole batch.
        """
        lenient = lenient_item_type(self._union)
        settings = self.runtime.settings

        async def consume(body: list[Any], msg: KafkaMessage) -> None:
            await self._on_batch(body, msg)

        # The declared item type is what FastStream validates against and documents.
        consume.__annotations__["body"] = list.__class_getitem__(lenient)
        consume.__name__ = f"consume_{self.name.replace('-', '_')}"
        consume.__doc__ = self.description or self.handler.__doc__
        broker.subscriber(
            self.topic.name,
            group_id=self.group_id,
            batch=True,
            max_records=self.max_records or settings.consumer_max_records,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            title=f"{self.group_id}:{self.topic.name}",
            description=consume.__doc__,
        )(consume)

    async def _on_batch(self, body: list[Any], msg: KafkaMessage) -> None:
        records: tuple[ConsumerRecord[Any, Any], ...] = (
            msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        )
        deliveries = [
            d for d in (self.decode(rec, val) for rec, val in zip(records, body, strict=True)) if d is not None
        ]
        if await self.apply(deliveries):
            await msg.ack()
            await self._observe_lag(msg)
        else:
            await msg.nack()  # seek back: the batch is read again; nothing of it was committed

    # ---------------------------------------------------------------------------------------- decoding
    def decode(self, record: ConsumerRecord[Any, Any], value: Any, attempt: int = 1) -> Delivery | None:
        """The record's event, a failure to dead-letter, or None for event types this consumer ignores."""
        headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
        if isinstance(value, Event):
            return Delivery(record, value, attempt=attempt)
        event_type = headers.get("event_type")
        raw = record.value or b""
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Delivery(record, None, FailureKind.UNDECODABLE, f"not valid JSON: {exc}", attempt)
        if isinstance(parsed, dict) and isinstance(parsed.get("event_type"), str):
            event_type = parsed["event_type"]
        if event_type is not None and event_type not in self._types:
            return None  # another consumer's event on a shared topic
        if isinstance(parsed, dict) and event_type in self._types:
            expected = self._types[event_type].version()
            if parsed.get("schema_version") not in (None, expected):
                return Delivery(
                    record,
                    None,
                    FailureKind.UNKNOWN_VERSION,
                    f"{event_type} schema_version {parsed.get('schema_version')!r}; this consumer reads {expected}",
                    attempt,
                )
        try:
            event = self._adapter.validate_python(parsed)
        except ValidationError as exc:
            return Delivery(record, None, FailureKind.INVALID, _describe_validation(exc), attempt)
        return Delivery(record, event, attempt=attempt)

    # ------------------------------------------------------------------------------------- application
    async def apply(self, deliveries: list[Delivery]) -> bool:
        """Apply a batch exactly once. False when transient errors outlasted the in-place retry budget."""
        if not deliveries:
            return True
        settings = self.runtime.settings
        metrics = self.runtime.metrics
        started = time.perf_counter()
        deadline = time.monotonic() + settings.consumer_transient_retry_budget_s
        delay = 0.2
        while True:
            try:
                await self._apply_isolating(deliveries)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                metrics.events_failed.labels(self.name, "transient").inc(len(deliveries))
                log.warning(
                    "transient failure; retrying batch", consumer=self.name, error=repr(exc), records=len(deliveries)
                )
                if time.monotonic() + delay > deadline:
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        metrics.batch_seconds.labels(self.name).observe(time.perf_counter() - started)
        metrics.batch_size.labels(self.name).observe(len(deliveries))
        return True

    async def _apply_isolating(self, deliveries: list[Delivery]) -> None:
        """Apply in one transaction; on a handler error, split the batch until the failing event is alone."""
        try:
            await self._apply_in_transaction(deliveries)
        except _Poisoned as poisoned:
            await self._apply_in_transaction(deliveries, poisoned=poisoned)
        except Exception as exc:
            if is_transient(exc):
                raise
            valid = [d for d in deliveries if d.event is not None]
            if len(valid) <= 1:
                culprit = valid[0] if valid else deliveries[0]
                await self._apply_in_transaction(deliveries, poisoned=_Poisoned(culprit, exc))
                return
            middle = len(deliveries) // 2
            await self._apply_isolating(deliveries[:middle])
            await self._apply_isolating(deliveries[middle:])

    async def _apply_in_transaction(self, deliveries: list[Delivery], poisoned: _Poisoned | None = None) -> None:
        runtime = self.runtime
        metrics = runtime.metrics
        unique: dict[str, Delivery] = {}
        for d in deliveries:
            unique.setdefault(d.inbox_id, d)
        async with runtime.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::text[])
                   ON CONFLICT DO NOTHING RETURNING message_id""",
                self.group_id,
                list(unique),
            )
            fresh_ids = {r["message_id"] for r in rows}
            fresh = [d for i, d in unique.items() if i in fresh_ids]
            duplicates = len(deliveries) - len(fresh)
            tx = Transaction(conn, runtime.settings.schema_name)
            dead: list[_DeadLetterCause] = []
            to_handle: list[Delivery] = []
            for d in fresh:
                if poisoned is not None and d is poisoned.delivery:
                    reason = f"{type(poisoned.cause).__name__}: {poisoned.cause}"
                    self._stage_retry(tx, d, reason, type(poisoned.cause).__name__, dead)
                elif d.failure is not None:
                    dead.append(_DeadLetterCause(d, d.failure, d.reason or "", None))
                else:
                    to_handle.append(d)
            if to_handle:
                await self.handler(tx, [d.event for d in to_handle])
                by_id = {d.event.event_id: d for d in to_handle if d.event is not None}
                for event, reason in tx.deferred:
                    self._stage_retry(tx, by_id[event.event_id], reason, "Deferred", dead)
            await self._stage_dead_letters(tx, dead)
            await tx.flush()
        now = datetime.now(UTC)
        for d in to_handle:
            assert d.event is not None
            metrics.events_consumed.labels(self.name, d.event.event_type).inc()
            metrics.event_lag.labels(self.name).observe(max(0.0, (now - d.event.occurred_at).total_seconds()))
        if duplicates:
            metrics.events_duplicate.labels(self.name).inc(duplicates)

    # ---------------------------------------------------------------------------- retry / dead letters
    def _stage_retry(
        self, tx: Transaction, d: Delivery, reason: str, error_class: str, dead: list["_DeadLetterCause"]
    ) -> None:
        """Send the record to the retry topic, or dead-letter it when its attempts are used up."""
        settings = self.runtime.settings
        if d.attempt >= settings.retry_max_attempts:
            dead.append(_DeadLetterCause(d, FailureKind.RETRIES_EXHAUSTED, reason, error_class))
            return
        self.runtime.metrics.events_failed.labels(self.name, "retry").inc()
        delay_s = settings.retry_base_delay_s * (2 ** (d.attempt - 1))
        original_topic, original_partition, original_offset = d.original()
        headers = {k: v for k, v in d.headers.items() if not k.startswith("x-")}
        headers.update(
            {
                RETRY_CONSUMER: self.name,
                RETRY_ATTEMPT: str(d.attempt + 1),
                RETRY_DUE_MS: str(int((time.time() + delay_s) * 1000)),
                RETRY_REASON: reason[:500],
                ORIGINAL_TOPIC: original_topic,
                ORIGINAL_PARTITION: str(original_partition),
                ORIGINAL_OFFSET: str(original_offset),
            }
        )
        key = d.record.key.decode() if isinstance(d.record.key, bytes) else d.record.key
        tx.publish_record(
            OutboxRecord(
                topic=retry_topic(self.runtime.settings.service_name).name,
                key=key,
                value=(d.record.value or b"").decode("utf-8", "replace"),
                headers=headers,
                event_type=d.event.event_type if d.event else None,
            )
        )
        log.warning(
            "event deferred to the retry topic",
            consumer=self.name,
            attempt=d.attempt,
            reason=reason,
            correlation_id=d.headers.get("correlation_id"),
            event_id=d.headers.get("event_id"),
        )

    async def _stage_dead_letters(self, tx: Transaction, pending: list["_DeadLetterCause"]) -> None:
        """Record each dead letter locally and publish it to the dead-letter topic, in the same transaction."""
        if not pending:
            return
        service = self.runtime.settings.service_name
        letters = []
        for d, failure, reason, error_class in pending:
            raw = d.record.value or b""
            try:
                value, encoding = raw.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                value, encoding = base64.b64encode(raw).decode(), "base64"
            topic, partition, offset = d.original()
            key = d.record.key.decode("utf-8", "replace") if isinstance(d.record.key, bytes) else d.record.key
            letters.append(
                DeadLetter(
                    service=service,
                    consumer=self.group_id,
                    failure=failure,
                    reason=reason,
                    error_class=error_class,
                    original_topic=topic,
                    original_partition=partition,
                    original_offset=offset,
                    original_key=key,
                    original_headers={k: v for k, v in d.headers.items() if not k.startswith("x-retry")},
                    original_value=value,
                    original_value_encoding=encoding,
                    event_id=str(d.event.event_id) if d.event else d.headers.get("event_id"),
                    event_type=d.event.event_type if d.event else d.headers.get("event_type"),
                    attempts=d.attempt,
                    failed_at=datetime.now(UTC),
                )
            )
            self.runtime.metrics.dead_letters.labels(self.name, failure.value).inc()
            self.runtime.metrics.events_failed.labels(self.name, "dead_letter").inc()
            log.error(
                "record dead-lettered",
                correlation_id=d.headers.get("correlation_id"),
                consumer=self.name,
                failure=failure.value,
                reason=reason[:300],
                topic=topic,
                partition=partition,
                offset=offset,
            )
        await tx.conn.executemany(
            """INSERT INTO dead_letters (consumer, failure, reason, error_class, original_topic, original_partition,
                                         original_offset, event_id, event_type, record)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [
                (
                    dl.consumer,
                    dl.failure.value,
                    dl.reason,
                    dl.error_class,
                    dl.original_topic,
                    dl.original_partition,
                    dl.original_offset,
                    dl.event_id,
                    dl.event_type,
                    dl.model_dump(mode="json"),
                )
                for dl in letters
            ],
        )
        dlq = dead_letter_topic(service).name
        for dl in letters:
            tx.publish_record(
                OutboxRecord(
                    dlq, dl.original_key, dl.model_dump_json(), {"content-type": JSON, "failure": dl.failure.value}
                )
            )

    # --------------------------------------------------------------------------------------------- lag
    async def _observe_lag(self, msg: KafkaMessage) -> None:
        """Records between this member's position and the high-water mark of its partitions (at most 1/s)."""
        now = time.monotonic()
        if now - self._last_lag_update < 1.0:
            return
        self._last_lag_update = now
        consumer: Any = msg.consumer
        try:
            lag = 0
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is not None:
                    lag += max(0, high - await consumer.position(tp))
            self.runtime.metrics.consumer_lag.labels(self.name, self.topic.name).set(lag)
        except Exception as exc:  # observability only: never fail a batch over it
            log.debug("consumer lag not observed", error=repr(exc))


class RetryRouter:
    """Reads the service's retry topic and hands each record back to the consumer it came from, when due."""

    MAX_WAIT_S = 60.0  # stay well under max.poll.interval.ms; longer waits re-read the record later

    def __init__(self, runtime: Any, consumers: dict[str, EventConsumer[Any]]) -> None:
        self.runtime = runtime
        self.consumers = consumers
        self.topic = retry_topic(runtime.settings.service_name)

    def subscribe(self, broker: KafkaBroker) -> None:
        async def consume_retries(body: list[Any], msg: KafkaMessage) -> None:
            """Events this service deferred; re-applied after their delay, dead-lettered after the last attempt."""
            records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
            if await self._on_batch(records):
                await msg.ack()
            else:
                await msg.nack()

        broker.subscriber(
            self.topic.name,
            group_id=f"{self.runtime.settings.service_name}.retry",
            batch=True,
            max_records=100,
            batch_timeout_ms=self.runtime.settings.consumer_batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            title=f"{self.runtime.settings.service_name}.retry:{self.topic.name}",
        )(consume_retries)

    async def _on_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> bool:
        due = max((int({k: v.decode() for k, v in r.headers or ()}.get(RETRY_DUE_MS, "0")) for r in records), default=0)
        wait_s = due / 1000 - time.time()
        if wait_s > 0:
            await asyncio.sleep(min(wait_s, self.MAX_WAIT_S))
            if wait_s > self.MAX_WAIT_S:
                return False
        grouped: dict[str, list[Delivery]] = {}
        for r in records:
            headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or ())}
            consumer = self.consumers.get(headers.get(RETRY_CONSUMER, ""))
            if consumer is None:
                log.error("retry record for an unknown consumer", consumer=headers.get(RETRY_CONSUMER))
                continue
            d = consumer.decode(r, None, attempt=int(headers.get(RETRY_ATTEMPT, "2")))
            if d is not None:
                grouped.setdefault(consumer.name, []).append(d)
        for name, deliveries in grouped.items():
            if not await self.consumers[name].apply(deliveries):
                return False
        return True
