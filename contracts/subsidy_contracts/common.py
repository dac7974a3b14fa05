"""Value types shared by several events."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from .envelope import ContractModel

RegionCode = Annotated[
    str,
    Field(
        pattern=r"^\d{6}$",
        description="Administrative division code (GB/T 2260), six digits, e.g. 430100 for Changsha.",
        examples=["430102"],
    ),
]
MobileNumber = Annotated[str, Field(pattern=r"^1[3-9]\d{9}$", description="Mainland mobile number, 11 digits.")]
ProgrammeId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$",
        max_length=80,
        description="Id of a programme in the eligibility catalogue, e.g. sx.internship-subsidy.",
    ),
]


class ApplicantKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"
    INSTITUTION = "institution"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class EnterpriseSize(StrEnum):
    """Size class under 工信部联企业〔2011〕300号 (micro, small, medium, large)."""

    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class PersonSnapshot(ContractModel):
    """A person as registration knows them when the event is written. The ID number travels masked only."""

    person_id: uuid.UUID
    name: str = Field(max_length=100)
    id_number_masked: str = Field(description="Resident ID number with the middle masked: 4301**********1234.")
    birth_date: date = Field(description="Derived from the resident ID number (GB 11643).")
    sex: Sex = Field(description="Derived from the resident ID number (GB 11643).")
    region_code: RegionCode


class EnterpriseSnapshot(ContractModel):
    enterprise_id: uuid.UUID
    name: str = Field(max_length=200)
    credit_code: str = Field(
        pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        description="Unified social credit code (GB 32100), 18 characters. Public register data, not personal.",
    )
    region_code: RegionCode
    size: EnterpriseSize


class Applicant(ContractModel):
    """Who applies: exactly one of person or enterprise is set, matching kind."""

    kind: ApplicantKind
    person: PersonSnapshot | None = None
    enterprise: EnterpriseSnapshot | None = None

    @property
    def applicant_id(self) -> uuid.UUID:
        if self.person is not None:
            return self.person.person_id
        assert self.enterprise is not None
        return self.enterprise.enterprise_id

    @property
    def region_code(self) -> str:
        if self.person is not None:
            return self.person.region_code
        assert self.enterprise is not None
        return self.enterprise.region_code


class AccountKind(StrEnum):
    SOCIAL_SECURITY_CARD = "social_security_card"
    ENTERPRISE_BASIC = "enterprise_basic"


class PayeeAccount(ContractModel):
    """Account the money goes to, snapshotted when the application is submitted (changes need a re-issue)."""

    account_id: uuid.UUID
    kind: AccountKind
    holder_name: str = Field(max_length=200)
    account_number: str = Field(pattern=r"^\d{8,32}$", description="Full number: needed to pay. Mask it in logs.")
    bank_code: str = Field(pattern=r"^\d{12}$", description="CNAPS bank code (支付系统行号) of the account bank.")
    bank_name: str = Field(max_length=200)


class ContactRole(StrEnum):
    APPLICANT = "applicant"
    BENEFICIARY = "beneficiary"
    ENTERPRISE_CONTACT = "enterprise_contact"
    GUARDIAN = "guardian"
    PROXY = "proxy"


class Contact(ContractModel):
    """Someone to notify about the application."""

    role: ContactRole
    name: str = Field(max_length=100)
    mobile: MobileNumber | None = None
    email: str | None = Field(default=None, max_length=254)


class Proxy(ContractModel):
    """代办: the person who applied on the applicant's behalf, and under which authorisation."""

    name: str = Field(max_length=100)
    id_number_masked: str
    relationship: str = Field(max_length=50, description="e.g. 子女, 配偶, 村（社区）工作人员")
    authorisation_reference: str = Field(max_length=100, description="Number of the signed authorisation.")


class Period(ContractModel):
    start: date
    end: date


class LegalBasis(ContractModel):
    """A document number and the article a rule comes from, e.g. 湘人社规〔2020〕22号 第七条."""

    document_number: str
    article: str
    title: str | None = None
