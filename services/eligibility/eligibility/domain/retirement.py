"""Statutory retirement date (法定退休时间) of a person, for subsidies that end at retirement or run to it.

Before 2025 the statutory ages were 60 for men, 55 for women cadres (女干部) and 50 for women workers (女工人)
(国发〔1978〕104号, the category recorded in RetirementProfile). The NPC Standing Committee decided on
2024-09-13 (《全国人民代表大会常务委员会关于实施渐进式延迟法定退休年龄的决定》, in force 2025-01-01) and the
State Council measures it approved (《国务院关于渐进式延迟法定退休年龄的办法》 第一条) raise them from 2025:

- men and women whose age was 55: 「法定退休年龄每四个月延迟一个月，分别逐步延迟至六十三周岁和五十八周岁」;
- women whose age was 50: 「每二个月延迟一个月，逐步延迟至五十五周岁」.

So the delay is counted in birth months from the first cohort that would have retired in 2025 (men born
1965-01, women cadres 1970-01, women workers 1975-01): births in the first 4 months (2 for the 50 group) of
that cohort wait one month more, the next 4 (2) two months, and so on, until the cap of 36 / 36 / 60 months.
Verified (search, corpus pages) against hrss.sz.gov.cn 专题 渐进式延迟法定退休年龄改革 政策小贴士 (2024-09-13:
「按每4个月延迟1个月的节奏…逐步延迟至58周岁；…按每2个月延迟1个月的节奏…逐步延迟至55周岁」),
rsj.snj.gov.cn (source 人力资源社会保障部, same text) and published copies of the attached 对照表 (women of
the 50 group born from 1984-11 reach the full 55; men born 1986 and later retire at 63, 36 months later).

Which law applies is decided by the date of the evaluation (`as_of`): a decision taken before 2025-01-01 used
the ages then in force, as it could not know the reform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from subsidy_contracts.facts import RetirementCategory

REFORM_IN_FORCE = date(2025, 1, 1)
REFORM_BASIS = "全国人民代表大会常务委员会关于实施渐进式延迟法定退休年龄的决定（2024年9月13日）附《国务院关于渐进式延迟法定退休年龄的办法》第一条"
PRE_REFORM_BASIS = "国务院关于安置老弱病残干部的暂行办法、关于工人退休退职的暂行办法（国发〔1978〕104号）"

# category -> (age before the reform, first birth month of the reform, birth months per month of delay, cap)
_RULES: dict[RetirementCategory, tuple[int, date, int, int]] = {
    RetirementCategory.MALE: (60, date(1965, 1, 1), 4, 36),
    RetirementCategory.FEMALE_CADRE: (55, date(1970, 1, 1), 4, 36),
    RetirementCategory.FEMALE_WORKER: (50, date(1975, 1, 1), 2, 60),
}


@dataclass(frozen=True, slots=True)
class StatutoryRetirement:
    on: date
    """The day the person reaches the statutory retirement age."""
    age_years: int
    age_months: int
    delay_months: int
    reform: bool
    """True when the 2025 gradual reform decided the age."""

    @property
    def age_text(self) -> str:
        return f"{self.age_years}岁" + (f"{self.age_months}个月" if self.age_months else "")

    @property
    def basis(self) -> str:
        return REFORM_BASIS if self.reform else PRE_REFORM_BASIS


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (31 January + 1 month)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def delay_months(birth_date: date, category: RetirementCategory) -> int:
    """Months the 2025 reform adds to the pre-2025 age for this birth month (0 before the first cohort)."""
    _, first, step, cap = _RULES[category]
    k = (birth_date.year - first.year) * 12 + birth_date.month - first.month
    if k < 0:
        return 0
    return min(cap, k // step + 1)


def statutory_retirement(birth_date: date, category: RetirementCategory, as_of: date) -> StatutoryRetirement:
    """The statutory retirement date under the law in force on `as_of`."""
    base, _, _, _ = _RULES[category]
    reform = as_of >= REFORM_IN_FORCE
    delay = delay_months(birth_date, category) if reform else 0
    total = base * 12 + delay
    return StatutoryRetirement(
        on=add_months(birth_date, total),
        age_years=total // 12,
        age_months=total % 12,
        delay_months=delay,
        reform=reform and delay > 0,
    )
