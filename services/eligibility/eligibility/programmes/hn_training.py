"""Hunan vocational training subsidy (职业培训补贴) and skill appraisal subsidy (职业技能鉴定补贴), paid to the trainee.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extraction shared/policy/seed003-C.md C20, C43, C47, C51):
- 湘人社规〔2020〕2号 四 (L4167), in force 2020-02-21: catalogue rates (湘人社发〔2019〕17号) 「普遍提高50%。原有规定上浮的地区
  和人员，按原有比例享受职业培训补贴，不叠加享受」.
- 湘人社规〔2020〕6号 (L4279–4347), 2020-03-23 to 2021-12-31 (L4339): 一（一） persons 「未按月领取城镇职工基本养老金」 of
  any age (L4289); 一（八） 「取得相应证书的，给予职业培训补贴，原则上每人每年可享受不超过3次（同一职业同一等级一年内不可重复
  享受）」 (L4305); 一（七） 以工代训 and other training subsidies not twice for the same occupation and level within a year
  (L4303); 二 the 50% increase and the legacy 70% uplift for 建档立卡贫困劳动力 in 就业技能培训 (L4313); 五 the appraisal
  subsidy 「对同一职业（工种）同一技能等级通过初次职业技能鉴定并取得证书（不含培训合格证书）的参训人员」, its amount set by each
  city (L4331).

Interpretations (docs/policy-decisions.md, training):
- The training subsidy is the course's catalogue rate (TrainingRecord.catalogue_rate) × 1.5 for classes starting on
  or after 2020-02-21; for 建档立卡贫困劳动力 in 就业技能培训 × 1.7 instead (the original uplift, not stacked). Other
  legacy uplifts (51 poor counties' 五类人员, 湘南湘西 transferred enterprises) and the 紧缺职业 10% need facts the
  platform does not record and are not applied.
- 「每人每年不超过3次」: calendar year of the certificate (completion date); 「一年内」 for the same occupation and level:
  less than one year between the certificate and the earlier grant (its end date), as in the 以工代训 pack. Earlier
  以工代训 grants for the same occupation and level count too (6号 一（七）).
- 「原则上」: a fourth claim in a year goes to a caseworker rather than being refused.
- The appraisal subsidy needs a certificate recorded as the first appraisal of its occupation and level, not a
  training-completion certificate, a completed training in the same occupation (「参训人员」), and no earlier appraisal
  grant for the same occupation and level (ever: 「初次」). Its amount is each city's (parameter
  hn_skill_appraisal_subsidy, no sourced value yet): eligible cases end in needs_review until a city's figure is
  entered.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind
from subsidy_contracts.facts import (
    CertificateKind,
    PovertyCategory,
    PovertyStatus,
    RetirementProfile,
    SkillCertificate,
    TrainingRecord,
    TrainingType,
)

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RulePack, yuan
from ._hn_employment import (
    D2_TRAINING_RATES,
    D5_APPRAISAL,
    D5_FREQUENCY,
    D5_ON_THE_JOB,
    D5_RATES,
    D5_TARGETS,
    D5_VALIDITY,
    grant_date,
    level_zh,
    within_a_year,
)
from ._hunan_helpers import review

TRAINING = "hn.vocational-training-subsidy"
APPRAISAL = "hn.skill-appraisal-subsidy"
ON_THE_JOB = "hn.on-the-job-training-subsidy"
SUBSIDISED = (
    TrainingType.EMPLOYMENT_SKILLS,
    TrainingType.POST_SKILLS_UPGRADING,
    TrainingType.APPRENTICESHIP,
    TrainingType.ENTREPRENEURSHIP,
)
GENERAL_INCREASE = Decimal("1.50")
POOR_LABOUR_UPLIFT = Decimal("1.70")
RATES_FROM = date(2020, 2, 21)
MAX_A_YEAR = 3


def training_of(case: Case) -> TrainingRecord | None:
    person = case.person
    if person is None:
        return None
    found = [t for t in case.facts_of(TrainingRecord, person.id) if t.training_type in SUBSIDISED]
    return max(found, key=lambda t: t.completed_on or t.start) if found else None


def _no_pension(case: Case, x: Explanation, on: date) -> None:
    person = case.person
    assert person is not None
    since = next((p.pension_since for p in case.facts_of(RetirementProfile, person.id) if p.pension_since), None)
    drawing = since is not None and since <= on
    x.check(
        "NO_MONTHLY_PENSION",
        not drawing,
        "职业培训补贴对象为未按月领取城镇职工基本养老金的人员（年龄不设上限）" + ("：已按月领取" if drawing else ""),
        "persons drawing a monthly basic pension are not covered",
        values={"pension_since": since or "none"},
        basis=D5_TARGETS,
    )


def training_rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.person
    x.check("PERSON_NAMED", person is not None, "申请须为参训人员本人", "the trainee must apply", basis=D5_TARGETS)
    assert person is not None
    training = training_of(case)
    x.check(
        "TRAINING_RECORD",
        training is not None,
        ("已有" if training else "缺少") + "职业技能培训记录（就业技能、岗位技能提升、企业新型学徒制或创业培训）",
        "a vocational training record is needed",
        basis=D5_FREQUENCY,
    )
    assert training is not None
    done = training.completed_on
    x.check(
        "CERTIFICATE",
        done is not None and training.certificate_obtained,
        "培训结业并取得相应证书" if done and training.certificate_obtained else "培训未结业或未取得相应证书",
        "the training must be completed with the certificate obtained",
        values={"completed_on": done or "none", "certificate_obtained": training.certificate_obtained},
        basis=D5_FREQUENCY,
    )
    assert done is not None
    _no_pension(case, x, training.start)
    level = training.level.value if training.level else ""
    same = [
        g
        for g in case.grants([TRAINING, ON_THE_JOB], person.id)
        if g.attribute("occupation") == training.occupation
        and (g.attribute("level") or "") == level
        and within_a_year(grant_date(g), done)
    ]
    x.check(
        "SAME_SKILL_NOT_REPEATED",
        not same,
        f"职业（工种）{training.occupation}、等级{level_zh(training.level)}"
        + ("一年内已享受培训补贴，不可重复享受" if same else "一年内未享受过培训补贴"),
        f"occupation {training.occupation}, level {level or 'none'}: "
        + ("already subsidised within a year" if same else "not subsidised within a year"),
        values={"occupation": training.occupation, "level": level or "none", "earlier_grants": len(same)},
        basis=D5_ON_THE_JOB if any(g.programme_id == ON_THE_JOB for g in same) else D5_FREQUENCY,
    )
    this_year = [g for g in case.grants([TRAINING], person.id) if grant_date(g).year == done.year]
    if len(this_year) >= MAX_A_YEAR:
        review(
            x,
            "AT_MOST_THREE_A_YEAR",
            f"{done.year}年已享受职业培训补贴{len(this_year)}次，原则上每人每年不超过3次，需人工核定",
            f"{len(this_year)} training subsidies already in {done.year}; at most 3 a year in principle",
            D5_FREQUENCY,
            {"year": done.year, "earlier_this_year": len(this_year)},
        )
    x.check(
        "AT_MOST_THREE_A_YEAR",
        True,
        f"{done.year}年已享受职业培训补贴{len(this_year)}次，本次为第{len(this_year) + 1}次（每年不超过3次）",
        f"claim {len(this_year) + 1} of at most 3 in {done.year}",
        values={"year": done.year, "earlier_this_year": len(this_year)},
        basis=D5_FREQUENCY,
    )
    if training.catalogue_rate is None:
        review(
            x,
            "CATALOGUE_RATE_MISSING",
            "培训工种在补贴标准目录中的标准未记录，需人工核定",
            "the course's catalogue rate is not recorded",
            D2_TRAINING_RATES,
        )
    assert training.catalogue_rate is not None
    poor = any(
        p.category is PovertyCategory.REGISTERED_POOR and p.since <= training.start
        for p in case.facts_of(PovertyStatus, person.id)
    )
    if training.start < RATES_FROM:
        factor, why = Decimal("1.00"), "before_increase"
    elif poor and training.training_type is TrainingType.EMPLOYMENT_SKILLS:
        factor, why = POOR_LABOUR_UPLIFT, "registered_poor_uplift_70"
    else:
        factor, why = GENERAL_INCREASE, "general_increase_50"
    amount = yuan(training.catalogue_rate * factor)
    x.check(
        "SUBSIDY_RATE",
        True,
        f"目录标准{training.catalogue_rate}元×{factor}＝{amount}元（"
        + {
            "before_increase": "2020年2月21日前开班，按原标准",
            "registered_poor_uplift_70": "建档立卡贫困劳动力就业技能培训按原有上浮70%，不叠加",
            "general_increase_50": "普遍提高50%",
        }[why]
        + "）",
        f"catalogue rate {training.catalogue_rate} x {factor} = {amount} ({why})",
        values={"catalogue_rate": training.catalogue_rate, "factor": factor, "reason": why, "amount": amount},
        basis=D5_RATES if training.start >= date(2020, 3, 23) else D2_TRAINING_RATES,
    )
    x.attributes["occupation"] = training.occupation
    x.attributes["level"] = level
    return Amounts.one_off(amount, max(done, case.submitted_on), training.start, done)


def appraisal_rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.person
    x.check("PERSON_NAMED", person is not None, "申请须为参训人员本人", "the trainee must apply", basis=D5_APPRAISAL)
    assert person is not None
    certificates = case.facts_of(SkillCertificate, person.id)
    certificate = max(certificates, key=lambda c: c.issued_on) if certificates else None
    x.check(
        "CERTIFICATE",
        certificate is not None and certificate.certificate_kind is not CertificateKind.TRAINING_COMPLETION,
        "须通过职业技能鉴定并取得证书（不含培训合格证书）"
        + ("" if certificate else "：无证书记录")
        + (
            "：培训合格证书不在补贴范围"
            if certificate and certificate.certificate_kind is CertificateKind.TRAINING_COMPLETION
            else ""
        ),
        "an appraisal certificate is needed (a training-completion certificate does not count)",
        values={"certificate_kind": certificate.certificate_kind.value if certificate else "none"},
        basis=D5_APPRAISAL,
    )
    assert certificate is not None
    level = certificate.level.value
    earlier = [
        g
        for g in case.grants([APPRAISAL], person.id)
        if g.attribute("occupation") == certificate.occupation and g.attribute("level") == level
    ]
    first = certificate.first_appraisal and not earlier
    x.check(
        "FIRST_APPRAISAL",
        first,
        f"职业（工种）{certificate.occupation}、等级{level_zh(certificate.level)}："
        + ("初次鉴定" if first else ("已享受过该职业同一等级的鉴定补贴" if earlier else "非初次鉴定")),
        "only the first appraisal of an occupation and level is subsidised",
        values={
            "occupation": certificate.occupation,
            "level": level,
            "first_appraisal": certificate.first_appraisal,
            "earlier_grants": len(earlier),
        },
        basis=D5_APPRAISAL,
    )
    trained = [
        t
        for t in case.facts_of(TrainingRecord, person.id)
        if t.occupation == certificate.occupation and t.start <= certificate.issued_on
    ]
    x.check(
        "TRAINEE",
        bool(trained),
        ("已" if trained else "未") + f"参加{certificate.occupation}职业培训（补贴对象为参训人员）",
        "the subsidy is for persons who took training in the occupation",
        values={"trained": bool(trained)},
        basis=D5_APPRAISAL,
    )
    region = case.applicant.region_code[:4]
    amount = x.parameter(params, "hn_skill_appraisal_subsidy", certificate.issued_on, region)
    x.check(
        "AMOUNT",
        True,
        f"{region}市州职业技能鉴定补贴标准{amount}元",
        f"appraisal subsidy of city {region}: {amount}",
        values={"amount": amount},
        basis=D5_APPRAISAL,
    )
    x.attributes["occupation"] = certificate.occupation
    x.attributes["level"] = level
    return Amounts.one_off(
        amount, max(certificate.issued_on, case.submitted_on), certificate.issued_on, certificate.issued_on
    )


def _class_start(case: Case) -> date:
    training = training_of(case)
    if training is not None:
        return training.start  # the class start decides the rates (「开班备案」)
    return case.submitted_on


def _issued(case: Case) -> date:
    person = case.person
    certificates = case.facts_of(SkillCertificate, person.id) if person else []
    return max(c.issued_on for c in certificates) if certificates else case.submitted_on


PACKS = (
    RulePack(
        programme_id=TRAINING,
        version="2020.1",
        title_zh="职业培训补贴",
        title_en="Vocational training subsidy",
        jurisdiction="43",
        effective_from=RATES_FROM,
        effective_to=date(2021, 12, 31),
        legal_basis=(D5_FREQUENCY, D5_TARGETS, D5_RATES, D2_TRAINING_RATES, D5_ON_THE_JOB, D5_VALIDITY),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("training", "poverty_status", "retirement_profile"),
        fund_code="skills-upgrading-account",
        rules=training_rules,
        evaluation_date=_class_start,
    ),
    RulePack(
        programme_id=APPRAISAL,
        version="2020.1",
        title_zh="职业技能鉴定补贴",
        title_en="Skill appraisal subsidy",
        jurisdiction="43",
        effective_from=date(2020, 3, 23),
        effective_to=date(2021, 12, 31),
        legal_basis=(D5_APPRAISAL, D5_VALIDITY),
        applicant_kinds=(ApplicantKind.PERSON,),
        facts_needed=("skill_certificate", "training"),
        fund_code="skills-upgrading-account",
        rules=appraisal_rules,
        parameters=("hn_skill_appraisal_subsidy",),
        evaluation_date=_issued,
    ),
)
