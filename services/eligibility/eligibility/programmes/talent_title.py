"""Skilled worker applying for a professional title (高技能人才参加职称评审): which title level the person may
apply for, and by which channel. Non-monetary: the decision grants a right, not money.

Sources (shared/seeds/; extraction in shared/policy/talent-pathways.md §1–2):
- National: 人社部发〔2020〕96号, 2020-12-28, "本意见自印发之日起施行" — seed 000 lines 23–84 (二、（二）1 at
  line 53, 二、（二）3 at line 59, in force line 81, date line 84); the same text in seed 002 lines 35–95
  (lines 69, 73).
- Zhejiang (33): 浙江省人力资源和社会保障厅《关于进一步加强高技能人才与专业技术人才职业发展贯通的实施办法》,
  issued 2022-11-17 (seed 001 line 30), "本办法自公布之日起30日后施行" (line 130) — in force from 2022-12-17.
  三、（二）1 基本条件 and routes (1)–(4) at lines 62–70; 三、（二）2 直报条件 at lines 74–80. Its document
  number is not in the seed (the page at line 13 is a 2023 repost), so it is cited by title and date.
- Inner Mongolia (15): 《转发人力资源社会保障部关于进一步加强高技能人才与专业技术人才职业发展贯通实施意见的通知》,
  seed 002 lines 1–33; 二、（四） direct application at line 19. The seed carries neither the document number
  nor the date; the notice is of 2021 (line 17: no continuing-education hours "对2021年参评的高技能人才",
  required "从2022年起"), so it is applied from 2021-01-01 (see docs/policy-decisions/talent.md).

Normal channel (96号 二、（二）1; Zhejiang 三、（二）1):
- a skill certificate of 高级工 (level_3) or above, obtained on or before the evaluation date;
- years of technical-skill work after obtaining it: 高级工 + 2 years → 助理级, 技师 + 3 → 中级,
  高级技师 + 4 → 副高级; Zhejiang only: 特级技师 or 首席技师, still working in a technical-skill post →
  正高级 (no years stated);
- the annual appraisal (年度考核) passed in each of the 3 calendar years before the evaluation year.
Green channel (直接申报): the award catalogue below (AWARDS), per jurisdiction; Inner Mongolia adds graduates
who won a competition while studying (二、（四）, line 19).
The result is the highest level either channel gives; neither gives one → ineligible, every reason recorded.

Interpretations (each also in docs/policy-decisions/talent.md):
- Evaluation date: the application date (submitted_on). Years run up to the day before it.
- Years of skill work: the days covered by EmploymentRecord entries with skill_work=True from the certificate's
  issue date to the day before the evaluation date, the end date of a record being its last working day.
  Overlapping records (two posts at once) count once. "满N年" is met when those days reach the length of the
  N calendar years starting on the issue date, so continuous work qualifies on the N-th anniversary of the
  certificate; gaps (non-skill posts, no post) push it back day for day. Work before the certificate does
  not count ("取得…后").
- A higher certificate satisfies a lower route (高级技师 held 3 years → 中级): each route reads "that level or
  above", as the common condition itself says "高级工以上".
- The nationally unlisted 特级技师/首席技师 (enterprise levels mapped above 高级技师, 人社厅发〔2020〕104号)
  count as 高级技师 under the national and Inner Mongolia packs (副高级 after 4 years).
- "相关职业（工种）": the title is in the specialty corresponding to the certificate's occupation
  ("相应专业"), recorded as the attribute "occupation"; the occupation–series table (Zhejiang's 附件) is not
  in the seeds, so the review committee maps it.
- Zhejiang route (4) "目前仍在与申报职业工作相关的技术技能领域工作": an EmploymentRecord with skill_work=True
  covering the evaluation date.
- The annual appraisal condition belongs to the normal channel (as the programme brief specifies; 96号
  places it in 二、（二）1, the green channel in 二、（二）3 as a "特殊评价办法"). AnnualAppraisal facts carry no
  employer, so those supplied are taken to be the current post's ("在现工作岗位上"). A missing year fails.
- National green channel: the text allows "正高级或副高级" without saying which award gives which. Both
  provincial implementations in the seeds place 中华技能大奖 and 享受国务院政府特殊津贴 at 正高级 and
  全国技术能手 and 国家级技能大师工作室带头人 at 副高级; the national pack follows that split, and gives the
  items neither province places (省级政府特殊津贴, 省政府认定的"高精尖缺"高技能人才) the lower level, 副高级.
- Zhejiang's list replaces the national one (a self-standing 实施办法, "具体办法" under 96号 二、（二）3).
  Inner Mongolia's list is added to the national one ("转发…请一并抓好落实"; "在…基础上"): the national items
  it does not list keep the national level.
- Inner Mongolia graduates: Award with while_studying=True and a competition code; rank is the prize grade for
  national class-1 competitions ("三等奖以上" = rank ≤ 3) and the place for the others ("前六名", "前三名").
  "毕业5年内": the evaluation date is on or before the 5th anniversary of the graduation that followed the award.
  "留在我区企事业单位工作": an EmploymentRecord covering the evaluation date; EmploymentRecord has no region,
  so the employer's location is taken from the handling jurisdiction (Inner Mongolia by the pack).
  The regional exceptional-promotion conditions (破格条件) it builds on are not in the seeds.
- Not modelled (no fact carries them): Zhejiang 遵纪守法/职业道德; Inner Mongolia's review calendar,
  技工院校 class equivalences and continuing-education hours (二、（一）–（三）).
- Channel when both give the same level: "normal" (no special evaluation needed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.eligibility import ScheduleKind
from subsidy_contracts.facts import (
    AnnualAppraisal,
    Award,
    EmploymentRecord,
    Graduation,
    SkillCertificate,
    SkillLevel,
    TitleLevel,
)

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RuleFunction, RulePack

PROGRAMME_ID = "talent.skilled-worker-title"

NATIONAL_DOC = "人社部发〔2020〕96号"
NATIONAL_FROM = date(2020, 12, 28)
ZHEJIANG_DOC = (
    "浙江省人力资源和社会保障厅《关于进一步加强高技能人才与专业技术人才职业发展贯通的实施办法》（2022年11月17日）"
)
ZHEJIANG_FROM = date(2022, 12, 17)  # 公布之日（2022-11-17）起30日后施行
INNER_MONGOLIA_DOC = "内蒙古《转发人力资源社会保障部关于进一步加强高技能人才与专业技术人才职业发展贯通实施意见的通知》（2021年，文号未载）"
INNER_MONGOLIA_FROM = date(2021, 1, 1)

N_COMMON = LegalBasis(document_number=NATIONAL_DOC, article="二、（二）1", title="淡化学历要求")
N_GREEN = LegalBasis(document_number=NATIONAL_DOC, article="二、（二）3", title="建立绿色通道")
Z_COMMON = LegalBasis(document_number=ZHEJIANG_DOC, article="三、（二）1", title="基本条件")
Z_ROUTE = {
    TitleLevel.ASSISTANT: LegalBasis(
        document_number=ZHEJIANG_DOC, article="三、（二）1（1）", title="高级工申报助理级"
    ),
    TitleLevel.INTERMEDIATE: LegalBasis(document_number=ZHEJIANG_DOC, article="三、（二）1（2）", title="技师申报中级"),
    TitleLevel.DEPUTY_SENIOR: LegalBasis(
        document_number=ZHEJIANG_DOC, article="三、（二）1（3）", title="高级技师申报副高级"
    ),
    TitleLevel.SENIOR: LegalBasis(
        document_number=ZHEJIANG_DOC, article="三、（二）1（4）", title="特级技师、首席技师申报正高级"
    ),
}
Z_GREEN = {
    TitleLevel.INTERMEDIATE: LegalBasis(document_number=ZHEJIANG_DOC, article="三、（二）2（1）", title="直报中级"),
    TitleLevel.DEPUTY_SENIOR: LegalBasis(document_number=ZHEJIANG_DOC, article="三、（二）2（2）", title="直报副高级"),
    TitleLevel.SENIOR: LegalBasis(document_number=ZHEJIANG_DOC, article="三、（二）2（3）", title="直报正高级"),
}
M_GREEN = LegalBasis(document_number=INNER_MONGOLIA_DOC, article="二、（四）", title="直接申报评审")

TITLE_ZH = {
    TitleLevel.ASSISTANT: "助理级",
    TitleLevel.INTERMEDIATE: "中级",
    TitleLevel.DEPUTY_SENIOR: "副高级",
    TitleLevel.SENIOR: "正高级",
}
TITLE_RANK = {TitleLevel.ASSISTANT: 1, TitleLevel.INTERMEDIATE: 2, TitleLevel.DEPUTY_SENIOR: 3, TitleLevel.SENIOR: 4}
SKILL_ZH = {
    SkillLevel.LEVEL_5: "初级工（五级）",
    SkillLevel.LEVEL_4: "中级工（四级）",
    SkillLevel.LEVEL_3: "高级工（三级）",
    SkillLevel.LEVEL_2: "技师（二级）",
    SkillLevel.LEVEL_1: "高级技师（一级）",
    SkillLevel.PRINCIPAL: "特级技师",
    SkillLevel.CHIEF: "首席技师",
}
SKILL_RANK = {
    SkillLevel.LEVEL_5: 1,
    SkillLevel.LEVEL_4: 2,
    SkillLevel.LEVEL_3: 3,
    SkillLevel.LEVEL_2: 4,
    SkillLevel.LEVEL_1: 5,
    SkillLevel.PRINCIPAL: 6,
    SkillLevel.CHIEF: 7,
}

# Award codes (Award.code) of the green channels. The same catalogue is in docs/policy-decisions/talent.md.
AWARDS: dict[str, str] = {
    "skill_grand_award_china": "中华技能大奖",
    "national_technical_expert": "全国技术能手",
    "national_master_studio_head": "国家级技能大师工作室带头人（领办人）",
    "state_council_special_allowance": "享受国务院政府特殊津贴的高技能人才",
    "provincial_special_allowance": "享受省级政府特殊津贴的高技能人才",
    "high_precision_shortage_talent": "省级人民政府认定的“高精尖缺”高技能人才",
    "worldskills_gold": "世界技能大赛金牌",
    "worldskills_silver": "世界技能大赛银牌",
    "worldskills_bronze": "世界技能大赛铜牌",
    "worldskills_excellence": "世界技能大赛优胜奖",
    "zj_provincial_technical_expert": "浙江省技术能手",
    "zj_provincial_master_studio_head": "浙江省级技能大师工作室领办人",
    "zj_craftsman": "浙江工匠",
    "zj_bqw_top_skill_talent": "浙江省“百千万”高技能领军人才培养工程拔尖技能人才",
    "zj_qianjiang_skill_award": "钱江技能大奖",
    "zj_outstanding_craftsman": "浙江杰出工匠",
    "zj_bqw_outstanding_skill_talent": "浙江省“百千万”高技能领军人才培养工程杰出技能人才",
    "zj_new_era_contribution_craftsman": "新时代突出贡献浙派工匠",
    "zj_grand_craftsman": "浙江大工匠",
    "nm_technician_contribution_award": "内蒙古自治区技师高级技师突出贡献奖",
    "nm_regional_master_studio_head": "内蒙古自治区级技能大师工作室带头人",
    "nm_regional_technical_expert": "内蒙古全区技术能手",
    "national_class1_competition": "国家级一类职业技能大赛",  # rank: prize grade, 1 = 一等奖
    "national_class2_competition": "国家级二类职业技能竞赛",  # rank: place
    "nm_class1_competition": "内蒙古自治区级一类职业技能大赛",  # rank: place
}
# Inner Mongolia graduates (二、（四）): competition code → the worst rank that still qualifies.
GRADUATE_COMPETITIONS: dict[str, int] = {
    "national_class1_competition": 3,  # 三等奖以上
    "national_class2_competition": 6,  # 前六名
    "nm_class1_competition": 3,  # 前三名
}
GRADUATE_YEARS = 5

ASSISTANT, INTERMEDIATE = TitleLevel.ASSISTANT, TitleLevel.INTERMEDIATE
DEPUTY_SENIOR, SENIOR = TitleLevel.DEPUTY_SENIOR, TitleLevel.SENIOR
GreenList = dict[str, tuple[TitleLevel, LegalBasis]]


def _listed(level: TitleLevel, basis: LegalBasis, *codes: str) -> GreenList:
    return dict.fromkeys(codes, (level, basis))


NATIONAL_GREEN: GreenList = {
    **_listed(SENIOR, N_GREEN, "skill_grand_award_china", "state_council_special_allowance"),
    **_listed(
        DEPUTY_SENIOR,
        N_GREEN,
        "national_technical_expert",
        "national_master_studio_head",
        "provincial_special_allowance",
        "high_precision_shortage_talent",
    ),
}
ZHEJIANG_GREEN: GreenList = {
    **_listed(
        INTERMEDIATE,
        Z_GREEN[INTERMEDIATE],
        "worldskills_excellence",
        "zj_provincial_technical_expert",
        "zj_provincial_master_studio_head",
        "zj_craftsman",
        "zj_bqw_top_skill_talent",
    ),
    **_listed(
        DEPUTY_SENIOR,
        Z_GREEN[DEPUTY_SENIOR],
        "worldskills_silver",
        "worldskills_bronze",
        "national_technical_expert",
        "national_master_studio_head",
        "zj_qianjiang_skill_award",
        "zj_outstanding_craftsman",
        "zj_bqw_outstanding_skill_talent",
    ),
    **_listed(
        SENIOR,
        Z_GREEN[SENIOR],
        "worldskills_gold",
        "skill_grand_award_china",
        "state_council_special_allowance",
        "zj_new_era_contribution_craftsman",
        "zj_grand_craftsman",
    ),
}
INNER_MONGOLIA_GREEN: GreenList = {
    **NATIONAL_GREEN,  # forwarded 96号: the items the region does not place keep the national level
    **_listed(
        SENIOR,
        M_GREEN,
        "worldskills_gold",
        "worldskills_silver",
        "worldskills_bronze",
        "skill_grand_award_china",
        "state_council_special_allowance",
    ),
    **_listed(
        DEPUTY_SENIOR,
        M_GREEN,
        "national_technical_expert",
        "nm_technician_contribution_award",
        "nm_regional_master_studio_head",
        "national_master_studio_head",  # 自治区级以上
    ),
    **_listed(INTERMEDIATE, M_GREEN, "nm_regional_technical_expert"),
}


@dataclass(frozen=True, slots=True)
class Route:
    """One normal-channel row: a certificate of `certificate` or above, held `years` → `title`."""

    title: TitleLevel
    certificate: SkillLevel
    years: int | None  # None: no years stated, but still working in a technical-skill post
    basis: LegalBasis


@dataclass(frozen=True)
class Policy:
    routes: tuple[Route, ...]  # highest title first
    common: LegalBasis
    green: Mapping[str, tuple[TitleLevel, LegalBasis]]
    green_basis: LegalBasis
    graduate_competition: LegalBasis | None = None


NATIONAL_ROUTES = (
    Route(DEPUTY_SENIOR, SkillLevel.LEVEL_1, 4, N_COMMON),
    Route(INTERMEDIATE, SkillLevel.LEVEL_2, 3, N_COMMON),
    Route(ASSISTANT, SkillLevel.LEVEL_3, 2, N_COMMON),
)
NATIONAL = Policy(NATIONAL_ROUTES, N_COMMON, NATIONAL_GREEN, N_GREEN)
ZHEJIANG = Policy(
    (
        Route(SENIOR, SkillLevel.PRINCIPAL, None, Z_ROUTE[SENIOR]),
        Route(DEPUTY_SENIOR, SkillLevel.LEVEL_1, 4, Z_ROUTE[DEPUTY_SENIOR]),
        Route(INTERMEDIATE, SkillLevel.LEVEL_2, 3, Z_ROUTE[INTERMEDIATE]),
        Route(ASSISTANT, SkillLevel.LEVEL_3, 2, Z_ROUTE[ASSISTANT]),
    ),
    Z_COMMON,
    ZHEJIANG_GREEN,
    Z_GREEN[INTERMEDIATE],
)
INNER_MONGOLIA = Policy(NATIONAL_ROUTES, N_COMMON, INNER_MONGOLIA_GREEN, M_GREEN, graduate_competition=M_GREEN)


# ---------------------------------------------------------------------------------------------- helpers
def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def no_amount() -> Amounts:
    """Nothing to pay: the decision grants a right (the engine has no Amounts.none())."""
    return Amounts(ScheduleKind.ONE_OFF, ())


def skill_work_days(records: Iterable[EmploymentRecord], since: date, until: date) -> int:
    """Days in [since, until] covered by at least one technical-skill post (overlaps count once)."""
    spans = sorted(
        (max(r.start, since), min(r.end or until, until))
        for r in records
        if r.skill_work and r.start <= until and (r.end is None or r.end >= since)
    )
    days, covered_to = 0, since - timedelta(days=1)
    for start, end in spans:
        start = max(start, covered_to + timedelta(days=1))
        if end >= start:
            days += (end - start).days + 1
            covered_to = end
    return days


def current_posts(case: Case, person: uuid.UUID) -> list[EmploymentRecord]:
    """Employment records covering the evaluation date, latest start last."""
    on = case.on
    return sorted(
        (r for r in case.facts_of(EmploymentRecord, person) if r.start <= on and (r.end is None or r.end >= on)),
        key=lambda r: r.start,
    )


@dataclass(frozen=True, slots=True)
class CertificateResult:
    certificate: SkillCertificate
    days: int
    own_route: Route  # the highest route the certificate's level opens
    required_days: int | None
    own_route_met: bool
    reached: Route | None  # the highest route met


def _certificate_result(
    cert: SkillCertificate, routes: tuple[Route, ...], days: int, in_skill_work_now: bool
) -> CertificateResult:
    own = next(r for r in routes if SKILL_RANK[cert.level] >= SKILL_RANK[r.certificate])
    reached = None
    for route in routes:
        if SKILL_RANK[cert.level] < SKILL_RANK[route.certificate]:
            continue
        met = in_skill_work_now if route.years is None else days >= _required_days(cert.issued_on, route.years)
        if met:
            reached = route
            break
    return CertificateResult(
        cert,
        days,
        own,
        None if own.years is None else _required_days(cert.issued_on, own.years),
        reached is own,
        reached,
    )


def _required_days(issued_on: date, years: int) -> int:
    return (add_years(issued_on, years) - issued_on).days


# ----------------------------------------------------------------------------------------- the channels
def _normal_channel(case: Case, policy: Policy, x: Explanation, person: uuid.UUID) -> tuple[TitleLevel | None, str]:
    """The level the certificate, the years after it and the appraisals give; and the certificate's occupation."""
    on = case.on
    certificates = [
        c
        for c in case.facts_of(SkillCertificate, person)
        if SKILL_RANK[c.level] >= SKILL_RANK[SkillLevel.LEVEL_3] and c.issued_on <= on
    ]
    top = max(certificates, key=lambda c: (SKILL_RANK[c.level], c.issued_on), default=None)
    x.check(
        "SKILL_CERTIFICATE",
        top is not None,
        f"持有{top.occupation}{SKILL_ZH[top.level]}职业资格或职业技能等级证书（{top.issued_on.isoformat()}取得）"
        if top
        else "未持有高级工以上职业资格或职业技能等级证书，不能按正常条件申报",
        f"holds a {top.level.value} certificate in {top.occupation} obtained {top.issued_on.isoformat()}"
        if top
        else "holds no certificate of 高级工 (level 3) or above: the normal channel is closed",
        values={
            "certificate_level": top.level.value if top else "none",
            "occupation": top.occupation if top else "none",
            "issued_on": top.issued_on if top else "none",
        },
        basis=policy.common,
        stop=False,
    )
    records = case.facts_of(EmploymentRecord, person)
    now_in_skill_work = any(r.skill_work for r in current_posts(case, person))
    until = on - timedelta(days=1)
    results = [
        _certificate_result(c, policy.routes, skill_work_days(records, c.issued_on, until), now_in_skill_work)
        for c in certificates
    ]
    best = max(
        results,
        key=lambda r: (TITLE_RANK[r.reached.title] if r.reached else 0, SKILL_RANK[r.certificate.level]),
        default=None,
    )
    if best is not None:
        c, own = best.certificate, best.own_route
        reached = best.reached
        if own.years is None:
            own_zh = f"{SKILL_ZH[c.level]}申报{TITLE_ZH[own.title]}须目前仍在技术技能岗位工作（{'是' if now_in_skill_work else '否'}）"
            own_en = (
                f"{c.level.value} opens {own.title.value} while still in a technical-skill post "
                f"({'yes' if now_in_skill_work else 'no'})"
            )
        else:
            own_zh = (
                f"{SKILL_ZH[c.level]}申报{TITLE_ZH[own.title]}须取得证书后从事技术技能工作满{own.years}年"
                f"（{best.required_days}天），自{c.issued_on.isoformat()}起计{best.days}天"
            )
            own_en = (
                f"{c.level.value} opens {own.title.value} after {own.years} years of technical-skill work "
                f"({best.required_days} days); {best.days} days since {c.issued_on.isoformat()}"
            )
        fallback_zh = "" if best.own_route_met else (f"，可申报{TITLE_ZH[reached.title]}" if reached else "，年限不足")
        fallback_en = (
            "" if best.own_route_met else (f"; enough for {reached.title.value}" if reached else "; not enough years")
        )
        x.check(
            "SKILL_WORK_YEARS",
            reached is not None,
            own_zh + fallback_zh,
            own_en + fallback_en,
            values={
                "certificate_level": c.level.value,
                "issued_on": c.issued_on,
                "skill_work_days": best.days,
                "years_required": own.years if own.years is not None else "none",
                "days_required": best.required_days if best.required_days is not None else "none",
                "in_skill_work_now": now_in_skill_work,
                "level_by_years": reached.title.value if reached else "none",
            },
            basis=(reached or own).basis,
            stop=False,
        )
    appraised = _appraisal(case, policy, x, person)
    if best is None or best.reached is None or not appraised:
        return None, ""
    return best.reached.title, best.certificate.occupation


def _appraisal(case: Case, policy: Policy, x: Explanation, person: uuid.UUID) -> bool:
    years = [case.on.year - k for k in (3, 2, 1)]
    results: dict[int, bool] = {}
    for a in case.facts_of(AnnualAppraisal, person):
        results[a.year] = a.passed  # the latest recorded wins
    failed = [y for y in years if results.get(y) is not True]
    text = "、".join(f"{y}年{'合格' if results.get(y) else ('不合格' if y in results else '无记录')}" for y in years)
    return x.check(
        "ANNUAL_APPRAISAL",
        not failed,
        f"须在现工作岗位上近3年年度考核合格：{text}",
        "the annual appraisal in the current post must be passed in each of the last 3 years: "
        + ", ".join(f"{y} {'passed' if results.get(y) else ('failed' if y in results else 'missing')}" for y in years),
        values={
            "years": ",".join(str(y) for y in years),
            "not_passed": ",".join(str(y) for y in failed) or "none",
        },
        basis=policy.common,
        stop=False,
    )


def _graduate_competition(case: Case, basis: LegalBasis, x: Explanation, awards: list[Award]) -> Award | None:
    """Inner Mongolia: a competition won while studying, within 5 years of graduation, working in the region.

    Every competition award is tried; the first that qualifies is reported, else the last that does not."""
    person = awards[0].subject_id
    employed = bool(current_posts(case, person))
    graduations = sorted(case.facts_of(Graduation, person), key=lambda g: g.graduated_on)
    passing: Award | None = None
    detail: dict[str, object] = {}
    zh: list[str] = []
    en: list[str] = []
    for award in awards:
        grad = next((g for g in graduations if g.graduated_on >= award.awarded_on), None)
        worst = GRADUATE_COMPETITIONS[award.code]
        deadline = add_years(grad.graduated_on, GRADUATE_YEARS) if grad else None
        zh, en = [], []
        if not award.while_studying:
            zh.append("非在校期间获奖")
            en.append("not won while studying")
        if award.rank is None or award.rank > worst:
            zh.append(f"名次（等次）{award.rank or '未载'}低于要求的前{worst}")
            en.append(f"rank {award.rank or 'missing'} below the required top {worst}")
        if deadline is None:
            zh.append("无获奖后的毕业记录")
            en.append("no graduation after the award")
        elif case.on > deadline:
            zh.append(f"已超过毕业5年（{deadline.isoformat()}）")
            en.append(f"more than 5 years after graduation (until {deadline.isoformat()})")
        if not employed:
            zh.append("申请时未在区内单位工作")
            en.append("not working in the region")
        detail = {
            "award": award.code,
            "rank": award.rank if award.rank is not None else "none",
            "worst_rank": worst,
            "while_studying": award.while_studying,
            "graduated_on": grad.graduated_on if grad else "none",
            "deadline": deadline or "none",
            "employed_in_region": employed,
        }
        if not zh:
            passing = award
            break
    name = AWARDS[str(detail["award"])]
    x.check(
        "GRADUATE_COMPETITION",
        passing is not None,
        f"获{name}（名次或等次{detail['rank']}，须在前{detail['worst_rank']}），毕业于{detail['graduated_on']}"
        + (
            f"，在校期间获奖、毕业5年内（至{detail['deadline']}）留区工作，可直接申报中级职称"
            if passing
            else "；不符合：" + "；".join(zh)
        ),
        f"{detail['award']} rank {detail['rank']} (top {detail['worst_rank']} required), graduated "
        f"{detail['graduated_on']}: "
        + (f"working in the region within 5 years (until {detail['deadline']})" if passing else "; ".join(en)),
        values=detail,
        basis=basis,
        stop=False,
    )
    return passing


def _green_channel(
    case: Case, policy: Policy, x: Explanation, person: uuid.UUID
) -> tuple[TitleLevel | None, str, LegalBasis]:
    awards = [a for a in case.facts_of(Award, person) if a.awarded_on <= case.on]
    matched: list[tuple[TitleLevel, str, LegalBasis]] = [
        (policy.green[a.code][0], a.code, policy.green[a.code][1]) for a in awards if a.code in policy.green
    ]
    competitions = [a for a in awards if a.code in GRADUATE_COMPETITIONS]
    if policy.graduate_competition is not None and competitions:
        won = _graduate_competition(case, policy.graduate_competition, x, competitions)
        if won is not None:
            matched.append((TitleLevel.INTERMEDIATE, won.code, policy.graduate_competition))
    best = max(matched, key=lambda m: TITLE_RANK[m[0]], default=None)
    tried = set(GRADUATE_COMPETITIONS) if policy.graduate_competition is not None else set()
    others = sorted({a.code for a in awards} - {m[1] for m in matched} - tried)
    x.check(
        "GREEN_CHANNEL",
        best is not None,
        (
            f"获{AWARDS[best[1]]}，可直接申报{TITLE_ZH[best[0]]}职称"
            if best
            else "无本地区可直接申报职称的奖项或称号"
            + (f"（所报{'、'.join(AWARDS.get(c, c) for c in others)}不在本地区直接申报范围内）" if others else "")
        ),
        f"{best[1]} allows a direct application at title level {best[0].value}"
        if best
        else "no award or honour of this jurisdiction's direct-application list"
        + (f" ({', '.join(others)} not on it)" if others else ""),
        values={
            "awards": ",".join(sorted(m[1] for m in matched)) or "none",
            "not_listed": ",".join(others) or "none",
            "level": best[0].value if best else "none",
        },
        basis=best[2] if best else policy.green_basis,
        stop=False,
    )
    return (best[0], best[1], best[2]) if best else (None, "", policy.green_basis)


def _rules(policy: Policy) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        person = case.person
        assert person is not None  # APPLICANT_KIND: a person
        normal, occupation = _normal_channel(case, policy, x, person.id)
        green, award, green_basis = _green_channel(case, policy, x, person.id)
        normal_rank = TITLE_RANK[normal] if normal else 0
        green_rank = TITLE_RANK[green] if green else 0
        channel = "normal" if normal_rank >= green_rank and normal else ("green" if green else "none")
        level = normal if channel == "normal" else green
        if level is not None:
            x.attributes["may_apply_for"] = level.value
            x.attributes["channel"] = channel
            if channel == "normal":
                x.attributes["occupation"] = occupation
            else:
                x.attributes["award"] = award
        x.check(
            "TITLE_LEVEL",
            level is not None,
            f"可{'按正常条件' if channel == 'normal' else '通过绿色通道直接'}申报{TITLE_ZH[level]}职称"
            + (f"（{occupation}相应专业）" if channel == "normal" else f"（{AWARDS[award]}）")
            if level
            else "正常申报条件和直接申报条件均不具备，不能申报职称评审",
            f"may apply at title level {level.value} through the {channel} channel"
            if level
            else "neither the normal nor the green channel opens any title level",
            values={
                "may_apply_for": level.value if level else "none",
                "channel": channel,
                "normal_level": normal.value if normal else "none",
                "green_level": green.value if green else "none",
            },
            basis=(green_basis if channel == "green" else policy.common),
        )
        return no_amount()

    return rules


def application_date(case: Case) -> date:
    """Title-review conditions are judged on the day of application."""
    return case.submitted_on


FACTS = ("skill_certificate", "employment", "annual_appraisal", "award", "graduation")

PACKS = (
    RulePack(
        programme_id=PROGRAMME_ID,
        version="2020.1",
        title_zh="高技能人才参加职称评审（全国）",
        title_en="Skilled worker applying for a professional title (national)",
        jurisdiction="national",
        effective_from=NATIONAL_FROM,
        effective_to=None,
        legal_basis=(N_COMMON, N_GREEN),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=FACTS,
        fund_code="",
        rules=_rules(NATIONAL),
        evaluation_date=application_date,
        monetary=False,
    ),
    RulePack(
        programme_id=PROGRAMME_ID,
        version="2022.1",
        title_zh="高技能人才参加职称评审（浙江）",
        title_en="Skilled worker applying for a professional title (Zhejiang)",
        jurisdiction="33",
        effective_from=ZHEJIANG_FROM,
        effective_to=None,
        legal_basis=(Z_COMMON, *Z_ROUTE.values(), *Z_GREEN.values()),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=FACTS,
        fund_code="",
        rules=_rules(ZHEJIANG),
        evaluation_date=application_date,
        monetary=False,
    ),
    RulePack(
        programme_id=PROGRAMME_ID,
        version="2021.1",
        title_zh="高技能人才参加职称评审（内蒙古）",
        title_en="Skilled worker applying for a professional title (Inner Mongolia)",
        jurisdiction="15",
        effective_from=INNER_MONGOLIA_FROM,
        effective_to=None,
        legal_basis=(M_GREEN, N_COMMON, N_GREEN),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=FACTS,
        fund_code="",
        rules=_rules(INNER_MONGOLIA),
        evaluation_date=application_date,
        monetary=False,
    ),
)
