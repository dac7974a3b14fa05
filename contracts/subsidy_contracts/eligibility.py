"""Events eligibility publishes: decisions with their explanation, and entitlements released for payment."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from .common import LegalBasis, PayeeAccount, ProgrammeId
from .envelope import ContractModel, Event
from .money import Money


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    NEEDS_REVIEW = "needs_review"


class ConditionResult(ContractModel):
    """One condition the rules checked, the values it saw, and why it passed or failed."""

    code: str = Field(description="Stable reason code, e.g. INTERN_AGE_OR_GRADUATE.")
    passed: bool
    values: dict[str, str] = Field(default_factory=dict, description="Inputs and thresholds, as text.")
    reason_zh: str
    reason_en: str
    legal_basis: LegalBasis | None = None


class ScheduleKind(StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class Instalment(ContractModel):
    number: int = Field(ge=1, description="1-based; (decision id, number) identifies a payment.")
    amount: Money
    due_on: date
    covers_from: date | None = None
    covers_to: date | None = None


class RulePackRef(ContractModel):
    programme_id: ProgrammeId
    version: str = Field(description="Version of the rule pack that decided, e.g. 2022.1.")
    jurisdiction: str = Field(description="national, or a province code such as 43 (Hunan).")


class DecisionMadePayload(ContractModel):
    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    rule_pack: RulePackRef
    outcome: Outcome
    amount: Money = Field(description="Total of the schedule; 0.00 unless eligible.")
    schedule_kind: ScheduleKind | None = None
    instalments: list[Instalment] = Field(default_factory=list)
    conditions: list[ConditionResult]
    legal_basis: list[LegalBasis]
    evaluated_on: date = Field(description="Date whose rules and parameters were applied.")
    fund_code: str | None = Field(default=None, description="Fund the money is drawn from.")
    public_notice_until: date | None = Field(
        default=None, description="Set when the decision must first be published (公示) until this date."
    )
    result: dict[str, str] = Field(
        default_factory=dict,
        description="What the decision grants besides money, e.g. {'may_apply_for': 'deputy_senior', "
        "'channel': 'green'} for a title pathway; also the attributes later caps read (occupation, level).",
    )
    public_notice_days: int | None = Field(
        default=None,
        description="Length of the 公示 the decision needs (working or calendar days, per the rule pack); "
        "set even when its end date is not known yet because the holiday calendar is not published.",
    )
    decided_at: AwareDatetime


class DecisionMade(Event):
    event_type: Literal["eligibility.decision-made"] = "eligibility.decision-made"
    schema_version: Literal[1] = 1
    payload: DecisionMadePayload


class EntitlementReleasedPayload(ContractModel):
    """An approved decision that may now be paid (after its 公示 where one is needed)."""

    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    programme_id: ProgrammeId
    fund_code: str
    payee: PayeeAccount
    instalments: list[Instalment] = Field(min_length=1)
    released_at: AwareDatetime


class EntitlementReleased(Event):
    event_type: Literal["eligibility.entitlement-released"] = "eligibility.entitlement-released"
    schema_version: Literal[1] = 1
    payload: EntitlementReleasedPayload


class PublicNoticeResult(StrEnum):
    RELEASED = "released"  # no objection: the entitlement is released for payment
    OBJECTED = "objected"  # an objection sent the decision to review


class PublicNoticeEndedPayload(ContractModel):
    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    result: PublicNoticeResult
    ended_on: date


class PublicNoticeEnded(Event):
    """公示 is over for a decision: released for payment, or under review after an objection."""

    event_type: Literal["eligibility.public-notice-ended"] = "eligibility.public-notice-ended"
    schema_version: Literal[1] = 1
    payload: PublicNoticeEndedPayload


class DecisionRevisedPayload(ContractModel):
    """A caseworker's decision on a case the rules sent to review (or that an objection reopened)."""

    decision_id: uuid.UUID
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    previous_outcome: Outcome
    outcome: Outcome
    amount: Money
    instalments: list[Instalment] = Field(default_factory=list)
    reason: str = Field(description="The caseworker's reason, shown to the applicant.")
    reviewed_by: str
    revised_at: AwareDatetime


class DecisionRevised(Event):
    event_type: Literal["eligibility.decision-revised"] = "eligibility.decision-revised"
    schema_version: Literal[1] = 1
    payload: DecisionRevisedPayload
