"""Shared by the Hunan 2020 employment rule packs (one-off hiring, 以工代训, internship, unemployment assistance,
vocational training and skill appraisal subsidies). Not a programme (no PACKS).

The documents, all in seed 003 (shared/seeds/003_99b4106d3352fab1.txt), extraction shared/policy/seed003-C.md:
- D1 湘政办发〔2020〕20号《应对新冠肺炎疫情影响进一步做好稳就业工作十六条措施》, 2020-04-28 (L4061–4135);
  「此前于疫情期间发布的有关政策措施，与本通知不一致的，按照本通知执行」 (L4135).
- D2 湘人社规〔2020〕2号《稳企稳岗稳就业十条措施》, in force 2020-02-21 for 5 years (L4139–4185, L4147).
- D3 湘人社规〔2020〕4号《应对新冠肺炎疫情做好高校毕业生就业创业工作十条措施》, 2020-02-22 to 2020-12-31
  (L4187–4233, L4199, L4233).
- D4 湘人社规〔2020〕5号《促进农民工就地就近就业的八条措施》, 2020-03-11, valid 1 year unless national or
  provincial rules set another term (L4235–4277, L4245, L4277).
- D5 湘人社规〔2020〕6号《进一步做好职业技能提升行动专账资金的使用管理工作的通知》, 2020-03-23 to 2021-12-31
  (L4279–4347, L4339, L4343).
Decisions on conflicts and ambiguities: docs/policy-decisions.md.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from subsidy_contracts.common import LegalBasis
from subsidy_contracts.facts import EducationLevel, SkillLevel, UnemploymentRegistration

from ..domain.rules import Case, Explanation, Grant, NeedsReview

D1 = "湘政办发〔2020〕20号"
D2 = "湘人社规〔2020〕2号"
D3 = "湘人社规〔2020〕4号"
D4 = "湘人社规〔2020〕5号"
D5 = "湘人社规〔2020〕6号"

D1_HIRING = LegalBasis(document_number=D1, article="二、（三）", title="降低企业用工成本（一次性吸纳就业补贴，L4089）")
D1_INTERNSHIP = LegalBasis(document_number=D1, article="四、（十）", title="拓宽高校毕业生就业渠道（见习补贴，L4113）")
D1_ASSISTANCE = LegalBasis(
    document_number=D1, article="四、（十一）", title="加强困难人员兜底保障（失业补助金，L4115）"
)
D1_PRECEDENCE = LegalBasis(document_number=D1, article="结语", title="与本通知不一致的，按照本通知执行（L4135）")
D2_UI_LEVEL = LegalBasis(document_number=D2, article="二", title="提高职工失业保险保障水平（L4163）")
D2_HIRING = LegalBasis(document_number=D2, article="三", title="鼓励企业吸纳就业（L4165）")
D2_TRAINING_RATES = LegalBasis(document_number=D2, article="四", title="提高职业技能培训补贴标准（L4167）")
D2_ON_THE_JOB = LegalBasis(document_number=D2, article="五", title="加大以工代训补贴力度（L4169）")
D3_HIRING = LegalBasis(document_number=D3, article="二", title="鼓励企业吸纳高校毕业生就业（L4209）")
D3_INTERNSHIP = LegalBasis(document_number=D3, article="九", title="加大高校毕业生就业帮扶力度（见习补贴，L4229）")
D3_VALIDITY = LegalBasis(document_number=D3, article="结语", title="执行到2020年12月31日止（L4233）")
D4_EMPLOYERS = LegalBasis(document_number=D4, article="二", title="鼓励企业吸纳农民工就业（见习、以工代训，L4257）")
D5_TARGETS = LegalBasis(document_number=D5, article="一、（一）", title="扩大培训补贴对象范围（L4289）")
D5_ON_THE_JOB = LegalBasis(document_number=D5, article="一、（七）", title="以工代训（L4303）")
D5_FREQUENCY = LegalBasis(document_number=D5, article="一、（八）", title="每人每年不超过3次（L4305）")
D5_RATES = LegalBasis(document_number=D5, article="二", title="进一步提高培训补贴标准（L4313）")
D5_APPRAISAL = LegalBasis(document_number=D5, article="五", title="职业技能鉴定补贴（L4331）")
D5_VALIDITY = LegalBasis(document_number=D5, article="结语", title="有效期至2021年12月31日（L4339）")

HIGHER_EDUCATION = frozenset(
    {EducationLevel.JUNIOR_COLLEGE, EducationLevel.BACHELOR, EducationLevel.MASTER, EducationLevel.DOCTOR}
)
"""高校毕业生: graduates of universities and colleges (大专/高职 and above); not 中职 or 技工院校."""


LEVEL_ZH = {
    SkillLevel.LEVEL_5: "五级/初级工",
    SkillLevel.LEVEL_4: "四级/中级工",
    SkillLevel.LEVEL_3: "三级/高级工",
    SkillLevel.LEVEL_2: "二级/技师",
    SkillLevel.LEVEL_1: "一级/高级技师",
    SkillLevel.PRINCIPAL: "特级技师",
    SkillLevel.CHIEF: "首席技师",
}


def level_zh(level: SkillLevel | None) -> str:
    return LEVEL_ZH[level] if level is not None else "未定等级"


def has(found: bool, what_zh: str) -> str:
    """「已有…」 or 「缺少…」, for conditions that only ask whether a record exists."""
    return ("已有" if found else "缺少") + what_zh


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, n: int) -> date:
    """The same day n months later, clamped to the month's last day (31 January + 1 month = 29 February)."""
    y, m = divmod(day.month - 1 + n, 12)
    first = date(day.year + y, m + 1, 1)
    last = (add_months_first(first, 1) - timedelta(days=1)).day
    return first.replace(day=min(day.day, last))


def add_months_first(first: date, n: int) -> date:
    y, m = divmod(first.month - 1 + n, 12)
    return date(first.year + y, m + 1, 1)


def month_end(day: date) -> date:
    return add_months_first(month_start(day), 1) - timedelta(days=1)


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def ym(day: date) -> str:
    return f"{day:%Y_%m}"


def within_a_year(a: date, b: date) -> bool:
    """True when the two dates are less than one year apart (「一年内」: exactly one year apart is not within)."""
    earlier, later = min(a, b), max(a, b)
    return later < add_years(earlier, 1)


def grant_date(grant: Grant) -> date:
    """The day an earlier grant is dated by for yearly caps: the end of what it covered, else its decision date."""
    return grant.end or grant.start or grant.granted_on


def registered_unemployed_on(case: Case, person_id: Any, day: date) -> UnemploymentRegistration | None:
    """The unemployment registration in force on `day` (the longest-running one when several are)."""
    found = [
        r
        for r in case.facts_of(UnemploymentRegistration, person_id)
        if r.registered_on <= day and (r.ended_on is None or r.ended_on >= day)
    ]
    return min(found, key=lambda r: r.registered_on) if found else None


def review(
    x: Explanation, code: str, zh: str, en: str, basis: LegalBasis, values: dict[str, Any] | None = None
) -> None:
    """Send the case to a caseworker, recording the rule that could not be decided with its legal basis.

    Explanation.review records no legal basis, which tests/unit/test_casebooks.py requires of every condition
    other than the operational PARAMETER_NOT_COVERED and CALENDAR_NOT_COVERED; this records the same failed
    condition with the article it comes from, then stops as needs_review.
    """
    x.check(code, False, zh, en, values=values, basis=basis, stop=False)
    raise NeedsReview(code)
