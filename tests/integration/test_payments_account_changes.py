"""Automatic re-issue on a corrected payee account (payments/account_changes.py) on a real PostgreSQL: a payment
the bank rejected for the account is paid again to the owner's newly registered account (new attempt, scheduled,
a status-changed event, an audit row); a second delivery changes nothing; settled payments, payments to another
kind of account, failures that are not about the account, payments blocked by a receivable or under a contradicting
reconciliation break, and the same account number again are left alone. The service's modules run against their
own schema ("pacct"), as the service runs them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from payments import account_changes, batching, funds, instructions, reconciliation
from payments.ids import end_to_end_id, instruction_id
from payments.iso20022.model import PaymentReport
from payments.metrics import PaymentMetrics
from payments.settings import PaymentsSettings
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.payments import PaymentStatusChanged
from subsidy_contracts.registration import PayeeAccountRegistered, PayeeAccountRegisteredPayload
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.outbox import transaction as outbox_transaction
from subsidy_runtime.provision import provision
from tests.conftest import Stack
from tests.e2e.invariants import released_entitlement

pytestmark = [pytest.mark.infra]
SCHEMA = "pacct"
BANK = "102551000015"
FUND = "acct-fund"
TODAY = date(2026, 11, 30)
PROGRAMME = "hn.one-off-hiring-subsidy"


@pytest.fixture(scope="module")
async def pool(infra: Stack) -> AsyncIterator[asyncpg.Pool]:
    admin_url = infra.admin_dsn.rsplit("/", 1)[0] + "/postgres"
    await provision(admin_url, infra.env["PG_DATABASE"], [SCHEMA])
    dsn = f"postgresql://{SCHEMA}:{SCHEMA}_local@127.0.0.1:{infra.env['PG_PORT']}/{infra.env['PG_DATABASE']}"
    pool = await create_pool(dsn, schema=SCHEMA, application_name=SCHEMA)
    async with pool.acquire() as conn:
        await migrate(conn, SCHEMA, service_migrations("payments.migrations"))
        await funds.seed_funds(
            conn,
            [
                {
                    "code": FUND,
                    "name": "就业补助资金",
                    "account_name": "就业补助资金专户",
                    "account_number": "1901234567890123456",
                    "bank_code": BANK,
                    "budgets": {2026: "100000000.00"},
                }
            ],
        )
    yield pool
    await pool.close()


def transaction(pool: asyncpg.Pool) -> AbstractAsyncContextManager[Transaction]:
    return outbox_transaction(pool, SCHEMA)


def account(kind: AccountKind = AccountKind.SOCIAL_SECURITY_CARD, number: str | None = None) -> PayeeAccount:
    return PayeeAccount(
        account_id=uuid.uuid4(),
        kind=kind,
        holder_name="张三" if kind is AccountKind.SOCIAL_SECURITY_CARD else "长沙某某科技有限公司",
        account_number=number or str(uuid.uuid4().int % 10**19).rjust(19, "6"),
        bank_code=BANK,
        bank_name="中国工商银行长沙分行",
    )


def entitlement(owner: uuid.UUID, payee: PayeeAccount, amount: str = "1000.00") -> EntitlementReleased:
    return released_entitlement(
        programme_id=PROGRAMME,
        fund_code=FUND,
        payee=payee,
        amounts=[Decimal(amount)],
        due_on=TODAY - timedelta(days=1),
        applicant=owner,
    )


def registered(owner: uuid.UUID, new: PayeeAccount) -> PayeeAccountRegistered:
    return PayeeAccountRegistered.create(
        PayeeAccountRegisteredPayload(owner_id=owner, account=new, registered_at=datetime.now(UTC)),
        producer="registration",
        subject_key=str(owner),
        correlation_id=uuid.uuid4(),
    )


def report(e2e: str, status: str, code: str | None = None) -> PaymentReport:
    return PaymentReport(
        end_to_end_id=e2e,
        status=status,  # type: ignore[arg-type]
        amount=Decimal("1000.00"),
        reason_code=code,
        reason_text=None,
        bank_reference=None,
        value_date=None,
    )


async def pay(pool: asyncpg.Pool, events: list[EntitlementReleased], answers: list[tuple[str, str | None]]) -> None:
    """Create, batch and send the payments, then apply the bank's answer to each (status, reason code)."""
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, events)
    settings = PaymentsSettings(database_url="postgresql://unused", db_schema=SCHEMA, bank_channel="kafka")
    now = datetime.now(UTC)
    async with transaction(pool) as tx:
        formed = await batching.form_batches(tx, settings, now, TODAY)
    for b in formed:
        async with transaction(pool) as tx:
            await batching.release_batch(tx, settings, b.batch_id, now)
    entries = []
    for e, (status, code) in zip(events, answers, strict=True):
        e2e = instruction_id(e.payload.decision_id, 1)
        if status == "returned":  # credited first, then sent back
            entries.append(report(e2e, "settled"))
        entries.append(report(e2e, status, code))
    async with transaction(pool) as tx:
        await reconciliation.apply_bank_report(
            tx, bank_code=BANK, report_id=f"R-{uuid.uuid4()}", source="kafka", entries=entries, now=now
        )


async def state(pool: asyncpg.Pool, ident: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM payment_instructions WHERE instruction_id = $1", ident)
        attempts = await conn.fetch(
            """SELECT a.end_to_end_id, a.attempt, a.status, coalesce(a.payee, i.payee) AS payee
               FROM payment_attempts a JOIN payment_instructions i USING (instruction_id)
               WHERE instruction_id = $1 ORDER BY attempt""",
            ident,
        )
    assert row is not None
    return {
        "status": row["status"],
        "attempt": row["attempt"],
        "account": row["payee"]["account_number"],
        "attempts": [(a["end_to_end_id"], a["status"], a["payee"]["account_number"]) for a in attempts],
    }


async def status_events(pool: asyncpg.Pool, ident: str) -> list[PaymentStatusChanged]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT value FROM outbox WHERE event_type = 'payments.status-changed'
               AND value::jsonb -> 'payload' ->> 'instruction_id' = $1 ORDER BY id""",
            ident,
        )
    return [PaymentStatusChanged.model_validate_json(r["value"]) for r in rows]


async def test_a_corrected_account_re_issues_only_the_account_failures_of_its_owner(pool: asyncpg.Pool) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    old = account()
    events = [
        entitlement(owner, old),  # 0: rejected, account closed: re-issued
        entitlement(owner, old),  # 1: settled: untouched
        entitlement(owner, account(AccountKind.ENTERPRISE_BASIC)),  # 2: rejected AC04, other kind: untouched
        entitlement(owner, old),  # 3: returned, payee deceased (MD07): left to a caseworker
        entitlement(owner, old),  # 4: rejected BE01 (name and account differ), no_result break: re-issued
        entitlement(owner, old),  # 5: rejected AC04, under a contradicting break: left to a caseworker
        entitlement(other, account()),  # 6: another owner's closed account: untouched
    ]
    await pay(
        pool,
        events,
        [
            ("rejected", "AC04"),
            ("settled", None),
            ("rejected", "AC04"),
            ("returned", "MD07"),
            ("rejected", "BE01"),
            ("rejected", "AC04"),
            ("rejected", "AC04"),
        ],
    )
    ids = [instruction_id(e.payload.decision_id, 1) for e in events]
    async with pool.acquire() as conn:
        no_result, contradicting = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            """INSERT INTO reconciliation_breaks (id, kind, end_to_end_id, bank_code, expected_amount, detail)
               VALUES ($1, 'no_result', $2, $5, 1000.00, '{}'), ($3, 'unexpected_status', $4, $5, 1000.00, '{}')""",
            no_result,
            ids[4],
            contradicting,
            ids[5],
            BANK,
        )
    before = {i: await state(pool, i) for i in ids}
    assert [before[i]["status"] for i in ids] == [
        "failed",
        "settled",
        "failed",
        "returned",
        "failed",
        "failed",
        "failed",
    ]

    new = account()
    event = registered(owner, new)
    metrics = PaymentMetrics(CollectorRegistry())
    async with transaction(pool) as tx:
        done = await account_changes.apply_account_changes(tx, [event], metrics=metrics)
    assert sorted(r["instruction_id"] for r in done) == sorted([ids[0], ids[4]])
    assert metrics.reissues.labels("account-corrected")._value.get() == 2

    for i in (ids[0], ids[4]):
        after = await state(pool, i)
        assert after["status"] == "scheduled"
        assert after["attempt"] == 2
        assert after["account"] == new.account_number
        # The old attempt keeps the account the bank refused; the new one pays the corrected account.
        assert after["attempts"] == [
            (i, "failed", old.account_number),
            (end_to_end_id(i, 2), "ready", new.account_number),
        ]
        changed = (await status_events(pool, i))[-1].payload
        assert (changed.status.value, changed.previous_status, changed.reason_code) == (
            "scheduled",
            "failed",
            "account-corrected",
        )
        assert changed.end_to_end_id == end_to_end_id(i, 2)
        assert changed.payee_account_masked.endswith(new.account_number[-4:])
    for i in (ids[1], ids[2], ids[3], ids[5], ids[6]):
        assert await state(pool, i) == before[i], i

    async with pool.acquire() as conn:
        audit = await conn.fetch(
            "SELECT * FROM audit_log WHERE action = 'reissue' AND entity_id = ANY($1) ORDER BY entity_id",
            [ids[0], ids[4]],
        )
        breaks = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT id, status, resolution, detail FROM reconciliation_breaks WHERE id = ANY($1)",
                [no_result, contradicting],
            )
        }
    assert [(a["integration_id"], a["request_id"]) for a in audit] == [("system", str(event.event_id))] * 2
    assert {a["detail"]["reason"] for a in audit} == {"account-corrected"}
    assert {a["detail"]["failure_code"] for a in audit} == {"AC04", "BE01"}
    # The no_result break of the re-issued attempt is closed as the break queue's re-issue closes it; the
    # contradicting one stays open for a caseworker, with the corrected account noted on it.
    assert breaks[no_result]["status"] == "resolved"
    assert breaks[no_result]["resolution"].startswith(f"re-issued as {end_to_end_id(ids[4], 2)}")
    assert breaks[contradicting]["status"] == "open"
    assert breaks[contradicting]["detail"]["account_corrected"]["account_id"] == str(new.account_id)

    # The same event again (a redelivery past the inbox, or a replay): nothing is re-issued twice.
    outbox_before = await _outbox_count(pool)
    async with transaction(pool) as tx:
        again = await account_changes.apply_account_changes(tx, [event], metrics=metrics)
    assert again == []
    assert await _outbox_count(pool) == outbox_before
    assert (await state(pool, ids[0]))["attempt"] == 2
    assert metrics.reissues.labels("account-corrected")._value.get() == 2


async def test_the_same_account_number_again_or_a_blocking_receivable_re_issues_nothing(pool: asyncpg.Pool) -> None:
    same, blocked = uuid.uuid4(), uuid.uuid4()
    same_account, blocked_account = account(), account()
    events = [entitlement(same, same_account), entitlement(blocked, blocked_account)]
    await pay(pool, events, [("rejected", "AC04"), ("rejected", "AC01")])
    ids = [instruction_id(e.payload.decision_id, 1) for e in events]
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO receivables (id, payee_id, programme_id, kind, amount, reason, blocks_programme, created_by)
               VALUES ($1, $2, $3, 'overpayment', 10.00, '多发', true, 'caseworker-a')""",
            uuid.uuid4(),
            blocked,
            PROGRAMME,
        )
    before = {i: await state(pool, i) for i in ids}
    outbox_before = await _outbox_count(pool)
    # The same number registered under a new account row (e.g. another bank name): not a correction.
    again = account(number=same_account.account_number)
    async with transaction(pool) as tx:
        done = await account_changes.apply_account_changes(
            tx, [registered(same, again), registered(blocked, account())]
        )
    assert done == []
    assert {i: await state(pool, i) for i in ids} == before
    assert [s["status"] for s in before.values()] == ["failed", "failed"]
    assert await _outbox_count(pool) == outbox_before


async def test_two_corrections_in_one_batch_re_issue_once_to_the_first(pool: asyncpg.Pool) -> None:
    owner = uuid.uuid4()
    event = entitlement(owner, account())
    await pay(pool, [event], [("returned", "AC06")])
    ident = instruction_id(event.payload.decision_id, 1)
    first, second = account(), account()
    async with transaction(pool) as tx:
        done = await account_changes.apply_account_changes(tx, [registered(owner, first), registered(owner, second)])
    assert [r["end_to_end_id"] for r in done] == [end_to_end_id(ident, 2)]
    after = await state(pool, ident)
    assert (after["status"], after["attempt"], after["account"]) == ("scheduled", 2, first.account_number)
    events = await status_events(pool, ident)
    assert [(e.payload.status.value, e.payload.reason_code) for e in events][-2:] == [
        ("returned", "AC06"),
        ("scheduled", "account-corrected"),
    ]


async def _outbox_count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))


def test_account_failure_codes_are_iso_reason_codes() -> None:
    assert all(len(c) == 4 and c.isalnum() for c in account_changes.ACCOUNT_FAILURE_CODES)
    assert {"AC04", "BE01"} <= account_changes.ACCOUNT_FAILURE_CODES  # what the bank simulator answers
    assert not {"MD07", "AM04", "AM05", "DU01", "MS03"} & account_changes.ACCOUNT_FAILURE_CODES
