"""Events registration publishes about applications and payee accounts."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from .common import Applicant, Contact, PayeeAccount, Period, PersonSnapshot, ProgrammeId, Proxy, RegionCode
from .envelope import ContractModel, Event
from .facts import Fact


class ApplicationSubmittedPayload(ContractModel):
    application_id: uuid.UUID
    programme_id: ProgrammeId
    applicant: Applicant
    beneficiary: PersonSnapshot | None = Field(
        default=None, description="Person the subsidy is for when the applicant is an employer (e.g. the intern)."
    )
    period: Period | None = Field(default=None, description="Period claimed, when the programme has one.")
    facts: list[Fact] = Field(default_factory=list, description="Facts the decision relies on.")
    payee: PayeeAccount
    contacts: list[Contact] = Field(default_factory=list)
    proxy: Proxy | None = Field(default=None, description="Set for proxy applications (代办).")
    commitment: bool = Field(
        default=False, description="告知承诺: the applicant committed in writing instead of supplying certificates."
    )
    jurisdiction: RegionCode = Field(description="Region whose office handles the application.")
    integration_id: str = Field(description="Integration (provincial or city platform) that submitted it.")
    source_reference: str | None = Field(default=None, description="The submitting system's own reference.")
    submitted_at: AwareDatetime


class ApplicationSubmitted(Event):
    event_type: Literal["registration.application-submitted"] = "registration.application-submitted"
    schema_version: Literal[1] = 1
    payload: ApplicationSubmittedPayload


class ApplicationWithdrawnPayload(ContractModel):
    application_id: uuid.UUID
    programme_id: ProgrammeId
    reason: str = Field(max_length=500)
    withdrawn_at: AwareDatetime


class ApplicationWithdrawn(Event):
    event_type: Literal["registration.application-withdrawn"] = "registration.application-withdrawn"
    schema_version: Literal[1] = 1
    payload: ApplicationWithdrawnPayload


class PayeeAccountRegisteredPayload(ContractModel):
    """A payee account registration stored for the first time (registering the same owner, kind and account
    number again announces nothing). An owner may hold several accounts; the newest of a kind is the one the
    owner now wants to be paid to, e.g. after a bank rejected the old one as closed."""

    owner_id: uuid.UUID = Field(description="Person (social-security-card account) or enterprise (basic account).")
    account: PayeeAccount
    registered_at: AwareDatetime


class PayeeAccountRegistered(Event):
    event_type: Literal["registration.payee-account-registered"] = "registration.payee-account-registered"
    schema_version: Literal[1] = 1
    payload: PayeeAccountRegisteredPayload
