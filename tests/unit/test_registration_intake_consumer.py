"""The intake consumer's reading of a Kafka record, without Kafka: signature over METHOD "KAFKA" and the topic,
timestamp window measured from the record's own Kafka timestamp, batch shape; and the import command's lines."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord

from bench.registration_import import intake_records
from registration.adapters.intake_consumer import BadBatch, IntakeConsumer
from registration.cli import prepare_lines, read_lines
from registration.intake import Prepared, RecordResult
from subsidy_contracts.deadletter import FailureKind
from subsidy_contracts.topics import INTAKE
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from subsidy_runtime.consumer import Delivery

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml")
SX = next(i for i in REGISTRY if i.id == "sx-provincial-platform")
CASEWORKER = next(i for i in REGISTRY if i.id == "caseworker-desk")
CONSUMER = IntakeConsumer(SimpleNamespace(settings=SimpleNamespace(service_name="registration"), integrations=REGISTRY))


def delivery(
    body: bytes,
    *,
    key: Any = SX,
    signed_at: int | None = None,
    record_at: float | None = None,
    overrides: dict[str, str] | None = None,
) -> Delivery:
    signed_at = int(time.time()) if signed_at is None else signed_at
    headers = signed_headers(
        key.key_id, key.secret, "KAFKA", INTAKE.name, body, nonce=secrets.token_hex(8), timestamp=signed_at
    )
    headers.update(overrides or {})
    record = ConsumerRecord(
        topic=INTAKE.name,
        partition=0,
        offset=1,
        timestamp=int((signed_at if record_at is None else record_at) * 1000),
        timestamp_type=0,
        key=key.id.encode(),
        value=body,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(body),
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
    return Delivery(record, None)


def batch(n: int = 2) -> bytes:
    return orjson.dumps({"batch_id": "b-1", "records": list(intake_records(n, seed=3, units=1))})


def refused(d: Delivery) -> BadBatch:
    with pytest.raises(BadBatch) as caught:
        CONSUMER._open(d)
    return caught.value


def test_a_signed_batch_is_opened_with_its_integration_and_records() -> None:
    integration, batch_id, nonce, _, records = CONSUMER._open(delivery(batch(3)))
    assert integration.id == SX.id
    assert batch_id == "b-1"
    assert len(records) == 3
    assert len(nonce) == 16


def test_the_window_runs_from_the_record_s_kafka_timestamp_not_from_consumption() -> None:
    an_hour_ago = int(time.time()) - 3600
    # Produced (and signed) an hour ago, consumed now, e.g. after the service was down: still valid.
    assert CONSUMER._open(delivery(batch(), signed_at=an_hour_ago))[0].id == SX.id
    # Signed an hour before it was produced: a stale or replayed signature.
    stale = refused(delivery(batch(), signed_at=an_hour_ago, record_at=time.time()))
    assert "5-minute window" in stale.reason


def test_bad_signatures_and_callers_are_refused_with_the_reason() -> None:
    body = batch()
    forged = refused(delivery(body, overrides={"X-Signature": "AAAA"}))
    assert forged.failure is FailureKind.INVALID
    assert "signature does not match" in forged.reason
    assert "X-Api-Key" in refused(delivery(body, overrides={"X-Api-Key": ""})).reason
    assert "unknown API key" in refused(delivery(body, overrides={"X-Api-Key": "nobody"})).reason
    assert "may not push intake batches" in refused(delivery(body, key=CASEWORKER)).reason


@pytest.mark.parametrize(
    ("body", "failure", "words"),
    [
        (b'{"batch_id": "x", "records": [', FailureKind.UNDECODABLE, "not valid JSON"),
        (b"[1, 2]", FailureKind.INVALID, "JSON object"),
        (b'{"records": [{}]}', FailureKind.INVALID, "batch_id"),
        (b'{"batch_id": "x", "records": []}', FailureKind.INVALID, "records"),
        (orjson.dumps({"batch_id": "x", "records": [{}] * 1001}), FailureKind.INVALID, "1 to 1000"),
    ],
)
def test_what_is_not_a_batch_is_dead_lettered_with_the_reason(body: bytes, failure: FailureKind, words: str) -> None:
    bad = refused(delivery(body))
    assert bad.failure is failure
    assert words in bad.reason


def test_the_import_command_refuses_a_line_that_is_not_json_by_its_number() -> None:
    good = [orjson.dumps(r) for r in intake_records(2, seed=4, units=1)]
    lines = [good[0] + b"\n", b"\n", b"{oops\n", good[1] + b"\n"]
    (chunk,) = list(read_lines(iter(lines), 10))  # type: ignore[arg-type]
    assert [n for n, _ in chunk] == [1, 3, 4]  # blank lines skipped, numbers kept
    first, broken, last = prepare_lines(chunk, SX)
    assert isinstance(first.outcome, Prepared)
    assert isinstance(last.outcome, Prepared)
    assert isinstance(broken.outcome, RecordResult)
    assert broken.outcome.source_reference == "(line 3)"
    assert broken.outcome.errors[0].field == "(line)"
