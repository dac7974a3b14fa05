"""Consumer of registration.intake.v1: signed batches of intake records pushed by provincial platforms.

A Kafka record is one IntakeBatch (subsidy_contracts.intake), signed like an HTTP request: headers X-Api-Key,
X-Timestamp, X-Nonce and X-Signature over METHOD "KAFKA", PATH the topic name and the record value as the body
(subsidy_runtime.auth). The timestamp is checked against the record's own Kafka timestamp, so a batch that
waited in the topic while the service was down is still accepted; the nonce is claimed as for HTTP.

Each Kafka record is applied in its own transaction: its inbox row, the records (registration.intake: the same
validation, idempotency and COPY path as `registration import`), the audit rows, the application-submitted
events and one intake result per record on registration.intake-results.v1. A record that cannot be a batch
(bad or missing signature, replayed nonce, not JSON, no batch_id or records) goes to registration's
dead-letter topic with the reason; bad intake records inside a good batch are refused one by one in their
intake results. Nothing already accepted is lost: a failure rolls back only its own Kafka record.

From any Kafka client, e.g. kcat (the file is sent as one message, byte for byte):

    canonical = "KAFKA\nregistration.intake.v1\n<unix seconds>\n<nonce>\n<hex SHA-256 of batch.json>"
    kcat -P -b <bootstrap> -t registration.intake.v1 -k <integration id> -H X-Api-Key=<key id> \
         -H X-Timestamp=<unix seconds> -H X-Nonce=<nonce> -H X-Signature=<base64 HMAC-SHA256(secret, canonical)> \
         batch.json

A Kafka record on this topic may be up to 8 MiB (the topic's max.message.bytes, INTAKE_MAX_MESSAGE_BYTES), room
for a full batch of 1,000 records of any kind (about 2.6 KB each for internship applications). Producers must
allow such requests themselves: kcat `-X message.max.bytes=8388608`, aiokafka `max_request_size=8388608`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from subsidy_contracts.deadletter import FailureKind
from subsidy_contracts.topics import INTAKE, INTAKE_MAX_MESSAGE_BYTES
from subsidy_runtime.auth import AuthError, Integration, claim_nonce, verify
from subsidy_runtime.consumer import Delivery, EventConsumer, _DeadLetterCause
from subsidy_runtime.db import is_transient
from subsidy_runtime.logging import get_logger
from subsidy_runtime.outbox import Transaction

from ..intake import Batch, Incoming, may_hold_nul, prepare_all, store

log = get_logger(__name__)

MAX_RECORDS_PER_BATCH = 1000
SIGNATURE_HEADERS = ("x-api-key", "x-timestamp", "x-nonce", "x-signature")


class BadBatch(Exception):
    def __init__(self, failure: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason


class IntakeConsumer(EventConsumer[Any]):
    """Reuses the runtime consumer's batching, transient retry, dead-letter staging and lag metrics; replaces
    decoding (records are signed documents, not events) and application (one transaction per Kafka record)."""

    def __init__(self, runtime: Any, *, name: str = "bulk-intake", max_records: int = 4) -> None:
        # Not EventConsumer.__init__: there is no event contract to build a decoder from.
        self.runtime = runtime
        self.name = name
        self.topic = INTAKE
        self.events = ()
        self.max_records = max_records
        self.description = (
            "Signed intake batches (contract: IntakeBatch); one intake result per record on "
            "registration.intake-results.v1, bad batches to the dead-letter topic."
        )
        self.group_id = f"{runtime.settings.service_name}.{name}"
        self._types = {}
        self._last_lag_update = 0.0

    def subscribe(self, broker: KafkaBroker) -> None:
        async def consume_intake_batches(body: list[Any], msg: KafkaMessage) -> None:
            await self._on_batch(body, msg)

        consume_intake_batches.__doc__ = self.description
        settings = self.runtime.settings
        broker.subscriber(
            self.topic.name,
            group_id=self.group_id,
            batch=True,
            max_records=self.max_records,
            max_partition_fetch_bytes=INTAKE_MAX_MESSAGE_BYTES,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            title=f"{self.group_id}:{self.topic.name}",
            description=self.description,
        )(consume_intake_batches)

    def decode(self, record: ConsumerRecord[Any, Any], value: Any, attempt: int = 1) -> Delivery | None:
        return Delivery(record, None, attempt=attempt)

    async def _apply_isolating(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            try:
                await self._apply_record(delivery)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("intake batch failed; dead-lettering it", consumer=self.name, error=repr(exc))
                await self._dead_letter(delivery, FailureKind.PROCESSING, f"{type(exc).__name__}: {exc}", exc)

    # ------------------------------------------------------------------------------------------ one record
    async def _apply_record(self, d: Delivery) -> None:
        runtime = self.runtime
        try:
            integration, batch_id, nonce, timestamp, records = self._open(d)
        except BadBatch as bad:
            await self._dead_letter(d, bad.failure, bad.reason)
            return
        value = d.record.value or b""
        check_nul = may_hold_nul(value)
        incoming: list[Incoming] = prepare_all(records, integration, check_nul=check_nul)
        r = d.record
        batch = Batch(
            integration=integration,
            batch_id=batch_id,
            request_id=f"kafka:{r.topic}:{r.partition}:{r.offset}",
            records=incoming,
            publish_results=True,
        )
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await self._claim_inbox(conn, d):
                runtime.metrics.events_duplicate.labels(self.name).inc()
                return
            try:
                await claim_nonce(conn, integration.id, nonce, timestamp)
            except AuthError as exc:
                tx = Transaction(conn, runtime.settings.schema_name)
                await self._stage_dead_letters(tx, [_DeadLetterCause(d, FailureKind.INVALID, _auth_reason(exc), None)])
                await tx.flush()
                return
            results = await store(conn, runtime.settings.schema_name, batch)  # a savepoint inside this transaction
        runtime.metrics.events_consumed.labels(self.name, "intake-batch").inc()
        log.info(
            "intake batch applied",
            consumer=self.name,
            integration=integration.id,
            batch_id=batch_id,
            records=len(results),
            accepted=sum(1 for x in results if x.status.value == "accepted"),
        )

    def _open(self, d: Delivery) -> tuple[Integration, str, str, int, list[Any]]:
        """The signing integration, batch id, nonce, timestamp and raw records, or BadBatch."""
        registry = self.runtime.integrations
        if registry is None:
            raise BadBatch(FailureKind.INVALID, "INTEGRATIONS_FILE is not set: no batch can be authenticated")
        headers = {k.lower(): v for k, v in d.headers.items()}
        value = d.record.value or b""
        key_id, timestamp, nonce, signature = (headers.get(h) for h in SIGNATURE_HEADERS)
        record_time = d.record.timestamp / 1000 if d.record.timestamp and d.record.timestamp > 0 else None
        try:
            integration = verify(
                registry,
                method="KAFKA",
                path_and_query=d.record.topic,
                body=value,
                key_id=key_id,
                timestamp=timestamp,
                nonce=nonce,
                signature=signature,
                now=record_time,
            )
        except AuthError as exc:
            raise BadBatch(FailureKind.INVALID, _auth_reason(exc)) from exc
        if "integration" not in integration.roles:
            raise BadBatch(FailureKind.INVALID, f"integration {integration.id} may not push intake batches")
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise BadBatch(FailureKind.UNDECODABLE, f"not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise BadBatch(FailureKind.INVALID, "an intake batch is a JSON object with batch_id and records")
        batch_id = document.get("batch_id")
        if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 100 or "\x00" in batch_id:
            raise BadBatch(FailureKind.INVALID, "batch_id: a string of 1 to 100 characters is required")
        records = document.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS_PER_BATCH:
            raise BadBatch(FailureKind.INVALID, f"records: a list of 1 to {MAX_RECORDS_PER_BATCH} records is required")
        assert timestamp is not None
        assert nonce is not None
        return integration, batch_id, nonce, int(timestamp), records

    async def _claim_inbox(self, conn: Any, d: Delivery) -> bool:
        return bool(
            await conn.fetchval(
                "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                self.group_id,
                d.inbox_id,
            )
        )

    async def _dead_letter(
        self, d: Delivery, failure: FailureKind, reason: str, exc: BaseException | None = None
    ) -> None:
        runtime = self.runtime
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await self._claim_inbox(conn, d):
                return
            tx = Transaction(conn, runtime.settings.schema_name)
            cause = _DeadLetterCause(d, failure, reason, type(exc).__name__ if exc else None)
            await self._stage_dead_letters(tx, [cause])
            await tx.flush()


def _auth_reason(exc: AuthError) -> str:
    return f"authentication failed: {exc.reason_en} ({exc.reason_zh})"
