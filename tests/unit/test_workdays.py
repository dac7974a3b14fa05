from datetime import date

import pytest

from eligibility.domain.workdays import CalendarNotCovered, add_workdays, is_workday, workdays_between


def test_national_day_holiday_and_make_up_working_day_2024() -> None:
    assert not is_workday(date(2024, 10, 1))  # 国庆节
    assert is_workday(date(2024, 9, 29))  # Sunday, worked in lieu (调休)
    assert not is_workday(date(2024, 10, 5))  # Saturday


def test_counting_working_days_across_a_holiday() -> None:
    assert workdays_between(date(2024, 9, 30), date(2024, 10, 8)) == 2  # 30 Sep and 8 Oct
    # 29 Sep, 30 Sep, 8-11 Oct, and Saturday 12 Oct, another make-up working day
    assert add_workdays(date(2024, 9, 27), 7) == date(2024, 10, 12)


def test_a_year_without_a_published_schedule_is_an_error() -> None:
    with pytest.raises(CalendarNotCovered):
        is_workday(date(2027, 3, 1))
