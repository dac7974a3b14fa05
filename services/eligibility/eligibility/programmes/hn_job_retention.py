"""Hunan job-retention refunds of unemployment insurance (失业保险稳岗返还), paid to the enterprise once a year.

Two programmes:
- hn.job-retention-refund (一般稳岗返还): a share of the unemployment-insurance contributions the enterprise and its
  staff actually paid last year: 50% (60% in deep-poverty areas until 2020-08-31), 70% for restructuring enterprises,
  up to 100% for small, medium and micro enterprises that did not lay off (applications until 2020-12-31).
- hn.job-retention-refund.difficulty (困难企业稳岗返还): at most 6 × the local monthly unemployment benefit × the
  insured staff, for enterprises recognised as in difficulty.

Sources (seed 003, shared/seeds/003_99b4106d3352fab1.txt; extractions seed003-A.md B-03, seed003-C.md C04, C05, C16,
C17, seed003-D.md §1C):
- 湘政发〔2020〕3号 三.11 (L1287), 2020-02-18: 「返还其上年度实际缴纳失业保险费的50%（其中深度贫困地区返还60%）」.
- 湘人社规〔2020〕2号 一 (L4161), 2020-02-21: layoff rate at most the prior-year national surveyed unemployment target;
  「对参保职工30人（含）以下的企业，裁员率放宽至不超过企业职工总数20%，以上关于裁员率的规定执行时间截止到2020年12月31日」;
  restructuring enterprises 70%.
- 湘政办发〔2020〕20号 二（四） (L4091–4093), 2020-04-28: SMEs up to 100% 「受理截止期限为2020年12月31日」; the difficulty
  refund to 2020-12-31, its net-profit test, 「两种方式计算出的企业裁员率只要一个低于当地确定的上限」, 6 months × benefit ×
  insured staff.
- 湘人社规〔2020〕13号 (L5844–5880), in force 2020-09-01 for five years, the later document: blacklisted units excluded
  (一, L5854); the two rates, 「取较低者」, and the extra 20% condition when the benefit-based rate is the one below the
  line (三, L5866); 50% / 70% / 100%, the higher when both apply (四, L5870); the difficulty refund at the benefit of the
  application month (四, L5872).
- The monthly unemployment benefit: 90% of the local minimum wage (湘人社规〔2020〕2号 二, L4163).

Versions (by the application date; the refund is for the year before it):
- 2020.1 (2020-02-21 .. 2020-08-31): 3号, 2号, 20号 (SMEs' 100% from 2020-04-28; difficulty refund from 2020-04-28).
- 2020.2 (2020-09-01 .. 2025-08-31): 13号. It no longer has the 60% for deep-poverty areas (it sets 50% for every unit
  other than the restructuring and SME cases): the later document is followed (docs/policy-decisions.md).

Interpretations (docs/policy-decisions.md, job-retention refunds):
- Layoff rate: A = last year's decrease in insured staff / last year's insured staff; B = former staff drawing the
  benefit / last year's insured staff; the rate is the lower (13号; 20号 「只要一个低于」 is the same test). It must be
  below the local cap (parameter hn_layoff_rate_cap, which no stored source gives: such cases go to a caseworker),
  except that in 2020 an enterprise with 30 or fewer insured staff passes when the decrease is at most 20% of its
  total staff (2号, 「不超过」 includes 20%). Under 13号, when B is the rate below the cap, the decrease must also be at
  most 20% of the insured staff.
- 「最高可提至100%」 and 「不超过6个月」 are ceilings; no lower figure is set anywhere in the compilation, so the ceiling is
  paid. The SMEs' 100% needs the layoff test passed (「不裁员或少裁员」).
- 「参保职工人数按上年10月至本年3月的月均参保人数」 (13号): EnterpriseYear records only last year's insured staff, which is
  used; the average of October to March is not a recorded fact (a gap noted for the lead).
- Blacklists (13号): EnterpriseYear.serious_violation; before 13号 no blacklist rule is in the sources, but the same
  fact is checked from 13号 only.
- Budget-funded units (财政全额/差额拨款) are not enterprises: only enterprise applicants are accepted.
- Regional fund conditions (12 or 24 months of reserves, the 30% total cap) concern the pooling area, not the
  applicant, and are not evaluated per case.
- Once per enterprise per refund year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from subsidy_contracts.common import ApplicantKind, EnterpriseSize, LegalBasis
from subsidy_contracts.facts import EnterpriseYear

from ..domain.parameters import ParameterNotCovered, ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RuleFunction, RulePack, yuan
from ._hn_employment import D2_UI_LEVEL
from ._hunan_helpers import review

GENERAL = "hn.job-retention-refund"
DIFFICULTY = "hn.job-retention-refund.difficulty"
SME = frozenset({EnterpriseSize.MICRO, EnterpriseSize.SMALL, EnterpriseSize.MEDIUM})
SMALL_STAFF = 30
TWENTY_PERCENT = Decimal("0.20")
RELAXED_TO = date(2020, 12, 31)
SME_FULL_FROM = date(2020, 4, 28)
SME_FULL_TO = date(2020, 12, 31)

B3 = LegalBasis(document_number="湘政发〔2020〕3号", article="三、11", title="稳岗返还50%（深度贫困地区60%）（L1287）")
B2 = LegalBasis(document_number="湘人社规〔2020〕2号", article="一", title="放宽裁员率标准；兼并重组等企业70%（L4161）")
B20 = LegalBasis(
    document_number="湘政办发〔2020〕20号",
    article="二、（四）",
    title="中小微企业最高100%；困难企业稳岗返还（L4091–4093）",
)
B13_SCOPE = LegalBasis(
    document_number="湘人社规〔2020〕13号", article="一", title="统一政策覆盖范围；黑名单不予享受（L5854）"
)
B13_RATE = LegalBasis(document_number="湘人社规〔2020〕13号", article="三", title="细化裁员率计算方法（L5866）")
B13_AMOUNT = LegalBasis(document_number="湘人社规〔2020〕13号", article="四", title="厘清两项返还标准（L5870–5872）")


@dataclass(frozen=True)
class Terms:
    later: bool  # 13号 in force
    scope: LegalBasis
    layoff: LegalBasis
    amount: LegalBasis


def last_year(case: Case, x: Explanation, basis: LegalBasis) -> EnterpriseYear:
    year = case.submitted_on.year - 1
    found = [f for f in case.facts_of(EnterpriseYear, case.applicant.id) if f.year == year]
    x.check(
        "LAST_YEAR_FIGURES",
        bool(found),
        ("已有" if found else "缺少") + f"{year}年度参保职工、失业保险缴费等数据",
        f"figures of {year} (insured staff, unemployment-insurance contributions) are needed",
        values={"year": year},
        basis=basis,
    )
    return found[-1]


def layoff_test(case: Case, params: ParameterSet, x: Explanation, fy: EnterpriseYear, terms: Terms) -> None:
    on = case.submitted_on
    insured = fy.insured_staff
    if insured == 0:
        x.check("LAYOFF_RATE", False, "上年度无参保职工", "no insured staff last year", basis=terms.layoff)
    rate_a = Decimal(fy.insured_staff_decrease) / insured
    rate_b = Decimal(fy.ui_benefit_recipients) / insured
    rate = min(rate_a, rate_b)
    values: dict[str, object] = {
        "insured_staff": insured,
        "total_staff": fy.total_staff,
        "decrease": fy.insured_staff_decrease,
        "benefit_recipients": fy.ui_benefit_recipients,
        "rate_by_decrease": rate_a.quantize(Decimal("0.0001")),
        "rate_by_benefit": rate_b.quantize(Decimal("0.0001")),
    }
    if insured <= SMALL_STAFF and on <= RELAXED_TO:
        limit = TWENTY_PERCENT * fy.total_staff
        passed = fy.insured_staff_decrease <= limit
        x.check(
            "LAYOFF_RATE",
            passed,
            f"参保职工{insured}人（30人及以下），裁员{fy.insured_staff_decrease}人，"
            + ("不超过" if passed else "超过")
            + f"企业职工总数{fy.total_staff}人的20%",
            f"{insured} insured staff (30 or fewer): {fy.insured_staff_decrease} laid off, "
            + ("within" if passed else "above")
            + f" 20% of {fy.total_staff} staff",
            values={**values, "limit": limit},
            basis=B2,
        )
        return
    try:
        cap = params["hn_layoff_rate_cap"].at(on, case.applicant.region_code)
    except ParameterNotCovered:  # the local cap is not recorded: a caseworker applies it
        cap = None
    if cap is None:
        review(
            x,
            "LAYOFF_CAP_NOT_SET",
            f"裁员率{rate:.2%}（两种方式取较低者）；当地裁员率上限（统筹区控制线）未录入，需人工核定",
            f"layoff rate {rate:.2%} (the lower of the two); the local cap is not recorded",
            terms.layoff,
            values,
        )
    assert cap is not None
    passed = rate < cap
    if terms.later and passed and rate_b < cap and rate_b <= rate_a:
        extra = fy.insured_staff_decrease <= TWENTY_PERCENT * insured
        x.check(
            "LAYOFF_DECREASE_20",
            extra,
            "以领取失业保险金人数计算的裁员率低于控制线，还须上年度参保职工减少人数不超过参保职工总数的20%",
            "the benefit-based rate is below the line: the decrease must also be at most 20% of insured staff",
            values=values,
            basis=B13_RATE,
        )
    x.check(
        "LAYOFF_RATE",
        passed,
        f"裁员率{rate:.2%}（两种方式取较低者）" + ("低于" if passed else "不低于") + f"当地上限{cap:.2%}",
        f"layoff rate {rate:.2%} " + ("below" if passed else "not below") + f" the local cap {cap:.2%}",
        values={**values, "cap": cap},
        basis=terms.layoff,
    )


def not_blacklisted(x: Explanation, fy: EnterpriseYear, terms: Terms) -> None:
    if terms.later:
        x.check(
            "NOT_BLACKLISTED",
            not fy.serious_violation,
            "被列入黑名单或失信被执行人的单位不予享受" + ("：已列入" if fy.serious_violation else "：未列入"),
            "blacklisted units and judgment defaulters are excluded",
            values={"blacklisted": fy.serious_violation},
            basis=B13_SCOPE,
        )


def once_a_year(case: Case, x: Explanation, programme: str, basis: LegalBasis) -> None:
    year = str(case.submitted_on.year - 1)
    earlier = [g for g in case.grants([programme], case.applicant.id) if g.attribute("refund_year") == year]
    x.check(
        "ONCE_A_YEAR",
        not earlier,
        f"{year}年度的稳岗返还每家企业只能享受一次" + ("，已享受" if earlier else ""),
        f"one refund per enterprise for {year}" + (": already granted" if earlier else ""),
        values={"refund_year": year, "earlier_grants": len(earlier)},
        basis=basis,
    )
    x.attributes["refund_year"] = year


def _general(terms: Terms) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        fy = last_year(case, x, terms.amount)
        not_blacklisted(x, fy, terms)
        once_a_year(case, x, GENERAL, terms.amount)
        x.check(
            "CONTRIBUTIONS_PAID",
            fy.ui_contributions_paid_in_full and fy.ui_contributions > 0,
            f"{fy.year}年度实际缴纳失业保险费{fy.ui_contributions}元"
            + ("" if fy.ui_contributions_paid_in_full else "，未足额缴纳"),
            f"unemployment-insurance contributions actually paid in {fy.year}: {fy.ui_contributions}",
            values={"ui_contributions": fy.ui_contributions, "paid_in_full": fy.ui_contributions_paid_in_full},
            basis=terms.amount,
        )
        layoff_test(case, params, x, fy, terms)
        on = case.submitted_on
        candidates: list[tuple[Decimal, str, LegalBasis]] = [(Decimal("0.50"), "standard", terms.amount)]
        if not terms.later and fy.deep_poverty_area:
            candidates.append((Decimal("0.60"), "deep_poverty_area", B3))
        if fy.restructuring is not None:
            candidates.append(
                (Decimal("0.70"), f"restructuring_{fy.restructuring.value}", B13_AMOUNT if terms.later else B2)
            )
        size = case.applicant.size
        if size in SME and SME_FULL_FROM <= on <= SME_FULL_TO:
            candidates.append((Decimal("1.00"), "sme_no_or_few_layoffs", B13_AMOUNT if terms.later else B20))
        share, reason, basis = max(candidates, key=lambda c: c[0])
        amount = yuan(fy.ui_contributions * share)
        x.check(
            "REFUND_RATE",
            True,
            f"返还{fy.year}年度实际缴纳失业保险费{fy.ui_contributions}元的{share:.0%}，计{amount}元（"
            + {
                "standard": "一般标准",
                "deep_poverty_area": "深度贫困地区",
                "sme_no_or_few_layoffs": "不裁员或少裁员的中小微企业",
            }.get(reason, "兼并重组、化解产能过剩、淘汰落后产能企业")
            + "；同时符合多项的按较高标准）",
            f"{share:.0%} of {fy.ui_contributions} paid in {fy.year} = {amount} ({reason}; the highest applicable rate)",
            values={
                "share": share,
                "reason": reason,
                "enterprise_size": size.value if size else "unknown",
                "amount": amount,
            },
            basis=basis,
        )
        return Amounts.one_off(amount, on, date(fy.year, 1, 1), date(fy.year, 12, 31))

    return rules


def _difficulty(terms: Terms) -> RuleFunction:
    def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
        fy = last_year(case, x, terms.amount)
        not_blacklisted(x, fy, terms)
        once_a_year(case, x, DIFFICULTY, terms.amount)
        x.check(
            "DIFFICULTY_RECOGNISED",
            fy.difficulty_recognised,
            "须经人力资源社会保障、财政、发展改革、税务四部门认定为困难企业"
            + ("" if fy.difficulty_recognised else "：未认定"),
            "the enterprise must be recognised as in difficulty by the four departments",
            values={"recognised": fy.difficulty_recognised},
            basis=B20,
        )
        decline = None
        if fy.net_profit is not None and fy.net_profit_previous_year is not None and fy.net_profit_previous_year > 0:
            decline = (fy.net_profit_previous_year - fy.net_profit) / fy.net_profit_previous_year
        losses = fy.loss_months_in_window >= 6
        fell = decline is not None and decline > TWENTY_PERCENT
        x.check(
            "NET_PROFIT_TEST",
            losses or fell,
            f"上年度10月至本年度6月连续亏损{fy.loss_months_in_window}个月（须6个月），净利润同比下降"
            + ("未知" if decline is None else f"{decline:.2%}")
            + "（须超过20%），二者具备其一",
            f"{fy.loss_months_in_window} consecutive loss months (6 needed) or a net-profit fall above 20% ("
            + ("unknown" if decline is None else f"{decline:.2%}")
            + ")",
            values={
                "loss_months": fy.loss_months_in_window,
                "profit_decline": "none" if decline is None else decline.quantize(Decimal("0.0001")),
            },
            basis=B20,
        )
        layoff_test(case, params, x, fy, terms)
        region = case.applicant.region_code
        on = case.submitted_on
        minimum = x.parameter(params, "minimum_wage_monthly", on, region)
        share = x.parameter(params, "hn_ui_benefit_share_of_minimum_wage", on, region)
        benefit = yuan(minimum * share)
        amount = yuan(6 * benefit * fy.insured_staff)
        x.check(
            "REFUND_AMOUNT",
            True,
            f"按6个月×当地月失业保险金{benefit}元（{on:%Y年%m月}最低工资{minimum}元的{share:.0%}）×参保职工{fy.insured_staff}人，计{amount}元",
            f"6 months x monthly benefit {benefit} x {fy.insured_staff} insured staff = {amount}",
            values={"ui_benefit": benefit, "insured_staff": fy.insured_staff, "amount": amount},
            basis=B13_AMOUNT if terms.later else B20,
        )
        return Amounts.one_off(amount, on)

    return rules


EARLY = Terms(later=False, scope=B3, layoff=B20, amount=B3)
LATER = Terms(later=True, scope=B13_SCOPE, layoff=B13_RATE, amount=B13_AMOUNT)


def _pack(
    programme: str,
    version: str,
    start: date,
    end: date,
    basis: tuple[LegalBasis, ...],
    rules: RuleFunction,
    title: tuple[str, str],
    params: tuple[str, ...],
) -> RulePack:
    return RulePack(
        programme_id=programme,
        version=version,
        title_zh=title[0],
        title_en=title[1],
        jurisdiction="43",
        effective_from=start,
        effective_to=end,
        legal_basis=basis,
        applicant_kinds=(ApplicantKind.ENTERPRISE,),
        facts_needed=("enterprise_year",),
        fund_code="unemployment-insurance-fund",
        rules=rules,
        parameters=params,
        evaluation_date=lambda case: case.submitted_on,
    )


GENERAL_TITLE = ("失业保险稳岗返还", "Job-retention refund of unemployment insurance")
DIFFICULTY_TITLE = ("困难企业稳岗返还", "Job-retention refund for enterprises in difficulty")
PACKS = (
    _pack(
        GENERAL,
        "2020.1",
        date(2020, 2, 21),
        date(2020, 8, 31),
        (B3, B2, B20),
        _general(EARLY),
        GENERAL_TITLE,
        ("hn_layoff_rate_cap",),
    ),
    _pack(
        GENERAL,
        "2020.2",
        date(2020, 9, 1),
        date(2025, 8, 31),
        (B13_SCOPE, B13_RATE, B13_AMOUNT, B2, B20),
        _general(LATER),
        GENERAL_TITLE,
        ("hn_layoff_rate_cap",),
    ),
    _pack(
        DIFFICULTY,
        "2020.1",
        date(2020, 4, 28),
        date(2020, 8, 31),
        (B20, B2, D2_UI_LEVEL),
        _difficulty(EARLY),
        DIFFICULTY_TITLE,
        ("hn_layoff_rate_cap", "minimum_wage_monthly", "hn_ui_benefit_share_of_minimum_wage"),
    ),
    _pack(
        DIFFICULTY,
        "2020.2",
        date(2020, 9, 1),
        date(2025, 8, 31),
        (B13_SCOPE, B13_RATE, B13_AMOUNT, B20, D2_UI_LEVEL),
        _difficulty(LATER),
        DIFFICULTY_TITLE,
        ("hn_layoff_rate_cap", "minimum_wage_monthly", "hn_ui_benefit_share_of_minimum_wage"),
    ),
)
