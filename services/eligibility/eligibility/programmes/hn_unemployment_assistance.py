"""Hunan unemployment assistance (失业补助金), paid monthly to the unemployed person for at most 6 months in 2020.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extractions shared/policy/seed003-C.md C12, seed003-D.md §1B):
- 湘政办发〔2020〕20号 四（十一） (L4115), 2020-04-28: 「对领取失业保险金期满仍未就业的失业人员、不符合领取失业保险金条件的
  参保失业人员，发放6个月的失业补助金，标准不高于当地失业保险金的80%，所需资金从失业保险基金中列支，受理截止期限为2020年
  12月31日」.
- 人社部发〔2020〕40号 三 (L5153–5155), 2020-05-29 (L5172), the later document: 「2020年3月至12月……可以申领6个月的失业补助金，
  标准不超过当地失业保险金的80%。领取失业补助金期间不享受失业保险金……被用人单位招用并参保、死亡……享受城镇职工基本养老保险或
  城乡居民养老保险待遇……的，停发失业补助金」.
- The local unemployment benefit (失业保险金标准): 90% of the local monthly minimum wage from 2020-03-01, 湘人社规〔2020〕2号 二
  (L4163) (parameters hn_ui_benefit_share_of_minimum_wage and minimum_wage_monthly).

Interpretations (docs/policy-decisions.md, unemployment assistance):
- The rate is the parameter hn_unemployment_assistance_share: 80%, the ceiling both documents set, because no Hunan
  document in the compilation sets a lower figure. A city that set one is entered under its own code with its source.
- A month is paid when, on its first day, the person is registered unemployed (in the region whose minimum wage is
  used), is not employed, draws no pension, and no unemployment-insurance benefit (失业保险金) covers any day of it
  (「领取失业补助金期间不享受失业保险金」, the exclusivity of issue 3). Months are 2020-03 to 2020-12 (40号).
- Route (a) 「领取失业保险金期满仍未就业」: a benefit record ending before the end of the claimed period (the months it
  still covers are not paid). Route (b)
  「不符合领取失业保险金条件的参保失业人员」: a registration recorded as insured and not eligible for the benefit. A
  registration whose benefit eligibility has not been assessed goes to a caseworker; one eligible for the benefit is
  refused (the benefit comes first).
- 6 months in total: months of earlier grants of this programme count (their recorded months).
- Applications are accepted until 2020-12-31 (20号).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import EmploymentRecord, RetirementProfile, UnemploymentInsuranceBenefit

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RulePack, yuan
from ._hn_employment import D1_ASSISTANCE, D2_UI_LEVEL, registered_unemployed_on
from ._hunan_helpers import granted_months, month_end, months, review, ym

PROGRAMME = "hn.unemployment-assistance"
MAX_MONTHS = 6
FIRST_MONTH = date(2020, 3, 1)
LAST_MONTH = date(2020, 12, 1)
INTAKE_DEADLINE = date(2020, 12, 31)
N40 = "人社部发〔2020〕40号"
B40_ASSISTANCE = LegalBasis(document_number=N40, article="三", title="阶段性实施失业补助金政策（L5153–5155）")


def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.person
    x.check(
        "PERSON_NAMED",
        person is not None,
        "申请须为失业人员本人或指明失业人员",
        "the application must be the unemployed person's",
        basis=B40_ASSISTANCE,
    )
    assert person is not None
    x.check(
        "INTAKE_DEADLINE",
        case.submitted_on <= INTAKE_DEADLINE,
        f"申请日期{case.submitted_on.isoformat()}，受理截止期限为2020年12月31日",
        f"submitted {case.submitted_on.isoformat()}; applications are accepted until 2020-12-31",
        values={"submitted_on": case.submitted_on, "deadline": INTAKE_DEADLINE},
        basis=D1_ASSISTANCE,
    )
    x.check(
        "CLAIM_PERIOD",
        case.period is not None,
        "申请须写明所申领的月份",
        "the application must state the months claimed",
        basis=B40_ASSISTANCE,
    )
    assert case.period is not None
    first = case.period.start.replace(day=1)
    benefits = case.facts_of(UnemploymentInsuranceBenefit, person.id)
    registration = registered_unemployed_on(case, person.id, first)
    if registration is None:
        # the first month may precede the registration: take the earliest one in force during the period
        for m in months(case.period.start, case.period.end):
            registration = registered_unemployed_on(case, person.id, m)
            if registration is not None:
                break
    x.check(
        "REGISTERED_UNEMPLOYED",
        registration is not None,
        "申领期间须办理失业登记" + ("" if registration is not None else "：无有效的失业登记"),
        "the person must be registered unemployed during the months claimed",
        values={"registered_on": registration.registered_on if registration else "none"},
        basis=B40_ASSISTANCE,
    )
    assert registration is not None
    expired = [b for b in benefits if b.end < case.period.end]
    if expired:
        x.check(
            "TARGET_GROUP",
            True,
            f"领取失业保险金已于{max(b.end for b in expired).isoformat()}期满，仍未就业",
            "the unemployment-insurance benefit has run out and the person is still unemployed",
            values={"route": "benefit_expired", "benefit_end": max(b.end for b in expired)},
            basis=B40_ASSISTANCE,
        )
    elif registration.ui_benefit_eligible is None and registration.insured:
        review(
            x,
            "UI_ELIGIBILITY_NOT_ASSESSED",
            "参保失业人员是否符合领取失业保险金条件尚未核定，需人工核定",
            "whether the insured unemployed person qualifies for the unemployment-insurance benefit is not assessed",
            B40_ASSISTANCE,
        )
    else:
        route_b = registration.insured and registration.ui_benefit_eligible is False
        x.check(
            "TARGET_GROUP",
            route_b,
            "须为领取失业保险金期满仍未就业的失业人员，或不符合领取失业保险金条件的参保失业人员："
            + (
                "参保且不符合领取失业保险金条件"
                if route_b
                else ("未参保" if not registration.insured else "符合领取失业保险金条件，应先领取失业保险金")
            ),
            "must have exhausted the unemployment-insurance benefit, or be insured but not qualify for it",
            values={
                "route": "insured_not_eligible" if route_b else "none",
                "insured": registration.insured,
                "ui_benefit_eligible": registration.ui_benefit_eligible,
            },
            basis=B40_ASSISTANCE,
        )
    earlier = sum(granted_months(g) for g in case.grants([PROGRAMME], person.id))
    left = MAX_MONTHS - earlier
    x.check(
        "SIX_MONTHS",
        left > 0,
        f"失业补助金最长6个月，已享受{earlier}个月",
        f"6 months at most; {earlier} month(s) already granted",
        values={"earlier_months": earlier, "months_left": max(left, 0)},
        basis=B40_ASSISTANCE,
    )
    pension = next((p.pension_since for p in case.facts_of(RetirementProfile, person.id) if p.pension_since), None)
    jobs = case.facts_of(EmploymentRecord, person.id)
    region = registration.region_code
    paid: list[tuple[date, date, Decimal]] = []
    for m in months(case.period.start, case.period.end):
        end = month_end(m)
        reasons = []
        if not FIRST_MONTH <= m <= LAST_MONTH:
            reasons.append("不在2020年3月至12月内")
        if registered_unemployed_on(case, person.id, m) is None:
            reasons.append("当月1日无有效失业登记")
        if any(b.start <= end and m <= b.end for b in benefits):
            reasons.append("当月领取失业保险金")
        if any(j.start <= m and (j.end is None or j.end >= m) for j in jobs):
            reasons.append("已就业")
        if pension is not None and pension <= m:
            reasons.append("已享受基本养老保险待遇")
        if not reasons and len(paid) >= left:
            reasons.append("已满6个月")
        if reasons:
            x.check(
                f"MONTH_{ym(m)}",
                False,
                f"{m:%Y年%m月}不发放：" + "、".join(reasons),
                f"{m:%Y-%m}: not paid ({len(reasons)} reason(s))",
                values={"month": m},
                basis=B40_ASSISTANCE,
                stop=False,
            )
            continue
        minimum = x.parameter(params, "minimum_wage_monthly", m, region)
        benefit_share = x.parameter(params, "hn_ui_benefit_share_of_minimum_wage", m, region)
        benefit = yuan(minimum * benefit_share)
        share = x.parameter(params, "hn_unemployment_assistance_share", m, region)
        amount = yuan(benefit * share)
        x.check(
            f"MONTH_{ym(m)}",
            True,
            f"{m:%Y年%m月}：当地失业保险金{benefit}元（最低工资{minimum}元的{benefit_share:.0%}），失业补助金按{share:.0%}为{amount}元",
            f"{m:%Y-%m}: local benefit {benefit} ({benefit_share:.0%} of minimum wage {minimum}); assistance "
            f"{share:.0%} = {amount}",
            values={"month": m, "minimum_wage": minimum, "ui_benefit": benefit, "share": share, "amount": amount},
            basis=D2_UI_LEVEL,
        )
        paid.append((m, end, amount))
    x.check(
        "MONTHS_PAID",
        bool(paid),
        f"可发放月数{len(paid)}",
        f"{len(paid)} month(s) payable",
        values={"months": len(paid)},
        basis=B40_ASSISTANCE,
    )
    x.attributes["months"] = str(len(paid))
    return Amounts.monthly(paid)


def _period_end(case: Case) -> date:
    return case.period.end if case.period else case.submitted_on


PACKS = (
    RulePack(
        programme_id=PROGRAMME,
        version="2020.1",
        title_zh="失业补助金",
        title_en="Unemployment assistance",
        jurisdiction="43",
        effective_from=FIRST_MONTH,
        effective_to=date(2020, 12, 31),
        legal_basis=(B40_ASSISTANCE, D1_ASSISTANCE, D2_UI_LEVEL),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=(
            "unemployment_registration",
            "unemployment_insurance_benefit",
            "employment",
            "retirement_profile",
        ),
        fund_code="unemployment-insurance-fund",
        rules=rules,
        parameters=("hn_unemployment_assistance_share", "hn_ui_benefit_share_of_minimum_wage", "minimum_wage_monthly"),
        evaluation_date=_period_end,
    ),
)
