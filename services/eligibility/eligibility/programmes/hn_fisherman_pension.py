"""Hunan pension subsidy for fishermen who left fishing (退捕渔民养老保险政府补贴 and 参保缴费补贴).

Source: 湘人社发〔2020〕37号《进一步做好全省重点水域退捕渔民就业和社会保险工作实施方案》, 2020-09-28 (seed 003
L4841–4925; extraction shared/policy/seed003-C.md §1j, C75–C78): categories 二 (L4875); the scheme 四（二） (L4895);
「政府对专业渔民按每人每年3000元标准给予养老保险政府补贴，每户补贴不超过2人，补贴年限15年；对持证兼业渔民按每人每年2000元
……在此基础上，政府再按每人每年400元，对参保的专业渔民和参保的持证兼业渔民给予参保缴费补贴，每户补贴不超过2人」 四（四）1
(L4901); other licensed fishermen only local hardship aid (L4903); how it is paid 四（四）2 (L4905–4909).

Interpretations (docs/policy-decisions.md, fishermen):
- 专业渔民 are both the licensed and the unlicensed (事实渔民) professional fishermen (L4875). 其他持证渔民 are refused: their
  hardship aid is a city or county scheme outside these rules.
- 「2019年12月31日前年满16周岁」: at least 16 on 2019-12-31.
- The per-household limit counts persons of the same household (HouseholdMembership.household_id) with an earlier
  grant of this programme; a person with no recorded household goes to a caseworker. A person is granted once.
- Amount: the yearly amount × 15 years. The document never states the total, only 「每人每年」, 「补贴年限15年」 and that
  the money is transferred 「一次性」 (seed003-C.md §6.7); the total is the product. Resident scheme (城乡居民): one
  payment, credited at once to the personal account (L4907). Enterprise scheme (企业职工): transferred at once to the
  paying account and paid out yearly (「逐年代发」, L4909): fifteen yearly instalments.
- The 400 yuan contribution subsidy needs the person enrolled (FishermanStatus.insured).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.facts import FishermanCategory, FishermanStatus, HouseholdMembership, PensionScheme

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RulePack
from ._hunan_helpers import add_years, review

PROGRAMME = "hn.fisherman-pension-subsidy"
DOC = "湘人社发〔2020〕37号"
B_CATEGORY = LegalBasis(document_number=DOC, article="二", title="退捕渔民的范围（L4875）")
B_SCHEME = LegalBasis(document_number=DOC, article="四、（二）", title="选择参保制度（L4895）")
B_AMOUNT = LegalBasis(document_number=DOC, article="四、（四）1", title="补贴标准（L4901）")
B_PAYMENT = LegalBasis(document_number=DOC, article="四、（四）2", title="补贴方式（L4905–4909）")

YEARLY = {
    FishermanCategory.PROFESSIONAL_LICENSED: Decimal("3000.00"),
    FishermanCategory.PROFESSIONAL_UNLICENSED: Decimal("3000.00"),
    FishermanCategory.PART_TIME_LICENSED: Decimal("2000.00"),
}
CONTRIBUTION_SUBSIDY = Decimal("400.00")
YEARS = 15
PER_HOUSEHOLD = 2
AGE_DAY = date(2019, 12, 31)


def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.person
    x.check(
        "PERSON_NAMED",
        person is not None and person.birth_date is not None,
        "须指明退捕渔民及其出生日期",
        "the fisherman and his or her birth date are needed",
        basis=B_CATEGORY,
    )
    assert person is not None
    status = case.one(FishermanStatus, person.id)
    x.check(
        "FISHERMAN_RECOGNISED",
        status is not None,
        ("已" if status else "未") + "经农业农村部门核定为退捕渔民",
        "the person must be recognised as a fisherman who left fishing by the agriculture department",
        basis=B_CATEGORY,
    )
    assert status is not None
    yearly = YEARLY.get(status.category)
    x.check(
        "CATEGORY",
        yearly is not None,
        f"渔民类别{status.category.value}："
        + (
            "专业渔民每人每年3000元"
            if yearly == Decimal("3000.00")
            else "持证兼业渔民每人每年2000元"
            if yearly
            else "其他持证渔民不享受养老保险政府补贴（生活困难补助由市县另定）"
        ),
        f"category {status.category.value}" + (f": {yearly} a year" if yearly else ": not covered"),
        values={"category": status.category.value},
        basis=B_AMOUNT,
    )
    assert yearly is not None
    age = person.age_on(AGE_DAY)
    x.check(
        "AGE_16_BY_2019",
        age >= 16,
        f"2019年12月31日时{age}周岁，须年满16周岁",
        f"aged {age} on 2019-12-31; 16 needed",
        values={"age_on_2019_12_31": age},
        basis=B_SCHEME,
    )
    earlier_self = case.grants([PROGRAMME], person.id)
    x.check(
        "ONCE_PER_PERSON",
        not earlier_self,
        "每人只享受一次（补贴年限15年）" + ("，已享受" if earlier_self else ""),
        "granted once per person (for 15 years)" + (": already granted" if earlier_self else ""),
        values={"earlier_grants": len(earlier_self)},
        basis=B_AMOUNT,
    )
    household = case.one(HouseholdMembership, person.id)
    if household is None:
        review(
            x,
            "HOUSEHOLD_NOT_RECORDED",
            "户籍（户）信息未记录，无法核对每户不超过2人，需人工核定",
            "the household is not recorded: the limit of 2 persons per household cannot be checked",
            B_AMOUNT,
        )
    assert household is not None
    others = {
        g.subject_id
        for g in case.grants([PROGRAMME])
        if g.attribute("household_id") == household.household_id and g.subject_id != person.id
    }
    x.check(
        "HOUSEHOLD_AT_MOST_TWO",
        len(others) < PER_HOUSEHOLD,
        f"户{household.household_id}已有{len(others)}人享受，每户补贴不超过2人",
        f"household {household.household_id}: {len(others)} other member(s) already granted; at most 2 a household",
        values={"household_id": household.household_id, "others_granted": len(others)},
        basis=B_AMOUNT,
    )
    x.attributes["household_id"] = household.household_id
    topup = CONTRIBUTION_SUBSIDY if status.insured else Decimal("0.00")
    per_year = yearly + topup
    x.check(
        "YEARLY_AMOUNT",
        True,
        f"养老保险政府补贴每年{yearly}元"
        + (f"，参保缴费补贴每年{topup}元" if status.insured else "，未参保不享受参保缴费补贴")
        + f"，合计每年{per_year}元，补贴年限15年",
        f"{yearly} a year"
        + (f" + {topup} contribution subsidy" if status.insured else " (not enrolled: no contribution subsidy)")
        + f", for {YEARS} years",
        values={"pension_subsidy": yearly, "contribution_subsidy": topup, "per_year": per_year, "years": YEARS},
        basis=B_AMOUNT,
    )
    start = case.submitted_on
    if status.pension_scheme is PensionScheme.URBAN_RURAL_RESIDENT:
        x.note(
            "PAID_AT_ONCE",
            "参加城乡居民养老保险：补贴金额一次性计入个人账户（不计缴费年限）",
            "resident scheme: credited at once to the personal account",
            values={"scheme": status.pension_scheme.value, "total": per_year * YEARS},
            basis=B_PAYMENT,
        )
        return Amounts.one_off(per_year * YEARS, start, start, add_years(start, YEARS))
    x.note(
        "PAID_YEARLY",
        "参加企业职工养老保险：资金一次性拨付至代发账户，按“先缴后补”逐年代发",
        "enterprise scheme: paid out yearly from the paying account",
        values={"scheme": status.pension_scheme.value, "total": per_year * YEARS},
        basis=B_PAYMENT,
    )
    return Amounts.yearly((add_years(start, k), add_years(start, k + 1), per_year) for k in range(YEARS))


PACKS = (
    RulePack(
        programme_id=PROGRAMME,
        version="2020.1",
        title_zh="退捕渔民养老保险补贴",
        title_en="Pension subsidy for fishermen who left fishing",
        jurisdiction="43",
        effective_from=date(2020, 9, 28),
        effective_to=None,
        legal_basis=(B_AMOUNT, B_CATEGORY, B_SCHEME, B_PAYMENT),
        applicant_kinds=(ApplicantKind.PERSON, ApplicantKind.INSTITUTION),
        facts_needed=("fisherman", "household"),
        fund_code="pension-subsidy-fund",
        rules=rules,
        evaluation_date=lambda case: case.submitted_on,
    ),
)
