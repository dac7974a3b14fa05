"""Title holder applying for skill evaluation (专业技术人才参加职业技能评价): which skill level a holder of a
professional title may apply for, in the occupation of the current post. Non-monetary.

Sources (shared/seeds/; extraction in shared/policy/talent-pathways.md §3):
- National: 人社部发〔2020〕96号 二、（四）, seed 000 line 67 (and seed 002 line 81); in force from its issue,
  2020-12-28 ("本意见自印发之日起施行", seed 000 lines 81–84).
- Zhejiang (33): 《关于进一步加强高技能人才与专业技术人才职业发展贯通的实施办法》 三、（四）1, seed 001 lines
  92–102; issued 2022-11-17 (line 30), in force 30 days after publication, from 2022-12-17 (line 130).
Inner Mongolia's notice (seed 002 三、, lines 21–25) sets no levels of its own (it refers to regional rules and
the evaluation channels), so the national pack applies there.

Rules:
- 助理级 → 高级工 (level_3), 中级 → 技师 (level_2), 副高级 → 高级技师 (level_1); Zhejiang adds 正高级 →
  特级技师 (principal). The highest title obtained on or before the evaluation date counts.
- The occupation is that of the current post (与现岗位相对应职业（工种）).

Interpretations (each also in docs/policy-decisions/talent.md):
- The occupation evaluated is EmploymentRecord.occupation of the employment covering the evaluation date (the
  latest started when several do); the application names no other occupation, so "matching the current post"
  holds by construction, and a case without a current post, or whose post records no occupation, is ineligible.
- Evaluation date: the application date (submitted_on).
- National 正高级: 96号 lists only up to 副高级; a 正高级 holder has passed 副高级, so may apply for 高级技师.
- Zhejiang "高级职称" → 高级技师 is read as 副高级, since 正高级 has its own item (4).
- National "累计工作年限达到申报条件": the years each occupation's national skill standard requires are not in the
  seeds or in any fact; the decision records that this is left to the evaluation body (condition
  OCCUPATION_STANDARD_YEARS, not a check). Zhejiang's item 1 sets no such condition.
- Not modelled: the title series–occupation table (Zhejiang's 附件), the theory-exam exemption for related
  graduates (Graduation has no major), the evaluation channel (no fact says whether the employer is a recognised
  自主评价 body), promotion one year after a skill level, and 首席技师 (requires 特级技师 first).
"""

from __future__ import annotations

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import ProfessionalTitle, SkillLevel, TitleLevel

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RuleFunction, RulePack
from .talent_title import (
    NATIONAL_DOC,
    NATIONAL_FROM,
    SKILL_ZH,
    TITLE_RANK,
    TITLE_ZH,
    ZHEJIANG_DOC,
    ZHEJIANG_FROM,
    application_date,
    current_posts,
    no_amount,
)

PROGRAMME_ID = "talent.title-holder-skill-evaluation"

N_BASIS = LegalBasis(document_number=NATIONAL_DOC, article="二、（四）", title="鼓励专业技术人员参加职业技能评价")
Z_BASIS = LegalBasis(document_number=ZHEJIANG_DOC, article="三、（四）1", title="专业技术人才参加职业技能评价参评条件")

NATIONAL_LEVELS = {
    TitleLevel.ASSISTANT: SkillLevel.LEVEL_3,
    TitleLevel.INTERMEDIATE: SkillLevel.LEVEL_2,
    TitleLevel.DEPUTY_SENIOR: SkillLevel.LEVEL_1,
    TitleLevel.SENIOR: SkillLevel.LEVEL_1,  # not listed nationally: at most what 副高级 gives
}
ZHEJIANG_LEVELS = {**NATIONAL_LEVELS, TitleLevel.SENIOR: SkillLevel.PRINCIPAL}


def _rules(levels: dict[TitleLevel, SkillLevel], basis: LegalBasis, standard_years: bool) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        person = case.person
        assert person is not None  # APPLICANT_KIND: a person
        titles = [t for t in case.facts_of(ProfessionalTitle, person.id) if t.obtained_on <= case.on]
        title = max(titles, key=lambda t: (TITLE_RANK[t.level], t.obtained_on), default=None)
        x.check(
            "PROFESSIONAL_TITLE",
            title is not None,
            f"已取得{title.series}系列{TITLE_ZH[title.level]}职称（{title.obtained_on.isoformat()}）"
            if title
            else "未取得助理级以上职称",
            f"holds a title at level {title.level.value} in the {title.series} series since {title.obtained_on.isoformat()}"
            if title
            else "holds no professional title of 助理级 or above",
            values={
                "title_level": title.level.value if title else "none",
                "series": title.series if title else "none",
                "obtained_on": title.obtained_on if title else "none",
            },
            basis=basis,
        )
        assert title is not None
        posts = current_posts(case, person.id)
        post = posts[-1] if posts else None
        occupation = post.occupation if post else None
        x.check(
            "CURRENT_POST",
            occupation is not None,
            f"现岗位（{post.employer_name}，{post.start.isoformat()}起）对应职业（工种）为{occupation}"
            if post and occupation
            else (
                "现岗位未登记职业（工种），无法确定评价职业"
                if post
                else "评价之日无在岗记录，无法确定与现岗位相对应的职业（工种）"
            ),
            f"current post at {post.employer_name} since {post.start.isoformat()}: occupation {occupation}"
            if post and occupation
            else (
                "the current post records no occupation" if post else "no post on the evaluation date: no occupation"
            ),
            values={
                "occupation": occupation or "none",
                "employer": post.employer_name if post else "none",
                "post_start": post.start if post else "none",
            },
            basis=basis,
        )
        assert occupation is not None
        if standard_years:
            x.note(
                "OCCUPATION_STANDARD_YEARS",
                "累计工作年限须达到该职业（工种）国家职业技能标准的申报条件；本平台无各职业标准，此项未核验，"
                "由评价机构受理时核验",
                "cumulative working years must meet the occupation's own application condition (national skill "
                "standard); not checked here, the evaluation body checks it",
                values={"checked": False, "checked_by": "evaluation body"},
                basis=basis,
            )
        level = levels[title.level]
        x.attributes["may_apply_for"] = level.value
        x.attributes["occupation"] = occupation
        x.check(
            "SKILL_LEVEL",
            True,
            f"可申请参加{occupation}{SKILL_ZH[level]}职业技能评价",
            f"may apply for {level.value} skill evaluation in {occupation}",
            values={"may_apply_for": level.value, "title_level": title.level.value, "occupation": occupation},
            basis=basis,
        )
        return no_amount()

    return rules


PACKS = (
    RulePack(
        programme_id=PROGRAMME_ID,
        version="2020.1",
        title_zh="专业技术人才参加职业技能评价（全国）",
        title_en="Title holder applying for skill evaluation (national)",
        jurisdiction="national",
        effective_from=NATIONAL_FROM,
        effective_to=None,
        legal_basis=(N_BASIS,),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("professional_title", "employment"),
        fund_code="",
        rules=_rules(NATIONAL_LEVELS, N_BASIS, standard_years=True),
        evaluation_date=application_date,
        monetary=False,
    ),
    RulePack(
        programme_id=PROGRAMME_ID,
        version="2022.1",
        title_zh="专业技术人才参加职业技能评价（浙江）",
        title_en="Title holder applying for skill evaluation (Zhejiang)",
        jurisdiction="33",
        effective_from=ZHEJIANG_FROM,
        effective_to=None,
        legal_basis=(Z_BASIS,),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("professional_title", "employment"),
        fund_code="",
        rules=_rules(ZHEJIANG_LEVELS, Z_BASIS, standard_years=False),
        evaluation_date=application_date,
        monetary=False,
    ),
)
