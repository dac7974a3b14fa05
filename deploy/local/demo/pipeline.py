"""Push a batch of internship-subsidy applications through the running platform and observe each stage.

Shared by the demo (README), the end-to-end tests and the benchmark, so all three exercise the same path:
HTTP registration → Kafka → eligibility → payments and notifications → SMS gateway.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from . import data
from .client import RegistrationClient


@dataclass
class Submitted:
    application_id: str
    correlation_id: str
    scenario: str
    submitted_at: float


async def register_units(client: RegistrationClient, units: list[data.HostUnit], concurrency: int = 16) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(u: data.HostUnit) -> None:
        async with sem:
            e = await client.register_enterprise(
                credit_code=u.credit_code,
                name=u.name,
                region_code=u.region_code,
                size="small",
                contact_name=u.contact_name,
                contact_mobile=u.contact_mobile,
            )
            u.enterprise_id = e["enterprise_id"]
            a = await client.register_account(
                owner_id=u.enterprise_id,
                kind="enterprise_basic",
                account_number=u.account_number,
                holder_name=u.name,
                bank_code=u.bank_code,
                bank_name=u.bank_name,
            )
            u.account_id = a["account_id"]

    await asyncio.gather(*(one(u) for u in units))


async def register_interns(client: RegistrationClient, interns: list[data.Intern], concurrency: int = 32) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(p: data.Intern) -> None:
        async with sem:
            out = await client.register_person(
                id_number=p.id_number, name=p.name, region_code=p.region_code, mobile=p.mobile
            )
            p.person_id = out["person_id"]

    await asyncio.gather(*(one(p) for p in interns))


def application_body(rng: random.Random, person: data.Intern, unit: data.HostUnit) -> dict[str, Any]:
    facts = data.internship_facts(rng, person, unit)
    internship = facts[0]
    return {
        "programme_id": "sx.internship-subsidy",
        "applicant": {"kind": "enterprise", "id": unit.enterprise_id},
        "beneficiary_person_id": person.person_id,
        "period": {"start": internship["agreement_start"], "end": internship["agreement_end"]},
        "payee_account_id": unit.account_id,
        "facts": facts,
    }


async def prepare(client: RegistrationClient, n: int, seed: int) -> tuple[list[data.Intern], list[dict[str, Any]]]:
    """Register the people, units and accounts for n applications; returns the interns and request bodies."""
    rng = random.Random(seed)
    units = data.host_units(rng, max(1, n // 20))
    interns = data.interns(rng, n)
    await register_units(client, units)
    await register_interns(client, interns)
    bodies = [application_body(rng, p, units[i % len(units)]) for i, p in enumerate(interns)]
    return interns, bodies


async def submit_all(
    client: RegistrationClient, interns: list[data.Intern], bodies: list[dict[str, Any]], concurrency: int = 48
) -> list[Submitted]:
    sem = asyncio.Semaphore(concurrency)
    out: list[Submitted] = []

    async def one(p: data.Intern, body: dict[str, Any]) -> None:
        async with sem:
            t = time.time()
            res = await client.submit_application(body)
            out.append(Submitted(res["application_id"], res["correlation_id"], p.scenario, t))

    await asyncio.gather(*(one(p, b) for p, b in zip(interns, bodies, strict=True)))
    return out


async def stage_counts(admin_dsn: str, application_ids: list[str] | None = None) -> dict[str, Any]:
    """Counts per stage, read with the operator's credentials from each service's schema."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        ids = application_ids
        flt = "WHERE application_id = ANY($1::uuid[])" if ids is not None else ""
        flt_app = "WHERE id = ANY($1::uuid[])" if ids is not None else ""
        args = [ids] if ids is not None else []
        apps = await conn.fetchval(f"SELECT count(*) FROM registration.applications {flt_app}", *args)
        outcomes = {
            r["outcome"]: (r["n"], r["amount"])
            for r in await conn.fetch(
                f"SELECT outcome, count(*) AS n, sum(amount) AS amount FROM eligibility.decisions {flt} GROUP BY outcome",
                *args,
            )
        }
        instructions = await conn.fetchrow(
            f"SELECT count(*) AS n, coalesce(sum(amount), 0) AS amount FROM payments.payment_instructions {flt}", *args
        )
        payments = {
            r["status"]: (r["n"], r["amount"])
            for r in await conn.fetch(
                f"""SELECT status, count(*) AS n, sum(amount) AS amount FROM payments.payment_instructions {flt}
                    GROUP BY status""",
                *args,
            )
        }
        batches = {
            r["channel"]: r["n"]
            for r in await conn.fetch(
                """SELECT b.channel, count(DISTINCT b.batch_id) AS n FROM payments.payment_batches b
                   JOIN payments.payment_attempts a USING (batch_id)
                   JOIN payments.payment_instructions i USING (instruction_id) """
                + (flt.replace("application_id", "i.application_id") if flt else "")
                + " GROUP BY b.channel",
                *args,
            )
        }
        # SMS only: the inbox copies are delivered as they are written (one per message kind and application).
        sms_only = f"{flt} AND channel = 'sms'" if flt else "WHERE channel = 'sms'"
        messages = {
            r["status"]: r["n"]
            for r in await conn.fetch(
                f"SELECT status, count(*) AS n FROM notifications.messages {sms_only} GROUP BY status", *args
            )
        }
        # What the pipeline waits for: the receipt and decision SMS (payment SMS follow the bank's answers).
        notified = await conn.fetchval(
            f"""SELECT count(*) FROM notifications.messages {sms_only}
                  AND status IN ('sent', 'delivered')
                  AND (template = 'application_received' OR template LIKE 'decision%')""",
            *args,
        )
        assert instructions is not None
        return {
            "applications": apps,
            "decisions": sum(n for n, _ in outcomes.values()),
            "decisions_by_outcome": {k: v[0] for k, v in outcomes.items()},
            "approved_amount": str(outcomes.get("eligible", (0, 0))[1] or "0.00"),
            "payment_instructions": instructions["n"],
            "payment_instructions_amount": str(instructions["amount"]),
            "payments_by_status": {k: {"count": n, "amount": str(a)} for k, (n, a) in payments.items()},
            "bank_batches_by_channel": batches,
            "messages_by_status": messages,
            "receipt_and_decision_sms_sent": notified,
        }
    finally:
        await conn.close()


def complete(counts: dict[str, Any], expected_apps: int, messages_per_app: int = 2) -> bool:
    eligible = counts["decisions_by_outcome"].get("eligible", 0)
    return bool(
        counts["applications"] >= expected_apps
        and counts["decisions"] >= expected_apps
        and counts["payment_instructions"] >= eligible
        and counts["receipt_and_decision_sms_sent"] >= expected_apps * messages_per_app
    )


async def wait_complete(admin_dsn: str, ids: list[str], timeout_s: float, poll_s: float = 0.5) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        counts = await stage_counts(admin_dsn, ids)
        if complete(counts, len(ids)) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(poll_s)
