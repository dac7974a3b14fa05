"""Issue 5, acceptance 2, on the running platform: payments to a bank that works with ISO 20022 files
(on the local stack the Bank of China Taiyuan branch, PAYMENTS_BANK_CHANNELS) leave as pain.001 files, every
one of which validates against the XSD; the bank simulator answers with pain.002 and camt.054 files that the
payments service parses and applies: settled, rejected (closed account), returned after settlement. The
rejected payment is re-issued to a corrected account over HTTP and then settles; the returned one opens
nothing in the break queue because the return matched its payment."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from stdnum import luhn

from payments.ids import end_to_end_id, instruction_id
from payments.iso20022.schemas import validate
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack
from tests.e2e.invariants import publish_events, released_entitlement

pytestmark = [pytest.mark.e2e]
FILE_BANK = "104161000015"
REGISTRY = IntegrationRegistry.from_file(Path(__file__).resolve().parents[2] / "deploy/local/integrations.yaml")
CASEWORKER = next(i for i in REGISTRY if i.id == "finance-officer-a")


def _card(suffix: str) -> str:
    """A Luhn-valid 19-digit card number ending in `suffix` (the simulator decides by the last three digits)."""
    while True:
        number = "621785" + str(uuid.uuid4().int)[:10] + suffix
        if luhn.is_valid(number):
            return number


def _entitlement(account: str, amount: str) -> EntitlementReleased:
    return released_entitlement(
        programme_id="sx.internship-subsidy",
        fund_code="employment-subsidy-fund",
        payee=PayeeAccount(
            account_id=uuid.uuid4(),
            kind=AccountKind.SOCIAL_SECURITY_CARD,
            holder_name="赵六",
            account_number=account,
            bank_code=FILE_BANK,
            bank_name="中国银行太原分行",
        ),
        amounts=[Decimal(amount)],
        due_on=datetime.now(UTC).date() - timedelta(days=1),
    )


async def _states(admin: asyncpg.Connection, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = await admin.fetch(
        "SELECT instruction_id, status, failure_code FROM payments.payment_instructions WHERE instruction_id = ANY($1)",
        ids,
    )
    return {r["instruction_id"]: (r["status"], r["failure_code"]) for r in rows}


async def _wait_for(
    admin: asyncpg.Connection, ids: list[str], want: dict[str, str], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        states = await _states(admin, ids)
        if all(states.get(i, ("",))[0] == s for i, s in want.items()) or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.5)


async def test_file_bank_payments_go_out_as_valid_pain001_and_come_back_applied(platform: Stack) -> None:
    plain, closed, returned = _card("123"), _card("404"), _card("406")
    events = [_entitlement(plain, "1520.00"), _entitlement(closed, "990.50"), _entitlement(returned, "0.01")]
    ids = [instruction_id(e.payload.decision_id, 1) for e in events]
    await publish_events(platform.bootstrap, events)

    admin = await asyncpg.connect(platform.admin_dsn)
    try:
        states = await _wait_for(admin, ids, {ids[0]: "settled", ids[1]: "failed", ids[2]: "returned"})
        assert states == {ids[0]: ("settled", None), ids[1]: ("failed", "AC04"), ids[2]: ("returned", "MD07")}

        # Every pain.001 the platform wrote validates against the official XSD, and these went by file.
        outgoing = Path(platform.env["PAYMENTS_OUTGOING_DIR"])
        files = await asyncio.to_thread(lambda: sorted(outgoing.rglob("*.xml")))
        assert files
        for f in files:
            validate(f.read_bytes(), "pain.001.001.09")
        batches = await admin.fetch(
            """SELECT DISTINCT b.channel, b.file_name FROM payments.payment_batches b
               JOIN payments.payment_attempts a USING (batch_id) WHERE a.instruction_id = ANY($1)""",
            ids,
        )
        assert {b["channel"] for b in batches} == {"file"}
        names = {f.name for f in files}
        assert {b["file_name"] for b in batches} <= names

        # The bank's answers were files too, parsed, applied and filed under done/.
        reports = await admin.fetch(
            "SELECT source, count(*) AS n FROM payments.bank_reports WHERE bank_code = $1 GROUP BY 1", FILE_BANK
        )
        assert {r["source"] for r in reports} >= {"pain.002", "camt.054"}
        done = Path(platform.env["PAYMENTS_INCOMING_DIR"]) / "done"
        assert await asyncio.to_thread(lambda: any(done.glob("*.xml")))
        breaks = await admin.fetchval(
            "SELECT count(*) FROM payments.reconciliation_breaks WHERE end_to_end_id = ANY($1)", ids
        )
        assert breaks == 0

        # The closed account is corrected by a caseworker: a new attempt, which settles.
        corrected = PayeeAccount(
            account_id=uuid.uuid4(),
            kind=AccountKind.SOCIAL_SECURITY_CARD,
            holder_name="赵六",
            account_number=_card("321"),
            bank_code=FILE_BANK,
            bank_name="中国银行太原分行",
        )
        path = f"/v1/payments/{ids[1]}/reissue"
        body = orjson.dumps({"account": corrected.model_dump(mode="json"), "reason": "原卡已销户，申请人提供新卡"})
        headers = signed_headers(
            CASEWORKER.key_id, CASEWORKER.secret, "POST", path, body, nonce=secrets.token_urlsafe(16)
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                platform.url("payments") + path, data=body, headers=headers | {"Content-Type": "application/json"}
            ) as r,
        ):
            assert r.status == 200, await r.text()
            assert (await r.json())["end_to_end_id"] == end_to_end_id(ids[1], 2)
        states = await _wait_for(admin, ids, {ids[1]: "settled"})
        assert states[ids[1]] == ("settled", None)
        attempts = await admin.fetch(
            "SELECT attempt, status FROM payments.payment_attempts WHERE instruction_id = $1 ORDER BY attempt", ids[1]
        )
        assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "failed"), (2, "settled")]
    finally:
        await admin.close()
