"""Shanxi internship subsidy (就业见习补贴) paid to the host unit, per intern.

Source: seed 001, 山西《关于做好就业见习扩规模提质量相关工作的通知》 (2022, implementing 人社部发〔2022〕11号),
lines 453–495; extraction in shared/policy/talent-pathways.md §5.

Interpretations (the text allows more than one reading; each is recorded in the decision's conditions):
- "每提高10%" counts whole 10-point steps above 50% retention (55% → 60% rate, 65% → 65%, 80% → 75%);
  above 80% the rate is 100% of the minimum wage.
- An intern with unexcused absence of 5 consecutive days or 10 in total gets no living allowance
  (「不予发放基本生活费」), so the unit is not subsidised for that intern.
- 「以上」 includes the number itself (民法典 第一千二百五十九条).
- A month counts when the intern attended at least 15 working days, or every working day of a month
  wholly inside the agreement (Chinese working days from the chinesecalendar package).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import Graduation, InternshipCohort, InternshipRecord, UnemploymentRegistration

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RulePack, yuan
from ..domain.workdays import workdays_between

DOC = "山西省人社厅等10部门《关于做好就业见习扩规模提质量相关工作的通知》（2022）"
BASIS_PARTICIPANTS = LegalBasis(document_number=DOC, article="二、目标任务", title="见习对象")
BASIS_ALLOWANCE = LegalBasis(document_number=DOC, article="三、（一）", title="规范见习生活补助")
BASIS_SUBSIDY = LegalBasis(document_number=DOC, article="三、（二）", title="强化见习补贴支持")
BASIS_ABSENCE = LegalBasis(document_number=DOC, article="四、（五）", title="加强见习管理")

BASE_RATE = Decimal("0.60")
PREMIUM_SUBSIDY = Decimal("240.00")
EARLY_CONTRACT_MONTHS = 3
EARLY_CONTRACT_UNTIL = date(2022, 12, 31)


def _month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def retention_rate(cohort: InternshipCohort | None) -> Decimal | None:
    if cohort is None or cohort.interns_completed == 0:
        return None
    return Decimal(cohort.interns_retained) / Decimal(cohort.interns_completed)


def subsidy_rate(retention: Decimal | None) -> Decimal:
    """Share of the minimum wage paid per month, from the unit's retention rate."""
    if retention is None or retention <= Decimal("0.5"):
        return BASE_RATE
    if retention > Decimal("0.8"):
        return Decimal("1.00")
    steps = int((retention - Decimal("0.5")) / Decimal("0.1"))
    return BASE_RATE + Decimal("0.05") * steps


def _target_group(case: Case, x: Explanation, record: InternshipRecord) -> None:
    intern = case.beneficiary
    assert intern is not None
    start = record.agreement_start
    age = intern.age_on(start)
    grad = case.one(Graduation, intern.id)
    recent_graduate = grad is not None and start <= _add_years(grad.graduated_on, 2)
    unemployed = any(
        u.registered_on <= start and (u.ended_on is None or u.ended_on >= start)
        for u in case.facts_of(UnemploymentRegistration, intern.id)
    )
    youth = 16 <= age <= 24 and unemployed
    x.check(
        "INTERN_TARGET_GROUP",
        recent_graduate or youth,
        "见习人员须为离校2年内未就业的高校或中职毕业生、符合条件的留学回国毕业生，或16-24岁失业青年"
        + (f"；其毕业于{grad.graduated_on.isoformat()}" if grad else "；无毕业记录")
        + f"，见习开始时{age}岁，{'已' if unemployed else '未'}办理失业登记",
        "the intern must have left school within 2 years (university, vocational or returned from abroad) "
        "or be unemployed and aged 16-24",
        values={
            "age_at_start": age,
            "graduated_on": grad.graduated_on if grad else "none",
            "unemployment_registered": unemployed,
            "agreement_start": start,
        },
        basis=BASIS_PARTICIPANTS,
    )


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _month_counts(month_first: date, attended: int, record: InternshipRecord) -> tuple[bool, int]:
    """Whether a month counts as a subsidised month, and the month's working days."""
    last = _month_end(month_first)
    working = workdays_between(month_first, last)
    whole_month_inside = record.agreement_start <= month_first and last <= record.agreement_end
    return attended >= 15 or (whole_month_inside and attended >= working), working


def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    intern = case.beneficiary
    x.check(
        "INTERN_REGISTERED",
        intern is not None and intern.birth_date is not None,
        "申请须指明见习人员及其出生日期",
        "the application must name the intern, with a birth date",
        basis=BASIS_PARTICIPANTS,
    )
    assert intern is not None
    record = case.one(InternshipRecord, intern.id)
    x.check(
        "INTERNSHIP_RECORD",
        record is not None,
        "缺少见习记录",
        "no internship record was supplied",
        basis=BASIS_SUBSIDY,
    )
    assert record is not None
    host = case.applicant
    x.check(
        "HOST_IS_APPLICANT",
        record.host_enterprise_id == host.id,
        "见习记录中的见习单位须为申请单位",
        "the internship's host unit must be the applicant",
        values={"host_enterprise_id": record.host_enterprise_id},
        basis=BASIS_SUBSIDY,
    )
    assert host is not None
    x.check(
        "HOST_IN_SHANXI",
        host.region_code.startswith("14"),
        "见习单位须在山西省内登记注册",
        "the host unit must be registered in Shanxi",
        values={"region_code": host.region_code},
        basis=BASIS_SUBSIDY,
    )
    _target_group(case, x, record)
    x.check(
        "ACCIDENT_INSURANCE",
        record.accident_insurance,
        "见习单位须为见习人员购买人身意外伤害保险",
        "the unit must insure the intern against accidents",
        values={"insured": record.accident_insurance},
        basis=BASIS_ALLOWANCE,
    )
    absent_ok = record.absence_longest_run_days < 5 and record.absence_total_days < 10
    x.check(
        "ABSENCE_LIMIT",
        absent_ok,
        f"无故缺勤连续{record.absence_longest_run_days}天、累计{record.absence_total_days}天"
        + ("" if absent_ok else "，达到连续5天或累计10天，不予发放生活费，单位不得享受该见习人员补贴"),
        "unexcused absence of 5 consecutive or 10 total days voids the living allowance, and with it the subsidy",
        values={"longest_run_days": record.absence_longest_run_days, "total_days": record.absence_total_days},
        basis=BASIS_ABSENCE,
    )
    cohort = case.one(InternshipCohort, host.id)
    retention = retention_rate(cohort)
    rate = subsidy_rate(retention)
    x.check(
        "SUBSIDY_RATE",
        True,
        f"留用率{'未报' if retention is None else f'{retention:.0%}'}，补贴标准为当地最低工资的{rate:.0%}",
        f"retention {'not reported' if retention is None else f'{retention:.0%}'}: {rate:.0%} of the minimum wage per month",
        values={"retention": retention if retention is not None else "none", "rate": rate},
        basis=BASIS_SUBSIDY,
    )
    region = host.region_code
    instalment_amount = Decimal("0.00")
    counted = 0
    for month in sorted(record.months, key=lambda m: m.month):
        first = month.month.replace(day=1)
        minimum = x.parameter(params, "minimum_wage_monthly", first, region)
        counts, working = _month_counts(first, month.working_days, record)  # an uncovered year: needs review
        x.check(
            f"ALLOWANCE_{first:%Y_%m}",
            month.allowance_paid >= minimum,
            f"{first:%Y年%m月}单位发放生活补助{month.allowance_paid}元，当地最低工资{minimum}元",
            f"{first:%Y-%m}: allowance {month.allowance_paid} paid, minimum wage {minimum}",
            values={"allowance_paid": month.allowance_paid, "minimum_wage": minimum},
            basis=BASIS_ALLOWANCE,
        )
        x.check(
            f"MONTH_COUNTED_{first:%Y_%m}",
            counts,
            f"{first:%Y年%m月}见习{month.working_days}个工作日（当月工作日{working}天）"
            + ("，计1个月" if counts else "，未满15个工作日，不计"),
            f"{first:%Y-%m}: {month.working_days} working days attended of {working}"
            + (": counts as a month" if counts else ": under 15 working days, not counted"),
            values={"working_days": month.working_days, "month_working_days": working},
            basis=BASIS_ALLOWANCE,
            stop=False,
        )
        if counts:
            counted += 1
            instalment_amount += yuan(minimum * rate)
    x.check(
        "MONTHS_COUNTED",
        counted > 0,
        f"计补贴月数{counted}",
        f"{counted} subsidised months",
        values={"months": counted},
        basis=BASIS_SUBSIDY,
    )
    signed = record.labour_contract_signed_on
    if signed is not None and signed < record.agreement_end:
        remaining = (record.agreement_end.year - signed.year) * 12 + record.agreement_end.month - signed.month
        months = min(EARLY_CONTRACT_MONTHS, max(0, remaining))
        in_time = signed <= EARLY_CONTRACT_UNTIL
        minimum = (
            x.parameter(params, "minimum_wage_monthly", signed.replace(day=1), region)
            if months and in_time
            else Decimal(0)
        )
        extra = yuan(minimum * rate * months) if in_time else Decimal("0.00")
        x.check(
            "EARLY_CONTRACT",
            True,
            f"见习期未满于{signed.isoformat()}签订劳动合同，剩余期限补贴{months if in_time else 0}个月，计{extra}元"
            + ("" if in_time else "（该政策执行至2022年底，已过期）"),
            f"labour contract signed {signed.isoformat()} before the agreement ended: {months if in_time else 0} "
            f"remaining month(s), {extra}",
            values={"signed_on": signed, "remaining_months": months, "amount": extra},
            basis=BASIS_SUBSIDY,
        )
        instalment_amount += extra
    x.check(
        "PREMIUM_SUBSIDY",
        True,
        f"人身意外伤害保险保费补贴{PREMIUM_SUBSIDY}元",
        f"accident-insurance premium subsidy {PREMIUM_SUBSIDY}",
        values={"amount": PREMIUM_SUBSIDY},
        basis=BASIS_SUBSIDY,
    )
    instalment_amount += PREMIUM_SUBSIDY
    return Amounts.one_off(
        instalment_amount, max(case.on, record.agreement_end), record.agreement_start, record.agreement_end
    )


def _evaluation_date(case: Case) -> date:
    """The internship's end: the rules and minimum wage of the period interned."""
    records = case.facts_of(InternshipRecord)
    if records:
        return records[-1].agreement_end
    return case.period.end if case.period else case.submitted_on


PACKS = (
    RulePack(
        programme_id="sx.internship-subsidy",
        version="2022.1",
        title_zh="山西省就业见习补贴",
        title_en="Shanxi internship subsidy (host unit)",
        jurisdiction="14",
        effective_from=date(2022, 1, 1),
        effective_to=None,
        legal_basis=(BASIS_SUBSIDY, BASIS_ALLOWANCE, BASIS_PARTICIPANTS, BASIS_ABSENCE),
        applicant_kinds=(ApplicantKind.ENTERPRISE, ApplicantKind.INSTITUTION),
        facts_needed=("internship", "internship_cohort", "graduation", "unemployment_registration"),
        fund_code="employment-subsidy-fund",
        parameters=("minimum_wage_monthly",),
        rules=rules,
        evaluation_date=_evaluation_date,
    ),
)
