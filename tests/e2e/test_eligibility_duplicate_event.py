"""Acceptance 5 of issue 3: the same application event delivered twice yields one decision.

The registration service's application-submitted events are published again, byte for byte (same key, value and
headers, so the same event id), twice each: once while eligibility is down (so the original and both copies reach
it together after the restart, possibly in one batch) and once more after the decisions exist. Each application
has exactly one decision row and one decision-made event, and eligibility counts the copies as duplicates."""

from __future__ import annotations

import asyncio
import random
import re
import uuid

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.demo import pipeline
from deploy.local.demo.client import RegistrationClient
from tests.conftest import Stack

from .invariants import events_by_type, read_topic

pytestmark = pytest.mark.e2e

APPLICATIONS = "registration.applications.v1"
DECISIONS = "eligibility.decisions.v1"


async def _duplicates_counted(stack: Stack) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{stack.url('eligibility')}/metrics")).text
    found = re.search(r'subsidy_events_duplicate_total\{consumer="applications"\} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else 0.0


async def _submitted_records(stack: Stack, ids: set[str]) -> list[object]:
    for _ in range(60):
        records = [
            r
            for r in await read_topic(stack.bootstrap, APPLICATIONS)
            if dict(r.headers).get("event_type") == b"registration.application-submitted"
            and orjson.loads(r.value)["payload"]["application_id"] in ids
        ]
        if len(records) >= len(ids):
            return records
        await asyncio.sleep(1)
    raise AssertionError("registration did not publish the applications")


async def _wait_decided(stack: Stack, ids: list[str], timeout_s: float = 180) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        while await conn.fetchval(
            "SELECT count(DISTINCT application_id) FROM eligibility.decisions WHERE application_id = ANY($1::uuid[])",
            [uuid.UUID(a) for a in ids],
        ) < len(ids):
            assert loop.time() < deadline, "the applications were not decided"
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _republish(stack: Stack, records: list[object]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                APPLICATIONS,
                record.value,  # type: ignore[attr-defined]
                key=record.key,  # type: ignore[attr-defined]
                headers=list(record.headers),  # type: ignore[attr-defined]
            )
    finally:
        await producer.stop()


async def test_an_application_event_delivered_twice_yields_one_decision(platform: Stack) -> None:
    platform.kill("eligibility")
    client = RegistrationClient(platform.url("registration"))
    try:
        interns, bodies = await pipeline.prepare(client, 5, random.randrange(10**9))
        ids = [s.application_id for s in await pipeline.submit_all(client, interns, bodies)]
    finally:
        await client.close()
    records = await _submitted_records(platform, set(ids))
    assert len(records) == len(ids)
    await _republish(platform, records)  # delivered twice, before eligibility has seen the original

    platform.start_services()
    await _wait_decided(platform, ids)
    await _republish(platform, records)  # and a third time, after the decisions exist

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while await _duplicates_counted(platform) < 2 * len(ids):
        assert loop.time() < deadline, "eligibility did not consume the copies"
        await asyncio.sleep(0.5)

    conn = await asyncpg.connect(platform.admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT application_id, count(*) AS n FROM eligibility.decisions WHERE application_id = ANY($1::uuid[]) "
            "GROUP BY application_id",
            [uuid.UUID(a) for a in ids],
        )
    finally:
        await conn.close()
    assert {str(r["application_id"]): r["n"] for r in rows} == dict.fromkeys(ids, 1)
    made = [
        e
        for e in events_by_type(await read_topic(platform.bootstrap, DECISIONS), "eligibility.decision-made")
        if e["payload"]["application_id"] in set(ids)
    ]
    per_application: dict[str, set[str]] = {}
    for e in made:
        per_application.setdefault(e["payload"]["application_id"], set()).add(e["event_id"])
    assert {a: len(v) for a, v in per_application.items()} == dict.fromkeys(ids, 1)
