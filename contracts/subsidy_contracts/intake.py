"""Bulk intake: what provincial platforms push in batches (Kafka topic registration.intake.v1, or a JSON-lines
file given to `registration import`), and the per-record results registration publishes back.

A record carries everything one application needs: the person (and, for employer programmes, the enterprise),
the payee account and the application itself, with facts whose subject is written as "person" or
"enterprise". Records are validated exactly as the HTTP API validates them and are idempotent on the
integration's source_reference.

A Kafka batch is signed like an HTTP request (see subsidy_runtime.auth): headers X-Api-Key, X-Timestamp,
X-Nonce and X-Signature, the signature taken over METHOD "KAFKA" and PATH the topic name.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from .common import AccountKind, ContactRole, EnterpriseSize, ProgrammeId
from .envelope import ContractModel, Event


class IntakePerson(ContractModel):
    id_number: str = Field(min_length=15, max_length=18, description="Resident ID number (GB 11643).")
    name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(description="GB/T 2260 code of the residence.")
    mobile: str | None = None
    email: str | None = Field(default=None, max_length=254)
    guardian_name: str | None = Field(default=None, max_length=100)
    guardian_mobile: str | None = None


class IntakeEnterprise(ContractModel):
    credit_code: str = Field(min_length=18, max_length=18, description="Unified social credit code (GB 32100).")
    name: str = Field(min_length=1, max_length=200)
    region_code: str
    size: EnterpriseSize
    contact_name: str = Field(min_length=1, max_length=100)
    contact_mobile: str
    contact_email: str | None = Field(default=None, max_length=254)


class IntakeAccount(ContractModel):
    """The applicant's payee account: a 社保卡 account for a person, the basic account for an enterprise."""

    kind: AccountKind
    account_number: str = Field(min_length=8, max_length=32)
    holder_name: str = Field(min_length=1, max_length=200)
    bank_code: str
    bank_name: str = Field(min_length=1, max_length=200)


class IntakeContact(ContractModel):
    role: ContactRole
    name: str = Field(min_length=1, max_length=100)
    mobile: str | None = None
    email: str | None = Field(default=None, max_length=254)


class IntakePeriod(ContractModel):
    start: date
    end: date


class IntakeApplication(ContractModel):
    programme_id: ProgrammeId
    applicant: Literal["person", "enterprise"] = Field(description="Who applies: the record's person or enterprise.")
    beneficiary: Literal["person"] | None = Field(
        default=None, description="'person' when the enterprise applies for the record's person (e.g. an intern)."
    )
    period: IntakePeriod | None = None
    facts: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=200,
        description="Facts as in the HTTP API, with subject_id (and host_enterprise_id / employer_id) given as "
        "'person' or 'enterprise'.",
    )
    contacts: list[IntakeContact] = Field(default_factory=list, max_length=10)
    commitment: bool = False
    jurisdiction: str | None = None


class IntakeRecord(ContractModel):
    source_reference: str = Field(min_length=1, max_length=100, description="The platform's own id of the record.")
    person: IntakePerson | None = None
    enterprise: IntakeEnterprise | None = None
    account: IntakeAccount
    application: IntakeApplication


class IntakeBatch(ContractModel):
    batch_id: str = Field(min_length=1, max_length=100)
    records: list[IntakeRecord] = Field(min_length=1, max_length=1000)


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"  # same source_reference and same content: the original result
    DUPLICATE_APPLICATION = "duplicate_application"  # the applicant already applied for this programme and period
    REJECTED = "rejected"  # invalid: see errors


class IntakeError(ContractModel):
    field: str
    reason: str
    reason_zh: str


class IntakeResultPayload(ContractModel):
    integration_id: str
    batch_id: str
    source_reference: str
    status: IntakeStatus
    application_id: uuid.UUID | None = None
    errors: list[IntakeError] = Field(default_factory=list)
    processed_at: AwareDatetime


class IntakeResult(Event):
    """Registration's answer for one record of a bulk intake (keyed by the integration id)."""

    event_type: Literal["registration.intake-result"] = "registration.intake-result"
    schema_version: Literal[1] = 1
    payload: IntakeResultPayload
