"""Issue 5, acceptance 1: every released entitlement is delivered three times, in shuffled order, while the
payments service is killed with SIGKILL at random moments; 10,000 payments go to the bank simulator over
Kafka and come back settled. Every instalment is paid exactly once (the bank's own ledger says so), every
batch's control totals equal the sum of its payments, and each payment's settlement is announced once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from stdnum import luhn

from payments.ids import instruction_id
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.topics import PAYMENTS
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack
from tests.e2e.invariants import events_by_type, publish_events, read_topic, released_entitlement

pytestmark = [pytest.mark.e2e]
EVENTS = 5_000
INSTALMENTS = 2  # 10,000 payments
DELIVERIES = 3
FUND = "employment-subsidy-fund"
REGISTRY = IntegrationRegistry.from_file(Path(__file__).resolve().parents[2] / "deploy/local/integrations.yaml")
CHECKER = next(i for i in REGISTRY if i.id == "finance-officer-b")
SPECIAL_SUFFIXES = {"404", "405", "406", "407"}  # the simulator rejects, returns or delays these


def _card(rng: random.Random) -> str:
    while True:
        body = "621700" + "".join(rng.choice("0123456789") for _ in range(12))
        number = body + luhn.calc_check_digit(body)
        if number[-3:] not in SPECIAL_SUFFIXES:
            return number


def _entitlement(rng: random.Random, due: date) -> EntitlementReleased:
    return released_entitlement(
        programme_id="hn.on-the-job-training-subsidy",
        fund_code=FUND,
        payee=PayeeAccount(
            account_id=uuid.uuid4(),
            kind=AccountKind.SOCIAL_SECURITY_CARD,
            holder_name="李四",
            account_number=_card(rng),
            bank_code="102551000015",
            bank_name="中国工商银行长沙分行",
        ),
        amounts=[Decimal(rng.randrange(10_000, 200_000)) / 100 for _ in range(INSTALMENTS)],
        due_on=due,
    )


async def _killer(platform: Stack, rng: random.Random, stop: asyncio.Event, kills: list[float]) -> None:
    started = time.monotonic()
    while not stop.is_set() and len(kills) < 4:
        try:
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(3.0, 9.0))
            return
        except TimeoutError:
            pass
        await asyncio.to_thread(platform.kill, "payments")
        kills.append(round(time.monotonic() - started, 1))
        await asyncio.to_thread(platform.run, "service-up", "payments")


async def _approve_waiting_batches(platform: Stack, http: aiohttp.ClientSession) -> int:
    """What the treasury's checker does: approve batches above the threshold (the maker is the system)."""
    base = platform.url("payments")

    async def call(method: str, path: str) -> Any:
        headers = signed_headers(CHECKER.key_id, CHECKER.secret, method, path, b"", nonce=secrets.token_urlsafe(16))
        async with http.request(method, base + path, headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    waiting = await call("GET", "/v1/batches?status=awaiting_approval&limit=500")
    for batch in waiting:
        await call("POST", f"/v1/batches/{batch['batch_id']}/approve")
    return len(waiting)


async def test_ten_thousand_payments_exactly_once_through_redelivery_and_sigkill(platform: Stack) -> None:
    rng = random.Random(20261130)
    due = datetime.now(UTC).date() - timedelta(days=1)
    events = [_entitlement(rng, due) for _ in range(EVENTS)]
    expected = {
        instruction_id(e.payload.decision_id, i.number): i.amount for e in events for i in e.payload.instalments
    }
    deliveries = [e for e in events for _ in range(DELIVERIES)]
    rng.shuffle(deliveries)
    admin = await asyncpg.connect(platform.admin_dsn)
    paid_before = await admin.fetchval(
        "SELECT coalesce(sum(paid), 0) FROM payments.fund_budgets WHERE fund_code = $1", FUND
    )

    stop, kills = asyncio.Event(), list[float]()
    killer = asyncio.create_task(_killer(platform, rng, stop, kills))
    for start in range(0, len(deliveries), 500):
        await publish_events(platform.bootstrap, deliveries[start : start + 500], concurrency=500)
        await asyncio.sleep(0.05)  # spread the deliveries so that kills land in the middle of the work

    ids = list(expected)
    deadline = time.monotonic() + 900
    settled, approved = 0, 0
    http = aiohttp.ClientSession()
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientConnectionError):  # payments may be down just now
                approved += await _approve_waiting_batches(platform, http)
            settled = await admin.fetchval(
                "SELECT count(*) FROM payments.payment_instructions WHERE instruction_id = ANY($1) AND status = 'settled'",
                ids,
            )
            if settled == len(ids) and killer.done():
                break
            await asyncio.sleep(2)
    finally:
        stop.set()
        await killer
        await http.close()
    assert kills, "the payments service was never killed"
    assert approved > 0, "no batch needed a checker: the maker-checker path was not exercised"
    if platform.pid("payments") is None:
        platform.run("service-up", "payments")

    rows = await admin.fetch(
        """SELECT instruction_id, decision_id, instalment_number, amount, status
           FROM payments.payment_instructions WHERE instruction_id = ANY($1)""",
        ids,
    )
    assert len(rows) == len(ids) == EVENTS * INSTALMENTS
    assert len({(r["decision_id"], r["instalment_number"]) for r in rows}) == len(ids)
    assert Counter(r["status"] for r in rows) == {"settled": len(ids)}, f"settled {settled}; kills at {kills}"
    assert {r["instruction_id"]: r["amount"] for r in rows} == expected

    # The bank's ledger: each end-to-end id credited once, with the right amount, and nothing else of ours.
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{platform.env['BANK_SIMULATOR_PORT']}/ledger") as response,
    ):
        credits = [c for c in await response.json() if c["end_to_end_id"] in expected]
    assert len(credits) == len(expected)
    assert all(c["times_credited"] == 1 for c in credits), [c for c in credits if c["times_credited"] != 1][:3]
    assert {c["end_to_end_id"]: Decimal(str(c["amount"])) for c in credits} == expected

    # Control totals of every batch that carried these payments equal the sum of its payments.
    mismatched = await admin.fetch(
        """SELECT b.batch_id, b.number_of_transactions, b.control_sum, count(a.*) AS n, sum(a.amount) AS total
           FROM payments.payment_batches b JOIN payments.payment_attempts a USING (batch_id)
           WHERE b.batch_id IN (SELECT batch_id FROM payments.payment_attempts WHERE instruction_id = ANY($1))
           GROUP BY b.batch_id HAVING count(a.*) <> b.number_of_transactions OR sum(a.amount) <> b.control_sum""",
        ids,
    )
    assert mismatched == []
    paid_after = await admin.fetchval("SELECT sum(paid) FROM payments.fund_budgets WHERE fund_code = $1", FUND)
    assert paid_after - paid_before == sum(expected.values())
    await admin.close()

    # Each payment's settlement is one event (the relay may publish a record twice; its event id is the same).
    records = await read_topic(platform.bootstrap, PAYMENTS.name, timeout_s=120)
    settled_events: dict[str, set[str]] = {}
    for body in events_by_type(records, "payments.status-changed"):
        p = body["payload"]
        if p["status"] == "settled" and p["instruction_id"] in expected:
            settled_events.setdefault(p["instruction_id"], set()).add(body["event_id"])
    assert len(settled_events) == len(expected)
    assert all(len(v) == 1 for v in settled_events.values())
