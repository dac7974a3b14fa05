"""Facts about persons and enterprises that programmes decide on.

Registration records them (from the applicant, the provincial platform or another authority); an
application carries the facts it relies on, so eligibility decides from the event alone and keeps it as the
decision's input snapshot. Each fact names its subject and where it came from.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from .common import RegionCode
from .envelope import ContractModel
from .money import Money


class FactSource(StrEnum):
    APPLICANT = "applicant"  # declared by the applicant (告知承诺 covers these)
    PLATFORM = "platform"  # verified by the provincial platform
    AUTHORITY = "authority"  # from the issuing authority's register (education, civil affairs, tax ...)


class FactBase(ContractModel):
    subject_id: uuid.UUID = Field(description="Person or enterprise the fact is about.")
    source: FactSource = FactSource.PLATFORM


class SkillLevel(StrEnum):
    """职业技能等级 (人社厅发〔2020〕104号), plus Zhejiang's 特级技师 and 首席技师 above 高级技师."""

    LEVEL_5 = "level_5"  # 五级 / 初级工
    LEVEL_4 = "level_4"  # 四级 / 中级工
    LEVEL_3 = "level_3"  # 三级 / 高级工
    LEVEL_2 = "level_2"  # 二级 / 技师
    LEVEL_1 = "level_1"  # 一级 / 高级技师
    PRINCIPAL = "principal"  # 特级技师
    CHIEF = "chief"  # 首席技师


class SkillCertificate(FactBase):
    kind: Literal["skill_certificate"] = "skill_certificate"
    occupation: str = Field(max_length=100, description="Occupation (工种) as in the national classification.")
    level: SkillLevel
    issued_on: date
    certificate_number: str = Field(max_length=64)
    first_appraisal: bool = Field(default=True, description="Passed at the first appraisal for this level.")


class TitleLevel(StrEnum):
    ASSISTANT = "assistant"  # 初级: 员级/助理级
    INTERMEDIATE = "intermediate"  # 中级
    DEPUTY_SENIOR = "deputy_senior"  # 副高级
    SENIOR = "senior"  # 正高级


class ProfessionalTitle(FactBase):
    kind: Literal["professional_title"] = "professional_title"
    series: str = Field(max_length=50, description="Title series (职称系列), e.g. 工程.")
    level: TitleLevel
    obtained_on: date


class Award(FactBase):
    kind: Literal["award"] = "award"
    code: str = Field(max_length=80, description="Award code from the catalogue in docs/facts.md.")
    awarded_on: date


class AnnualAppraisal(FactBase):
    kind: Literal["annual_appraisal"] = "annual_appraisal"
    year: int = Field(ge=1990, le=2100)
    passed: bool


class EmploymentRecord(FactBase):
    kind: Literal["employment"] = "employment"
    employer_id: uuid.UUID | None = None
    employer_name: str = Field(max_length=200)
    start: date
    end: date | None = None
    contract_years: int | None = Field(default=None, ge=0, le=99, description="Term of the labour contract.")
    skill_work: bool = Field(default=False, description="Work in a technical-skill post (技术技能工作).")
    via_third_party_agent: bool = Field(
        default=False, description="Wages or contributions paid by a third-party agent (代发工资/代缴社保)."
    )


class ContributionRecord(FactBase):
    """Social-insurance contributions paid for one month."""

    kind: Literal["contribution"] = "contribution"
    month: date = Field(description="First day of the month the contribution is for.")
    pension: bool
    medical: bool
    unemployment: bool
    as_flexible_worker: bool = False
    employer_amount: Money | None = None
    rate_pension_medical: Annotated[str, Field(pattern=r"^0\.\d{1,4}$")] | None = Field(
        default=None, description="Combined pension + medical contribution rate actually applied, e.g. 0.28."
    )


class UnemploymentRegistration(FactBase):
    kind: Literal["unemployment_registration"] = "unemployment_registration"
    registered_on: date
    ended_on: date | None = None
    region_code: RegionCode
    hard_to_employ: bool = Field(default=False, description="Recognised as 就业困难人员.")


class UnemploymentInsuranceBenefit(FactBase):
    kind: Literal["unemployment_insurance_benefit"] = "unemployment_insurance_benefit"
    start: date
    end: date


class PovertyCategory(StrEnum):
    REGISTERED_POOR = "registered_poor"  # 建档立卡贫困
    MINIMUM_LIVING = "minimum_living"  # 低保
    EXTREME_HARDSHIP = "extreme_hardship"  # 特困人员
    POOR_DISABLED = "poor_disabled"  # 贫困残疾人家庭
    ZERO_EMPLOYMENT_FAMILY = "zero_employment_family"  # 零就业家庭


class PovertyStatus(FactBase):
    kind: Literal["poverty_status"] = "poverty_status"
    category: PovertyCategory
    since: date


class EducationLevel(StrEnum):
    SECONDARY_VOCATIONAL = "secondary_vocational"  # 中专/中职
    TECHNICAL_SCHOOL = "technical_school"  # 技工院校
    JUNIOR_COLLEGE = "junior_college"  # 大专/高职
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTOR = "doctor"


class Graduation(FactBase):
    kind: Literal["graduation"] = "graduation"
    graduated_on: date = Field(description="Date on the graduation certificate (毕业证发放时间).")
    education_level: EducationLevel
    school_name: str = Field(max_length=200)
    returned_from_abroad: bool = False


class InternshipMonth(ContractModel):
    month: date = Field(description="First day of the month.")
    working_days: int = Field(ge=0, le=31, description="Working days the intern attended that month.")
    allowance_paid: Money = Field(description="Basic living allowance the unit paid the intern that month.")


class InternshipRecord(FactBase):
    """就业见习: one intern's internship at a host unit (subject is the intern)."""

    kind: Literal["internship"] = "internship"
    host_enterprise_id: uuid.UUID
    agreement_start: date
    agreement_end: date
    accident_insurance: bool = Field(description="Unit bought personal accident insurance for the intern.")
    months: list[InternshipMonth] = Field(min_length=1, max_length=12)
    absence_longest_run_days: int = Field(default=0, ge=0, description="Longest run of unexcused absence.")
    absence_total_days: int = Field(default=0, ge=0, description="Total unexcused absence days.")
    labour_contract_signed_on: date | None = Field(
        default=None, description="Set when the unit signed a labour contract with the intern."
    )


class InternshipCohort(FactBase):
    """The host unit's interns whose agreements ended in the period, and how many it kept (subject: the unit)."""

    kind: Literal["internship_cohort"] = "internship_cohort"
    period_end: date
    interns_completed: int = Field(ge=0)
    interns_retained: int = Field(ge=0)


Fact = Annotated[
    SkillCertificate
    | ProfessionalTitle
    | Award
    | AnnualAppraisal
    | EmploymentRecord
    | ContributionRecord
    | UnemploymentRegistration
    | UnemploymentInsuranceBenefit
    | PovertyStatus
    | Graduation
    | InternshipRecord
    | InternshipCohort,
    Field(discriminator="kind"),
]
