"""Hunan internship subsidy (就业见习补贴) paid to the host unit, per intern, in 2020.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extraction shared/policy/seed003-C.md C09, C30, C33):
- 湘人社规〔2020〕4号 九 (L4229): 「对见习期满留用见习人员达到50%的单位，见习补贴标准提高至当地最低工资标准的120%」;
  in force from publication, 2020-02-22 (L4199), 「执行到2020年12月31日止」 (L4233).
- 湘人社规〔2020〕5号 二 (L4257), 2020-03-11 (L4245): 「对吸纳16—24岁失业青年参加就业见习的单位，按规定给予就业见习
  补贴」.
- 湘政办发〔2020〕20号 四（十） (L4113), 2020-04-28 (L4071): 「对见习期未满与高校毕业生签订劳动合同的，给予见习单位
  剩余期限见习补贴，受理截止期限为2020年12月31日」.
- Monthly minimum wage: parameters/minimum_wage.yaml (minimum_wage_monthly) at the host unit's region.

The structure follows the Shanxi pack (sx_internship.py) and its facts: InternshipRecord (the intern's agreement
and months), InternshipCohort (the unit's interns and how many it kept), Graduation, UnemploymentRegistration.

Versions, chosen by the end of the internship agreement (the retention that raises the rate is counted then):
- 2020.1 (agreements ending 2020-02-22 .. 2020-03-10): 4号, university graduates.
- 2020.2 (.. 2020-04-27): adds 5号's unemployed youth aged 16–24.
- 2020.3 (.. 2020-12-31): adds 20号's remaining-period subsidy when a graduate signs a labour contract early.

Interpretations (also in docs/policy-decisions.md):
- 「达到50%」 includes 50% (5 of 10 kept qualifies, 49 of 100 does not). Retention is interns_retained /
  interns_completed of the unit's latest cohort; no cohort, or none completed, is no retention shown.
- Below 50% the base rate applies, which no document in the compilation states (Hunan's general internship rules
  are outside it). The base rate is the parameter hn_internship_base_rate, which has no sourced value: such cases go
  to a caseworker (PARAMETER_NOT_COVERED), after a RETENTION_BELOW_HALF condition saying why.
- Interns: university graduates (大专 and above) whose diploma predates the internship; from 2020-03-11 also persons
  aged 16–24 at the start who are registered unemployed on the start day. The compilation sets no limit on the
  years since graduation (the national 「离校2年内」 is not in it), so none is applied.
- A month counts when it lies within the agreement and the intern attended at least one working day; the
  compilation has no attendance threshold and no duty on the allowance (unlike the Shanxi notice), so neither is
  checked. The subsidy of a month is the minimum wage of the host region for that month times the rate.
- Remaining-period subsidy (20号): for a graduate who signed a labour contract before the agreement ended, the
  calendar months after the month of signing up to the agreement's last month that were not already counted are
  paid at the same rate; only in version 2020.3.
- Applications are accepted until 2020-12-31 (4号's term; 20号's intake deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import Graduation, InternshipCohort, InternshipRecord

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RuleFunction, RulePack, yuan
from ._hn_employment import (
    D1_INTERNSHIP,
    D3_INTERNSHIP,
    D3_VALIDITY,
    D4_EMPLOYERS,
    HIGHER_EDUCATION,
    add_months_first,
    has,
    month_start,
    registered_unemployed_on,
    ym,
)

PROGRAMME = "hn.internship-subsidy"
RAISED_RATE = Decimal("1.20")
HALF = Decimal("0.5")
INTAKE_DEADLINE = date(2020, 12, 31)


@dataclass(frozen=True)
class Terms:
    youth: bool  # 5号: unemployed youth aged 16-24
    remaining_period: bool  # 20号: remaining-period subsidy after an early labour contract


def retention_rate(cohort: InternshipCohort | None) -> Decimal | None:
    if cohort is None or cohort.interns_completed == 0:
        return None
    return Decimal(cohort.interns_retained) / Decimal(cohort.interns_completed)


def _target_group(case: Case, x: Explanation, record: InternshipRecord, terms: Terms) -> bool:
    """Checks the intern; returns whether the intern is a university graduate."""
    intern = case.beneficiary
    assert intern is not None
    start = record.agreement_start
    age = intern.age_on(start)
    grads = [
        g
        for g in case.facts_of(Graduation, intern.id)
        if g.education_level in HIGHER_EDUCATION and g.graduated_on <= start
    ]
    graduate = bool(grads)
    unemployed = registered_unemployed_on(case, intern.id, start) is not None
    youth = terms.youth and 16 <= age <= 24 and unemployed
    who = "高校毕业生" + ("或16—24岁失业青年" if terms.youth else "")
    x.check(
        "INTERN_TARGET_GROUP",
        graduate or youth,
        f"见习人员须为{who}；"
        + (f"其于{grads[-1].graduated_on.isoformat()}高校毕业" if graduate else "无见习开始前的高校毕业记录")
        + f"，见习开始时{age}岁，{'已' if unemployed else '未'}办理失业登记",
        "the intern must be a university graduate"
        + (" or an unemployed person aged 16-24" if terms.youth else "")
        + f"; aged {age} at the start",
        values={
            "university_graduate": graduate,
            "age_at_start": age,
            "unemployment_registered": unemployed,
            "agreement_start": start,
        },
        basis=D4_EMPLOYERS if youth and not graduate else D3_INTERNSHIP,
    )
    return graduate


def _rules(terms: Terms) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        intern = case.beneficiary
        x.check(
            "INTERN_REGISTERED",
            intern is not None and intern.birth_date is not None,
            has(intern is not None and intern.birth_date is not None, "见习人员及其出生日期"),
            "the application must name the intern, with a birth date",
            basis=D3_INTERNSHIP,
        )
        assert intern is not None
        record = case.one(InternshipRecord, intern.id)
        x.check(
            "INTERNSHIP_RECORD",
            record is not None,
            has(record is not None, "见习记录"),
            "an internship record is needed",
            basis=D3_INTERNSHIP,
        )
        assert record is not None
        host = case.applicant
        x.check(
            "HOST_IS_APPLICANT",
            record.host_enterprise_id == host.id,
            "见习记录中的见习单位" + ("为" if record.host_enterprise_id == host.id else "不是") + "申请单位",
            "the internship's host unit must be the applicant",
            values={"host_enterprise_id": record.host_enterprise_id},
            basis=D3_INTERNSHIP,
        )
        x.check(
            "HOST_IN_HUNAN",
            host.region_code.startswith("43"),
            f"见习单位登记地区{host.region_code}"
            + ("在" if host.region_code.startswith("43") else "不在")
            + "湖南省内",
            "the host unit must be registered in Hunan",
            values={"region_code": host.region_code},
            basis=D3_INTERNSHIP,
        )
        x.check(
            "INTAKE_DEADLINE",
            case.submitted_on <= INTAKE_DEADLINE,
            f"申请日期{case.submitted_on.isoformat()}；湘人社规〔2020〕4号执行到2020年12月31日止",
            f"submitted {case.submitted_on.isoformat()}; the measure ran until 2020-12-31",
            values={"submitted_on": case.submitted_on, "deadline": INTAKE_DEADLINE},
            basis=D3_VALIDITY,
        )
        graduate = _target_group(case, x, record, terms)
        cohort = case.one(InternshipCohort, host.id)
        retention = retention_rate(cohort)
        shown = "未报" if retention is None else f"{retention:.0%}"
        region = host.region_code
        if retention is not None and retention >= HALF:
            rate = RAISED_RATE
            x.check(
                "SUBSIDY_RATE",
                True,
                f"见习期满留用率{shown}，达到50%，见习补贴标准提高至当地最低工资标准的120%",
                f"retention {shown}, at least 50%: 120% of the local minimum wage per month",
                values={"retention": retention, "rate": rate},
                basis=D3_INTERNSHIP,
            )
        else:
            x.note(
                "RETENTION_BELOW_HALF",
                f"见习期满留用率{shown}，未达到50%，不适用提高至最低工资标准120%的规定；基本见习补贴标准不在本政策汇编内，"
                "按参数 hn_internship_base_rate 核定",
                f"retention {shown}, under 50%: the 120% rate does not apply, and the base rate is not stated in the "
                "documents (parameter hn_internship_base_rate)",
                values={"retention": retention if retention is not None else "none"},
                basis=D3_INTERNSHIP,
            )
            rate = x.parameter(params, "hn_internship_base_rate", record.agreement_end, region)
            x.check(
                "SUBSIDY_RATE",
                True,
                f"见习补贴基本标准为当地最低工资标准的{rate:.0%}",
                f"base rate {rate:.0%} of the minimum wage",
                values={"retention": retention if retention is not None else "none", "rate": rate},
                basis=D3_INTERNSHIP,
            )
        total = Decimal("0.00")
        counted: set[date] = set()
        first_month = month_start(record.agreement_start)
        for month in sorted(record.months, key=lambda m: m.month):
            first = month_start(month.month)
            inside = first_month <= first <= record.agreement_end
            counts = inside and month.working_days > 0
            x.check(
                f"MONTH_COUNTED_{ym(first)}",
                counts,
                f"{first:%Y年%m月}见习{month.working_days}个工作日"
                + ("，计1个月" if counts else ("，不在见习协议期内，不计" if not inside else "，未出勤，不计")),
                f"{first:%Y-%m}: {month.working_days} working day(s)" + ("" if counts else ": not counted"),
                values={"working_days": month.working_days, "inside_agreement": inside},
                basis=D3_INTERNSHIP,
                stop=False,
            )
            if counts and first not in counted:
                counted.add(first)
                minimum = x.parameter(params, "minimum_wage_monthly", first, region)
                total += yuan(minimum * rate)
        x.check(
            "MONTHS_COUNTED",
            bool(counted),
            f"计补贴月数{len(counted)}",
            f"{len(counted)} subsidised month(s)",
            values={"months": len(counted)},
            basis=D3_INTERNSHIP,
        )
        signed = record.labour_contract_signed_on
        if terms.remaining_period and signed is not None and signed < record.agreement_end:
            remaining: list[date] = []
            m = add_months_first(month_start(signed), 1)
            while m <= record.agreement_end:
                if m not in counted:
                    remaining.append(m)
                m = add_months_first(m, 1)
            extra = Decimal("0.00")
            if graduate:
                for m in remaining:
                    extra += yuan(x.parameter(params, "minimum_wage_monthly", m, region) * rate)
            x.check(
                "REMAINING_PERIOD",
                True,
                f"见习期未满于{signed.isoformat()}签订劳动合同，"
                + (
                    f"剩余期限{len(remaining)}个月，补贴{extra}元"
                    if graduate
                    else "但见习人员不是高校毕业生，不适用剩余期限见习补贴"
                ),
                f"labour contract signed {signed.isoformat()} before the agreement ended: "
                + (
                    f"{len(remaining)} remaining month(s), {extra}"
                    if graduate
                    else "not a graduate, no remaining period"
                ),
                values={"signed_on": signed, "remaining_months": len(remaining) if graduate else 0, "amount": extra},
                basis=D1_INTERNSHIP,
            )
            total += extra
        return Amounts.one_off(
            total, max(case.submitted_on, record.agreement_end), record.agreement_start, record.agreement_end
        )

    return rules


def _evaluation_date(case: Case) -> date:
    """The internship's end, when the unit's retention is counted."""
    records = case.facts_of(InternshipRecord)
    if records:
        return records[-1].agreement_end
    return case.period.end if case.period else case.submitted_on


def _pack(version: str, start: date, end: date, basis: tuple[LegalBasis, ...], terms: Terms) -> RulePack:
    return RulePack(
        programme_id=PROGRAMME,
        version=version,
        title_zh="湖南省就业见习补贴",
        title_en="Hunan internship subsidy (host unit)",
        jurisdiction="43",
        effective_from=start,
        effective_to=end,
        legal_basis=basis,
        applicant_kinds=(ApplicantKind.ENTERPRISE, ApplicantKind.INSTITUTION),
        facts_needed=("internship", "internship_cohort", "graduation", "unemployment_registration"),
        fund_code="employment-subsidy-fund",
        parameters=("minimum_wage_monthly", "hn_internship_base_rate"),
        rules=_rules(terms),
        evaluation_date=_evaluation_date,
    )


PACKS = (
    _pack(
        "2020.1",
        date(2020, 2, 22),
        date(2020, 3, 10),
        (D3_INTERNSHIP, D3_VALIDITY),
        Terms(youth=False, remaining_period=False),
    ),
    _pack(
        "2020.2",
        date(2020, 3, 11),
        date(2020, 4, 27),
        (D3_INTERNSHIP, D4_EMPLOYERS, D3_VALIDITY),
        Terms(youth=True, remaining_period=False),
    ),
    _pack(
        "2020.3",
        date(2020, 4, 28),
        date(2020, 12, 31),
        (D3_INTERNSHIP, D1_INTERNSHIP, D4_EMPLOYERS, D3_VALIDITY),
        Terms(youth=True, remaining_period=True),
    ),
)
