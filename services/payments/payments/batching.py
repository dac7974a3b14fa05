"""Forming bank batches from ready payments and releasing them to banks.

Ready payments are grouped per (payee bank, fund) into batches with control totals (count and sum). A batch
above the approval threshold waits for a checker who is not its maker; the others are approved by the system
and sent in the same round. Sending is exactly-once towards our state and at-least-once towards the bank: a
Kafka batch goes through the outbox, a pain.001 file is renamed into the outgoing directory before the
transaction that marks it sent commits. A crash in between resends the same batch id, which banks refuse as a
duplicate message (DU01) without touching its payments.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from subsidy_contracts.bank import BatchPayment, Party, PaymentBatch, PaymentBatchPayload
from subsidy_contracts.payments import PaymentStatus
from subsidy_contracts.programmes import title_zh
from subsidy_runtime.db import Connection, insert_many
from subsidy_runtime.outbox import Transaction, notify_channel

from .events import PRODUCER, status_outbox_columns_sql
from .iso20022.model import CreditTransfer, PaymentFile
from .iso20022.pain001 import write_pain001
from .metrics import PaymentMetrics
from .settings import BankChannel, PaymentsSettings

SYSTEM = "system"
# What a bank file (or Kafka batch) needs of each payment; the status events are built by PostgreSQL (_mark).
_ATTEMPT_ROWS = """
    SELECT a.end_to_end_id, a.amount, a.bank_code, a.fund_code, p.payee ->> 'holder_name' AS holder_name,
           p.payee ->> 'account_number' AS account_number, p.payee ->> 'bank_code' AS payee_bank_code,
           p.payee ->> 'bank_name' AS bank_name, i.instruction_id, i.programme_id, i.instalment_number
    FROM payment_attempts a JOIN payment_instructions i USING (instruction_id),
         LATERAL (SELECT coalesce(a.payee, i.payee) AS payee) p"""


@dataclass(frozen=True, slots=True)
class FormedBatch:
    batch_id: str
    bank_code: str
    fund_code: str
    channel: BankChannel
    count: int
    control_sum: Decimal
    needs_approval: bool


def new_batch_id(now: datetime) -> str:
    """B + UTC timestamp + 10 random hex: unique, sortable, 25 characters (MsgId and PmtInfId allow 35)."""
    return f"B{now:%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def channel_for(settings: PaymentsSettings, bank_code: str) -> BankChannel:
    return settings.bank_channels.get(bank_code, settings.bank_channel)


async def form_batches(
    tx: Transaction,
    settings: PaymentsSettings,
    now: datetime,
    today: date,
    *,
    limit: int = 50_000,
    maker: str = SYSTEM,
    metrics: PaymentMetrics | None = None,
) -> list[FormedBatch]:
    """Batch up to `limit` ready payments due by `today`; returns the batches formed."""
    rows = await tx.conn.fetch(
        _ATTEMPT_ROWS
        + """ WHERE a.status = 'ready' AND a.due_on <= $1
            ORDER BY a.bank_code, a.fund_code, a.due_on LIMIT $2 FOR UPDATE OF a SKIP LOCKED""",
        today,
        limit,
    )
    if not rows:
        return []
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r["bank_code"], r["fund_code"])].append(r)
    formed: list[FormedBatch] = []
    members_of: dict[str, list[Any]] = {}
    for (bank, fund), members in groups.items():
        channel = channel_for(settings, bank)
        size = settings.batch_max_kafka if channel == "kafka" else settings.batch_max_file
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            batch_id = new_batch_id(now)
            total = sum((r["amount"] for r in chunk), Decimal("0.00"))
            formed.append(
                FormedBatch(batch_id, bank, fund, channel, len(chunk), total, total > settings.approval_threshold)
            )
            members_of[batch_id] = chunk
    # A batch within the threshold is released in this same transaction, so its payments go straight from
    # scheduled to sent ("batched" is never visible, so it is not announced either).
    await insert_many(
        tx.conn,
        "payment_batches",
        [
            ("batch_id", "text"),
            ("bank_code", "text"),
            ("fund_code", "text"),
            ("requested_execution_date", "date"),
            ("number_of_transactions", "int"),
            ("control_sum", "numeric"),
            ("status", "text"),
            ("channel", "text"),
            ("maker", "text"),
            ("approved_at", "timestamptz"),
            ("sent_at", "timestamptz"),
            ("file_name", "text"),
        ],
        [
            (
                b.batch_id,
                b.bank_code,
                b.fund_code,
                today,
                b.count,
                b.control_sum,
                "awaiting_approval" if b.needs_approval else "sent",
                b.channel,
                maker,
                None if b.needs_approval else now,
                None if b.needs_approval else now,
                file_name(b.bank_code, b.batch_id) if b.channel == "file" and not b.needs_approval else None,
            )
            for b in formed
        ],
    )
    await _mark(
        tx,
        [
            (b.batch_id, "batched" if b.needs_approval else "sent", PaymentStatus.SCHEDULED, members_of[b.batch_id])
            for b in formed
        ],
        now,
    )
    fund_rows = {r["code"]: r for r in await tx.conn.fetch("SELECT * FROM funds")}
    for b in formed:
        if metrics is not None:
            metrics.batches.labels("formed").inc()
        if b.needs_approval:  # waiting for a checker is a state the applicant's payment is visibly in
            if metrics is not None:
                metrics.batches.labels("awaiting_approval").inc()
        else:
            batch = {
                "batch_id": b.batch_id,
                "bank_code": b.bank_code,
                "fund_code": b.fund_code,
                "channel": b.channel,
                "requested_execution_date": today,
                "number_of_transactions": b.count,
                "control_sum": b.control_sum,
            }
            await _deliver(tx, settings, batch, fund_rows, members_of[b.batch_id], now, metrics)
    return formed


_MARK = f"""
WITH t AS (
    SELECT e.e2e, b.batch_id, b.state, b.previous
    FROM json_to_recordset($1::json) AS b(batch_id text, state text, previous text, e2e json),
         json_array_elements_text(b.e2e) AS e(e2e)
), a AS (
    UPDATE payment_attempts a SET status = t.state, batch_id = t.batch_id, updated_at = $3
    FROM t WHERE a.end_to_end_id = t.e2e
    RETURNING a.instruction_id, a.end_to_end_id, a.attempt, a.amount, a.status, a.batch_id,
              a.payee ->> 'account_number' AS attempt_account, t.previous AS previous_status
), i AS (
    UPDATE payment_instructions i SET status = a.status, updated_at = $3
    FROM a WHERE i.instruction_id = a.instruction_id AND i.instruction_id = ANY($5::text[])
    RETURNING i.instruction_id, i.decision_id, i.application_id, i.applicant_id, i.programme_id, i.fund_code,
              i.correlation_id, i.payee ->> 'account_number' AS instruction_account
), s AS MATERIALIZED (
    SELECT a.*, i.decision_id, i.application_id, i.applicant_id, i.programme_id, i.fund_code, i.correlation_id,
           coalesce(a.attempt_account, i.instruction_account) AS account_number, gen_random_uuid() AS event_id
    FROM a JOIN i USING (instruction_id)
), o AS (
    INSERT INTO outbox (topic, key, event_type, headers, value) SELECT {status_outbox_columns_sql()} FROM s
    RETURNING 1
)
SELECT pg_notify($4, '') WHERE EXISTS (SELECT 1 FROM o)"""


async def _mark(tx: Transaction, marks: list[tuple[str, str, PaymentStatus, list[Any]]], now: datetime) -> None:
    """Attempts join their batch in the given state (batch id, state, previous state, rows with their
    end_to_end_id); their instructions follow, and every payment's status change is announced."""
    batches = [
        {"batch_id": batch_id, "state": state, "previous": previous.value, "e2e": [r["end_to_end_id"] for r in rows]}
        for batch_id, state, previous, rows in marks
        if rows
    ]
    if batches:
        # The instruction ids again as an array: their index finds them (a join with the attempts' JSON-estimated
        # rows would have PostgreSQL read the whole instruction table while it is under a few million rows).
        instructions = [r["instruction_id"] for _, _, _, rows in marks for r in rows]
        await tx.conn.execute(_MARK, batches, now.isoformat(), now, notify_channel(tx.schema), instructions)


async def release_batch(
    tx: Transaction,
    settings: PaymentsSettings,
    batch_id: str,
    now: datetime,
    metrics: PaymentMetrics | None = None,
) -> int:
    """Send one approved batch to its bank; returns the number of payments sent (0 if it was not approved)."""
    batch = await tx.conn.fetchrow(
        "SELECT * FROM payment_batches WHERE batch_id = $1 AND status = 'approved' FOR UPDATE", batch_id
    )
    if batch is None:
        return 0
    fund = await tx.conn.fetchrow("SELECT * FROM funds WHERE code = $1", batch["fund_code"])
    if fund is None:
        raise LookupError(f"fund {batch['fund_code']} of batch {batch_id} is not configured")
    rows = await tx.conn.fetch(
        _ATTEMPT_ROWS + " WHERE a.batch_id = $1 AND a.status = 'batched' ORDER BY a.end_to_end_id", batch_id
    )
    await tx.conn.execute(
        "UPDATE payment_batches SET status = 'sent', sent_at = $2, file_name = $3 WHERE batch_id = $1",
        batch_id,
        now,
        file_name(batch["bank_code"], batch_id) if batch["channel"] == "file" else None,
    )
    await _mark(tx, [(batch_id, "sent", PaymentStatus.BATCHED, list(rows))], now)
    return await _deliver(tx, settings, batch, {fund["code"]: fund}, list(rows), now, metrics)


async def _deliver(
    tx: Transaction,
    settings: PaymentsSettings,
    batch: Any,
    fund_rows: dict[str, Any],
    rows: list[Any],
    now: datetime,
    metrics: PaymentMetrics | None,
) -> int:
    """Hand a batch to its bank (file renamed into the outgoing directory, or the batch event in the outbox).
    The caller has marked its payments sent in this transaction (and announced them)."""
    batch_id = batch["batch_id"]
    fund = fund_rows.get(batch["fund_code"])
    if fund is None:
        raise LookupError(f"fund {batch['fund_code']} of batch {batch_id} is not configured")
    count, total = len(rows), sum((r["amount"] for r in rows), Decimal("0.00"))
    if count != batch["number_of_transactions"] or total != batch["control_sum"]:
        # Never send a batch whose content no longer matches the totals a checker may have approved.
        raise ValueError(f"batch {batch_id} content differs from its control totals")
    if batch["channel"] == "file":
        await asyncio.to_thread(_write_file, settings, batch, fund, rows, now)
    else:
        tx.publish(_batch_event(batch, fund, rows, now))
    if metrics is not None:
        metrics.batches.labels("sent").inc()
        metrics.observe_statuses(batch["fund_code"], PaymentStatus.SENT, count, total)
    return count


def file_name(bank_code: str, batch_id: str) -> str:
    return f"pain001_{bank_code}_{batch_id}.xml"


def _remittance(r: Any) -> str:
    return f"{title_zh(r['programme_id'])} 第{r['instalment_number']}期 {r['instruction_id']}"[:140]


def _write_file(settings: PaymentsSettings, batch: Any, fund: Any, rows: list[Any], now: datetime) -> str:
    payment_file = PaymentFile(
        message_id=batch["batch_id"],
        created_at=now,
        initiating_party=settings.initiating_party,
        debtor_name=fund["account_name"],
        debtor_account=fund["account_number"],
        debtor_bank_code=fund["bank_code"],
        requested_execution_date=batch["requested_execution_date"],
        transfers=[
            CreditTransfer(
                end_to_end_id=r["end_to_end_id"],
                amount=r["amount"],
                creditor_name=r["holder_name"],
                creditor_account=r["account_number"],
                creditor_bank_code=r["payee_bank_code"],
                creditor_bank_name=r["bank_name"],
                remittance=_remittance(r),
            )
            for r in rows
        ],
    )
    outgoing = Path(settings.outgoing_dir)
    outgoing.mkdir(parents=True, exist_ok=True)
    name = file_name(batch["bank_code"], batch["batch_id"])
    part = outgoing / (name + ".part")
    with part.open("wb") as f:
        f.write(write_pain001(payment_file))
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, outgoing / name)  # the bank takes only complete files
    return name


def _batch_event(batch: Any, fund: Any, rows: list[Any], now: datetime) -> PaymentBatch:
    payload = PaymentBatchPayload(
        batch_id=batch["batch_id"],
        bank_code=batch["bank_code"],
        fund_code=batch["fund_code"],
        debtor=Party(name=fund["account_name"], account_number=fund["account_number"], bank_code=fund["bank_code"]),
        requested_execution_date=batch["requested_execution_date"],
        number_of_transactions=batch["number_of_transactions"],
        control_sum=batch["control_sum"],
        payments=[
            BatchPayment(
                end_to_end_id=r["end_to_end_id"],
                amount=r["amount"],
                creditor=Party(
                    name=r["holder_name"],
                    account_number=r["account_number"],
                    bank_code=r["payee_bank_code"],
                ),
                remittance=_remittance(r),
            )
            for r in rows
        ],
        created_at=now,
    )
    return PaymentBatch.create(
        payload,
        producer=PRODUCER,
        subject_key=batch["bank_code"],
        correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, "batch:" + batch["batch_id"]),
        occurred_at=now,
    )


async def approved_batches(conn: Connection, limit: int = 100) -> list[str]:
    return [
        r["batch_id"]
        for r in await conn.fetch(
            "SELECT batch_id FROM payment_batches WHERE status = 'approved' ORDER BY created_at LIMIT $1", limit
        )
    ]
