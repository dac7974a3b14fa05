"""Every rule case written as data (services/eligibility/eligibility/programmes/cases/*.yaml) holds."""

from __future__ import annotations

import pytest

from eligibility import casebook
from eligibility.domain.parameters import ParameterSet
from eligibility.programmes import CATALOGUE
from subsidy_contracts.programmes import PROGRAMME_TITLES

PARAMS = ParameterSet.bundled()
CASES = [case for path in casebook.bundled_paths() for case in casebook.load(path)]


@pytest.mark.parametrize("case", CASES, ids=[c.source for c in CASES])
def test_case(case: casebook.Case) -> None:
    outcome = casebook.run(case, CATALOGUE, PARAMS)
    assert outcome.passed, "; ".join(outcome.failures)


def test_every_programme_has_cases() -> None:
    assert {c.programme_id for c in CASES} == set(CATALOGUE.programmes())


def test_a_wrong_expectation_is_reported() -> None:
    case = CASES[0]
    wrong = casebook.Case(
        case.programme_id,
        case.name,
        case.data,
        {**case.expect, "amount": "1.00", "conditions": {"NO_SUCH": True}},
        case.source,
    )
    failures = casebook.run(wrong, CATALOGUE, PARAMS).failures
    assert any("amount" in f for f in failures)
    assert any("NO_SUCH" in f for f in failures)


def test_every_programme_has_a_title_in_the_contracts() -> None:
    assert set(CATALOGUE.programmes()) <= set(PROGRAMME_TITLES)


def test_every_rule_cites_its_document_and_article() -> None:
    for pack in CATALOGUE.packs():
        assert pack.legal_basis, pack.programme_id
    for case in CASES:
        evaluation = casebook.run(case, CATALOGUE, PARAMS).evaluation
        for condition in evaluation.conditions if evaluation else ():
            if condition.code in UNSOURCED:
                continue
            basis = condition.legal_basis
            assert basis is not None, f"{case.source}: {condition.code} has no legal basis"
            assert basis.document_number, condition.code
            assert basis.article, condition.code


UNSOURCED = {"PARAMETER_NOT_COVERED", "CALENDAR_NOT_COVERED"}  # operational, not rules
