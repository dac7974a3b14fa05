"""Hunan one-off hiring subsidy (一次性吸纳就业补贴), 1000 yuan per person hired, paid to the enterprise.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extraction shared/policy/seed003-C.md C02, C19, C25, §6.2):
- 湘人社规〔2020〕2号 三 (L4165), in force 2020-02-21 (L4147): 「疫情防控期间，对企业吸纳登记失业人员就业且签订1年以上
  劳动合同并按规定缴纳社会保险的（经批准可缓缴的企业在申请此项补贴时可视为按规定缴纳了社会保险费），可给予1000元/人的
  一次性吸纳就业补贴……一次性吸纳就业补贴与一次性岗位补贴不重复享受」.
- 湘人社规〔2020〕4号 二 (L4209), 2020-02-22 (L4199) to 2020-12-31 (L4233): 「中小微企业吸纳高校毕业生稳定就业1年以上
  并按规定缴纳社会保险的可按1000元/人的标准给予其一次性吸纳就业补贴」.
- 湘政办发〔2020〕20号 二（三） (L4089), 2020-04-28 (L4071): 「对企业吸纳登记失业半年以上人员或中小微企业招用毕业年度
  高校毕业生就业，且签订1年以上劳动合同并按规定缴纳社会保险的，可给予1000元/人的一次性吸纳就业补贴，受理截止期限为
  2020年12月31日」; earlier epidemic measures inconsistent with it follow it (L4135).

Versions, chosen by the hire date (EmploymentRecord.start with the applicant as employer):
- 2020.1 (hires 2020-02-21 .. 2020-04-27): 2号 (any registered unemployed person, any enterprise) and, for hires from
  2020-02-22, 4号 (a small, medium or micro enterprise hiring a university graduate, no graduation-year limit).
- 2020.2 (hires 2020-04-28 .. 2020-12-31): 20号 only, which prevails: registered unemployed for at least half a
  year at the hire, or a graduate of the graduation year (the calendar year of the diploma is the year of the hire)
  hired by a small, medium or micro enterprise.
- No version after 2020-12-31: the intake deadline of 20号 ends the subsidy for every version (2号's 「疫情防控期间」
  has no end date, and 20号 prevails over it).

Interpretations (also in docs/policy-decisions.md):
- The version is that of the hire, not of the application: 20号 governs hires from its issue date and does not
  reach back to hires completed under 2号 and 4号 (no retroactive tightening).
- 「签订1年以上劳动合同」 and 4号's 「稳定就业1年以上」 are both read as a labour contract of at least one year
  (EmploymentRecord.contract_years >= 1; a term of 11 months is recorded as 0 years). 「以上」 includes the figure.
- 「登记失业人员」: an unemployment registration in force on the day before the hire. 「半年以上」: registered at least
  six months before the hire day (registered 2019-10-28, hired 2020-04-28 qualifies; registered a day later does
  not).
- 「按规定缴纳社会保险」: at least one month from the hire month to the application with pension, medical and
  unemployment insurance paid for the person by an employer (not as a flexible worker). When none is recorded the
  case goes to a caseworker (SI_NOT_SHOWN): 2号 deems an enterprise with an approved deferral (缓缴) to have paid,
  and no fact records such an approval. The deeming rule is kept under 20号, which does not contradict it.
- 中小微企业: the applicant's recorded size micro, small or medium; an unrecorded size does not show it.
- The subsidy is once per person per enterprise; one-off post subsidy (hn.one-off-post-subsidy) grants for the same
  person exclude it (engine check NOT_COMBINED).
- Applications are accepted until 2020-12-31 (20号) for both versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, EnterpriseSize, LegalBasis
from subsidy_contracts.facts import ContributionRecord, EmploymentRecord, Graduation

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RuleFunction, RulePack
from ._hn_employment import (
    D1_HIRING,
    D1_PRECEDENCE,
    D2_HIRING,
    D3_HIRING,
    HIGHER_EDUCATION,
    add_months,
    has,
    month_start,
    registered_unemployed_on,
    review,
)

PROGRAMME = "hn.one-off-hiring-subsidy"
POST_SUBSIDY = "hn.one-off-post-subsidy"
AMOUNT = Decimal("1000.00")
INTAKE_DEADLINE = date(2020, 12, 31)
SME = frozenset({EnterpriseSize.MICRO, EnterpriseSize.SMALL, EnterpriseSize.MEDIUM})


@dataclass(frozen=True)
class Terms:
    unemployed_months: int  # 0: any registered unemployed person; 6: registered half a year or more
    graduate_from: date  # first hire date the graduate route applies to
    graduation_year_only: bool  # 20号: 毕业年度高校毕业生
    unemployed_basis: LegalBasis
    graduate_basis: LegalBasis
    contract_basis: LegalBasis


def hire_record(case: Case) -> EmploymentRecord | None:
    """The person's employment with the applicant (the latest, when several are recorded)."""
    person = case.beneficiary
    if person is None:
        return None
    records = [r for r in case.facts_of(EmploymentRecord, person.id) if r.employer_id == case.applicant.id]
    return max(records, key=lambda r: r.start) if records else None


def _unemployed_route(case: Case, hire: date, terms: Terms) -> tuple[bool, dict[str, object]]:
    person = case.beneficiary
    assert person is not None
    reg = registered_unemployed_on(case, person.id, hire - timedelta(days=1))
    if reg is None:
        return False, {"registered_unemployed": False}
    enough = add_months(reg.registered_on, terms.unemployed_months) <= hire
    return enough, {"registered_unemployed": True, "registered_on": reg.registered_on}


def _graduate_route(case: Case, hire: date, terms: Terms) -> tuple[bool, dict[str, object]]:
    person = case.beneficiary
    assert person is not None
    size = case.applicant.size
    sme = size in SME
    grads = [g for g in case.facts_of(Graduation, person.id) if g.education_level in HIGHER_EDUCATION]
    if terms.graduation_year_only:
        grads = [g for g in grads if g.graduated_on.year == hire.year]
    in_force = hire >= terms.graduate_from
    values: dict[str, object] = {
        "enterprise_size": size.value if size else "unknown",
        "university_graduate": bool(grads),
        "graduate_route_in_force": in_force,
    }
    if grads:
        values["graduated_on"] = grads[-1].graduated_on
    return in_force and sme and bool(grads), values


def _rules(terms: Terms) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        person = case.beneficiary
        x.check(
            "EMPLOYEE_NAMED",
            person is not None,
            has(person is not None, "被吸纳就业的人员"),
            "the application must name the person hired",
            basis=terms.contract_basis,
        )
        assert person is not None
        record = hire_record(case)
        x.check(
            "EMPLOYMENT_RECORD",
            record is not None,
            has(record is not None, "该人员在申请企业的就业（劳动合同）记录"),
            "no employment record of the person with the applicant enterprise",
            basis=terms.contract_basis,
        )
        assert record is not None
        hire = record.start
        x.check(
            "INTAKE_DEADLINE",
            case.submitted_on <= INTAKE_DEADLINE,
            f"申请日期{case.submitted_on.isoformat()}，受理截止期限为2020年12月31日",
            f"submitted {case.submitted_on.isoformat()}; applications are accepted until 2020-12-31",
            values={"submitted_on": case.submitted_on, "deadline": INTAKE_DEADLINE},
            basis=D1_HIRING,
        )
        unemployed, u_values = _unemployed_route(case, hire, terms)
        graduate, g_values = _graduate_route(case, hire, terms)
        need = (
            "登记失业人员（被吸纳前一日失业登记有效）"
            if terms.unemployed_months == 0
            else f"登记失业{terms.unemployed_months}个月（半年）以上人员"
        )
        grad_text = "毕业年度高校毕业生" if terms.graduation_year_only else "高校毕业生"
        x.check(
            "TARGET_GROUP",
            unemployed or graduate,
            f"于{hire.isoformat()}吸纳：须为{need}，或中小微企业招用的{grad_text}；"
            + ("符合登记失业条件" if unemployed else "不符合登记失业条件")
            + "，"
            + ("符合高校毕业生条件" if graduate else "不符合中小微企业招用高校毕业生条件"),
            f"hired {hire.isoformat()}: must be "
            + (
                "a registered unemployed person"
                if terms.unemployed_months == 0
                else f"registered unemployed for at least {terms.unemployed_months} months"
            )
            + f", or a {'graduation-year ' if terms.graduation_year_only else ''}university graduate hired by an SME",
            values={"hired_on": hire, **u_values, **g_values},
            basis=terms.unemployed_basis if unemployed or not graduate else terms.graduate_basis,
        )
        years = record.contract_years
        x.check(
            "CONTRACT_TERM",
            years is not None and years >= 1,
            f"劳动合同期限{'未记录' if years is None else f'{years}年'}，须签订1年以上劳动合同",
            f"labour contract term {'not recorded' if years is None else f'{years} year(s)'}; at least 1 year needed",
            values={"contract_years": "none" if years is None else years},
            basis=terms.contract_basis,
        )
        paid = [
            c
            for c in case.facts_of(ContributionRecord, person.id)
            if month_start(hire) <= c.month <= case.submitted_on
            and c.pension
            and c.medical
            and c.unemployment
            and not c.as_flexible_worker
        ]
        if not paid:
            review(
                x,
                "SI_NOT_SHOWN",
                f"未见{hire:%Y年%m月}以来单位为该人员缴纳养老、医疗、失业保险的记录；经批准缓缴的企业可视为已按规定缴费，"
                "缓缴批准情况无记录，需人工核定",
                "no month since the hire shows pension, medical and unemployment insurance paid by an employer; an "
                "enterprise with an approved deferral counts as having paid, which no fact records",
                D2_HIRING,
                values={"hired_on": hire, "months_paid": 0},
            )
        x.check(
            "SOCIAL_INSURANCE_PAID",
            True,
            f"单位已为该人员缴纳社会保险{len(paid)}个月（首月{min(c.month for c in paid):%Y年%m月}）",
            f"employer contributions paid for {len(paid)} month(s)",
            values={"months_paid": len(paid), "first_month": min(c.month for c in paid)},
            basis=terms.contract_basis,
        )
        employer = str(case.applicant.id)
        earlier = [g for g in case.grants([PROGRAMME], person.id) if g.attribute("employer_id") == employer]
        x.check(
            "ONCE_PER_HIRE",
            not earlier,
            "同一企业吸纳同一人员只能享受一次" + ("，已享受" if earlier else ""),
            "once per person per enterprise" + (": already granted" if earlier else ""),
            values={"earlier_grants": len(earlier)},
            basis=D2_HIRING,
        )
        x.attributes["employer_id"] = employer
        x.attributes["hired_on"] = hire.isoformat()
        x.note(
            "AMOUNT",
            f"一次性吸纳就业补贴{AMOUNT}元/人",
            f"one-off hiring subsidy {AMOUNT} per person",
            values={"amount": AMOUNT},
            basis=terms.contract_basis,
        )
        return Amounts.one_off(AMOUNT, case.submitted_on, hire, hire)

    return rules


def _evaluation_date(case: Case) -> date:
    """The hire date: the rules in force when the enterprise took the person on."""
    record = hire_record(case)
    if record is not None:
        return record.start
    return case.period.end if case.period else case.submitted_on


def _pack(version: str, start: date, end: date, basis: tuple[LegalBasis, ...], terms: Terms) -> RulePack:
    return RulePack(
        programme_id=PROGRAMME,
        version=version,
        title_zh="一次性吸纳就业补贴",
        title_en="One-off hiring subsidy",
        jurisdiction="43",
        effective_from=start,
        effective_to=end,
        legal_basis=basis,
        applicant_kinds=(ApplicantKind.ENTERPRISE,),
        facts_needed=("employment", "contribution", "unemployment_registration", "graduation"),
        fund_code="employment-subsidy-fund",
        rules=_rules(terms),
        exclusive_with=(POST_SUBSIDY,),
        evaluation_date=_evaluation_date,
    )


PACKS = (
    _pack(
        "2020.1",
        date(2020, 2, 21),
        date(2020, 4, 27),
        (D2_HIRING, D3_HIRING, D1_HIRING),
        Terms(
            unemployed_months=0,
            graduate_from=date(2020, 2, 22),
            graduation_year_only=False,
            unemployed_basis=D2_HIRING,
            graduate_basis=D3_HIRING,
            contract_basis=D2_HIRING,
        ),
    ),
    _pack(
        "2020.2",
        date(2020, 4, 28),
        date(2020, 12, 31),
        (D1_HIRING, D1_PRECEDENCE, D2_HIRING),
        Terms(
            unemployed_months=6,
            graduate_from=date(2020, 4, 28),
            graduation_year_only=True,
            unemployed_basis=D1_HIRING,
            graduate_basis=D1_HIRING,
            contract_basis=D1_HIRING,
        ),
    ),
)
