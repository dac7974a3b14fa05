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


class CertificateKind(StrEnum):
    VOCATIONAL_QUALIFICATION = "vocational_qualification"  # 职业资格证书
    SKILL_LEVEL = "skill_level"  # 职业技能等级证书
    SPECIAL_ABILITY = "special_ability"  # 专项职业能力证书
    TRAINING_COMPLETION = "training_completion"  # 培训合格证书


class SkillCertificate(FactBase):
    kind: Literal["skill_certificate"] = "skill_certificate"
    occupation: str = Field(max_length=100, description="Occupation (工种) as in the national classification.")
    level: SkillLevel
    issued_on: date
    certificate_number: str = Field(max_length=64)
    first_appraisal: bool = Field(
        default=True, description="Passed at the first appraisal for this occupation and level."
    )
    certificate_kind: CertificateKind = CertificateKind.SKILL_LEVEL


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
    code: str = Field(max_length=80, description="Award or honour code from the catalogue in docs/facts.md.")
    awarded_on: date
    rank: int | None = Field(default=None, ge=1, description="Place or prize rank in a competition (1 = first).")
    while_studying: bool = Field(default=False, description="Won while a student at a higher or vocational school.")


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
    occupation: str | None = Field(default=None, max_length=100, description="Occupation of the current post.")


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
    insured: bool = Field(default=False, description="Was insured against unemployment before losing work.")
    ui_benefit_eligible: bool | None = Field(
        default=None, description="Meets the conditions for 失业保险金 (None: not yet assessed)."
    )


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


class FlexibleEmploymentRegistration(FactBase):
    """灵活就业登记."""

    kind: Literal["flexible_employment"] = "flexible_employment"
    registered_on: date
    ended_on: date | None = None
    region_code: RegionCode


class PostCategory(StrEnum):
    GRASSROOTS_PUBLIC_SERVICE = "grassroots_public_service"  # 基层公共服务类
    PUBLIC_MANAGEMENT = "public_management"  # 公共管理类
    INSTITUTION_MANAGEMENT = "institution_management"  # 机关事业单位管理类 (not eligible)
    PROFESSIONAL_TECHNICAL = "professional_technical"  # 专业技术类 (not eligible)


class PublicWelfarePlacement(FactBase):
    """A placement on a public-welfare post (公益性岗位); subject: the person placed."""

    kind: Literal["public_welfare_placement"] = "public_welfare_placement"
    employer_id: uuid.UUID
    post_recognised: bool = Field(description="The post was recognised by the 人社 department.")
    post_category: PostCategory
    start: date
    end: date | None = None
    placement_number: int = Field(default=1, ge=1, description="1 for the first placement, 2 for a re-placement ...")
    contract_years: int = Field(ge=0, le=10)
    monthly_wage: Money
    employer_contribution_monthly: Money = Field(description="Employer share of pension, medical and UI per month.")
    assistance_requested: bool = Field(default=True, description="Asked for employment assistance, accepted the post.")


class RetirementCategory(StrEnum):
    MALE = "male"  # 60 before the 2025 reform
    FEMALE_CADRE = "female_cadre"  # 55
    FEMALE_WORKER = "female_worker"  # 50


class RetirementProfile(FactBase):
    kind: Literal["retirement_profile"] = "retirement_profile"
    category: RetirementCategory
    early_retirement_on: date | None = Field(default=None, description="Actual date of an approved early retirement.")
    pension_since: date | None = Field(default=None, description="Draws a basic pension since this date.")


class DisabilityStatus(FactBase):
    kind: Literal["disability"] = "disability"
    grade: int = Field(ge=1, le=4, description="Disability grade, 1 the most severe.")
    since: date


class HouseholdMembership(FactBase):
    kind: Literal["household"] = "household"
    household_id: str = Field(max_length=64, description="Household register (户) id.")
    relationship: str = Field(default="", max_length=20)


class FishermanCategory(StrEnum):
    PROFESSIONAL_LICENSED = "professional_licensed"  # 持证专业渔民
    PROFESSIONAL_UNLICENSED = "professional_unlicensed"  # 无证专业渔民（事实渔民）
    PART_TIME_LICENSED = "part_time_licensed"  # 持证兼业渔民
    OTHER_LICENSED = "other_licensed"  # 其他持证渔民


class PensionScheme(StrEnum):
    URBAN_RURAL_RESIDENT = "urban_rural_resident"  # 城乡居民基本养老保险
    ENTERPRISE_EMPLOYEE = "enterprise_employee"  # 企业职工基本养老保险


class FishermanStatus(FactBase):
    """退捕渔民 as classified by the 农业农村 department."""

    kind: Literal["fisherman"] = "fisherman"
    category: FishermanCategory
    recognised_on: date
    pension_scheme: PensionScheme
    insured: bool = Field(description="Enrolled in the pension scheme.")


class TrainingType(StrEnum):
    EMPLOYMENT_SKILLS = "employment_skills"  # 就业技能培训
    POST_SKILLS_UPGRADING = "post_skills_upgrading"  # 岗位技能提升培训
    APPRENTICESHIP = "apprenticeship"  # 企业新型学徒制
    ON_THE_JOB = "on_the_job"  # 以工代训
    ENTREPRENEURSHIP = "entrepreneurship"  # 创业培训


class TrainingRecord(FactBase):
    """A completed training course; for 以工代训 the subject is the trainee and employer_id the enterprise."""

    kind: Literal["training"] = "training"
    training_type: TrainingType
    occupation: str = Field(max_length=100)
    level: SkillLevel | None = None
    start: date
    completed_on: date | None = None
    certificate_obtained: bool = False
    employer_id: uuid.UUID | None = None
    catalogue_rate: Money | None = Field(default=None, description="Subsidy rate of the course in the catalogue.")


class RestructuringKind(StrEnum):
    MERGER = "merger"  # 兼并重组
    OVERCAPACITY = "overcapacity"  # 化解产能过剩
    OBSOLETE_CAPACITY = "obsolete_capacity"  # 淘汰落后产能


class EnterpriseYear(FactBase):
    """An enterprise's figures for one year (the year before an application); subject: the enterprise."""

    kind: Literal["enterprise_year"] = "enterprise_year"
    year: int = Field(ge=2000, le=2100)
    total_staff: int = Field(ge=0)
    insured_staff: int = Field(ge=0, description="上年度参保职工人数.")
    insured_staff_decrease: int = Field(ge=0, description="上年度参保职工减少人数.")
    ui_benefit_recipients: int = Field(default=0, ge=0, description="Former staff drawing 失业保险金.")
    ui_contributions: Money = Field(description="UI contributions the enterprise and its staff paid that year.")
    ui_contributions_paid_in_full: bool = True
    net_profit: Money | None = None
    net_profit_previous_year: Money | None = None
    loss_months_in_window: int = Field(
        default=0, ge=0, le=9, description="Consecutive loss months from October of that year to June of the next."
    )
    difficulty_recognised: bool = Field(default=False, description="Recognised as 困难企业 by the four departments.")
    restructuring: RestructuringKind | None = None
    deep_poverty_area: bool = False
    serious_violation: bool = Field(default=False, description="Listed for serious illegal or dishonest conduct.")


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
    | InternshipCohort
    | FlexibleEmploymentRegistration
    | PublicWelfarePlacement
    | RetirementProfile
    | DisabilityStatus
    | HouseholdMembership
    | FishermanStatus
    | TrainingRecord
    | EnterpriseYear,
    Field(discriminator="kind"),
]
