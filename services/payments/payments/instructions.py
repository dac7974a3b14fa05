"""Turning released entitlements into payment instructions, exactly once per instalment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentInstructionCreatedPayload, PaymentStatus
from subsidy_runtime.db import insert_many
from subsidy_runtime.masking import mask_account
from subsidy_runtime.outbox import Transaction

PRODUCER = "payments"


def end_to_end_id(decision_id: uuid.UUID, instalment_number: int) -> str:
    """Stable across redeliveries and restarts: 32 hex digits of the decision and 3 of the instalment (35 max)."""
    if not 1 <= instalment_number <= 999:
        raise ValueError("instalment number must be 1..999")
    return f"{decision_id.hex}{instalment_number:03d}"


async def create_instructions(tx: Transaction, events: list[EntitlementReleased]) -> None:
    now = datetime.now(UTC)
    rows = [(e, i) for e in events for i in e.payload.instalments]
    if not rows:
        return
    inserted = await insert_many(
        tx.conn,
        "payment_instructions",
        [
            ("end_to_end_id", "text"),
            ("decision_id", "uuid"),
            ("instalment_number", "int"),
            ("application_id", "uuid"),
            ("applicant_id", "uuid"),
            ("programme_id", "text"),
            ("fund_code", "text"),
            ("amount", "numeric"),
            ("due_on", "date"),
            ("payee", "jsonb"),
            ("status", "text"),
            ("correlation_id", "uuid"),
        ],
        [
            (
                end_to_end_id(e.payload.decision_id, i.number),
                e.payload.decision_id,
                i.number,
                e.payload.application_id,
                e.payload.applicant_id,
                e.payload.programme_id,
                e.payload.fund_code,
                i.amount,
                i.due_on,
                e.payload.payee.model_dump(mode="json"),
                PaymentStatus.SCHEDULED.value,
                e.correlation_id,
            )
            for e, i in rows
        ],
        suffix="ON CONFLICT DO NOTHING RETURNING end_to_end_id",
    )
    created = {r["end_to_end_id"] for r in inserted}
    for e, i in rows:
        e2e = end_to_end_id(e.payload.decision_id, i.number)
        if e2e not in created:
            continue
        payload = PaymentInstructionCreatedPayload(
            end_to_end_id=e2e,
            decision_id=e.payload.decision_id,
            instalment_number=i.number,
            application_id=e.payload.application_id,
            applicant_id=e.payload.applicant_id,
            programme_id=e.payload.programme_id,
            fund_code=e.payload.fund_code,
            amount=i.amount,
            payee_account_masked=mask_account(e.payload.payee.account_number),
            status=PaymentStatus.SCHEDULED,
            created_at=now,
        )
        tx.publish(e.follow_up(PaymentInstructionCreated, payload, producer=PRODUCER, occurred_at=now))
