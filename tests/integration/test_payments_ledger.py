"""The payments ledger on a real PostgreSQL: instructions exactly once per instalment, budgets and holds,
batches with control totals and maker-checker thresholds, bank results (settled, rejected, returned, late,
repeated, unmatched, wrong amount) and the breaks they leave, re-issues, recovery holds. The service's own
modules run against their own schema ("ptest"), as the service runs them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from prometheus_client import CollectorRegistry

from payments import batching, funds, instructions, reconciliation
from payments.events import change_from_row, created_record, status_record
from payments.ids import instruction_id
from payments.iso20022.model import PaymentReport
from payments.metrics import PaymentMetrics
from payments.settings import PaymentsSettings
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased, EntitlementReleasedPayload, Instalment
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentStatus, PaymentStatusChanged
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.outbox import OutboxRecord, Transaction
from subsidy_runtime.outbox import transaction as outbox_transaction
from subsidy_runtime.provision import provision
from tests.conftest import Stack

pytestmark = [pytest.mark.infra]
SCHEMA = "ptest"
BANK = "102551000015"
FUNDS = [
    {
        "code": "big-fund",
        "name": "就业补助资金",
        "account_name": "就业补助资金专户",
        "account_number": "1901234567890123456",
        "bank_code": BANK,
        "budgets": {2026: "100000000.00"},
    },
    {
        "code": "small-fund",
        "name": "小额资金",
        "account_name": "小额资金专户",
        "account_number": "1901234567890123457",
        "bank_code": BANK,
        "budgets": {2026: "2500.00"},
    },
]
TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
async def pool(infra: Stack) -> AsyncIterator[asyncpg.Pool]:
    admin_url = infra.admin_dsn.rsplit("/", 1)[0] + "/postgres"
    await provision(admin_url, infra.env["PG_DATABASE"], [SCHEMA])
    dsn = f"postgresql://{SCHEMA}:{SCHEMA}_local@127.0.0.1:{infra.env['PG_PORT']}/{infra.env['PG_DATABASE']}"
    pool = await create_pool(dsn, schema=SCHEMA, application_name="ptest")
    async with pool.acquire() as conn:
        await migrate(
            conn,
            SCHEMA,
            service_migrations("payments.migrations"),
        )
        await funds.seed_funds(conn, FUNDS)
    yield pool
    await pool.close()


def transaction(pool: asyncpg.Pool) -> AbstractAsyncContextManager[Transaction]:
    return outbox_transaction(pool, SCHEMA)


def settings(**overrides: Any) -> PaymentsSettings:
    return PaymentsSettings(database_url="postgresql://unused", db_schema=SCHEMA, bank_channel="kafka", **overrides)


def account(suffix: str = "") -> PayeeAccount:
    number = (uuid.uuid4().int % 10**16 * 1000 + int(suffix or "123")) if suffix else uuid.uuid4().int % 10**19
    return PayeeAccount(
        account_id=uuid.uuid4(),
        kind=AccountKind.SOCIAL_SECURITY_CARD,
        holder_name="张三",
        account_number=str(number).rjust(19, "6"),
        bank_code=BANK,
        bank_name="中国工商银行长沙分行",
    )


def entitlement(
    fund: str = "big-fund", amounts: tuple[str, ...] = ("1000.00",), payee: PayeeAccount | None = None
) -> EntitlementReleased:
    return EntitlementReleased.create(
        EntitlementReleasedPayload(
            decision_id=uuid.uuid4(),
            application_id=uuid.uuid4(),
            applicant_id=uuid.uuid4(),
            programme_id="hn.one-off-hiring-subsidy",
            fund_code=fund,
            payee=payee or account(),
            instalments=[
                Instalment(number=n, amount=Decimal(a), due_on=TODAY - timedelta(days=1))
                for n, a in enumerate(amounts, 1)
            ],
            released_at=datetime.now(UTC),
        ),
        producer="eligibility",
        subject_key="x",
        correlation_id=uuid.uuid4(),
    )


async def outbox_payloads(pool: asyncpg.Pool, event_type: str, key: str, value: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT value FROM outbox WHERE event_type = $1 AND value::jsonb -> 'payload' ->> $2 = $3",
            event_type,
            key,
            value,
        )
    return [orjson.loads(r["value"])["payload"] for r in rows]


async def test_one_instruction_per_instalment_whatever_is_redelivered(pool: asyncpg.Pool) -> None:
    event = entitlement(amounts=("500.00", "500.00", "250.50"))
    for _ in range(3):
        async with transaction(pool) as tx:
            await instructions.create_instructions(tx, [event, event])
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT instruction_id, amount, status FROM payment_instructions WHERE decision_id = $1 ORDER BY 1",
            event.payload.decision_id,
        )
        attempts = await conn.fetchval(
            "SELECT count(*) FROM payment_attempts WHERE instruction_id = ANY($1::text[])",
            [r["instruction_id"] for r in rows],
        )
    assert [r["amount"] for r in rows] == [Decimal("500.00"), Decimal("500.00"), Decimal("250.50")]
    assert {r["status"] for r in rows} == {"scheduled"}
    assert attempts == 3
    assert all(len(r["instruction_id"]) <= 35 for r in rows)
    created = await outbox_payloads(pool, "payments.instruction-created", "decision_id", str(event.payload.decision_id))
    assert len(created) == 3


async def test_budget_exhaustion_holds_payments_and_raises_the_alert(pool: asyncpg.Pool) -> None:
    events = [entitlement("small-fund", ("1000.00",)) for _ in range(4)]  # budget 2,500: two fit
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, events)
    registry = CollectorRegistry()
    metrics = PaymentMetrics(registry)
    async with pool.acquire() as conn:
        statuses = await conn.fetch(
            "SELECT status, held_reason FROM payment_instructions WHERE fund_code = 'small-fund' ORDER BY status"
        )
        budget = await conn.fetchrow("SELECT * FROM fund_budgets WHERE fund_code = 'small-fund'")
        await metrics.refresh(conn)
    assert budget is not None
    assert [(r["status"], r["held_reason"]) for r in statuses] == [("held", "budget")] * 2 + [("scheduled", None)] * 2
    assert budget["reserved"] == Decimal("2000.00")
    assert registry.get_sample_value("subsidy_fund_budget_exhausted", {"fund_code": "small-fund"}) == 1
    assert (
        registry.get_sample_value("subsidy_fund_budget_remaining_yuan", {"fund_code": "small-fund", "year": "2026"})
        == 500
    )
    # Nothing beyond the budget is batched or sent.
    now = datetime.now(UTC)
    async with transaction(pool) as tx:
        formed = await batching.form_batches(tx, settings(), now, TODAY)
    small = [b for b in formed if b.fund_code == "small-fund"]
    assert sum(b.count for b in small) == 2
    assert sum(b.control_sum for b in small) == Decimal("2000.00")
    # Raising the budget frees the held payments, in due order.
    async with transaction(pool) as tx:
        await tx.conn.execute("UPDATE fund_budgets SET budget = 5000 WHERE fund_code = 'small-fund'")
        freed = await instructions.retry_held(tx)
    assert freed == 2
    async with pool.acquire() as conn:
        await metrics.refresh(conn)
    assert registry.get_sample_value("subsidy_fund_budget_exhausted", {"fund_code": "small-fund"}) == 0


async def _batch_and_send(pool: asyncpg.Pool, **overrides: Any) -> list[batching.FormedBatch]:
    now = datetime.now(UTC)
    async with transaction(pool) as tx:
        formed = await batching.form_batches(tx, settings(**overrides), now, TODAY)
    for b in formed:
        async with transaction(pool) as tx:
            await batching.release_batch(tx, settings(**overrides), b.batch_id, now)
    return formed


def _report(e2e: str, status: str, amount: str | None, code: str | None = None) -> PaymentReport:
    return PaymentReport(
        end_to_end_id=e2e,
        status=status,  # type: ignore[arg-type]
        amount=Decimal(amount) if amount else None,
        reason_code=code,
        reason_text=None,
        bank_reference=None,
        value_date=None,
    )


async def test_bank_results_move_money_once_and_leave_breaks(pool: asyncpg.Pool) -> None:
    events = [entitlement("big-fund", ("800.00",)) for _ in range(5)]
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, events)
    formed = await _batch_and_send(pool)
    ids = [instruction_id(e.payload.decision_id, 1) for e in events]
    async with pool.acquire() as conn:
        batch_rows = await conn.fetch(
            "SELECT batch_id, number_of_transactions, control_sum, status FROM payment_batches WHERE batch_id = ANY($1)",
            [b.batch_id for b in formed],
        )
        before = await conn.fetchrow("SELECT reserved, paid FROM fund_budgets WHERE fund_code = 'big-fund'")
    for b in batch_rows:
        assert b["status"] == "sent"
        async with pool.acquire() as conn:
            sums = await conn.fetchrow(
                "SELECT count(*) AS n, sum(amount) AS total FROM payment_attempts WHERE batch_id = $1", b["batch_id"]
            )
        assert sums is not None
        assert (sums["n"], sums["total"]) == (b["number_of_transactions"], b["control_sum"])
    batch_events = await outbox_payloads(pool, "bank.payment-batch", "batch_id", batch_rows[0]["batch_id"])
    assert len(batch_events) == 1
    assert batch_events[0]["control_sum"] == f"{batch_rows[0]['control_sum']:.2f}"

    entries = [
        _report(ids[0], "settled", "800.00"),
        _report(ids[1], "rejected", "800.00", "AC04"),
        _report(ids[2], "settled", "800.00"),
        _report(ids[3], "settled", "799.00"),  # wrong amount: a break, no money moves
        _report("NOSUCHPAYMENT0000000000000001", "settled", "10.00"),  # unmatched: a break
    ]
    for _ in range(2):  # the same report twice is applied once
        async with transaction(pool) as tx:
            applied = await reconciliation.apply_bank_report(
                tx, bank_code=BANK, report_id="R-1", source="kafka", entries=entries, now=datetime.now(UTC)
            )
    assert applied.duplicate_report
    async with transaction(pool) as tx:  # later: the third payment is returned, the first settled again
        await reconciliation.apply_bank_report(
            tx,
            bank_code=BANK,
            report_id="R-2",
            source="camt.054",
            entries=[_report(ids[2], "returned", "800.00", "MD07"), _report(ids[0], "settled", "800.00")],
            now=datetime.now(UTC),
        )
    async with pool.acquire() as conn:
        status = {
            r["instruction_id"]: r["status"]
            for r in await conn.fetch(
                "SELECT instruction_id, status FROM payment_instructions WHERE instruction_id = ANY($1)", ids
            )
        }
        after = await conn.fetchrow("SELECT reserved, paid FROM fund_budgets WHERE fund_code = 'big-fund'")
        breaks = {
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM reconciliation_breaks WHERE report_id = 'R-1' AND end_to_end_id = ANY($1)",
                [ids[3], "NOSUCHPAYMENT0000000000000001"],
            )
        }
    assert before is not None
    assert after is not None
    assert status == {ids[0]: "settled", ids[1]: "failed", ids[2]: "returned", ids[3]: "sent", ids[4]: "sent"}
    assert after["paid"] - before["paid"] == Decimal("800.00")  # only the first is paid
    assert breaks == {"amount_mismatch", "unmatched_result"}
    settled_events = [
        p
        for p in await outbox_payloads(pool, "payments.status-changed", "instruction_id", ids[0])
        if p["status"] == "settled"
    ]
    assert len(settled_events) == 1

    # The rejected payment is re-issued to a corrected account: a new attempt and EndToEndId, same instruction.
    first_account = events[1].payload.payee.model_dump(mode="json")
    corrected = account().model_dump(mode="json")
    async with transaction(pool) as tx:
        result = await instructions.reissue(tx, ids[1], corrected, datetime.now(UTC))
    assert result["end_to_end_id"] == ids[1] + "R02"
    formed = await _batch_and_send(pool)
    async with pool.acquire() as conn:
        attempts = await conn.fetch(
            """SELECT a.end_to_end_id, a.status, coalesce(a.payee, i.payee) AS payee FROM payment_attempts a
               JOIN payment_instructions i USING (instruction_id) WHERE instruction_id = $1 ORDER BY a.attempt""",
            ids[1],
        )
    assert [(a["end_to_end_id"], a["status"]) for a in attempts] == [(ids[1], "failed"), (ids[1] + "R02", "sent")]
    # Each attempt still pays the account it was made for (the first one's copy is taken before the re-issue).
    assert [a["payee"] for a in attempts] == [first_account, corrected]


async def test_big_batches_wait_for_a_checker_and_can_be_cancelled(pool: asyncpg.Pool) -> None:
    events = [entitlement("big-fund", ("60000.00",)) for _ in range(3)]
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, events)
    formed = await _batch_and_send(pool, approval_threshold=Decimal("100000.00"))
    big = [b for b in formed if b.needs_approval]
    assert big, "a batch above the threshold must wait for approval"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT status FROM payment_batches WHERE batch_id = ANY($1)", [b.batch_id for b in big]
        )
        with pytest.raises(asyncpg.CheckViolationError):  # four eyes, also in the database
            await conn.execute("UPDATE payment_batches SET checker = maker WHERE batch_id = $1", big[0].batch_id)
    assert {r["status"] for r in rows} == {"awaiting_approval"}


async def test_a_blocking_receivable_holds_new_payments_of_that_programme(pool: asyncpg.Pool) -> None:
    payee = uuid.uuid4()
    event = entitlement()
    event = event.model_copy(update={"payload": event.payload.model_copy(update={"applicant_id": payee})})
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO receivables (id, payee_id, programme_id, kind, amount, reason, blocks_programme, created_by)
               VALUES ($1, $2, 'hn.one-off-hiring-subsidy', 'fraud', 1000, '虚假申报', true, 'test')""",
            uuid.uuid4(),
            payee,
        )
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, [event])
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, held_reason FROM payment_instructions WHERE decision_id = $1", event.payload.decision_id
        )
    assert row is not None
    assert (row["status"], row["held_reason"]) == ("held", "recovery")


async def _events_of(pool: asyncpg.Pool, event_type: str, instruction: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                """SELECT topic, key, event_type, headers, value FROM outbox WHERE event_type = $1
                   AND (value::jsonb -> 'payload' ->> 'end_to_end_id' = $2
                        OR value::jsonb -> 'payload' ->> 'instruction_id' = $2) ORDER BY id""",
                event_type,
                instruction,
            )
        )


def _same_event(record: asyncpg.Record, expected: OutboxRecord) -> None:
    """An outbox row PostgreSQL built is the record the Python builder writes, but for its own event id."""
    value = orjson.loads(record["value"])
    python = orjson.loads(expected.value)
    assert record["headers"]["event_id"] == value["event_id"]
    assert (record["topic"], record["key"], record["event_type"]) == (expected.topic, expected.key, expected.event_type)
    assert {**record["headers"], "event_id": ""} == {**expected.headers, "event_id": ""}
    assert {**value, "event_id": ""} == {**python, "event_id": ""}


async def test_events_built_by_postgres_are_what_the_python_builders_write(pool: asyncpg.Pool) -> None:
    """instruction-created and the status changes of batching are written by SQL (events.py): the same JSON as
    created_record / status_record, valid against the contracts, one fresh event id each."""
    other_bank = account().model_copy(update={"bank_code": "103551000019"})
    events = [entitlement("big-fund", ("60000.00",)), entitlement("big-fund", ("0.10",), payee=other_bank)]
    async with transaction(pool) as tx:
        await instructions.create_instructions(tx, events)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM payment_instructions WHERE decision_id = ANY($1::uuid[]) ORDER BY amount DESC",
            [e.payload.decision_id for e in events],
        )
    big, small = rows
    for row in rows:
        (created,) = await _events_of(pool, "payments.instruction-created", row["instruction_id"])
        parsed = PaymentInstructionCreated.model_validate_json(created["value"])
        _same_event(created, created_record(row, PaymentStatus.SCHEDULED, parsed.occurred_at))
    # Held ones are announced held, once: over the budget (gone through one by one; test_budget_exhaustion... has
    # freed them since) and blocked by a receivable.
    async with pool.acquire() as conn:
        others = await conn.fetch(
            "SELECT * FROM payment_instructions WHERE fund_code = 'small-fund' OR held_reason = 'recovery'"
        )
    announced: list[str] = []
    for row in others:
        (created,) = await _events_of(pool, "payments.instruction-created", row["instruction_id"])
        parsed = PaymentInstructionCreated.model_validate_json(created["value"])
        _same_event(created, created_record(row, parsed.payload.status, parsed.occurred_at))
        announced.append(f"{row['fund_code']} {parsed.payload.status.value}")
    assert sorted(announced) == ["big-fund held"] + ["small-fund held"] * 2 + ["small-fund scheduled"] * 2
    # The big one waits for a checker (batched), the small one is sent at once; then the big one is released.
    await _batch_and_send(pool, approval_threshold=Decimal("50000.00"))
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT batch_id FROM payment_attempts WHERE instruction_id = $1 AND status = 'batched'",
            big["instruction_id"],
        )
        assert waiting is not None
        await conn.execute(
            "UPDATE payment_batches SET status = 'approved', checker = 'checker' WHERE batch_id = $1", waiting
        )
    async with transaction(pool) as tx:
        assert await batching.release_batch(tx, settings(), waiting, datetime.now(UTC)) > 0
    async with pool.acquire() as conn:
        attempts = {
            r["instruction_id"]: r
            for r in await conn.fetch(
                """SELECT a.*, coalesce(a.payee, i.payee) AS payee, i.decision_id, i.application_id, i.applicant_id,
                          i.programme_id, i.correlation_id,
                          i.instalment_number FROM payment_attempts a JOIN payment_instructions i USING (instruction_id)
                   WHERE i.instruction_id = ANY($1::text[])""",
                [big["instruction_id"], small["instruction_id"]],
            )
        }
    assert {r["status"] for r in attempts.values()} == {"sent"}
    expected = {
        big["instruction_id"]: [
            (PaymentStatus.BATCHED, PaymentStatus.SCHEDULED),
            (PaymentStatus.SENT, PaymentStatus.BATCHED),
        ],
        small["instruction_id"]: [(PaymentStatus.SENT, PaymentStatus.SCHEDULED)],
    }
    for instruction, moves in expected.items():
        changes = await _events_of(pool, "payments.status-changed", instruction)
        assert len(changes) == len(moves)
        for record, (status, previous) in zip(changes, moves, strict=True):
            parsed_change = PaymentStatusChanged.model_validate_json(record["value"])
            assert parsed_change.payload.batch_id is not None
            row = attempts[instruction]
            change = change_from_row(row, status, previous, batch_id=parsed_change.payload.batch_id)
            _same_event(record, status_record(change, parsed_change.occurred_at))
            assert parsed_change.payload.payee_account_masked == "****" + row["payee"]["account_number"][-4:]
