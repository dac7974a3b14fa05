"""Bulk intake against a concurrent writer, on real PostgreSQL: a person the batch looked up as new is registered
by someone else (as the HTTP API would) before the batch writes; the batch finds the row taken, runs again and
uses the stored person."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.registration_import import intake_records
from registration import intake
from subsidy_contracts.intake import IntakeStatus
from subsidy_runtime.auth import IntegrationRegistry
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from tests.conftest import Stack

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
SX = next(
    i for i in IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml") if i.id.startswith("sx-")
)


async def test_a_person_registered_meanwhile_makes_the_batch_run_again(
    infra: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await create_pool(infra.dsn("registration"), schema="registration", application_name="race", max_size=3)
    try:
        async with pool.acquire() as conn:
            await migrate(
                conn,
                "registration",
                service_migrations("registration.migrations"),
            )
        raws = list(intake_records(3, seed=secrets.randbelow(10**9), units=1, prefix=f"race{uuid.uuid4().hex[:6]}"))
        person = raws[1]["person"]
        registered_meanwhile = uuid.uuid4()
        look_ups = 0
        original = intake._look_up

        async def look_up_then_someone_registers_the_person(conn: Any, candidates: Any) -> Any:
            nonlocal look_ups
            look_ups += 1
            known = await original(conn, candidates)
            if look_ups == 1:
                async with pool.acquire() as other:
                    await other.execute(
                        """INSERT INTO persons (id, id_number, name, birth_date, sex, region_code, created_by)
                           SELECT $1, $2, $3, to_date(substr($2, 7, 8), 'YYYYMMDD'), 'male', $4, 'http-api'""",
                        registered_meanwhile,
                        person["id_number"],
                        person["name"],
                        person["region_code"],
                    )
            return known

        monkeypatch.setattr(intake, "_look_up", look_up_then_someone_registers_the_person)
        batch = intake.Batch(SX, "race", "test-race", intake.prepare_all(raws, SX), publish_results=False)
        async with pool.acquire() as conn:
            results = await intake.store(conn, "registration", batch)
        assert look_ups == 2  # the first attempt found the person taken and was rolled back
        assert [r.status for r in results] == [IntakeStatus.ACCEPTED] * 3
        conn2: asyncpg.Connection = await asyncpg.connect(infra.admin_dsn)
        try:
            beneficiary = await conn2.fetchval(
                "SELECT beneficiary_id FROM registration.applications WHERE id = $1", results[1].application_id
            )
            persons = await conn2.fetchval(
                "SELECT count(*) FROM registration.persons WHERE id_number = ANY($1)",
                [r["person"]["id_number"] for r in raws],
            )
        finally:
            await conn2.close()
        assert beneficiary == registered_meanwhile
        assert persons == 3
    finally:
        await pool.close()
