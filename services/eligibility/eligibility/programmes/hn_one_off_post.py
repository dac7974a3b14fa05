"""Hunan one-off post subsidy (一次性岗位补贴): only its exclusivity with the one-off hiring subsidy is sourced.

Source: 湘人社规〔2020〕2号 三 (L4165), in force 2020-02-21 for 5 years (L4147): 「一次性吸纳就业补贴与一次性岗位补贴不
重复享受」. No document in the stored sources (seed 003 and the others) states who may receive the one-off post subsidy,
on what conditions or how much (seed003-C.md §3a; grep of all seeds finds no other mention).

So this pack decides only what the sources decide: a person for whom the one-off hiring subsidy was granted cannot
receive it (engine check NOT_COMBINED, and the hiring pack checks the reverse), nor can a person receive it twice; every
other case goes to a caseworker, because the amount (parameter hn_one_off_post_subsidy) has no sourced value
(PARAMETER_NOT_COVERED). When the local rule is obtained, its conditions belong here with their article.
"""

from __future__ import annotations

from datetime import date

from subsidy_contracts.common import ApplicantKind, LegalBasis

from ..domain.parameters import ParameterSet
from ..domain.rules import Amounts, Case, Explanation, RulePack

PROGRAMME = "hn.one-off-post-subsidy"
HIRING = "hn.one-off-hiring-subsidy"
B2_EXCLUSIVE = LegalBasis(
    document_number="湘人社规〔2020〕2号", article="三", title="一次性吸纳就业补贴与一次性岗位补贴不重复享受（L4165）"
)


def rules(case: Case, params: ParameterSet, x: Explanation) -> Amounts:
    person = case.person
    x.check(
        "PERSON_NAMED",
        person is not None,
        "须指明岗位补贴所针对的人员",
        "the application must name the person the post is for",
        basis=B2_EXCLUSIVE,
    )
    assert person is not None
    earlier = case.grants([PROGRAMME], person.id)
    x.check(
        "ONCE_PER_PERSON",
        not earlier,
        "一次性岗位补贴每人一次" + ("，已享受" if earlier else ""),
        "once per person" + (": already granted" if earlier else ""),
        values={"earlier_grants": len(earlier)},
        basis=B2_EXCLUSIVE,
    )
    amount = x.parameter(params, "hn_one_off_post_subsidy", case.submitted_on, case.applicant.region_code)
    x.note(
        "AMOUNT",
        f"一次性岗位补贴{amount}元",
        f"one-off post subsidy {amount}",
        values={"amount": amount},
        basis=B2_EXCLUSIVE,
    )
    return Amounts.one_off(amount, case.submitted_on)


PACKS = (
    RulePack(
        programme_id=PROGRAMME,
        version="2020.1",
        title_zh="一次性岗位补贴",
        title_en="One-off post subsidy",
        jurisdiction="43",
        effective_from=date(2020, 2, 21),
        effective_to=date(2025, 2, 20),
        legal_basis=(B2_EXCLUSIVE,),
        applicant_kinds=(ApplicantKind.ENTERPRISE, ApplicantKind.INSTITUTION, ApplicantKind.PERSON),
        facts_needed=(),
        fund_code="employment-subsidy-fund",
        rules=rules,
        parameters=("hn_one_off_post_subsidy",),
        exclusive_with=(HIRING,),
        evaluation_date=lambda case: case.submitted_on,
    ),
)
