"""Building the payments service's events. Status changes come by the hundred thousand when batches are formed
and sent, so they are written straight to JSON (tests/unit/test_payment_events.py proves the JSON validates
against the PaymentStatusChanged contract). The two that come by the million, instruction-created and the
status changes of batching, are built by PostgreSQL from the rows they announce, in the statement that writes
them to the outbox (tests/integration/test_payments_ledger.py proves they are what the Python builders write)."""

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
from subsidy_runtime.outbox import JSON, OutboxRecord, Transaction, json_event_record, notify_channel

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
    return json_event_record(
        topic=PAYMENTS.name,
        event_type=event_type,
        version=1,
        producer=PRODUCER,
        event_id=str(uuid.uuid4()),
        correlation_id=correlation,
        subject_key=subject,
        occurred_at=stamp,
        payload=payload,
    )


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


# ------------------------------------------------------------------------------------- events built in SQL
# The same JSON as _record, created_record and status_record above, for rows of a statement's `s` relation
# (which must provide event_id, a fresh uuid per row) with the timestamp as parameter $2 (ISO text, as
# datetime.isoformat gives it). Amounts are numeric(15, 2) columns, so their text has the two decimals. The
# JSON text is concatenated (json_build_object looks up every argument's type for every row: about twice the
# cost), with to_json quoting every text that is not an id PostgreSQL formats itself.

Field = tuple[str, str, object]
"""(key, kind, SQL expression): kind "const" (a Python value, written as JSON), "quoted" (a NOT NULL value
whose text needs no escaping: uuid, numeric), "text" (escaped by to_json; NULL becomes null), "number" (NOT
NULL) or "json" (an expression that is JSON text, NOT NULL)."""


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_object_sql(fields: list[Field]) -> str:
    """A SQL text expression for the JSON object of these fields (keys in this order)."""
    pieces: list[str] = []  # SQL text expressions; constant text is gathered until the next expression
    constant = ""
    for n, (key, kind, expr) in enumerate(fields):
        constant += ("{" if n == 0 else ",") + orjson.dumps(key).decode() + ":"
        if kind == "const":
            constant += orjson.dumps(expr).decode()
            continue
        if kind == "quoted":
            pieces += [_sql_literal(constant + '"'), f"({expr})::text"]
            constant = '"'
            continue
        pieces.append(_sql_literal(constant))
        constant = ""
        if kind == "text":
            pieces.append(f"coalesce(to_json(({expr})::text)::text, 'null')")
        elif kind == "number":
            pieces.append(f"({expr})::text")
        elif kind == "json":
            pieces.append(str(expr))
        else:
            raise ValueError(f"unknown kind {kind}")
    pieces.append(_sql_literal(constant + "}"))
    return "(" + " || ".join(pieces) + ")"


def _masked_sql(account: str) -> str:
    """mask_account in SQL: **** and the last four digits."""
    return f"CASE WHEN length({account}) > 4 THEN '****' || right({account}, 4) ELSE '****' END"


def _outbox_columns_sql(event_type: str, payload: list[Field]) -> str:
    """topic, key, event_type, headers, value of an outbox row for the event of `s` with this payload."""
    envelope = json_object_sql(
        [
            ("event_id", "quoted", "s.event_id"),
            ("event_type", "const", event_type),
            ("schema_version", "const", 1),
            ("occurred_at", "text", "$2"),
            ("producer", "const", PRODUCER),
            ("correlation_id", "quoted", "s.correlation_id"),
            ("causation_id", "const", None),
            ("subject_key", "quoted", "s.applicant_id"),
            ("payload", "json", json_object_sql(payload)),
        ]
    )
    return f"""'{PAYMENTS.name}', s.applicant_id::text, '{event_type}',
        jsonb_build_object('content-type', '{JSON}', 'event_type', '{event_type}', 'schema_version', '1',
                           'event_id', s.event_id::text, 'correlation_id', s.correlation_id::text,
                           'producer', '{PRODUCER}'),
        {envelope}"""


_CREATED_PAYLOAD: list[Field] = [
    ("end_to_end_id", "text", "s.instruction_id"),
    ("decision_id", "quoted", "s.decision_id"),
    ("instalment_number", "number", "s.instalment_number"),
    ("application_id", "quoted", "s.application_id"),
    ("applicant_id", "quoted", "s.applicant_id"),
    ("programme_id", "text", "s.programme_id"),
    ("fund_code", "text", "s.fund_code"),
    ("amount", "quoted", "s.amount"),
    ("payee_account_masked", "text", _masked_sql("(s.payee ->> 'account_number')")),
    ("status", "text", "s.status"),
    ("created_at", "text", "$2"),
]

_WRITE_CREATED = f"""
WITH s AS MATERIALIZED (
    SELECT i.*, gen_random_uuid() AS event_id FROM payment_instructions i WHERE i.instruction_id = ANY($1::text[])
), o AS (
    INSERT INTO outbox (topic, key, event_type, headers, value)
    SELECT {_outbox_columns_sql(INSTRUCTION_CREATED, _CREATED_PAYLOAD)} FROM s
    RETURNING 1
)
SELECT pg_notify($3, '') WHERE EXISTS (SELECT 1 FROM o)"""


def created_outbox_columns_sql() -> str:
    return _outbox_columns_sql(INSTRUCTION_CREATED, _CREATED_PAYLOAD)


async def write_created_events(tx: Transaction, instruction_ids: list[str], now: datetime) -> None:
    """PaymentInstructionCreated for these instructions, with their current status (each is an instruction's
    first event: their order among each other does not matter)."""
    if instruction_ids:
        await tx.conn.execute(_WRITE_CREATED, instruction_ids, now.isoformat(), notify_channel(tx.schema))


STATUS_PAYLOAD: list[Field] = [
    ("instruction_id", "text", "s.instruction_id"),
    ("end_to_end_id", "text", "s.end_to_end_id"),
    ("attempt", "number", "s.attempt"),
    ("decision_id", "quoted", "s.decision_id"),
    ("application_id", "quoted", "s.application_id"),
    ("applicant_id", "quoted", "s.applicant_id"),
    ("programme_id", "text", "s.programme_id"),
    ("fund_code", "text", "s.fund_code"),
    ("amount", "quoted", "s.amount"),
    ("status", "text", "s.status"),
    ("previous_status", "text", "s.previous_status"),
    ("reason_code", "const", None),
    ("reason_text", "const", None),
    ("batch_id", "text", "s.batch_id"),
    ("payee_account_masked", "text", _masked_sql("s.account_number")),
    ("changed_at", "text", "$2"),
]
"""PaymentStatusChanged's payload for a row of `s` with instruction_id, end_to_end_id, attempt, decision_id,
application_id, applicant_id, programme_id, fund_code, amount, status, previous_status, batch_id and
account_number (no reason)."""


def status_outbox_columns_sql() -> str:
    return _outbox_columns_sql(STATUS_CHANGED, STATUS_PAYLOAD)
