"""Request and response bodies of the registration API (documented in docs/openapi/registration.json)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from subsidy_contracts.common import AccountKind, ApplicantKind, ContactRole, EnterpriseSize, Period, ProgrammeId
from subsidy_contracts.facts import Fact


class Request(BaseModel):
    """Requests refuse unknown fields: a misspelt field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(Request):
    id_number: str = Field(min_length=15, max_length=18, description="Resident ID number (GB 11643), 18 characters.")
    name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(description="Administrative division code of the residence (GB/T 2260).")
    mobile: str | None = Field(default=None, description="Mainland mobile number for notices.")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    birth_date: date | None = Field(default=None, description="Optional; must match the ID number when given.")
    guardian_name: str | None = Field(default=None, max_length=100)
    guardian_mobile: str | None = None


class PersonOut(BaseModel):
    person_id: uuid.UUID
    id_number_masked: str
    name: str
    birth_date: date
    sex: Literal["male", "female"]
    region_code: str
    mobile_masked: str | None = None
    created: bool = Field(description="False when the person was already registered (deduplicated).")


class EnterpriseIn(Request):
    credit_code: str = Field(min_length=18, max_length=18, description="Unified social credit code (GB 32100).")
    name: str = Field(min_length=1, max_length=200)
    region_code: str
    size: EnterpriseSize
    contact_name: str = Field(min_length=1, max_length=100)
    contact_mobile: str
    contact_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EnterpriseOut(BaseModel):
    enterprise_id: uuid.UUID
    credit_code: str
    name: str
    region_code: str
    size: EnterpriseSize
    created: bool


class PayeeAccountIn(Request):
    owner_id: uuid.UUID = Field(description="Person (社保卡 account) or enterprise (basic account) it belongs to.")
    kind: AccountKind
    account_number: str = Field(min_length=8, max_length=32)
    holder_name: str = Field(min_length=1, max_length=200)
    bank_code: str = Field(description="12-digit CNAPS code of the account bank.")
    bank_name: str = Field(min_length=1, max_length=200)


class PayeeAccountOut(BaseModel):
    account_id: uuid.UUID
    owner_id: uuid.UUID
    kind: AccountKind
    account_number_masked: str
    holder_name: str
    bank_code: str
    bank_name: str
    created: bool


class FactsIn(Request):
    facts: list[Fact] = Field(min_length=1, max_length=200)


class FactsOut(BaseModel):
    recorded: int


class ApplicantIn(Request):
    kind: ApplicantKind
    id: uuid.UUID


class ContactIn(Request):
    role: ContactRole
    name: str = Field(min_length=1, max_length=100)
    mobile: str | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProxyIn(Request):
    """代办: who applies on the applicant's behalf."""

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=18, max_length=18)
    relationship: str = Field(min_length=1, max_length=50)
    authorisation_reference: str = Field(min_length=1, max_length=100)
    mobile: str | None = None


class ApplicationIn(Request):
    programme_id: ProgrammeId
    applicant: ApplicantIn
    beneficiary_person_id: uuid.UUID | None = Field(
        default=None, description="The person the subsidy is for, when an employer applies (e.g. the intern)."
    )
    period: Period | None = None
    payee_account_id: uuid.UUID
    facts: list[Fact] = Field(default_factory=list, max_length=200, description="Facts recorded with the application.")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=10)
    proxy: ProxyIn | None = None
    commitment: bool = Field(default=False, description="告知承诺 instead of certificates.")
    jurisdiction: str | None = Field(default=None, description="Handling region; defaults to the applicant's.")
    source_reference: str | None = Field(default=None, max_length=100, description="Your system's reference.")


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    summary: str
    detail: dict[str, object] = {}


class ApplicationOut(BaseModel):
    application_id: uuid.UUID
    programme_id: str
    status: str
    applicant_kind: ApplicantKind
    applicant_id: uuid.UUID
    beneficiary_person_id: uuid.UUID | None = None
    period: Period | None = None
    submitted_at: datetime
    updated_at: datetime
    source_reference: str | None = None
    correlation_id: uuid.UUID
    decision: dict[str, object] | None = None
    timeline: list[TimelineEntry] = []


class ApplicationPage(BaseModel):
    items: list[ApplicationOut]
    next_cursor: str | None = None


class WithdrawIn(Request):
    reason: str = Field(min_length=1, max_length=500)


class AttachmentIn(Request):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,49}$", description="e.g. labour_contract, graduation_certificate")
    file_name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$", max_length=100)
    size_bytes: int = Field(gt=0, le=100 * 1024 * 1024)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    storage_uri: str = Field(min_length=1, max_length=1000, description="Where the integration keeps the file.")


class AttachmentOut(BaseModel):
    attachment_id: uuid.UUID
    application_id: uuid.UUID
    kind: str
    file_name: str
    sha256: str
    created: bool
