"""Events payments publishes about payment instructions."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from .common import ProgrammeId
from .envelope import ContractModel, Event
from .money import Money


class PaymentStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"  # e.g. the fund's budget would be exceeded
    BATCHED = "batched"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class PaymentInstructionCreatedPayload(ContractModel):
    end_to_end_id: str = Field(
        max_length=35,
        description="Stable id from (decision id, instalment number): the instruction's id, the first attempt's "
        "ISO 20022 EndToEndId and the Kafka key.",
    )
    decision_id: uuid.UUID
    instalment_number: int = Field(ge=1)
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    programme_id: ProgrammeId
    fund_code: str
    amount: Money
    payee_account_masked: str = Field(description="Payee account number masked to its last four digits.")
    status: PaymentStatus
    created_at: AwareDatetime


class PaymentInstructionCreated(Event):
    event_type: Literal["payments.instruction-created"] = "payments.instruction-created"
    schema_version: Literal[1] = 1
    payload: PaymentInstructionCreatedPayload


class PaymentStatusChangedPayload(ContractModel):
    """A payment moved from one state to another: scheduled → batched → sent → settled | failed | returned,
    or held (budget, recovery) / cancelled. Re-issues after a failure start again at scheduled (attempt + 1)."""

    instruction_id: str = Field(max_length=35, description="The stable id of the instalment's payment.")
    end_to_end_id: str = Field(max_length=35, description="ISO 20022 EndToEndId of this attempt.")
    attempt: int = Field(ge=1)
    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    programme_id: ProgrammeId
    fund_code: str
    amount: Money
    status: PaymentStatus
    previous_status: PaymentStatus | None = None
    reason_code: str | None = Field(default=None, description="Bank or platform reason, e.g. AC04, budget.")
    reason_text: str | None = None
    batch_id: str | None = None
    payee_account_masked: str
    changed_at: AwareDatetime


class PaymentStatusChanged(Event):
    event_type: Literal["payments.status-changed"] = "payments.status-changed"
    schema_version: Literal[1] = 1
    payload: PaymentStatusChangedPayload


class ReceivableKind(StrEnum):
    OVERPAYMENT = "overpayment"
    FRAUD = "fraud"


class ReceivableOpenedPayload(ContractModel):
    """追回: money to be recovered from a payee."""

    receivable_id: uuid.UUID
    payee_id: uuid.UUID
    programme_id: ProgrammeId
    kind: ReceivableKind
    amount: Money
    reason: str
    blocks_programme: bool
    opened_at: AwareDatetime


class ReceivableOpened(Event):
    event_type: Literal["payments.receivable-opened"] = "payments.receivable-opened"
    schema_version: Literal[1] = 1
    payload: ReceivableOpenedPayload
