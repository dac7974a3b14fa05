"""Hunan social-insurance subsidies (社会保险补贴): four programmes of 湘人社规〔2020〕22号, and the graduate
flexible-worker subsidy of 湘人社规〔2020〕4号 that preceded it.

Sources: seed 003 (shared/seeds/003_99b4106d3352fab1.txt)
- 湘人社规〔2020〕22号《湖南省社会保险补贴实施办法》 (re-issued 2020-11-03), lines 4519–4628: objects 第四条
  (L4543–4551), scope and exclusions 第五条 (L4557), term 第六条 (L4561–4567), amounts 第七条 (L4571–4575),
  applying 第八至十条 (L4579–4596), review, 公示 7天 and payment 第十一、十二条 (L4600–4608), in force
  2021-01-01 for 5 years and prevailing over earlier provincial rules 第十九条 (L4626).
- 湘人社规〔2020〕4号 四 (L4215): 「对离校2年内未就业高校毕业生灵活就业的，按规定给予社会保险补贴，补贴标准为其
  个人实际缴费的40%，补贴期限最长不超过2年」; in force from publication (2020-02-22, L4199) to 2020-12-31 (L4233).
- 湘人社规〔2020〕10号 三 (L5770): the 2019 all-caliber average wage 5054元/月, the 2020 contribution base
  (parameters/hunan_average_wage.yaml).
- Extraction: shared/policy/seed003-C.md §1c (C27), §1h (C59–C63), §2, §3, §6.1.

Interpretations (each also in docs/policy-decisions.md):
- Version by decision date: the rules in force on the day the claim is submitted (the decision is taken on
  receipt) apply, so a claim submitted on 2020-12-31 is decided under 4号 and one submitted on 2021-01-01 under
  22号, whatever months it covers (22号 第十九条: earlier provincial rules give way from 2021-01-01).
- Months claimed: the months of the application's period with a contribution record of the person. Each month
  is a condition of its own (MONTH_YYYY_MM) recording why it counts or not; nothing is pro-rated within a month.
- 「未缴齐上述三种社会保险费的不予补贴」 is applied per month: a month whose pension, medical or unemployment
  contribution is missing pays nothing. Flexible workers: pension and medical, paid as a flexible worker.
- ContributionRecord.employer_amount is the employer share of pension + medical + unemployment for the month.
- 「初次核定其享受社会保险补贴时间不早于初次申报时间一年」: on a first claim (no earlier grant of the employer or
  flexible hard-to-employ subsidy) months before the twelfth month preceding the month of submission are not
  subsidised. Graduates' subsidies (第六条第（三）项) carry no such rule; their window is the 2 years after
  graduation.
- 「距法定退休时间不足5年」 is measured from the first grant of either hard-to-employ subsidy (its decision date; the
  present decision on a first claim) to the statutory retirement date (domain/retirement.py); exactly 5 years is
  not 「不足」. With the extension the subsidy runs to retirement instead of 36 months. A month counts when it
  starts before the statutory (or the actual early) retirement date, and not from the month a pension is drawn.
- The 3-year cap is cumulative over both hard-to-employ subsidies and every employer (第六条第（二）项), counted in
  months from earlier grants (their recorded months, else start to end).
- 「毕业时间超过2年」: a month counts while its first day is at most 2 years after the date on the diploma; exactly
  2 years counts, one day more does not. The small-firm cap of 1 year is cumulative over employers.
- "4050": 「女性年龄在40周岁以上、男性年龄在50周岁以上」 includes the age itself (民法典 第一千二百五十九条), taken on
  the first day of each month claimed.
- 「上年度我省全口径社会平均工资」 is the figure of the year before the contribution month (湘人社规〔2020〕10号 uses
  the 2019 figure as the 2020 base). Years without a sourced figure end in needs_review (PARAMETER_NOT_COVERED).
- 4号 pays 40% of the person's own actual contribution, which no fact records (ContributionRecord holds the
  employer share and the rate, not the amount a flexible worker paid): a claim that meets every 4号 condition is
  sent to a caseworker (ACTUAL_CONTRIBUTION_NOT_RECORDED) with the months that count. Under 4号 the person must
  have registered flexible employment within 2 years of graduating and the term is 2 years from then; 22号 ends the
  subsidy 2 years after graduation.
- Employer and flexible hard-to-employ subsidies, and the public-welfare post (a 公益性岗位 subsidy is an employer
  subsidy under 第六条第（二）项), are exclusive at the same time; the small-firm and flexible graduate subsidies
  likewise (「可在不同时间」 both, so not at the same time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from subsidy_contracts.common import ApplicantKind, EnterpriseSize, LegalBasis, Sex
from subsidy_contracts.facts import (
    ContributionRecord,
    EmploymentRecord,
    FlexibleEmploymentRegistration,
    Graduation,
    RetirementProfile,
    UnemploymentRegistration,
)

from ..domain.parameters import ParameterSet
from ..domain.retirement import add_months
from ..domain.rules import Amounts, Case, Explanation, Party, PublicNotice, RulePack, yuan
from ._hunan_helpers import (
    add_years,
    granted_months,
    month_end,
    month_start,
    retirement_of,
    review,
    ym,
)

EMPLOYER_HTE = "hn.si-subsidy.employer-hard-to-employ"
SMALL_FIRM_GRADUATE = "hn.si-subsidy.small-firm-graduate"
FLEXIBLE_HTE = "hn.si-subsidy.flexible-hard-to-employ"
FLEXIBLE_GRADUATE = "hn.si-subsidy.flexible-graduate"
PUBLIC_WELFARE_POST = "hn.public-welfare-post"
HTE_FAMILY = (EMPLOYER_HTE, FLEXIBLE_HTE)

DOC22 = "湘人社规〔2020〕22号"
DOC4 = "湘人社规〔2020〕4号"


def _b22(article: str, title: str) -> LegalBasis:
    return LegalBasis(document_number=DOC22, article=article, title=title)


B22_EMPLOYER = _b22("第四条第（一）项", "企业（单位）招用就业困难人员")
B22_SMALL_FIRM = _b22("第四条第（二）项", "小微企业招用离校2年内未就业高校毕业生")
B22_FLEX_HTE = _b22("第四条第（三）项", "就业困难人员灵活就业")
B22_FLEX_GRAD = _b22("第四条第（四）项", "离校2年内未就业高校毕业生灵活就业")
B22_SCOPE = _b22("第五条", "社会保险补贴范围")
B22_TERM = _b22("第六条第（一）项", "补贴期限")
B22_NOT_BOTH = _b22("第六条第（二）项", "同一时间只能享受一种，累计时间不超过规定期限")
B22_TERM_GRAD = _b22("第六条第（三）项", "高校毕业生补贴期限")
B22_RATE_EMPLOYER = _b22("第七条第（一）项", "单位缴费部分补贴，未缴齐三种社会保险费的不予补贴")
B22_RATE_FLEX = _b22("第七条第（二）项", "灵活就业补贴计算方式，4050人员60%，非4050人员40%")
B22_RATE_GRAD = _b22("第七条第（三）项", "高校毕业生灵活就业按非4050人员标准")
B22_NOTICE_UNIT = _b22("第十一条", "审核通过后公示7天，无异议后拨付至单位账户")
B22_NOTICE_PERSON = _b22("第十二条", "审核通过后公示7天，无异议后拨付至本人社会保障卡或银行卡")
B22_VALIDITY = _b22("第十九条", "自2021年1月1日起施行，有效期5年")
B4_FLEX = LegalBasis(
    document_number=DOC4, article="四、鼓励高校毕业生自主创业", title="离校2年内未就业高校毕业生灵活就业社会保险补贴"
)
B4_VALIDITY = LegalBasis(document_number=DOC4, article="附则", title="自公布之日起实行，执行到2020年12月31日止")

AVERAGE_WAGE = "hunan_all_caliber_average_wage_monthly"
BASE_SHARE = Decimal("0.60")  # 缴费基数按上年度全口径社会平均工资的60%
SHARE_4050 = Decimal("0.60")
SHARE_OTHER = Decimal("0.40")
SHARE_2020 = Decimal("0.40")  # 4号: 40% of the actual contribution
TERM_MONTHS = 36
RETIREMENT_WINDOW_YEARS = 5
SMALL_FIRM_MONTHS = 12
FLEXIBLE_GRADUATE_MONTHS = 24
BACKDATING_MONTHS = 12


# ------------------------------------------------------------------------------------------ the person
def _person(case: Case, x: Explanation, basis: LegalBasis) -> Party:
    person = case.person
    x.check(
        "PERSON_NAMED",
        person is not None and person.birth_date is not None,
        "申请须指明享受补贴的人员及其出生日期",
        "the application must name the person subsidised, with a birth date",
        basis=basis,
    )
    assert person is not None
    return person


def _claimed(case: Case, person: Party) -> list[ContributionRecord]:
    """Contribution months of the person inside the application's period (the latest record of a month wins)."""
    by_month: dict[date, ContributionRecord] = {}
    for r in case.facts_of(ContributionRecord, person.id):
        m = month_start(r.month)
        if case.period is None or month_start(case.period.start) <= m <= case.period.end:
            by_month[m] = r
    return [by_month[m] for m in sorted(by_month)]


def _employment(case: Case, x: Explanation, person: Party, basis: LegalBasis) -> EmploymentRecord:
    employer = case.applicant
    jobs = [e for e in case.facts_of(EmploymentRecord, person.id) if e.employer_id == employer.id]
    job = jobs[-1] if jobs else None
    x.check(
        "EMPLOYED_BY_APPLICANT",
        job is not None,
        "须有申请单位招用该人员的就业记录" + (f"（{job.employer_name}，{job.start.isoformat()}起）" if job else ""),
        "the applicant must employ the person (employment record)",
        values={"employment_start": job.start if job else "none"},
        basis=basis,
    )
    assert job is not None
    x.check(
        "NOT_THIRD_PARTY_AGENT",
        not job.via_third_party_agent,
        "代发放工资或代缴社会保险费的第三方单位不在补贴范围之内"
        + ("：该人员工资或社会保险费由第三方代发代缴" if job.via_third_party_agent else ""),
        "third parties paying wages or contributions on an employer's behalf are outside the subsidy",
        values={"via_third_party_agent": job.via_third_party_agent},
        basis=B22_SCOPE,
    )
    if job.contract_years is None:
        review(
            x,
            "CONTRACT_TERM_NOT_RECORDED",
            "劳动合同期限未记录，无法核实是否签订1年以上劳动合同，需人工核定",
            "the labour contract's term is not recorded; whether it is of 1 year or more must be checked",
            basis,
        )
    years = job.contract_years or 0
    x.check(
        "CONTRACT_ONE_YEAR",
        years >= 1,
        f"劳动合同期限{years}年，须签订1年以上劳动合同",
        f"labour contract of {years} year(s); 1 year or more is required",
        values={"contract_years": years},
        basis=basis,
    )
    return job


def _covers(start: date, end: date | None, m: date) -> bool:
    return start <= month_end(m) and (end is None or end >= m)


# -------------------------------------------------------------------------------------------- the term
@dataclass(frozen=True)
class Term:
    earliest: date | None
    """First month that may be subsidised (a first claim reaches back at most a year)."""
    end: date | None
    """Months must start before this day (statutory or early retirement)."""
    pension_month: date | None
    """First month a pension is drawn: this and later months are not subsidised."""
    remaining: int | None
    """Months left under the cap; None when the subsidy runs to retirement."""


def _hte_term(case: Case, x: Explanation, person: Party, months: list[date]) -> Term:
    """Term of the two hard-to-employ subsidies (第六条第（一）、（二）项): 3 years in all, or to retirement."""
    earlier = case.grants(HTE_FAMILY, person.id)
    used = sum(granted_months(g) for g in earlier)
    first_approval = min((g.granted_on for g in earlier), default=case.on)
    earliest = None
    if not earlier:
        earliest = add_months(month_start(case.submitted_on), -BACKDATING_MONTHS)
        x.note(
            "BACKDATING",
            f"初次申报（{case.submitted_on.isoformat()}），享受补贴时间不早于初次申报时间一年：自{earliest:%Y年%m月}起",
            f"first claim ({case.submitted_on.isoformat()}): months from {earliest:%Y-%m} at the earliest",
            values={"submitted_on": case.submitted_on, "earliest_month": earliest},
            basis=B22_TERM,
        )
    profile = case.one(RetirementProfile, person.id)
    retirement = retirement_of(case, person)
    assert person.birth_date is not None
    if retirement is None:
        last = max(months, default=case.on)
        if person.age_on(first_approval) >= 45 or person.age_on(month_end(last)) >= 50:
            review(
                x,
                "RETIREMENT_CATEGORY_NOT_RECORDED",
                "女性的退休类别（女干部55岁/女工人50岁）未记录，无法确定法定退休时间，需人工核定",
                "a woman's retirement category (cadre 55 / worker 50) is not recorded, so her statutory retirement "
                "date is unknown",
                B22_TERM,
                {"birth_date": person.birth_date},
            )
    extended = retirement is not None and retirement.on < add_years(first_approval, RETIREMENT_WINDOW_YEARS)
    end = retirement.on if retirement is not None else None
    if profile is not None and profile.early_retirement_on is not None:
        end = min(end or profile.early_retirement_on, profile.early_retirement_on)
    pension_month = month_start(profile.pension_since) if profile and profile.pension_since else None
    remaining = None if extended else TERM_MONTHS - used
    x.check(
        "TERM_REMAINING",
        remaining is None or remaining > 0,
        f"企业吸纳和灵活就业社会保险补贴累计已享受{used}个月；"
        + (
            f"自初次核定（{first_approval.isoformat()}）起距法定退休时间（{retirement.on.isoformat()}，"
            f"{retirement.age_text}）不足5年，可延长享受至法定退休时间"
            if extended and retirement
            else f"最长不超过3年，尚余{max(remaining or 0, 0)}个月"
        ),
        f"{used} month(s) of the employer or flexible hard-to-employ subsidy already granted; "
        + (
            "less than 5 years from statutory retirement at the first approval: runs to retirement"
            if extended
            else f"3 years at most, {max(remaining or 0, 0)} month(s) left"
        ),
        values={
            "months_used": used,
            "first_approval": first_approval,
            "statutory_retirement": retirement.on if retirement else "unknown",
            "retirement_age": retirement.age_text if retirement else "unknown",
            "retirement_rule": retirement.basis if retirement else "unknown",
            "extended_to_retirement": extended,
            "months_left": "until retirement" if remaining is None else remaining,
        },
        basis=B22_NOT_BOTH if used else B22_TERM,
    )
    return Term(earliest, end, pension_month, remaining)


def _term_gate(term: Term, m: date) -> tuple[str, str] | None:
    if term.earliest is not None and m < term.earliest:
        return "早于初次申报时间一年，不予补贴", "more than a year before the first claim"
    if term.end is not None and m >= term.end:
        return f"已达退休时间（{term.end.isoformat()}）", f"after retirement ({term.end.isoformat()})"
    if term.pension_month is not None and m >= term.pension_month:
        return "已领取养老保险待遇，不再享受本补贴", "a pension is drawn: no subsidy"
    return None


# --------------------------------------------------------------------------------------------- months
Gate = Callable[[date, ContributionRecord], tuple[str, str] | None]
Amount = Callable[[date, ContributionRecord], tuple[Decimal, dict[str, object]]]


def _months(
    x: Explanation,
    records: list[ContributionRecord],
    gate: Gate,
    amount: Amount | None,
    basis: LegalBasis,
    remaining: int | None,
    cap_basis: LegalBasis,
) -> list[tuple[date, date, Decimal]]:
    """Check every claimed month, then keep the first `remaining` that count."""
    counted: list[tuple[date, date, Decimal]] = []
    for r in records:
        m = month_start(r.month)
        failed = gate(m, r)
        if failed is not None:
            x.check(
                f"MONTH_{ym(m)}",
                False,
                f"{m:%Y年%m月}：{failed[0]}",
                f"{m:%Y-%m}: {failed[1]}",
                values={"month": m},
                basis=basis,
                stop=False,
            )
            continue
        if amount is None:  # the amount is decided elsewhere
            value, values = Decimal("0"), dict[str, Any]()
            x.check(
                f"MONTH_{ym(m)}",
                True,
                f"{m:%Y年%m月}：计入补贴月份",
                f"{m:%Y-%m}: counts",
                values={"month": m},
                basis=basis,
            )
        else:
            value, values = amount(m, r)
            x.check(
                f"MONTH_{ym(m)}",
                True,
                f"{m:%Y年%m月}：补贴{yuan(value)}元",
                f"{m:%Y-%m}: {yuan(value)} subsidised",
                values={"month": m, **values, "amount": yuan(value)},
                basis=basis,
            )
        counted.append((m, month_end(m), value))
    if remaining is not None and len(counted) > remaining:
        cut = counted[remaining:]
        counted = counted[:remaining]
        x.note(
            "TERM_CAP_APPLIED",
            f"补贴期限所余{remaining}个月，{cut[0][0]:%Y年%m月}起的{len(cut)}个月不予补贴",
            f"only {remaining} month(s) left in the term: {len(cut)} month(s) from {cut[0][0]:%Y-%m} not subsidised",
            values={"months_left": remaining, "months_cut": len(cut)},
            basis=cap_basis,
        )
    x.check(
        "MONTHS_COUNTED",
        bool(counted),
        f"可补贴月数{len(counted)}",
        f"{len(counted)} month(s) subsidised",
        values={"months": len(counted)},
        basis=basis,
    )
    x.attributes["months"] = str(len(counted))
    return counted


def _employer_paid(m: date, r: ContributionRecord) -> tuple[str, str] | None:
    if r.as_flexible_worker:
        return "以灵活就业人员身份缴费，非单位缴费", "paid as a flexible worker, not by the employer"
    missing = [n for n, paid in (("养老", r.pension), ("医疗", r.medical), ("失业", r.unemployment)) if not paid]
    if missing:
        return (
            f"未缴齐基本养老、基本医疗、失业三种社会保险费（缺{'、'.join(missing)}），不予补贴",
            "pension, medical and unemployment contributions not all paid: no subsidy",
        )
    return None


def _employer_share(x: Explanation) -> Amount:
    def amount(m: date, r: ContributionRecord) -> tuple[Decimal, dict[str, object]]:
        if r.employer_amount is None:
            review(
                x,
                "EMPLOYER_SHARE_NOT_RECORDED",
                f"{m:%Y年%m月}单位缴费部分金额未记录，需人工核定",
                f"{m:%Y-%m}: the employer share paid is not recorded",
                B22_RATE_EMPLOYER,
                {"month": m},
            )
        assert r.employer_amount is not None
        return r.employer_amount, {"employer_amount": r.employer_amount}

    return amount


def _flexible_paid(m: date, r: ContributionRecord) -> tuple[str, str] | None:
    if not r.as_flexible_worker:
        return "未以灵活就业人员身份参保缴费", "not paid as a flexible worker"
    if not (r.pension and r.medical):
        return "未缴纳基本养老保险费和基本医疗保险费", "pension and medical contributions not both paid"
    return None


def _flexible_amount(case: Case, params: ParameterSet, x: Explanation, person: Party, graduate: bool) -> Amount:
    """22号 第七条第（二）、（三）项: 60% of the prior-year average wage × the rate actually paid × 60% or 40%."""

    def amount(m: date, r: ContributionRecord) -> tuple[Decimal, dict[str, object]]:
        if r.rate_pension_medical is None:
            review(
                x,
                "CONTRIBUTION_RATE_NOT_RECORDED",
                f"{m:%Y年%m月}实际缴纳的养老、医疗保险费率未记录，需人工核定",
                f"{m:%Y-%m}: the pension + medical rate actually paid is not recorded",
                B22_RATE_FLEX,
                {"month": m},
            )
        assert r.rate_pension_medical is not None
        wage = x.parameter(params, AVERAGE_WAGE, m, case.jurisdiction)
        rate = Decimal(r.rate_pension_medical)
        if graduate:
            share, group = SHARE_OTHER, "graduate"
        else:
            if person.sex is None:
                review(
                    x,
                    "SEX_NOT_RECORDED",
                    "性别未记录，无法判断是否为“4050”人员，需人工核定",
                    "sex not recorded: whether the person is a '4050' person cannot be decided",
                    B22_RATE_FLEX,
                )
            age = person.age_on(m)
            is_4050 = age >= (40 if person.sex is Sex.FEMALE else 50)
            share, group = (SHARE_4050, "4050") if is_4050 else (SHARE_OTHER, "non_4050")
        value = wage * BASE_SHARE * rate * share
        values: dict[str, object] = {
            "average_wage": wage,
            "base": yuan(wage * BASE_SHARE),
            "rate": rate,
            "share": share,
            "group": group,
        }
        if not graduate:
            values["age"] = person.age_on(m)
        return value, values

    return amount


def _recognised_hard_to_employ(
    case: Case,
    x: Explanation,
    person: Party,
    by: tuple[str, date],
    text_zh: tuple[str, str],
    text_en: str,
    basis: LegalBasis,
) -> None:
    """HARD_TO_EMPLOY: recognised as hard to employ by the day (name, date) the subsidised situation began."""
    name, day = by
    recognised = [
        u for u in case.facts_of(UnemploymentRegistration, person.id) if u.hard_to_employ and u.registered_on <= day
    ]
    x.check(
        "HARD_TO_EMPLOY",
        bool(recognised),
        text_zh[0] + (f"（{recognised[-1].registered_on.isoformat()}认定）" if recognised else text_zh[1]),
        text_en,
        values={name: day, "recognised_on": recognised[-1].registered_on if recognised else "none"},
        basis=basis,
    )


# ---------------------------------------------------------------------------------------- programmes
def employer_hard_to_employ(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = _person(case, x, B22_EMPLOYER)
    job = _employment(case, x, person, B22_EMPLOYER)
    _recognised_hard_to_employ(
        case,
        x,
        person,
        ("hired_on", job.start),
        ("招用时须为我省认定的就业困难人员", "：招用前未认定为就业困难人员"),
        "the person must have been recognised as hard to employ when hired",
        B22_EMPLOYER,
    )
    records = _claimed(case, person)
    term = _hte_term(case, x, person, [month_start(r.month) for r in records])

    def gate(m: date, r: ContributionRecord) -> tuple[str, str] | None:
        if not _covers(job.start, job.end, m):
            return "不在申请单位的用工期间内", "outside the employment with the applicant"
        return _term_gate(term, m) or _employer_paid(m, r)

    counted = _months(x, records, gate, _employer_share(x), B22_RATE_EMPLOYER, term.remaining, B22_NOT_BOTH)
    return Amounts.monthly(counted)


def small_firm_graduate(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = _person(case, x, B22_SMALL_FIRM)
    size = case.applicant.size
    x.check(
        "SMALL_OR_MICRO_FIRM",
        size in (EnterpriseSize.SMALL, EnterpriseSize.MICRO),
        f"申请单位规模为{size.value if size else '未知'}，本补贴限小微企业",
        f"the applicant is {size.value if size else 'of unknown size'}; only small and micro firms qualify",
        values={"size": size.value if size else "unknown"},
        basis=B22_SMALL_FIRM,
    )
    grad = case.one(Graduation, person.id)
    x.check(
        "GRADUATE",
        grad is not None,
        "须为高校毕业生（毕业证书）",
        "the person must be a graduate (diploma)",
        basis=B22_SMALL_FIRM,
    )
    assert grad is not None
    job = _employment(case, x, person, B22_SMALL_FIRM)
    window_end = add_years(grad.graduated_on, 2)
    x.check(
        "HIRED_WITHIN_TWO_YEARS",
        job.start <= window_end,
        f"毕业时间（毕业证发放时间）{grad.graduated_on.isoformat()}，招用于{job.start.isoformat()}；"
        "须为离校2年内未就业高校毕业生",
        f"graduated {grad.graduated_on.isoformat()}, hired {job.start.isoformat()}: must be hired within 2 years",
        values={"graduated_on": grad.graduated_on, "hired_on": job.start, "two_years_on": window_end},
        basis=B22_SCOPE,
    )
    used = sum(granted_months(g) for g in case.grants((SMALL_FIRM_GRADUATE,), person.id))
    remaining = SMALL_FIRM_MONTHS - used
    x.check(
        "TERM_REMAINING",
        remaining > 0,
        f"不同小微企业累计已享受{used}个月，累计不超过1年，尚余{max(remaining, 0)}个月",
        f"{used} month(s) already granted across small firms; 12 at most, {max(remaining, 0)} left",
        values={"months_used": used, "months_left": max(remaining, 0)},
        basis=B22_TERM_GRAD,
    )

    def gate(m: date, r: ContributionRecord) -> tuple[str, str] | None:
        if not _covers(job.start, job.end, m):
            return "不在申请单位的用工期间内", "outside the employment with the applicant"
        if m > window_end:
            return (
                f"毕业时间已满2年（{window_end.isoformat()}），不予补贴",
                f"more than 2 years after graduation ({window_end.isoformat()})",
            )
        return _employer_paid(m, r)

    counted = _months(x, _claimed(case, person), gate, _employer_share(x), B22_RATE_EMPLOYER, remaining, B22_TERM_GRAD)
    return Amounts.monthly(counted)


def _flexible_registration(
    case: Case, x: Explanation, person: Party, basis: LegalBasis
) -> FlexibleEmploymentRegistration:
    reg = case.one(FlexibleEmploymentRegistration, person.id)
    x.check(
        "FLEXIBLE_EMPLOYMENT_REGISTERED",
        reg is not None,
        "须进行灵活就业登记" + (f"（{reg.registered_on.isoformat()}登记）" if reg else ""),
        "flexible employment must be registered",
        values={"registered_on": reg.registered_on if reg else "none"},
        basis=basis,
    )
    assert reg is not None
    return reg


def flexible_hard_to_employ(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = _person(case, x, B22_FLEX_HTE)
    reg = _flexible_registration(case, x, person, B22_SCOPE)
    _recognised_hard_to_employ(
        case,
        x,
        person,
        ("flexible_registered_on", reg.registered_on),
        ("灵活就业登记时须为我省认定的就业困难人员", "：登记前未认定为就业困难人员"),
        "the person must have been recognised as hard to employ before registering flexible employment",
        B22_FLEX_HTE,
    )
    records = _claimed(case, person)
    term = _hte_term(case, x, person, [month_start(r.month) for r in records])

    def gate(m: date, r: ContributionRecord) -> tuple[str, str] | None:
        if not _covers(reg.registered_on, reg.ended_on, m):
            return "不在灵活就业登记期间内", "outside the registered flexible employment"
        return _term_gate(term, m) or _flexible_paid(m, r)

    amount = _flexible_amount(case, params, x, person, graduate=False)
    counted = _months(x, records, gate, amount, B22_RATE_FLEX, term.remaining, B22_NOT_BOTH)
    return Amounts.monthly(counted)


def flexible_graduate(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = _person(case, x, B22_FLEX_GRAD)
    grad = case.one(Graduation, person.id)
    x.check(
        "GRADUATE",
        grad is not None,
        "须为高校毕业生（毕业证书）",
        "the person must be a graduate (diploma)",
        basis=B22_FLEX_GRAD,
    )
    assert grad is not None
    reg = _flexible_registration(case, x, person, B22_SCOPE)
    window_end = add_years(grad.graduated_on, 2)
    used = sum(granted_months(g) for g in case.grants((FLEXIBLE_GRADUATE,), person.id))
    remaining = FLEXIBLE_GRADUATE_MONTHS - used
    x.check(
        "TERM_REMAINING",
        remaining > 0,
        f"已享受灵活就业社会保险补贴{used}个月，最长不超过2年，且至毕业时间满2年（{window_end.isoformat()}）为止",
        f"{used} month(s) already granted; 2 years at most, ending 2 years after graduation ({window_end.isoformat()})",
        values={"months_used": used, "months_left": max(remaining, 0), "two_years_on": window_end},
        basis=B22_TERM_GRAD,
    )

    def gate(m: date, r: ContributionRecord) -> tuple[str, str] | None:
        if not _covers(reg.registered_on, reg.ended_on, m):
            return "不在灵活就业登记期间内", "outside the registered flexible employment"
        if m > window_end:
            return (
                f"毕业时间已满2年（{window_end.isoformat()}），不予补贴",
                f"more than 2 years after graduation ({window_end.isoformat()})",
            )
        return _flexible_paid(m, r)

    amount = _flexible_amount(case, params, x, person, graduate=True)
    counted = _months(x, _claimed(case, person), gate, amount, B22_RATE_GRAD, remaining, B22_TERM_GRAD)
    return Amounts.monthly(counted)


def flexible_graduate_2020(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    """湘人社规〔2020〕4号 四: 40% of the person's actual contribution, at most 2 years."""
    person = _person(case, x, B4_FLEX)
    grad = case.one(Graduation, person.id)
    x.check("GRADUATE", grad is not None, "须为高校毕业生", "the person must be a graduate", basis=B4_FLEX)
    assert grad is not None
    reg = _flexible_registration(case, x, person, B4_FLEX)
    window_end = add_years(grad.graduated_on, 2)
    x.check(
        "FLEXIBLE_WITHIN_TWO_YEARS",
        reg.registered_on <= window_end,
        f"毕业（离校）于{grad.graduated_on.isoformat()}，灵活就业登记于{reg.registered_on.isoformat()}；"
        "须为离校2年内未就业高校毕业生灵活就业",
        f"graduated {grad.graduated_on.isoformat()}, flexible employment registered {reg.registered_on.isoformat()}: "
        "must be within 2 years of leaving school",
        values={"graduated_on": grad.graduated_on, "registered_on": reg.registered_on, "two_years_on": window_end},
        basis=B4_FLEX,
    )
    used = sum(granted_months(g) for g in case.grants((FLEXIBLE_GRADUATE,), person.id))
    remaining = FLEXIBLE_GRADUATE_MONTHS - used
    x.check(
        "TERM_REMAINING",
        remaining > 0,
        f"已享受{used}个月，补贴期限最长不超过2年",
        f"{used} month(s) already granted; 2 years at most",
        values={"months_used": used, "months_left": max(remaining, 0)},
        basis=B4_FLEX,
    )

    def gate(m: date, r: ContributionRecord) -> tuple[str, str] | None:
        if not _covers(reg.registered_on, reg.ended_on, m):
            return "不在灵活就业登记期间内", "outside the registered flexible employment"
        if not r.as_flexible_worker or not (r.pension or r.medical):
            return "未以灵活就业人员身份缴纳社会保险费", "no contribution paid as a flexible worker"
        return None

    counted = _months(x, _claimed(case, person), gate, lambda m, r: (Decimal("0"), {}), B4_FLEX, remaining, B4_FLEX)
    review(
        x,
        "ACTUAL_CONTRIBUTION_NOT_RECORDED",
        f"补贴标准为个人实际缴费的40%，个人实际缴费金额未记录；可补贴{len(counted)}个月"
        f"（{counted[0][0]:%Y年%m月}至{counted[-1][0]:%Y年%m月}），需人工核定金额",
        f"the subsidy is 40% of the person's actual contribution, which is not recorded; {len(counted)} month(s) "
        "qualify: a caseworker must compute the amount",
        B4_FLEX,
        {"months": len(counted), "share": SHARE_2020},
    )


# ------------------------------------------------------------------------------------------- the packs
def _submitted(case: Case) -> date:
    """The rules in force when the claim is submitted (先缴后补: it is decided on receipt)."""
    return case.submitted_on


_FROM_22 = date(2021, 1, 1)
_TO_22 = date(2025, 12, 31)

PACKS = (
    RulePack(
        programme_id=EMPLOYER_HTE,
        version="2021.22",
        title_zh="企业（单位）吸纳就业困难人员社会保险补贴",
        title_en="SI subsidy for employers hiring hard-to-employ persons (Hunan)",
        jurisdiction="43",
        effective_from=_FROM_22,
        effective_to=_TO_22,
        legal_basis=(B22_EMPLOYER, B22_SCOPE, B22_TERM, B22_NOT_BOTH, B22_RATE_EMPLOYER, B22_NOTICE_UNIT),
        applicant_kinds=(ApplicantKind.ENTERPRISE, ApplicantKind.INSTITUTION),
        facts_needed=("employment", "contribution", "unemployment_registration", "retirement_profile"),
        fund_code="employment-subsidy-fund",
        rules=employer_hard_to_employ,
        public_notice=PublicNotice(7, working_days=True, basis=B22_NOTICE_UNIT),
        exclusive_with=(FLEXIBLE_HTE, PUBLIC_WELFARE_POST),
        evaluation_date=_submitted,
    ),
    RulePack(
        programme_id=SMALL_FIRM_GRADUATE,
        version="2021.22",
        title_zh="小微企业吸纳离校2年内未就业高校毕业生社会保险补贴",
        title_en="SI subsidy for small and micro firms hiring recent graduates (Hunan)",
        jurisdiction="43",
        effective_from=_FROM_22,
        effective_to=_TO_22,
        legal_basis=(B22_SMALL_FIRM, B22_SCOPE, B22_TERM_GRAD, B22_RATE_EMPLOYER, B22_NOTICE_UNIT),
        applicant_kinds=(ApplicantKind.ENTERPRISE,),
        facts_needed=("employment", "contribution", "graduation"),
        fund_code="employment-subsidy-fund",
        rules=small_firm_graduate,
        public_notice=PublicNotice(7, working_days=True, basis=B22_NOTICE_UNIT),
        exclusive_with=(FLEXIBLE_GRADUATE,),
        evaluation_date=_submitted,
    ),
    RulePack(
        programme_id=FLEXIBLE_HTE,
        version="2021.22",
        title_zh="就业困难人员灵活就业社会保险补贴",
        title_en="SI subsidy for hard-to-employ flexible workers (Hunan)",
        jurisdiction="43",
        effective_from=_FROM_22,
        effective_to=_TO_22,
        legal_basis=(B22_FLEX_HTE, B22_SCOPE, B22_TERM, B22_NOT_BOTH, B22_RATE_FLEX, B22_NOTICE_PERSON),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("flexible_employment", "contribution", "unemployment_registration", "retirement_profile"),
        fund_code="employment-subsidy-fund",
        rules=flexible_hard_to_employ,
        parameters=(AVERAGE_WAGE,),
        public_notice=PublicNotice(7, working_days=True, basis=B22_NOTICE_PERSON),
        exclusive_with=(EMPLOYER_HTE, PUBLIC_WELFARE_POST),
        evaluation_date=_submitted,
    ),
    RulePack(
        programme_id=FLEXIBLE_GRADUATE,
        version="2020.4",
        title_zh="离校2年内未就业高校毕业生灵活就业社会保险补贴（湘人社规〔2020〕4号）",
        title_en="SI subsidy for graduate flexible workers (Hunan, 2020 graduate measures)",
        jurisdiction="43",
        effective_from=date(2020, 2, 22),
        effective_to=date(2020, 12, 31),
        legal_basis=(B4_FLEX, B4_VALIDITY),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("flexible_employment", "contribution", "graduation"),
        fund_code="employment-subsidy-fund",
        rules=flexible_graduate_2020,
        evaluation_date=_submitted,
    ),
    RulePack(
        programme_id=FLEXIBLE_GRADUATE,
        version="2021.22",
        title_zh="离校2年内未就业高校毕业生灵活就业社会保险补贴",
        title_en="SI subsidy for graduate flexible workers (Hunan)",
        jurisdiction="43",
        effective_from=_FROM_22,
        effective_to=_TO_22,
        legal_basis=(B22_FLEX_GRAD, B22_SCOPE, B22_TERM_GRAD, B22_RATE_GRAD, B22_NOTICE_PERSON),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("flexible_employment", "contribution", "graduation"),
        fund_code="employment-subsidy-fund",
        rules=flexible_graduate,
        parameters=(AVERAGE_WAGE,),
        public_notice=PublicNotice(7, working_days=True, basis=B22_NOTICE_PERSON),
        exclusive_with=(SMALL_FIRM_GRADUATE,),
        evaluation_date=_submitted,
    ),
)
