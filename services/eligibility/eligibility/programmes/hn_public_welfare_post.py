"""Hunan public-welfare-post subsidy (公益性岗位补贴 and its social-insurance subsidy), paid to the employer.

Sources: seed 003 (shared/seeds/003_99b4106d3352fab1.txt)
- 湘人社规〔2020〕7号《湖南省公益性岗位开发管理办法（试行）》, lines 4349–4450: the post 第二条 (L4374) and
  第五条 (L4382); the persons placed 第七条 (L4388) and 第八条 (L4390); the hiring 公示 of 7 days 第十一条 (L4398);
  contract term equal to the subsidy term 第十三条 (L4402); the post subsidy at most the local minimum wage plus
  the employer's pension, medical and unemployment contributions 第十六条 (L4410); 3 years, or to retirement when
  less than 5 years from it 第十七条 (L4412); re-placement 第十八条 (L4414); claims 第十九条 (L4416); in force
  2020-05-01 for two years 第三十一条 (L4448).
- 湘政办发〔2020〕20号 （十一） (L4115): 「对从事公益性岗位政策期满仍未实现稳定就业的，政策享受期限可延长1年，实施期限为
  2020年1月1日至12月31日」.
- Extraction: shared/policy/seed003-C.md §1f (C52, C53), §1a (C13), §6.4.

Interpretations (also in docs/policy-decisions.md):
- The monthly post subsidy is the wage paid, at most the local minimum wage of the employer's region for that
  month (parameter minimum_wage_monthly); 「原则上不高于」 sets the ceiling, a locality may pay less. The social-
  insurance subsidy is the employer share recorded on the placement (employer_contribution_monthly).
- 「从审批具备享受资格之日」 is taken as the placement's start. The 3-year term ends the day before the third
  anniversary; less than 5 years (exactly 5 is not 「不足」) from the statutory retirement date (domain/retirement.py)
  it runs to retirement instead. A month counts when the placement is in force on its first day, the day is
  within the term and before the statutory retirement date.
- Re-placement (placement_number 2): only 「大龄（女年满45周岁、男年满55周岁）」 hard-to-employ persons (age at the
  start of the new placement, 「年满」 includes the birthday), 重度残疾人 (disability grade 1 or 2) or members of
  a 零就业家庭; its term counts afresh (「期限重新计算」). 「累计安置次数原则上不超过2次」: a third placement is
  sent to a caseworker (「原则上」 allows an exception), never approved by the rules.
- The 2020 extension: a term that ended between 2020-01-01 and 2020-12-31 while the person is still on the post
  (the placement continues past the term: 「仍未实现稳定就业」 as far as the facts show) runs one year longer.
- The 公示 of the hiring (第十一条, 7 days) is the notice the engine holds before payment, counted in working days
  like the 22号 notices.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis, Sex
from subsidy_contracts.facts import (
    DisabilityStatus,
    PostCategory,
    PovertyCategory,
    PovertyStatus,
    PublicWelfarePlacement,
    UnemploymentRegistration,
)

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, PublicNotice, RulePack, yuan
from ._hunan_helpers import add_years, month_end, months, retirement_of, review, ym

PROGRAMME = "hn.public-welfare-post"
DOC7 = "湘人社规〔2020〕7号"
DOC20 = "湘政办发〔2020〕20号"


def _b7(article: str, title: str) -> LegalBasis:
    return LegalBasis(document_number=DOC7, article=article, title=title)


B7_POST = _b7("第二条", "公益性岗位由用人单位开发并经人力资源和社会保障部门认定")
B7_CATEGORY = _b7("第五条", "基层公共服务类、公共管理类岗位，不包括机关事业单位管理类、专业技术类岗位")
B7_PERSONS = _b7("第七条", "安置对象为我省认定的就业困难人员")
B7_ASSISTANCE = _b7("第八条", "主动申请就业援助并认可推荐安置岗位")
B7_NOTICE = _b7("第十一条", "拟招用人员在人社部门官网上公示7天")
B7_AMOUNT = _b7("第十六条", "岗位补贴原则上不高于当地最低工资标准，社会保险补贴为单位缴纳的养老、医疗、失业保险费")
B7_TERM = _b7("第十七条", "补贴期限不超过3年，距法定退休年龄不足5年的可延长至退休")
B7_AGAIN = _b7("第十八条", "大龄、重度残疾、零就业家庭成员可再次安置，累计安置次数原则上不超过2次")
B7_CLAIM = _b7("第十九条", "用人单位申报，审核合格后拨付至单位银行帐户")
B7_VALIDITY = _b7("第三十一条", "自2020年5月1日施行，有效期两年")
B20_EXTENSION = LegalBasis(
    document_number=DOC20,
    article="（十一）加强困难人员兜底保障",
    title="公益性岗位政策期满仍未实现稳定就业的，可延长1年",
)

ELIGIBLE_POSTS = (PostCategory.GRASSROOTS_PUBLIC_SERVICE, PostCategory.PUBLIC_MANAGEMENT)
MAX_PLACEMENTS = 2
TERM_YEARS = 3
RETIREMENT_WINDOW_YEARS = 5
EXTENSION_FROM = date(2020, 1, 1)
EXTENSION_TO = date(2020, 12, 31)
OLDER_WOMAN, OLDER_MAN = 45, 55
EARLIEST_RETIREMENT_AGE = 50  # women workers before the 2025 reform, which only raises it


def _replacement_allowed(case: Case, x: Explanation, placement: PublicWelfarePlacement) -> None:
    person = case.person
    assert person is not None
    assert person.birth_date is not None
    if person.sex is None:
        review(
            x,
            "SEX_NOT_RECORDED",
            "性别未记录，无法判断是否为大龄就业困难人员，需人工核定",
            "sex not recorded: whether the person is an older hard-to-employ person cannot be decided",
            B7_AGAIN,
        )
    age = person.age_on(placement.start)
    threshold = OLDER_WOMAN if person.sex is Sex.FEMALE else OLDER_MAN
    older = age >= threshold
    disabled = [d for d in case.facts_of(DisabilityStatus, person.id) if d.grade <= 2 and d.since <= placement.start]
    zero_employment = [
        p
        for p in case.facts_of(PovertyStatus, person.id)
        if p.category is PovertyCategory.ZERO_EMPLOYMENT_FAMILY and p.since <= placement.start
    ]
    reasons = (
        [f"大龄（{age}岁）"] * older + ["重度残疾人"] * bool(disabled) + ["零就业家庭成员"] * bool(zero_employment)
    )
    x.check(
        "REPLACEMENT_GROUP",
        bool(reasons),
        "再次安置限大龄（女年满45周岁、男年满55周岁）就业困难人员、重度残疾人、零就业家庭成员："
        + ("、".join(reasons) if reasons else f"本人{age}岁，非重度残疾，非零就业家庭成员"),
        "a re-placement is only for older (women 45+, men 55+) hard-to-employ persons, the severely disabled and "
        "members of zero-employment families",
        values={
            "age_at_placement": age,
            "age_threshold": threshold,
            "severely_disabled": bool(disabled),
            "zero_employment_family": bool(zero_employment),
        },
        basis=B7_AGAIN,
    )


def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.beneficiary
    x.check(
        "PERSON_NAMED",
        person is not None and person.birth_date is not None,
        "申请须指明公益性岗位人员及其出生日期",
        "the application must name the person on the post, with a birth date",
        basis=B7_PERSONS,
    )
    assert person is not None
    assert person.birth_date is not None
    employer = case.applicant
    placements = [p for p in case.facts_of(PublicWelfarePlacement, person.id) if p.employer_id == employer.id]
    placement = placements[-1] if placements else None
    x.check(
        "PLACEMENT",
        placement is not None,
        "须有申请单位安置该人员的公益性岗位记录",
        "the applicant must have placed the person on a public-welfare post",
        basis=B7_POST,
    )
    assert placement is not None
    x.check(
        "POST_RECOGNISED",
        placement.post_recognised,
        "公益性岗位须经人力资源和社会保障部门认定",
        "the post must be recognised by the human-resources and social-security department",
        values={"post_recognised": placement.post_recognised},
        basis=B7_POST,
    )
    x.check(
        "POST_CATEGORY",
        placement.post_category in ELIGIBLE_POSTS,
        f"岗位类别为{placement.post_category.value}；限非营利性基层公共服务类、公共管理类岗位",
        f"post category {placement.post_category.value}: only grassroots public-service and public-management posts",
        values={"post_category": placement.post_category.value},
        basis=B7_CATEGORY,
    )
    recognised = [
        u
        for u in case.facts_of(UnemploymentRegistration, person.id)
        if u.hard_to_employ and u.registered_on <= placement.start
    ]
    x.check(
        "HARD_TO_EMPLOY",
        bool(recognised),
        "安置时须为我省认定的就业困难人员"
        + (f"（{recognised[-1].registered_on.isoformat()}认定）" if recognised else "：安置前未认定"),
        "the person must have been recognised as hard to employ when placed",
        values={"placed_on": placement.start, "recognised_on": recognised[-1].registered_on if recognised else "none"},
        basis=B7_PERSONS,
    )
    x.check(
        "ASSISTANCE_REQUESTED",
        placement.assistance_requested,
        "须主动申请就业援助并认可人力资源和社会保障部门推荐安置岗位",
        "the person must have asked for employment assistance and accepted the post offered",
        values={"assistance_requested": placement.assistance_requested},
        basis=B7_ASSISTANCE,
    )
    if placement.placement_number > MAX_PLACEMENTS:
        # 「原则上不超过2次」: an exception is possible, so a third placement is not refused by the rules but
        # left to a caseworker (docs/policy-decisions.md, public-welfare posts).
        review(
            x,
            "PLACEMENTS_AT_MOST_TWO",
            f"第{placement.placement_number}次安置；累计安置次数原则上不超过2次，超出须人工核定",
            f"placement number {placement.placement_number}: at most 2 placements in principle; a caseworker decides",
            B7_AGAIN,
            {"placement_number": placement.placement_number},
        )
    x.check(
        "PLACEMENTS_AT_MOST_TWO",
        True,
        f"第{placement.placement_number}次安置；累计安置次数原则上不超过2次",
        f"placement number {placement.placement_number}: at most 2 placements",
        values={"placement_number": placement.placement_number},
        basis=B7_AGAIN,
    )
    if placement.placement_number > 1:
        _replacement_allowed(case, x, placement)
    x.attributes["placement_number"] = str(placement.placement_number)

    term_end, retirement_on = _term(case, x, placement)
    x.check(
        "CLAIM_PERIOD",
        case.period is not None,
        "申报须写明补贴所属期间",
        "the claim must state the months it is for",
        basis=B7_CLAIM,
    )
    assert case.period is not None
    region = employer.region_code
    counted: list[tuple[date, date, Decimal]] = []
    for m in months(case.period.start, case.period.end):
        in_post = placement.start <= m and (placement.end is None or m <= placement.end)
        in_term = m <= term_end and (retirement_on is None or m < retirement_on)
        if not (in_post and in_term):
            x.check(
                f"MONTH_{ym(m)}",
                False,
                f"{m:%Y年%m月}：" + ("不在岗" if not in_post else "补贴期限已满"),
                f"{m:%Y-%m}: " + ("not on the post" if not in_post else "outside the subsidy term"),
                values={"month": m, "term_end": term_end},
                basis=B7_TERM,
                stop=False,
            )
            continue
        minimum = x.parameter(params, "minimum_wage_monthly", m, region)
        wage_part = min(placement.monthly_wage, minimum)
        amount = yuan(wage_part + placement.employer_contribution_monthly)
        x.check(
            f"MONTH_{ym(m)}",
            True,
            f"{m:%Y年%m月}：岗位补贴{yuan(wage_part)}元（工资{placement.monthly_wage}元，当地最低工资{minimum}元）"
            f"＋单位缴纳社会保险费{placement.employer_contribution_monthly}元",
            f"{m:%Y-%m}: post subsidy {yuan(wage_part)} (wage {placement.monthly_wage}, minimum wage {minimum}) "
            f"+ employer contributions {placement.employer_contribution_monthly}",
            values={
                "month": m,
                "monthly_wage": placement.monthly_wage,
                "minimum_wage": minimum,
                "post_subsidy": yuan(wage_part),
                "si_subsidy": placement.employer_contribution_monthly,
                "amount": amount,
            },
            basis=B7_AMOUNT,
        )
        counted.append((m, month_end(m), amount))
    x.check(
        "MONTHS_COUNTED",
        bool(counted),
        f"可补贴月数{len(counted)}",
        f"{len(counted)} month(s) subsidised",
        values={"months": len(counted)},
        basis=B7_TERM,
    )
    x.attributes["months"] = str(len(counted))
    return Amounts.monthly(counted)


def _term(case: Case, x: Explanation, placement: PublicWelfarePlacement) -> tuple[date, date | None]:
    """Last day of the subsidy term, and the statutory retirement date (months must start before it)."""
    person = case.person
    assert person is not None
    assert person.birth_date is not None
    retirement = retirement_of(case, person)
    if retirement is None and person.age_on(placement.start) >= EARLIEST_RETIREMENT_AGE - RETIREMENT_WINDOW_YEARS:
        # Younger than 45 at the start, even a woman worker (50) is more than 5 years from retirement and
        # the 3-year term ends before it: the category cannot change the decision.
        review(
            x,
            "RETIREMENT_CATEGORY_NOT_RECORDED",
            "性别或女性的退休类别（女干部55岁/女工人50岁）未记录，无法确定法定退休时间，需人工核定",
            "sex or a woman's retirement category (cadre 55 / worker 50) is not recorded",
            B7_TERM,
            {"birth_date": person.birth_date},
        )
    three_years = add_years(placement.start, TERM_YEARS) - timedelta(days=1)
    extended = retirement is not None and retirement.on < add_years(placement.start, RETIREMENT_WINDOW_YEARS)
    end = retirement.on - timedelta(days=1) if extended and retirement else three_years
    x.check(
        "TERM",
        True,
        f"补贴期限自{placement.start.isoformat()}起"
        + (
            f"，距法定退休时间（{retirement.on.isoformat()}，{retirement.age_text}）不足5年，延长至退休"
            if extended and retirement
            else "，不超过3年"
        )
        + f"，至{end.isoformat()}",
        f"term from {placement.start.isoformat()} to {end.isoformat()}"
        + (" (less than 5 years from retirement: to retirement)" if extended else " (3 years at most)"),
        values={
            "placement_start": placement.start,
            "term_end": end,
            "statutory_retirement": retirement.on if retirement else "unknown",
            "retirement_rule": retirement.basis if retirement else "unknown",
            "extended_to_retirement": extended,
            "contract_years": placement.contract_years,
        },
        basis=B7_TERM,
    )
    if not extended and EXTENSION_FROM <= end <= EXTENSION_TO:
        still_on_post = placement.end is None or placement.end > end
        if still_on_post:
            end = add_years(end + timedelta(days=1), 1) - timedelta(days=1)
        x.check(
            "EXTENSION_2020",
            still_on_post,
            "补贴期限于2020年内期满，"
            + (f"仍在岗未实现稳定就业，延长1年至{end.isoformat()}" if still_on_post else "已离岗，不予延长"),
            "the term ended in 2020 "
            + (f"and the person is still on the post: extended one year to {end.isoformat()}" if still_on_post else ""),
            values={"term_end": end, "still_on_post": still_on_post},
            basis=B20_EXTENSION,
            stop=False,
        )
    return end, retirement.on if retirement else None


PACKS = (
    RulePack(
        programme_id=PROGRAMME,
        version="2020.7",
        title_zh="湖南省公益性岗位补贴和社会保险补贴",
        title_en="Hunan public-welfare-post subsidy and its social-insurance subsidy",
        jurisdiction="43",
        effective_from=date(2020, 5, 1),
        effective_to=date(2022, 4, 30),
        legal_basis=(
            B7_AMOUNT,
            B7_POST,
            B7_CATEGORY,
            B7_PERSONS,
            B7_TERM,
            B7_AGAIN,
            B7_NOTICE,
            B7_CLAIM,
            B20_EXTENSION,
        ),
        applicant_kinds=(ApplicantKind.ENTERPRISE, ApplicantKind.INSTITUTION),
        facts_needed=(
            "public_welfare_placement",
            "unemployment_registration",
            "retirement_profile",
            "disability",
            "poverty_status",
        ),
        fund_code="employment-subsidy-fund",
        rules=rules,
        parameters=("minimum_wage_monthly",),
        public_notice=PublicNotice(7, working_days=True, basis=B7_NOTICE),
        exclusive_with=("hn.si-subsidy.employer-hard-to-employ", "hn.si-subsidy.flexible-hard-to-employ"),
    ),
)
