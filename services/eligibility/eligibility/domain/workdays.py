"""Chinese working days (法定工作日), from the maintained chinesecalendar package.

The package covers the years whose holiday schedule the State Council has published. For a later year an
operator may record the published schedule in calendars/workday_overrides.yaml; a date neither covers is an
error (CalendarNotCovered), never a guess from weekdays, because a 公示 period counted wrongly would release
money early. Lookups are cached per date: the package's own check scans its whole holiday table per call.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

import chinese_calendar
import yaml


class CalendarNotCovered(Exception):
    def __init__(self, day: date) -> None:
        super().__init__(f"no Chinese working-day calendar covers {day.isoformat()}")
        self.day = day


def _load_overrides() -> tuple[dict[int, tuple[frozenset[date], frozenset[date]]], str]:
    path = resources.files("eligibility.calendars") / "workday_overrides.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
    for year, spec in (doc.get("years") or {}).items():
        years[int(year)] = (frozenset(spec.get("holidays", [])), frozenset(spec.get("workdays", [])))
    return years, str(doc.get("source", ""))


_OVERRIDES, _OVERRIDES_SOURCE = _load_overrides()


@lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    override = _OVERRIDES.get(day.year)
    if override is not None:
        holidays, extra_workdays = override
        if day in extra_workdays:
            return True
        if day in holidays:
            return False
        return day.weekday() < 5
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise CalendarNotCovered(day) from exc


def workdays_between(start: date, end: date) -> int:
    """Working days from start to end, both included."""
    return sum(1 for k in range((end - start).days + 1) if is_workday(start + timedelta(days=k)))


def add_workdays(start: date, n: int) -> date:
    """The date on which n working days have passed, counting from the day after `start`."""
    day = start
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return day
