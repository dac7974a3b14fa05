"""Building the payments service's events. Status changes come by the hundred thousand when batches are formed
and sent, so they are written straight to JSON (tests/unit/test_payment_events.py proves the JSON validates
against the PaymentStatusChanged contract)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from subsidy_contracts.payments import PaymentInstructionCreated, PaymentStatus, PaymentStatusChanged
from subsidy_contracts.topics import PAYMENTS
from subsidy_runtime.masking import mask_account
from subsidy_runtime.outbox import JSON, OutboxRecord

PRODUCER = "payments"
STATUS_CHANGED = PaymentStatusChanged.type_name()
INSTRUCTION_CREATED = PaymentInstructionCreated.type_name()


@dataclass(frozen=True, slots=True)
class Change:
    """One payment's move from one state to another, with what the event needs to say about it."""

    instruction_id: str
    end_to_end_id: str
    attempt: int
    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    programme_id: str
    fund_code: str
    amount: Decimal
    account_number: str
    correlation_id: uuid.UUID
    status: PaymentStatus
    previous: PaymentStatus | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    batch_id: str | None = None


def change_from_row(row: Any, status: PaymentStatus, previous: PaymentStatus | None, **extra: Any) -> Change:
    """A Change from a row that joins payment_instructions (i.*) and payment_attempts (end_to_end_id, payee ...)."""
    payee = row["payee"]
    return Change(
        instruction_id=row["instruction_id"],
        end_to_end_id=row["end_to_end_id"],
        attempt=row["attempt"],
        decision_id=row["decision_id"],
        application_id=row["application_id"],
        applicant_id=row["applicant_id"],
        programme_id=row["programme_id"],
        fund_code=row["fund_code"],
        amount=row["amount"],
        account_number=payee["account_number"],
        correlation_id=row["correlation_id"],
        status=status,
        previous=previous,
        **extra,
    )


def _record(event_type: str, correlation: str, subject: str, stamp: str, payload: dict[str, Any]) -> OutboxRecord:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": stamp,
        "producer": PRODUCER,
        "correlation_id": correlation,
        "causation_id": None,
        "subject_key": subject,
        "payload": payload,
    }
    headers = {
        "content-type": JSON,
        "event_type": event_type,
        "schema_version": "1",
        "event_id": event_id,
        "correlation_id": correlation,
        "producer": PRODUCER,
    }
    return OutboxRecord(PAYMENTS.name, subject, orjson.dumps(body).decode(), headers, event_type)


def created_record(row: Any, status: PaymentStatus, now: datetime) -> OutboxRecord:
    """PaymentInstructionCreated for a payment_instructions row."""
    subject = str(row["applicant_id"])
    stamp = now.isoformat()
    return _record(
        INSTRUCTION_CREATED,
        str(row["correlation_id"]),
        subject,
        stamp,
        {
            "end_to_end_id": row["instruction_id"],
            "decision_id": str(row["decision_id"]),
            "instalment_number": row["instalment_number"],
            "application_id": str(row["application_id"]),
            "applicant_id": subject,
            "programme_id": row["programme_id"],
            "fund_code": row["fund_code"],
            "amount": f"{row['amount']:.2f}",
            "payee_account_masked": mask_account(row["payee"]["account_number"]),
            "status": status.value,
            "created_at": stamp,
        },
    )


def status_record(change: Change, now: datetime) -> OutboxRecord:
    stamp = now.isoformat()
    subject = str(change.applicant_id)
    return _record(
        STATUS_CHANGED,
        str(change.correlation_id),
        subject,
        stamp,
        {
            "instruction_id": change.instruction_id,
            "end_to_end_id": change.end_to_end_id,
            "attempt": change.attempt,
            "decision_id": str(change.decision_id),
            "application_id": str(change.application_id),
            "applicant_id": subject,
            "programme_id": change.programme_id,
            "fund_code": change.fund_code,
            "amount": f"{change.amount:.2f}",
            "status": change.status.value,
            "previous_status": change.previous.value if change.previous else None,
            "reason_code": change.reason_code,
            "reason_text": change.reason_text,
            "batch_id": change.batch_id,
            "payee_account_masked": mask_account(change.account_number),
            "changed_at": stamp,
        },
    )
