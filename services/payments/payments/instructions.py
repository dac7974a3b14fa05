"""Turning released entitlements into payment instructions, exactly once per instalment.

The instruction is keyed by (decision id, instalment number): a redelivered entitlement finds it and changes
nothing. A new instruction reserves its fund's budget for the year it is due; when that would exceed the
budget, or the payee owes money back for the programme (追回), it is held instead of paid.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.payments import PaymentStatus
from subsidy_runtime.db import Connection, insert_many
from subsidy_runtime.outbox import Transaction, notify_channel

from . import funds
from .events import Change, change_from_row, created_outbox_columns_sql, status_record, write_created_events
from .ids import end_to_end_id, instruction_id
from .metrics import PaymentMetrics

HELD_BUDGET = "budget"
HELD_NO_BUDGET = "no_budget"
HELD_RECOVERY = "recovery"

# One statement per consumer batch does the usual case whole: the new instructions (a redelivered instalment
# conflicts and is skipped), their first attempts (built from the instructions' own rows; the payee is the
# instruction's, not copied: see migration 0005), the budget of each
# fund and year reserved for all of them at once, and their instruction-created events. Those the caller knows
# to be blocked by a receivable are inserted held, without an attempt. Where a fund's budget cannot take its
# whole group, that group is left scheduled, unreserved and unannounced for create_instructions to go through
# one by one. The batch travels as one JSON array of arrays (positions as in _INPUT): PostgreSQL parses it in
# C, where asyncpg would encode and type-check every element of one array per column.
_INPUT = (
    "instruction_id",
    "decision_id",
    "instalment_number",
    "application_id",
    "applicant_id",
    "programme_id",
    "fund_code",
    "amount",
    "due_on",
    "payee",
    "correlation_id",
    "budget_year",
    "blocked",
)
_INSERT_NEW = f"""
WITH ins AS (
    INSERT INTO payment_instructions (instruction_id, decision_id, instalment_number, application_id, applicant_id,
                                      programme_id, fund_code, amount, due_on, payee, status, held_reason,
                                      correlation_id, budget_year, reserved, attempt)
    SELECT e ->> 0, (e ->> 1)::uuid, (e ->> 2)::int, (e ->> 3)::uuid, (e ->> 4)::uuid, e ->> 5, e ->> 6,
           (e ->> 7)::numeric, (e ->> 8)::date, e -> 9,
           CASE WHEN (e ->> 12)::boolean THEN 'held' ELSE 'scheduled' END,
           CASE WHEN (e ->> 12)::boolean THEN '{HELD_RECOVERY}' END,
           (e ->> 10)::uuid, (e ->> 11)::int, NOT (e ->> 12)::boolean, 1
    FROM jsonb_array_elements($1::jsonb) AS e
    ON CONFLICT DO NOTHING
    RETURNING *
), att AS (
    INSERT INTO payment_attempts (end_to_end_id, instruction_id, attempt, payee, bank_code, fund_code, amount,
                                  due_on, status)
    SELECT instruction_id, instruction_id, 1, NULL, payee ->> 'bank_code', fund_code, amount, due_on, 'ready'
    FROM ins WHERE status = 'scheduled'
), total AS (
    SELECT fund_code, budget_year, sum(amount) AS amount FROM ins WHERE status = 'scheduled' GROUP BY 1, 2
), reserved AS (
    UPDATE fund_budgets b SET reserved = b.reserved + t.amount FROM total t
    WHERE b.fund_code = t.fund_code AND b.year = t.budget_year AND b.reserved + b.paid + t.amount <= b.budget
    RETURNING b.fund_code, b.year
), s AS MATERIALIZED (
    SELECT ins.*, gen_random_uuid() AS event_id FROM ins
    WHERE ins.status = 'held' OR (ins.fund_code, ins.budget_year) IN (SELECT fund_code, year FROM reserved)
), o AS (
    INSERT INTO outbox (topic, key, event_type, headers, value) SELECT {created_outbox_columns_sql()} FROM s
)
SELECT ins.instruction_id, ins.instruction_id IN (SELECT instruction_id FROM s) AS announced FROM ins"""


async def create_instructions(
    tx: Transaction, events: list[EntitlementReleased], metrics: PaymentMetrics | None = None
) -> None:
    now = datetime.now(UTC)
    by_id: dict[str, list[Any]] = {}
    for e in events:
        p = e.payload
        payee = p.payee.model_dump(mode="json")
        for i in p.instalments:
            key = instruction_id(p.decision_id, i.number)
            by_id[key] = [
                key,
                p.decision_id,
                i.number,
                p.application_id,
                p.applicant_id,
                p.programme_id,
                p.fund_code,
                i.amount,
                i.due_on,
                payee,
                e.correlation_id,
                i.due_on.year,
                False,
            ]
    if not by_id:
        return
    blocked = await blocked_by_receivables(tx.conn, {row[4] for row in by_id.values()})
    if blocked:
        for row in by_id.values():
            row[12] = (row[4], row[5]) in blocked
    # The jsonb codec writes the rows (orjson; the Decimal amounts as their text).
    result = await tx.conn.fetch(_INSERT_NEW, list(by_id.values()), now.isoformat())
    if not result:
        return
    inserted = [dict(zip(_INPUT, by_id[r["instruction_id"]], strict=True)) for r in result]
    pending = {p["instruction_id"] for p in result if not p["announced"]}
    held = {r["instruction_id"]: HELD_RECOVERY for r in inserted if r["blocked"]}
    if pending:
        # A fund whose budget could not take its whole group: one by one, in due order, until it is used up.
        by_budget: dict[tuple[str, int], list[Any]] = defaultdict(list)
        for r in sorted(inserted, key=lambda r: (r["due_on"], r["instruction_id"])):
            if r["instruction_id"] in pending:
                by_budget[(r["fund_code"], r["budget_year"])].append(r)
        over: dict[str, str] = {}
        for (fund, year), group in by_budget.items():
            over.update(await _reserve_one_by_one(tx.conn, fund, year, group))
        if over:
            await tx.conn.executemany(
                """UPDATE payment_instructions SET status = 'held', held_reason = $2, reserved = false
                   WHERE instruction_id = $1""",
                list(over.items()),
            )
            await tx.conn.execute(
                "DELETE FROM payment_attempts WHERE instruction_id = ANY($1::text[]) AND attempt = 1", list(over)
            )
            held |= over
        # Creation is announced once, with the state it starts in (scheduled, or held and why).
        await write_created_events(tx, sorted(pending), now)
    await tx.conn.execute("SELECT pg_notify($1, '')", notify_channel(tx.schema))  # the relay has records
    if metrics is not None:
        totals: dict[tuple[str, PaymentStatus], tuple[int, Decimal]] = {}
        for r in inserted:
            key2 = (r["fund_code"], PaymentStatus.HELD if r["instruction_id"] in held else PaymentStatus.SCHEDULED)
            count, total = totals.get(key2, (0, Decimal("0.00")))
            totals[key2] = (count + 1, total + r["amount"])
        for (fund, status), (count, total) in totals.items():
            metrics.observe_statuses(fund, status, count, total)


async def blocked_by_receivables(conn: Connection, applicants: set[Any]) -> set[tuple[Any, str]]:
    """(payee, programme) pairs an open receivable blocks (追回)."""
    return {
        (r["payee_id"], r["programme_id"])
        for r in await conn.fetch(
            """SELECT DISTINCT payee_id, programme_id FROM receivables
               WHERE status = 'open' AND blocks_programme AND payee_id = ANY($1::uuid[])""",
            list(applicants),
        )
    }


async def _reserve_one_by_one(conn: Connection, fund: str, year: int, group: list[Any]) -> dict[str, str]:
    """Reserve budget for each payment of the group in turn; instruction id → reason for those it cannot take."""
    held: dict[str, str] = {}
    exists = await conn.fetchval("SELECT 1 FROM fund_budgets WHERE fund_code = $1 AND year = $2", fund, year)
    for r in group:
        if not exists:
            held[r["instruction_id"]] = HELD_NO_BUDGET
        elif not await funds.reserve(conn, fund, year, r["amount"]):
            held[r["instruction_id"]] = HELD_BUDGET
    return held


async def _holds(conn: Connection, rows: list[Any]) -> dict[str, str]:
    """Instruction id → reason for those that may not be paid now; reserves budget for the others."""
    held: dict[str, str] = {}
    blocked = await blocked_by_receivables(conn, {r["applicant_id"] for r in rows})
    by_budget: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r["due_on"], r["instruction_id"])):
        if (r["applicant_id"], r["programme_id"]) in blocked:
            held[r["instruction_id"]] = HELD_RECOVERY
        else:
            by_budget[(r["fund_code"], r["budget_year"])].append(r)
    for (fund, year), group in by_budget.items():
        total = sum((r["amount"] for r in group), Decimal("0.00"))
        if not await funds.reserve(conn, fund, year, total):
            held.update(await _reserve_one_by_one(conn, fund, year, group))
    return held


def _first_attempt(r: Any) -> tuple[object, ...]:
    """The first attempt of an instruction row that was held (a new one gets it from _INSERT_NEW)."""
    return _attempt(r, 1)


def _attempt(r: Any, attempt: int) -> tuple[object, ...]:
    return (
        end_to_end_id(r["instruction_id"], attempt),
        r["instruction_id"],
        attempt,
        r["payee"],
        r["payee"]["bank_code"],
        r["fund_code"],
        r["amount"],
        r["due_on"],
        "ready",
    )


ATTEMPT_COLUMNS = [
    ("end_to_end_id", "text"),
    ("instruction_id", "text"),
    ("attempt", "int"),
    ("payee", "jsonb"),
    ("bank_code", "text"),
    ("fund_code", "text"),
    ("amount", "numeric"),
    ("due_on", "date"),
    ("status", "text"),
]


async def insert_attempts(conn: Connection, attempts: list[tuple[object, ...]]) -> None:
    await insert_many(conn, "payment_attempts", ATTEMPT_COLUMNS, attempts, suffix="ON CONFLICT DO NOTHING")


def _change(r: Any, status: PaymentStatus, previous: PaymentStatus | None, reason: str | None) -> Change:
    """A Change for an instruction row: its current attempt's EndToEndId is derived, not stored on it."""
    current = {**dict(r), "end_to_end_id": end_to_end_id(r["instruction_id"], r["attempt"])}
    return change_from_row(current, status, previous, reason_code=reason)


async def retry_held(tx: Transaction, limit: int = 1000) -> int:
    """Held instructions whose reason is gone (budget raised, receivable closed) become scheduled."""
    rows = await tx.conn.fetch(
        """SELECT * FROM payment_instructions WHERE status = 'held' AND held_reason IS NOT NULL
           ORDER BY due_on, instruction_id LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    if not rows:
        return 0
    still_held = await _holds(tx.conn, list(rows))
    freed = [r for r in rows if r["instruction_id"] not in still_held]
    now = datetime.now(UTC)
    if freed:
        await tx.conn.execute(
            """UPDATE payment_instructions SET status = 'scheduled', held_reason = NULL, reserved = true
               WHERE instruction_id = ANY($1::text[])""",
            [r["instruction_id"] for r in freed],
        )
        await insert_attempts(tx.conn, [_first_attempt(r) for r in freed])
        for r in freed:
            tx.publish_record(status_record(_change(r, PaymentStatus.SCHEDULED, PaymentStatus.HELD, None), now))
    changed = [
        (i, reason)
        for i, reason in still_held.items()
        if next(r for r in rows if r["instruction_id"] == i)["held_reason"] != reason
    ]
    if changed:
        await tx.conn.executemany("UPDATE payment_instructions SET held_reason = $2 WHERE instruction_id = $1", changed)
    return len(freed)


class PaymentStateError(Exception):
    """The payment is not in a state that allows the action."""


REISSUABLE = ("failed", "returned", "scheduled")
CANCELLABLE = ("scheduled", "held", "failed", "returned")


async def reissue(
    tx: Transaction, instruction: str, payee: dict[str, Any], now: datetime, reason_code: str = "reissue"
) -> dict[str, Any]:
    """Pay a failed or returned instalment again (or a scheduled one to a corrected account): a new attempt with
    its own EndToEndId and the corrected account; the old attempt stays as the bank knows it. `reason_code` goes
    on the status-changed event ("reissue" for a caseworker's, "account-corrected" for an automatic one)."""
    row = await tx.conn.fetchrow("SELECT * FROM payment_instructions WHERE instruction_id = $1 FOR UPDATE", instruction)
    if row is None:
        raise LookupError(instruction)
    if row["status"] not in REISSUABLE:
        raise PaymentStateError(f"a {row['status']} payment cannot be re-issued")
    if row["status"] == "scheduled":
        await tx.conn.execute(
            "UPDATE payment_attempts SET status = 'cancelled', updated_at = $2 WHERE instruction_id = $1 "
            "AND status = 'ready'",
            instruction,
            now,
        )
    attempt = row["attempt"] + 1
    # Attempts that pay "the instruction's account" (payee NULL) keep the account they paid.
    await tx.conn.execute(
        "UPDATE payment_attempts SET payee = $2::jsonb WHERE instruction_id = $1 AND payee IS NULL",
        instruction,
        row["payee"],
    )
    await tx.conn.execute(
        """UPDATE payment_instructions SET status = 'scheduled', attempt = $2, payee = $3::jsonb,
               failure_code = NULL, failure_text = NULL, updated_at = $4 WHERE instruction_id = $1""",
        instruction,
        attempt,
        payee,
        now,
    )
    updated = dict(row) | {"attempt": attempt, "payee": payee}
    await insert_attempts(tx.conn, [_attempt(updated, attempt)])
    tx.publish_record(
        status_record(_change(updated, PaymentStatus.SCHEDULED, PaymentStatus(row["status"]), reason_code), now)
    )
    return {"instruction_id": instruction, "attempt": attempt, "end_to_end_id": end_to_end_id(instruction, attempt)}


async def cancel(tx: Transaction, instruction: str, reason: str, now: datetime) -> None:
    """Stop an instalment that has not gone to a bank; its budget reservation is given back."""
    row = await tx.conn.fetchrow("SELECT * FROM payment_instructions WHERE instruction_id = $1 FOR UPDATE", instruction)
    if row is None:
        raise LookupError(instruction)
    if row["status"] not in CANCELLABLE:
        raise PaymentStateError(f"a {row['status']} payment cannot be cancelled")
    await tx.conn.execute(
        "UPDATE payment_attempts SET status = 'cancelled', updated_at = $2 WHERE instruction_id = $1 "
        "AND status = 'ready'",
        instruction,
        now,
    )
    await tx.conn.execute(
        """UPDATE payment_instructions SET status = 'cancelled', held_reason = NULL, reserved = false,
               failure_text = $2, updated_at = $3 WHERE instruction_id = $1""",
        instruction,
        reason,
        now,
    )
    if row["reserved"]:
        await funds.release(tx.conn, row["fund_code"], row["budget_year"], row["amount"])
    tx.publish_record(
        status_record(_change(row, PaymentStatus.CANCELLED, PaymentStatus(row["status"]), "cancelled"), now)
    )
