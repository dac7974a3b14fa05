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
        max_length=35, description="Stable id from (decision id, instalment number); ISO 20022 EndToEndId."
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
