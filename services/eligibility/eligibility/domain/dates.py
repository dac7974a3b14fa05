"""Dates as the province sees them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """Dates of decisions and notices are Beijing dates."""
    return moment.astimezone(CHINA).date()
