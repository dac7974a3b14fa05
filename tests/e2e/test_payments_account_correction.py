"""Issue 5, "failed and returned payments are re-issued after the account is corrected", on the running platform.

Registration announces a payee account on registration.payee-accounts.v1 once, when it is first stored (the same
account registered again announces nothing). A payment to a registered person's closed account is rejected by
the bank simulator (AC04); the person registers a new account over registration's HTTP API; payments re-issues
the payment to it by itself (attempt 2, reason account-corrected, audited as the system) and the bank settles it.
The entitlement is published to Kafka as eligibility would publish it, for the registered person and account."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from deploy.local.demo.client import RegistrationClient
from deploy.local.demo.data import card_number, name_for, resident_id
from payments.ids import end_to_end_id, instruction_id
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.registration import PayeeAccountRegistered
from subsidy_contracts.topics import PAYEE_ACCOUNTS
from tests.conftest import Stack
from tests.e2e.invariants import events_by_type, publish_events, read_topic, released_entitlement

pytestmark = [pytest.mark.e2e]
BANK, BANK_NAME = "102551000015", "中国工商银行长沙分行"


def _card(rng: random.Random, suffix: str) -> str:
    """A Luhn-valid card number ending in `suffix` (the bank simulator decides by the last three digits)."""
    while True:
        number = card_number(rng)
        if number.endswith(suffix):
            return number


async def _person(client: RegistrationClient, rng: random.Random) -> dict[str, Any]:
    ident = resident_id(rng, "140105", date(1998, 1, 1) + timedelta(days=rng.randrange(1500)), female=False)
    person: dict[str, Any] = await client.register_person(id_number=ident, name=name_for(ident), region_code="140105")
    return person


async def _account(client: RegistrationClient, person: dict[str, Any], number: str) -> dict[str, Any]:
    account: dict[str, Any] = await client.register_account(
        owner_id=person["person_id"],
        kind="social_security_card",
        account_number=number,
        holder_name=person["name"],
        bank_code=BANK,
        bank_name=BANK_NAME,
    )
    return account


async def _announced(stack: Stack, owner: str, until_account: str, timeout: float = 60) -> list[PayeeAccountRegistered]:
    """The payee-account events of an owner, once the one for `until_account` has been published."""
    deadline = time.monotonic() + timeout
    while True:
        records = await read_topic(stack.bootstrap, PAYEE_ACCOUNTS.name)
        found = [
            PayeeAccountRegistered.model_validate(e)
            for e in events_by_type(records, PayeeAccountRegistered.type_name())
            if e["subject_key"] == owner
        ]
        if any(str(e.payload.account.account_id) == until_account for e in found):
            return found
        assert time.monotonic() < deadline, f"no payee-account event for {until_account} after {timeout}s"
        await asyncio.sleep(0.5)


async def test_a_new_account_is_announced_once(platform: Stack) -> None:
    rng = random.Random()
    client = RegistrationClient(platform.url("registration"))
    try:
        person = await _person(client, rng)
        number = _card(rng, "123")
        first = await _account(client, person, number)
        again = await _account(client, person, number)
        # A later account: the outbox relay publishes in order, so once it is out, any event of `again` would be too.
        later = await _account(client, person, _card(rng, "124"))
    finally:
        await client.close()
    assert (first["created"], again["created"], later["created"]) == (True, False, True)
    assert again["account_id"] == first["account_id"]
    events = await _announced(platform, person["person_id"], later["account_id"])
    assert [str(e.payload.account.account_id) for e in events] == [first["account_id"], later["account_id"]]
    payload = events[0].payload
    assert str(payload.owner_id) == person["person_id"]
    assert (payload.account.kind, payload.account.account_number) == (AccountKind.SOCIAL_SECURITY_CARD, number)
    assert (payload.account.holder_name, payload.account.bank_code) == (person["name"], BANK)


async def _instruction(admin: asyncpg.Connection, ident: str) -> Any:
    return await admin.fetchrow(
        """SELECT status, attempt, failure_code, payee ->> 'account_number' AS account,
                  payee ->> 'account_id' AS account_id
           FROM payments.payment_instructions WHERE instruction_id = $1""",
        ident,
    )


async def _wait_for(admin: asyncpg.Connection, ident: str, status: str, attempt: int, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        row = await _instruction(admin, ident)
        if row is not None and (row["status"], row["attempt"]) == (status, attempt):
            return row
        assert time.monotonic() < deadline, f"{ident} is {row and dict(row)}, not {status} (attempt {attempt})"
        await asyncio.sleep(0.5)


async def test_a_payment_rejected_for_a_closed_account_is_re_issued_to_the_new_one_and_settles(
    platform: Stack,
) -> None:
    rng = random.Random()
    client = RegistrationClient(platform.url("registration"))
    admin = await asyncpg.connect(platform.admin_dsn)
    try:
        person = await _person(client, rng)
        closed_number = _card(rng, "404")  # the bank simulator rejects it: AC04, account closed
        closed = await _account(client, person, closed_number)
        owner = uuid.UUID(person["person_id"])
        released = released_entitlement(
            programme_id="sx.internship-subsidy",
            fund_code="employment-subsidy-fund",
            payee=PayeeAccount(
                account_id=closed["account_id"],
                kind=AccountKind.SOCIAL_SECURITY_CARD,
                holder_name=person["name"],
                account_number=closed_number,
                bank_code=BANK,
                bank_name=BANK_NAME,
            ),
            amounts=[Decimal("1234.50")],
            due_on=datetime.now(UTC).date() - timedelta(1),
            applicant=owner,
        )
        ident = instruction_id(released.payload.decision_id, 1)
        await publish_events(platform.bootstrap, [released])
        failed = await _wait_for(admin, ident, "failed", 1)
        assert failed["failure_code"] == "AC04"

        new_number = _card(rng, "321")
        corrected = await _account(client, person, new_number)
        settled = await _wait_for(admin, ident, "settled", 2)
        assert (settled["account"], settled["account_id"]) == (new_number, corrected["account_id"])
        attempts = await admin.fetch(
            """SELECT a.end_to_end_id, a.status, coalesce(a.payee, i.payee) ->> 'account_number' AS account
               FROM payments.payment_attempts a JOIN payments.payment_instructions i USING (instruction_id)
               WHERE instruction_id = $1 ORDER BY a.attempt""",
            ident,
        )
        assert [tuple(a) for a in attempts] == [
            (ident, "failed", closed_number),
            (end_to_end_id(ident, 2), "settled", new_number),
        ]
        audit = await admin.fetch(
            """SELECT integration_id, detail ->> 'reason' AS reason FROM payments.audit_log
               WHERE action = 'reissue' AND entity_id = $1""",
            ident,
        )
        assert [(a["integration_id"], a["reason"]) for a in audit] == [("system", "account-corrected")]
        changes = [
            e["payload"]
            for e in events_by_type(
                await read_topic(platform.bootstrap, "payments.payments.v1"), "payments.status-changed"
            )
            if e["payload"]["instruction_id"] == ident
        ]
        assert [(c["status"], c["reason_code"]) for c in changes if c["status"] in ("failed", "scheduled")][-2:] == [
            ("failed", "AC04"),
            ("scheduled", "account-corrected"),
        ]
    finally:
        await client.close()
        await admin.close()
