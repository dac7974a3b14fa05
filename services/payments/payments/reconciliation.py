"""Applying what banks report (Kafka PaymentResults, pain.002 status reports, camt.054 notifications) and
keeping the reconciliation breaks: results that match no payment, amounts that differ, states that contradict
ours, and payments a bank never answered.

A report is applied once (bank_reports is keyed by bank, report id and source); within it every entry is a
transition of one payment attempt, and what does not fit becomes a break instead of changing money.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from subsidy_contracts.bank import PaymentResults
from subsidy_contracts.payments import PaymentStatus
from subsidy_runtime.logging import get_logger
from subsidy_runtime.outbox import Transaction

from . import funds
from .events import change_from_row, status_record
from .iso20022.model import BankReport, PaymentReport
from .metrics import PaymentMetrics

log = get_logger(__name__)

DUPLICATE_MESSAGE = "DU01"
DUPLICATE_PAYMENT = "AM05"
# Rejections that speak about a copy the bank refused (our resend after a crash), not about the payment: the
# original's results stand, so they change nothing.
ABOUT_A_COPY = frozenset({DUPLICATE_MESSAGE, DUPLICATE_PAYMENT})


@dataclass
class Applied:
    duplicate_report: bool = False
    settled: int = 0
    failed: int = 0
    returned: int = 0
    accepted: int = 0
    ignored: int = 0
    breaks: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def reports_from_kafka(event: PaymentResults) -> list[PaymentReport]:
    return [
        PaymentReport(
            end_to_end_id=r.end_to_end_id,
            status=r.status.value,
            amount=r.amount,
            reason_code=r.reason_code,
            reason_text=r.reason_text,
            bank_reference=r.bank_reference,
            value_date=r.value_date,
        )
        for r in event.payload.results
    ]


async def apply_bank_report(
    tx: Transaction,
    *,
    bank_code: str,
    report_id: str,
    source: str,
    entries: Sequence[PaymentReport],
    now: datetime,
    original_batch_id: str | None = None,
    group_status: str | None = None,
    group_reason: str | None = None,
    metrics: PaymentMetrics | None = None,
) -> Applied:
    conn = tx.conn
    out = Applied()
    first = await conn.fetchval(
        """INSERT INTO bank_reports (bank_code, report_id, source, entries) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        bank_code,
        report_id,
        source,
        len(entries),
    )
    if not first:
        out.duplicate_report = True
        return out
    if not entries and group_status == "RJCT":
        if group_reason == DUPLICATE_MESSAGE:
            # Our own resend after a crash: the bank already has the batch; nothing about its payments changes.
            log.info("bank refused a resent batch as a duplicate", batch_id=original_batch_id, report_id=report_id)
            return out
        if original_batch_id is not None:  # the whole batch refused: every payment in it failed
            members = await conn.fetch(
                "SELECT end_to_end_id, amount FROM payment_attempts WHERE batch_id = $1", original_batch_id
            )
            entries = [
                PaymentReport(
                    end_to_end_id=r["end_to_end_id"],
                    status="rejected",
                    amount=r["amount"],
                    reason_code=group_reason,
                    reason_text="batch rejected by the bank",
                    bank_reference=None,
                    value_date=None,
                )
                for r in members
            ]
    rows: dict[str, Any] = {
        r["end_to_end_id"]: r
        for r in await conn.fetch(
            """SELECT a.end_to_end_id, a.attempt, coalesce(a.payee, i.payee) AS payee, a.amount, a.status AS attempt_status, a.batch_id,
                      i.instruction_id, i.decision_id, i.application_id, i.applicant_id, i.programme_id,
                      i.fund_code, i.correlation_id, i.budget_year, i.attempt AS current_attempt
               FROM payment_attempts a JOIN payment_instructions i USING (instruction_id)
               WHERE a.end_to_end_id = ANY($1::text[]) FOR UPDATE OF a, i""",
            list({e.end_to_end_id for e in entries}),
        )
    }
    breaks: list[tuple[str, PaymentReport, Any, dict[str, Any]]] = []
    for entry in entries:
        row = rows.get(entry.end_to_end_id)
        if row is None:
            breaks.append(("unmatched_result", entry, None, {}))
            continue
        if entry.amount is not None and entry.amount != row["amount"]:
            breaks.append(("amount_mismatch", entry, row, {}))
            continue
        outcome = await _transition(tx, row, entry, now, metrics)
        if outcome == "break":
            breaks.append(("unexpected_status", entry, row, {"our_status": row["attempt_status"]}))
        elif outcome:
            setattr(out, outcome, getattr(out, outcome) + 1)
            # a later entry of the same report for the same payment sees the new state
            rows[entry.end_to_end_id] = {**dict(row), "attempt_status": _NEW_STATE.get(outcome, row["attempt_status"])}
        else:
            out.ignored += 1
    for kind, entry, row, detail in breaks:
        inserted = await conn.fetchval(
            """INSERT INTO reconciliation_breaks
                   (id, kind, end_to_end_id, bank_code, report_id, expected_amount, reported_amount, detail)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT DO NOTHING RETURNING true""",
            uuid.uuid4(),
            kind,
            entry.end_to_end_id,
            bank_code,
            report_id,
            row["amount"] if row is not None else None,
            entry.amount,
            orjson.dumps(
                {
                    **detail,
                    "reported_status": entry.status,
                    "reason_code": entry.reason_code,
                    "reason_text": entry.reason_text,
                    "source": source,
                }
            ).decode(),
        )
        out.breaks += 1 if inserted else 0
    return out


_NEW_STATE = {"settled": "settled", "failed": "failed", "returned": "returned"}


async def _transition(
    tx: Transaction, row: Any, entry: PaymentReport, now: datetime, metrics: PaymentMetrics | None
) -> str | None:
    """Apply one entry; returns what happened (settled, failed, returned, accepted), None when it changes
    nothing (a repeat), or "break" when it contradicts what we know."""
    conn = tx.conn
    state = row["attempt_status"]
    in_flight = state in ("batched", "sent")
    if entry.status == "accepted":
        if in_flight and entry.bank_reference:
            await conn.execute(
                "UPDATE payment_attempts SET bank_reference = $2 WHERE end_to_end_id = $1",
                row["end_to_end_id"],
                entry.bank_reference,
            )
        return "accepted" if in_flight else None
    if entry.status == "settled":
        if state == "settled" or state == "returned":
            return None  # the same credit reported again (pain.002 ACSC and camt.054 both say so)
        if not in_flight:
            return "break"
        await _set(tx, row, "settled", entry, now)
        await funds.settle(conn, row["fund_code"], row["budget_year"], row["amount"])
        _publish(tx, row, PaymentStatus.SETTLED, PaymentStatus(state), entry, now, metrics)
        return "settled"
    if entry.status == "rejected":
        if state == "failed" or entry.reason_code in ABOUT_A_COPY:
            return None
        if not in_flight:
            return "break"  # e.g. a rejection for money the bank already said it credited
        await _set(tx, row, "failed", entry, now)
        _publish(tx, row, PaymentStatus.FAILED, PaymentStatus(state), entry, now, metrics)
        return "failed"
    if entry.status == "returned":
        if state == "returned":
            return None
        if state not in ("settled", "sent", "batched"):
            return "break"
        await _set(tx, row, "returned", entry, now)
        if state == "settled":  # the money came back: reserved again for a re-issue
            await funds.unsettle(conn, row["fund_code"], row["budget_year"], row["amount"])
        _publish(tx, row, PaymentStatus.RETURNED, PaymentStatus(state), entry, now, metrics)
        return "returned"
    return "break"


async def _set(tx: Transaction, row: Any, status: str, entry: PaymentReport, now: datetime) -> None:
    await tx.conn.execute(
        """UPDATE payment_attempts SET status = $2, reason_code = $3, reason_text = $4,
               bank_reference = coalesce($5, bank_reference), value_date = coalesce($6, value_date), updated_at = $7
           WHERE end_to_end_id = $1""",
        row["end_to_end_id"],
        status,
        entry.reason_code,
        entry.reason_text,
        entry.bank_reference,
        entry.value_date,
        now,
    )
    if row["attempt"] == row["current_attempt"]:  # an older attempt's late news does not move the instruction
        await tx.conn.execute(
            """UPDATE payment_instructions SET status = $2, failure_code = $3, failure_text = $4,
                   settled_at = CASE WHEN $2 = 'settled' THEN $5 ELSE settled_at END, updated_at = $5
               WHERE instruction_id = $1""",
            row["instruction_id"],
            status,
            entry.reason_code if status != "settled" else None,
            entry.reason_text if status != "settled" else None,
            now,
        )


def _publish(
    tx: Transaction,
    row: Any,
    status: PaymentStatus,
    previous: PaymentStatus,
    entry: PaymentReport,
    now: datetime,
    metrics: PaymentMetrics | None,
) -> None:
    tx.publish_record(
        status_record(
            change_from_row(
                row,
                status,
                previous,
                reason_code=entry.reason_code,
                reason_text=entry.reason_text,
                batch_id=row["batch_id"],
            ),
            now,
        )
    )
    if metrics is not None:
        metrics.observe_status(row["fund_code"], status, row["amount"])
        if status in (PaymentStatus.FAILED, PaymentStatus.RETURNED):
            metrics.failures.labels(entry.reason_code or "unknown").inc()


async def apply_file_report(
    tx: Transaction, report: BankReport, now: datetime, metrics: PaymentMetrics | None = None
) -> Applied:
    bank_code = None
    if report.original_message_id is not None:
        bank_code = await tx.conn.fetchval(
            "SELECT bank_code FROM payment_batches WHERE batch_id = $1", report.original_message_id
        )
    if bank_code is None and report.entries:
        bank_code = await tx.conn.fetchval(
            "SELECT bank_code FROM payment_attempts WHERE end_to_end_id = $1", report.entries[0].end_to_end_id
        )
    return await apply_bank_report(
        tx,
        bank_code=bank_code or "unknown",
        report_id=report.report_id,
        source=report.kind,
        entries=report.entries,
        now=now,
        original_batch_id=report.original_message_id,
        group_status=report.group_status,
        group_reason=report.group_reason_code,
        metrics=metrics,
    )


async def find_unanswered(tx: Transaction, older_than: timedelta, now: datetime) -> int:
    """Sent payments without any bank answer for too long become 'no_result' breaks (once each)."""
    return int(
        await tx.conn.fetchval(
            """WITH late AS (
                   SELECT a.end_to_end_id, a.amount, b.bank_code FROM payment_attempts a
                   JOIN payment_batches b USING (batch_id)
                   WHERE a.status = 'sent' AND a.updated_at < $1),
               ins AS (
                   INSERT INTO reconciliation_breaks (id, kind, end_to_end_id, bank_code, expected_amount, detail)
                   SELECT gen_random_uuid(), 'no_result', end_to_end_id, bank_code, amount, '{}'::jsonb FROM late
                   ON CONFLICT DO NOTHING RETURNING 1)
               SELECT count(*) FROM ins""",
            now - older_than,
        )
    )
