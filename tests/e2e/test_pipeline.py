"""End to end on real Kafka and PostgreSQL, with the four services running as processes."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.demo import pipeline
from deploy.local.demo.client import RegistrationClient
from tests.conftest import Stack

from .invariants import assert_exactly_once, read_topic

pytestmark = [pytest.mark.e2e]


async def _submit(stack: Stack, n: int, seed: int) -> list[str]:
    client = RegistrationClient(stack.url("registration"))
    try:
        interns, bodies = await pipeline.prepare(client, n, seed)
        return [s.application_id for s in await pipeline.submit_all(client, interns, bodies)]
    finally:
        await client.close()


async def test_thousand_applications_each_decided_paid_and_notified_once(platform: Stack) -> None:
    ids = await _submit(platform, 1000, seed=20261122)
    counts = await pipeline.wait_complete(platform.admin_dsn, ids, timeout_s=240)
    assert pipeline.complete(counts, len(ids)), counts
    report = await assert_exactly_once(platform.admin_dsn, platform.bootstrap, platform.url("sms-gateway"), ids)
    assert report["decisions"] == 1000
    assert 0 < report["eligible"] < 1000  # the data set has both outcomes, so both paths were exercised
    assert report["instructions"] == report["eligible"]


async def test_eligibility_killed_mid_batch_then_restarted_keeps_exactly_once(platform: Stack) -> None:
    client = RegistrationClient(platform.url("registration"))
    try:
        interns, bodies = await pipeline.prepare(client, 1000, seed=7)
        submitting = asyncio.create_task(pipeline.submit_all(client, interns, bodies))
        # Kill eligibility while it is working: some decisions are committed, others are not yet.
        conn = await asyncpg.connect(platform.admin_dsn)
        try:
            before = await conn.fetchval("SELECT count(*) FROM eligibility.decisions")
            deadline = time.monotonic() + 120
            while True:
                decided = await conn.fetchval("SELECT count(*) FROM eligibility.decisions") - before
                if decided >= 50:
                    break
                assert time.monotonic() < deadline, "eligibility never started deciding"
                await asyncio.sleep(0.01)
        finally:
            await conn.close()
        platform.kill("eligibility")
        submitted = await submitting
    finally:
        await client.close()
    ids = [s.application_id for s in submitted]
    conn = await asyncpg.connect(platform.admin_dsn)
    try:
        decided_while_down = await conn.fetchval(
            "SELECT count(*) FROM eligibility.decisions WHERE application_id = ANY($1::uuid[])", ids
        )
    finally:
        await conn.close()
    assert decided_while_down < len(ids), "the kill came too late to interrupt anything"
    platform.start_services()
    counts = await pipeline.wait_complete(platform.admin_dsn, ids, timeout_s=300)
    assert pipeline.complete(counts, len(ids)), counts
    await assert_exactly_once(platform.admin_dsn, platform.bootstrap, platform.url("sms-gateway"), ids)


async def test_malformed_events_are_dead_lettered_with_reason_and_consumption_continues(platform: Stack) -> None:
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=platform.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("registration.applications.v1", f"not json {marker}".encode(), key=b"poison-1")
        bad_envelope = {
            "event_id": str(uuid.uuid4()),
            "event_type": "registration.application-submitted",
            "schema_version": 1,
            "producer": marker,
            "payload": {"application_id": "nope"},
        }
        await producer.send_and_wait(
            "registration.applications.v1",
            orjson.dumps(bad_envelope),
            key=b"poison-2",
            headers=[("event_type", b"registration.application-submitted")],
        )
    finally:
        await producer.stop()
    # The services keep consuming: a valid application submitted after the poison is decided and notified.
    ids = await _submit(platform, 5, seed=random.randrange(10**9))
    counts = await pipeline.wait_complete(platform.admin_dsn, ids, timeout_s=120)
    assert pipeline.complete(counts, len(ids)), counts

    for service in ("eligibility", "notifications"):
        letters = [orjson.loads(r.value) for r in await read_topic(platform.bootstrap, f"{service}.dead-letter.v1")]
        ours = [d for d in letters if marker in d["original_value"]]
        kinds = {d["failure"]: d for d in ours}
        assert set(kinds) == {"undecodable", "invalid"}, (service, ours)
        assert "not valid JSON" in kinds["undecodable"]["reason"]
        assert "payload" in kinds["invalid"]["reason"]
        assert "occurred_at" in kinds["invalid"]["reason"]
        assert kinds["invalid"]["original_topic"] == "registration.applications.v1"
        assert kinds["invalid"]["original_key"] == "poison-2"
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{platform.url('eligibility')}/metrics")).text
    assert 'subsidy_dead_letters_total{consumer="applications",failure="invalid"}' in metrics
