"""Hunan on-the-job training subsidy (以工代训补贴), 500 yuan per trainee per month for at most 6 months, paid monthly
to the enterprise (or farmers' cooperative or poverty workshop) that hired the trainee.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extraction shared/policy/seed003-C.md C21, C35, C46, §6.3):
- 湘人社规〔2020〕2号 五 (L4169), in force 2020-02-21 (L4147): 「实施职业技能提升行动期间，对参保企业吸纳就业困难人员、
  零就业家庭成员就业并开展以工代训的，经人力资源社会保障部门审核后，给予企业每人每月500元的培训补贴，补贴期限最长不超过
  6个月」.
- 湘人社规〔2020〕5号 二 (L4257), 2020-03-11 (L4245): 「企业、农村专业合作社和扶贫车间等各类生产经营主体吸纳贫困劳动力
  就业，以及参保企业吸纳就业困难人员、零就业家庭成员就业按规定缴纳社会保险并开展以工代训的……给予企业每人每月500元的培训
  补贴，补贴期限最长不超过6个月」; valid 1 year 「其中国家、省有明确时限规定的，从其规定」 (L4277).
- 湘人社规〔2020〕6号 一（七） (L4303), 2020-03-23 to 2021-12-31 (L4339): the same two groups, 「最长不超过6个月的一次性
  职业培训补贴，具体期限由各市结合当地专账资金承受能力确定。以工代训与岗位技能提升培训、企业新型学徒制培训等职业培训补贴在
  同一职业同一等级一年内不可重复享受」.
- 人社部函〔2020〕48号 四（一） (L8014) and 人社厅明电〔2020〕29号 一 (L8609): the 以工代训 policy for poor labour and
  insured enterprises runs for the skills-upgrading action (职业技能提升行动方案（2019—2021年）, L8105).

Versions, chosen by the start of the 以工代训 (TrainingRecord of type on_the_job, the applicant as employer):
- 2020.1 (2020-02-21 .. 2020-03-10): 2号: hard-to-employ persons and zero-employment-family members, social
  insurance paid.
- 2020.2 (2020-03-11 .. 2020-03-22): adds 5号's poor labour (建档立卡贫困劳动力), with no social-insurance condition.
- 2020.3 (2020-03-23 .. 2021-12-31): adds 6号's rule that the same occupation and level is not subsidised twice
  within a year together with other training subsidies; cities may set a term shorter than 6 months.

Interpretations (also in docs/policy-decisions.md):
- The 500 yuan monthly rate of 2号 and 5号 is kept under 6号, which restates the groups and the 6-month ceiling
  but no rate; 5号's 1-year validity yields to the national term of the action (its own 「从其规定」 clause), so
  the rate applies to 2021-12-31. Applications are accepted until 2021-12-31.
- The term is hn_on_the_job_training_max_months (parameters/hunan_employment.yaml): 6 months province-wide; a city
  that set a shorter term is entered under its own code with its source.
- A month of 以工代训 is a whole month counted from the training start (15 April to 14 May ...), within the
  training (to completed_on, else the claimed period's end, else the application date) and within the policy
  (months ending after 2021-12-31 are not subsidised). The subsidy period is the first months of the training,
  up to the term; months an earlier grant already covered are skipped and count towards the term.
- The social-insurance condition (「参保企业」「按规定缴纳社会保险」) applies to hard-to-employ and zero-employment-family
  trainees: a month is paid only when pension, medical and unemployment insurance were paid by an employer for the
  calendar month it starts in. 5号 states no such condition for poor labour, so none is applied to them.
- 贫困劳动力: PovertyStatus 建档立卡贫困 (registered_poor). 零就业家庭成员: PovertyStatus zero_employment_family.
  就业困难人员: an unemployment registration recognised as hard-to-employ, in force on the day before the hire. The
  status must hold at the hire (EmploymentRecord.start with the applicant).
- 「同一职业同一等级一年内不可重复享受」: an earlier on-the-job grant of another employer, or a vocational-training grant
  (hn.vocational-training-subsidy), for the same occupation and level, dated (its end, else its decision) less than
  one year from the start of this training. Grants of the same employer are months of the same 以工代训 (above).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import (
    ContributionRecord,
    EmploymentRecord,
    PovertyCategory,
    PovertyStatus,
    TrainingRecord,
    TrainingType,
)

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, Grant, RuleFunction, RulePack
from ._hn_employment import (
    D2_ON_THE_JOB,
    D4_EMPLOYERS,
    D5_ON_THE_JOB,
    D5_VALIDITY,
    add_months,
    grant_date,
    has,
    level_zh,
    month_start,
    registered_unemployed_on,
    within_a_year,
    ym,
)

PROGRAMME = "hn.on-the-job-training-subsidy"
VOCATIONAL_TRAINING = "hn.vocational-training-subsidy"
MONTHLY = Decimal("500.00")
POLICY_END = date(2021, 12, 31)


@dataclass(frozen=True)
class Terms:
    poor_labour: bool  # 5号: poor labour hired by any business entity
    same_skill_cap: bool  # 6号: not twice for the same occupation and level within a year
    basis: LegalBasis  # the document stating the groups and the amount


def training_of(case: Case) -> TrainingRecord | None:
    person = case.beneficiary
    if person is None:
        return None
    found = [
        t
        for t in case.facts_of(TrainingRecord, person.id)
        if t.training_type is TrainingType.ON_THE_JOB and t.employer_id == case.applicant.id
    ]
    return max(found, key=lambda t: t.start) if found else None


def _employment(case: Case, on: date) -> EmploymentRecord | None:
    person = case.beneficiary
    assert person is not None
    found = [
        r
        for r in case.facts_of(EmploymentRecord, person.id)
        if r.employer_id == case.applicant.id and r.start <= on and (r.end is None or r.end >= on)
    ]
    return max(found, key=lambda r: r.start) if found else None


def _poverty(case: Case, category: PovertyCategory, on: date) -> bool:
    person = case.beneficiary
    assert person is not None
    return any(p.category is category and p.since <= on for p in case.facts_of(PovertyStatus, person.id))


def _whole_months(start: date, end: date, limit: int) -> list[tuple[date, date]]:
    """Up to `limit` whole months counted from `start` that end on or before `end`."""
    out = []
    for k in range(limit):
        first = add_months(start, k)
        last = add_months(start, k + 1) - timedelta(days=1)
        if last > end:
            break
        out.append((first, last))
    return out


def _granted_months(grant: Grant) -> int:
    recorded = grant.attribute("months")
    if recorded is not None:
        return int(recorded)
    if grant.start is None or grant.end is None:
        return 0
    return (grant.end.year - grant.start.year) * 12 + grant.end.month - grant.start.month + 1


def _si_paid(case: Case, month: date) -> bool:
    person = case.beneficiary
    assert person is not None
    return any(
        c.month == month and c.pension and c.medical and c.unemployment and not c.as_flexible_worker
        for c in case.facts_of(ContributionRecord, person.id)
    )


def _rules(terms: Terms) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        person = case.beneficiary
        x.check(
            "TRAINEE_NAMED",
            person is not None,
            has(person is not None, "以工代训人员"),
            "the application must name the trainee",
            basis=terms.basis,
        )
        assert person is not None
        training = training_of(case)
        x.check(
            "TRAINING_RECORD",
            training is not None,
            has(training is not None, "申请单位组织该人员以工代训的记录"),
            "no on-the-job training of the person organised by the applicant",
            basis=terms.basis,
        )
        assert training is not None
        x.check(
            "APPLICATION_DEADLINE",
            case.submitted_on <= POLICY_END,
            f"申请日期{case.submitted_on.isoformat()}；以工代训政策执行至职业技能提升行动结束（2021年12月31日）",
            f"submitted {case.submitted_on.isoformat()}; the policy runs to the end of the skills action, 2021-12-31",
            values={"submitted_on": case.submitted_on, "deadline": POLICY_END},
            basis=D5_VALIDITY,
        )
        employment = _employment(case, training.start)
        x.check(
            "EMPLOYED_BY_APPLICANT",
            employment is not None,
            "以工代训开始时该人员" + ("已" if employment is not None else "未") + "被申请单位吸纳就业",
            "the trainee must be employed by the applicant when the training starts",
            values={"training_start": training.start},
            basis=terms.basis,
        )
        assert employment is not None
        hire = employment.start
        poor = terms.poor_labour and _poverty(case, PovertyCategory.REGISTERED_POOR, hire)
        zero = _poverty(case, PovertyCategory.ZERO_EMPLOYMENT_FAMILY, hire)
        reg = registered_unemployed_on(case, person.id, hire - timedelta(days=1))
        hard = reg is not None and reg.hard_to_employ
        groups = [g for g, ok in (("贫困劳动力", poor), ("零就业家庭成员", zero), ("就业困难人员", hard)) if ok]
        allowed = "贫困劳动力、就业困难人员或零就业家庭成员" if terms.poor_labour else "就业困难人员或零就业家庭成员"
        x.check(
            "TARGET_GROUP",
            bool(groups),
            f"吸纳对象须为{allowed}；该人员于{hire.isoformat()}被吸纳时"
            + ("为" + "、".join(groups) if groups else "不属于上述人员"),
            "the trainee must be "
            + ("poor labour, " if terms.poor_labour else "")
            + "a hard-to-employ person or a member of a zero-employment family when hired",
            values={"hired_on": hire, "poor_labour": poor, "zero_employment_family": zero, "hard_to_employ": hard},
            basis=terms.basis,
        )
        insured_route = not poor  # 5号 asks social insurance of the hard-to-employ and zero-employment groups only
        if terms.same_skill_cap:
            level = training.level.value if training.level else ""
            employer = str(case.applicant.id)
            clashes = [
                g
                for g in case.grants([PROGRAMME, VOCATIONAL_TRAINING], person.id)
                if not (g.programme_id == PROGRAMME and g.attribute("employer_id") == employer)
                and g.attribute("occupation") == training.occupation
                and (g.attribute("level") or "") == level
                and within_a_year(grant_date(g), training.start)
            ]
            x.check(
                "SAME_SKILL_NOT_REPEATED",
                not clashes,
                f"职业（工种）{training.occupation}、等级{level_zh(training.level)}"
                + ("一年内已享受职业培训补贴或以工代训补贴，不可重复享受" if clashes else "一年内未享受过培训补贴"),
                f"occupation {training.occupation}, level {level or 'none'}: "
                + ("already subsidised within a year" if clashes else "not subsidised within a year"),
                values={"occupation": training.occupation, "level": level or "none", "earlier_grants": len(clashes)},
                basis=D5_ON_THE_JOB,
            )
        term = int(x.parameter(params, "hn_on_the_job_training_max_months", training.start, case.applicant.region_code))
        employer = str(case.applicant.id)
        earlier = [g for g in case.grants([PROGRAMME], person.id) if g.attribute("employer_id") == employer]
        used = sum(_granted_months(g) for g in earlier)
        end = training.completed_on or (case.period.end if case.period else case.submitted_on)
        end = min(end, POLICY_END)
        months = _whole_months(training.start, end, term)
        x.check(
            "TERM",
            used < term,
            f"补贴期限最长{term}个月，已享受{used}个月；以工代训自{training.start.isoformat()}起至{end.isoformat()}"
            f"计{len(months)}个整月",
            f"at most {term} months; {used} already granted; {len(months)} whole month(s) from "
            f"{training.start.isoformat()} to {end.isoformat()}",
            values={"term_months": term, "months_used": used, "whole_months": len(months)},
            basis=D5_ON_THE_JOB if terms.same_skill_cap else terms.basis,
        )
        remaining = term - used
        paid: list[tuple[date, date, Decimal]] = []
        for first, last in months:
            if any(g.start is not None and g.end is not None and g.start <= first <= g.end for g in earlier):
                x.note(
                    f"MONTH_{ym(first)}",
                    f"{first.isoformat()}至{last.isoformat()}已享受补贴，不重复计算",
                    f"{first.isoformat()} to {last.isoformat()} already granted",
                    values={"from": first, "to": last},
                    basis=terms.basis,
                )
                continue
            if len(paid) >= remaining:
                break
            insured = not insured_route or _si_paid(case, month_start(first))
            x.check(
                f"MONTH_{ym(first)}",
                insured,
                f"{first.isoformat()}至{last.isoformat()}"
                + (
                    ("，单位已为其缴纳社会保险" if insured_route else "") + f"，补贴{MONTHLY}元"
                    if insured
                    else f"，{first:%Y年%m月}未见单位缴纳养老、医疗、失业保险，不予补贴"
                ),
                f"{first.isoformat()} to {last.isoformat()}: "
                + (f"{MONTHLY}" if insured else "no employer social insurance that month, not subsidised"),
                values={"from": first, "to": last, "social_insurance_required": insured_route, "amount": MONTHLY},
                basis=terms.basis,
                stop=False,
            )
            if insured:
                paid.append((first, last, MONTHLY))
        x.check(
            "MONTHS_SUBSIDISED",
            bool(paid),
            f"补贴{len(paid)}个月，每人每月{MONTHLY}元",
            f"{len(paid)} month(s) at {MONTHLY} a month",
            values={"months": len(paid), "monthly": MONTHLY},
            basis=terms.basis,
        )
        x.attributes["occupation"] = training.occupation
        x.attributes["level"] = training.level.value if training.level else ""
        x.attributes["employer_id"] = employer
        x.attributes["months"] = str(len(paid))
        return Amounts.monthly(paid)

    return rules


def _evaluation_date(case: Case) -> date:
    """The start of the 以工代训: the rules in force when the training began."""
    training = training_of(case)
    if training is not None:
        return training.start
    return case.period.start if case.period else case.submitted_on


def _pack(version: str, start: date, end: date, basis: tuple[LegalBasis, ...], terms: Terms) -> RulePack:
    return RulePack(
        programme_id=PROGRAMME,
        version=version,
        title_zh="以工代训补贴",
        title_en="On-the-job training subsidy",
        jurisdiction="43",
        effective_from=start,
        effective_to=end,
        legal_basis=basis,
        applicant_kinds=(ApplicantKind.ENTERPRISE,),
        facts_needed=("training", "employment", "contribution", "poverty_status", "unemployment_registration"),
        fund_code="skills-upgrading-account",
        parameters=("hn_on_the_job_training_max_months",),
        rules=_rules(terms),
        evaluation_date=_evaluation_date,
    )


PACKS = (
    _pack(
        "2020.1",
        date(2020, 2, 21),
        date(2020, 3, 10),
        (D2_ON_THE_JOB,),
        Terms(poor_labour=False, same_skill_cap=False, basis=D2_ON_THE_JOB),
    ),
    _pack(
        "2020.2",
        date(2020, 3, 11),
        date(2020, 3, 22),
        (D4_EMPLOYERS, D2_ON_THE_JOB),
        Terms(poor_labour=True, same_skill_cap=False, basis=D4_EMPLOYERS),
    ),
    _pack(
        "2020.3",
        date(2020, 3, 23),
        POLICY_END,
        (D5_ON_THE_JOB, D4_EMPLOYERS, D2_ON_THE_JOB, D5_VALIDITY),
        Terms(poor_labour=True, same_skill_cap=True, basis=D4_EMPLOYERS),
    ),
)
