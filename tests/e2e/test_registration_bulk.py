"""Bulk intake end to end: signed batches on registration.intake.v1 and `registration import`, against the
running services on real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from bench.registration_import import intake_records
from subsidy_contracts.topics import INTAKE, INTAKE_MAX_MESSAGE_BYTES, INTAKE_RESULTS, dead_letter_topic
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack

from .invariants import read_topic

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "deploy" / "local" / "integrations.yaml"
REGISTRY = IntegrationRegistry.from_file(INTEGRATIONS)
SX = next(i for i in REGISTRY if i.id == "sx-provincial-platform")


# ----------------------------------------------------------------------------------------------- helpers
def records(n: int, prefix: str | None = None) -> list[dict[str, Any]]:
    """n valid intake records (distinct interns, Taiyuan host units), unique to this call."""
    tag = prefix or f"t{uuid.uuid4().hex[:10]}"
    return list(intake_records(n, seed=secrets.randbelow(10**9), units=max(1, n // 2), prefix=tag))


def signed_batch(batch: dict[str, Any], key: Any = SX, *, nonce: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(batch)
    headers = signed_headers(key.key_id, key.secret, "KAFKA", INTAKE.name, body, nonce=nonce or secrets.token_hex(12))
    return body, headers


async def push(stack: Stack, body: bytes, headers: dict[str, str], key: str = SX.id) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap, acks="all", max_request_size=INTAKE_MAX_MESSAGE_BYTES
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            INTAKE.name, body, key=key.encode(), headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()


async def results_for(stack: Stack, batch_id: str, expected: int, timeout_s: float = 90) -> dict[str, dict[str, Any]]:
    """The intake results of a batch, by source reference (the last one of each when a batch was sent twice)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [
            doc["payload"]
            for doc in (orjson.loads(r.value) for r in await read_topic(stack.bootstrap, INTAKE_RESULTS.name))
            if doc["payload"]["batch_id"] == batch_id
        ]
        if len(found) >= expected:
            return {p["source_reference"]: p for p in found}
        assert time.monotonic() < deadline, f"{len(found)} of {expected} intake results of {batch_id} arrived"
        await asyncio.sleep(1)


async def all_results_for(stack: Stack, batch_id: str) -> list[dict[str, Any]]:
    return [
        doc["payload"]
        for doc in (orjson.loads(r.value) for r in await read_topic(stack.bootstrap, INTAKE_RESULTS.name))
        if doc["payload"]["batch_id"] == batch_id
    ]


async def dead_letter_of(stack: Stack, value: bytes, timeout_s: float = 60) -> dict[str, Any]:
    topic = dead_letter_topic("registration").name
    deadline = time.monotonic() + timeout_s
    while True:
        for r in await read_topic(stack.bootstrap, topic):
            letter = orjson.loads(r.value)
            if letter["original_topic"] == INTAKE.name and letter["original_value"] == value.decode():
                return dict(letter)
        assert time.monotonic() < deadline, "no dead letter for the batch"
        await asyncio.sleep(1)


async def get_application(stack: Stack, application_id: str, key: Any = SX) -> tuple[int, dict[str, Any]]:
    path = f"/v1/applications/{application_id}"
    headers = signed_headers(key.key_id, key.secret, "GET", path, b"", nonce=secrets.token_hex(12))
    async with aiohttp.ClientSession() as session, session.get(stack.url("registration") + path, headers=headers) as r:
        return r.status, orjson.loads(await r.read())


async def wait_decided(stack: Stack, application_ids: list[str], timeout_s: float = 120) -> dict[str, str]:
    """Status of each application once eligibility has decided it (its status moved on from submitted)."""
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = {}
        for app_id in application_ids:
            status, body = await get_application(stack, app_id)
            assert status == 200, body
            statuses[app_id] = body["status"]
        if all(s != "submitted" for s in statuses.values()):
            return statuses
        assert time.monotonic() < deadline, f"not all decided: {statuses}"
        await asyncio.sleep(1)


async def scalar(stack: Stack, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def _errors(result: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in result["errors"]}


# ------------------------------------------------------------------------------------------------- tests
async def test_batch_with_good_and_bad_records(platform: Stack) -> None:
    good = records(3)
    bad = records(6)
    bad[0]["person"]["id_number"] = bad[0]["person"]["id_number"][:-1] + (
        "0" if bad[0]["person"]["id_number"][-1] != "0" else "1"
    )
    bad[1]["person"]["mobile"] = "12345"
    bad[2]["account"]["holder_name"] = "别人的公司"
    bad[3]["person"]["nickname"] = "小明"  # unknown field: refused as by the HTTP API
    bad[4]["application"]["jurisdiction"] = "430102"  # Changsha: outside Shanxi's jurisdiction
    bad[5]["application"]["period"] = {"start": "2022-09-30", "end": "2022-03-01"}
    batch_id = f"mixed-{uuid.uuid4().hex[:8]}"
    body, headers = signed_batch({"batch_id": batch_id, "records": good + bad})
    await push(platform, body, headers)

    results = await results_for(platform, batch_id, len(good) + len(bad))
    for record in good:
        result = results[record["source_reference"]]
        assert result["status"] == "accepted", result
        assert result["application_id"]
    expected_fields = [
        "person.id_number",
        "person.mobile",
        "account.holder_name",
        "person.nickname",
        "application.jurisdiction",
        "application.period.end",
    ]
    for record, field_name in zip(bad, expected_fields, strict=True):
        result = results[record["source_reference"]]
        assert result["status"] == "rejected", result
        assert field_name in _errors(result), result
        assert all(e["reason"] and e["reason_zh"] for e in result["errors"])
        assert result["application_id"] is None
    assert "check digit" in _errors(results[bad[0]["source_reference"]])["person.id_number"]

    # Nothing of a refused record is stored; the good ones are, and eligibility decides them.
    bad_refs = [r["source_reference"] for r in bad]
    bad_ids = [r["person"]["id_number"] for r in bad]
    assert (
        await scalar(
            platform, "SELECT count(*) FROM registration.applications WHERE source_reference = ANY($1)", bad_refs
        )
        == 0
    )
    assert await scalar(platform, "SELECT count(*) FROM registration.persons WHERE id_number = ANY($1)", bad_ids) == 0
    app_ids = [results[r["source_reference"]]["application_id"] for r in good]
    await wait_decided(platform, app_ids)
    audit_rows = await scalar(
        platform,
        "SELECT count(*) FROM registration.audit_log WHERE detail->>'batch_id' = $1 OR entity_id = $1",
        batch_id,
    )
    assert audit_rows == len(good) + len(bad) + 1  # one per record and one for the batch


async def test_redelivered_batch_creates_nothing_twice(platform: Stack) -> None:
    batch: dict[str, Any] = {"batch_id": f"again-{uuid.uuid4().hex[:8]}", "records": records(4)}
    refs = [r["source_reference"] for r in batch["records"]]
    body, headers = signed_batch(batch)
    await push(platform, body, headers)
    first = await results_for(platform, batch["batch_id"], 4)
    assert {r["status"] for r in first.values()} == {"accepted"}

    # The platform sends the batch again (re-signed): the original results come back, nothing new is stored.
    body2, headers2 = signed_batch(batch)
    await push(platform, body2, headers2)
    deadline = time.monotonic() + 60
    while len(again := await all_results_for(platform, batch["batch_id"])) < 8:
        assert time.monotonic() < deadline, again
        await asyncio.sleep(1)
    repeated = {p["source_reference"]: p for p in again if p["status"] == "already_accepted"}
    assert set(repeated) == set(refs)
    assert {ref: p["application_id"] for ref, p in repeated.items()} == {
        ref: p["application_id"] for ref, p in first.items()
    }

    # The very same Kafka record again (same nonce): a replay, dead-lettered with the reason.
    await push(platform, body, headers)
    letter = await dead_letter_of(platform, body)  # the first push of these bytes was applied, not dead-lettered
    assert "replay" in letter["reason"]
    stored = await scalar(
        platform,
        "SELECT count(*) FROM registration.applications WHERE integration_id = $1 AND source_reference = ANY($2)",
        SX.id,
        refs,
    )
    assert stored == 4


async def test_same_applicant_programme_and_period_is_a_duplicate(platform: Stack) -> None:
    (record,) = records(1)
    first: dict[str, Any] = {"batch_id": f"dup1-{uuid.uuid4().hex[:8]}", "records": [record]}
    await push(platform, *signed_batch(first))
    original = (await results_for(platform, first["batch_id"], 1))[record["source_reference"]]
    assert original["status"] == "accepted"
    twin = {**record, "source_reference": record["source_reference"] + "-twin"}
    second: dict[str, Any] = {"batch_id": f"dup2-{uuid.uuid4().hex[:8]}", "records": [twin]}
    await push(platform, *signed_batch(second))
    result = (await results_for(platform, second["batch_id"], 1))[twin["source_reference"]]
    assert result["status"] == "duplicate_application", result
    assert result["application_id"] == original["application_id"]
    assert "application" in _errors(result)


async def test_a_full_batch_larger_than_kafkas_default_limit_is_taken(platform: Stack) -> None:
    """A batch of the 1,000 records the contract allows is several MB: the intake topic takes it, and a forged one
    of that size still reaches the dead-letter topic (which quotes it whole)."""
    batch: dict[str, Any] = {"batch_id": f"full-{uuid.uuid4().hex[:8]}", "records": records(1000)}
    body, headers = signed_batch(batch)
    assert len(body) > 1024 * 1024  # more than Kafka's default message.max.bytes
    await push(platform, body, headers)
    results = await results_for(platform, batch["batch_id"], 1000, timeout_s=240)
    assert {r["status"] for r in results.values()} == {"accepted"}
    refs = [r["source_reference"] for r in batch["records"]]
    stored = await scalar(
        platform, "SELECT count(*) FROM registration.applications WHERE source_reference = ANY($1)", refs
    )
    assert stored == 1000

    forged: dict[str, Any] = {"batch_id": f"forged-full-{uuid.uuid4().hex[:8]}", "records": records(1000)}
    body, headers = signed_batch(forged)
    headers["X-Signature"] = signed_batch({"batch_id": "other", "records": []})[1]["X-Signature"]
    await push(platform, body, headers)
    letter = await dead_letter_of(platform, body, timeout_s=120)
    assert "signature does not match" in letter["reason"]


async def test_bad_batches_go_to_the_dead_letter_topic(platform: Stack) -> None:
    batch: dict[str, Any] = {"batch_id": f"forged-{uuid.uuid4().hex[:8]}", "records": records(2)}
    body, headers = signed_batch(batch)
    headers["X-Signature"] = signed_batch({"batch_id": "other", "records": []})[1]["X-Signature"]
    await push(platform, body, headers)
    letter = await dead_letter_of(platform, body)
    assert letter["failure"] == "invalid"
    assert "signature does not match" in letter["reason"]

    garbage = b'{"batch_id": "x", "records": [tru'
    headers = signed_headers(SX.key_id, SX.secret, "KAFKA", INTAKE.name, garbage, nonce=secrets.token_hex(12))
    await push(platform, garbage, headers)
    letter = await dead_letter_of(platform, garbage)
    assert letter["failure"] == "undecodable"

    unsigned = orjson.dumps({"batch_id": f"unsigned-{uuid.uuid4().hex[:8]}", "records": records(1)})
    await push(platform, unsigned, {})
    letter = await dead_letter_of(platform, unsigned)
    assert "X-Api-Key" in letter["reason"]
    refs = [r["source_reference"] for r in batch["records"]]
    assert (
        await scalar(platform, "SELECT count(*) FROM registration.applications WHERE source_reference = ANY($1)", refs)
        == 0
    )


async def test_import_command_is_idempotent_on_rerun(platform: Stack, tmp_path: Path) -> None:
    good = records(20)
    bad = records(1)
    bad[0]["enterprise"]["credit_code"] = "91140105MA0L0XXXXX"
    path = tmp_path / "intake.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in good + bad) + b"not json\n")
    env = {
        **os.environ,
        "DATABASE_URL": platform.dsn("registration"),
        "INTEGRATIONS_FILE": str(INTEGRATIONS),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "registration.cli", "import", str(path), "--integration", SX.key_id, "--results"]

    def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True, timeout=300)
        summary = orjson.loads(done.stderr[done.stderr.index(b"{") :])
        return summary, [orjson.loads(line) for line in done.stdout.splitlines()]

    summary, lines = run()
    assert summary["accepted"] == 20, summary
    assert summary["refused"] == 2, summary
    assert any(reason.startswith("enterprise.credit_code") for reason in summary["refusal_reasons"]), summary
    assert len(lines) == 22
    accepted = {r["source_reference"]: r["application_id"] for r in lines if r["status"] == "accepted"}

    rerun, lines_again = run()
    assert rerun["accepted"] == 0, rerun
    assert rerun["already_accepted"] == 20, rerun
    assert {
        r["source_reference"]: r["application_id"] for r in lines_again if r["status"] == "already_accepted"
    } == accepted
    refs = [r["source_reference"] for r in good]
    assert (
        await scalar(platform, "SELECT count(*) FROM registration.applications WHERE source_reference = ANY($1)", refs)
        == 20
    )
    # The imported applications reach eligibility through the running service's outbox relay.
    await wait_decided(platform, list(accepted.values())[:5])


async def test_import_command_with_two_workers_splits_the_file_by_applicant(platform: Stack, tmp_path: Path) -> None:
    good = records(30)  # two interns per host unit
    repeated = good[4]  # sent again later in the file, unchanged: the first answer again
    changed = {**good[7], "application": {**good[7]["application"], "commitment": True}}  # same reference
    path = tmp_path / "intake.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [*good, repeated, changed]))
    env = {
        **os.environ,
        "DATABASE_URL": platform.dsn("registration"),
        "INTEGRATIONS_FILE": str(INTEGRATIONS),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "registration.cli", "import", str(path), "--integration", SX.key_id]
    command += ["--results", "--workers", "2"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True, timeout=300)
    summary = orjson.loads(done.stderr[done.stderr.index(b"{") :])
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert summary["records"] == 32, summary
    assert summary["accepted"] == 30, summary
    assert summary["already_accepted"] == 1, summary
    assert summary["refused"] == 1, summary
    assert len(lines) == 32
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_ref.setdefault(line["source_reference"], []).append(line)
    # A repeated reference was answered in file order, by the part that holds all its records.
    assert [r["status"] for r in by_ref[repeated["source_reference"]]] == ["accepted", "already_accepted"]
    assert [r["status"] for r in by_ref[changed["source_reference"]]] == ["accepted", "rejected"]
    refs = [r["source_reference"] for r in good]
    assert (
        await scalar(platform, "SELECT count(*) FROM registration.applications WHERE source_reference = ANY($1)", refs)
        == 30
    )
    # Each host unit once, linked once, whichever worker registered it.
    codes = list({r["enterprise"]["credit_code"] for r in good})
    assert await scalar(
        platform, "SELECT count(*) FROM registration.enterprises WHERE credit_code = ANY($1)", codes
    ) == len(codes)
