"""Small helpers shared by the Hunan social-insurance, public-welfare-post and fisherman rule packs.

Not a programme (no PACKS): months, years, the statutory retirement of the person a case is about, and a
caseworker review that keeps the legal basis the rule came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, NoReturn

from subsidy_contracts.common import LegalBasis, Sex
from subsidy_contracts.facts import RetirementCategory, RetirementProfile

from ..domain.retirement import StatutoryRetirement, add_months, statutory_retirement
from ..domain.rules import Case, Explanation, Grant, NeedsReview, Party


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return add_months(month_start(day), 1) - timedelta(days=1)


def months(first: date, last: date) -> Iterator[date]:
    """First days of the months from the month of `first` to the month of `last`, both included."""
    m = month_start(first)
    while m <= last:
        yield m
        m = add_months(m, 1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def ym(day: date) -> str:
    return f"{day:%Y_%m}"


def review(
    x: Explanation, code: str, zh: str, en: str, basis: LegalBasis, values: dict[str, Any] | None = None
) -> NoReturn:
    """Send the case to a caseworker, recording the rule (and its legal basis) that could not be decided.

    Explanation.review records no legal basis; this records the same condition with the article it comes from.
    """
    x.check(code, False, zh, en, values=values, basis=basis, stop=False)
    raise NeedsReview(code)


def granted_months(grant: Grant) -> int:
    """Months an earlier grant covered: its recorded attribute, else the months from its start to its end."""
    recorded = grant.attribute("months")
    if recorded is not None:
        return int(recorded)
    if grant.start is None or grant.end is None:
        return 0
    return month_index(grant.end) - month_index(grant.start) + 1


def retirement_category(case: Case, person: Party) -> RetirementCategory | None:
    profile = case.one(RetirementProfile, person.id)
    if profile is not None:
        return profile.category
    if person.sex is Sex.MALE:
        return RetirementCategory.MALE
    return None  # a woman's category (cadre 55 / worker 50) must be recorded


def retirement_of(case: Case, person: Party) -> StatutoryRetirement | None:
    category = retirement_category(case, person)
    if category is None or person.birth_date is None:
        return None
    return statutory_retirement(person.birth_date, category, case.on)
