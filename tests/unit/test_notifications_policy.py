"""Quiet hours, the per-recipient rate limit and retry backoff, on a clock the test moves (no sleeping)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notifications.policy import Backoff, ManualClock, QuietHours, RateLimit


def shanghai(hour: int, minute: int = 0, day: int = 0) -> datetime:
    """A Shanghai wall-clock time on 2026-11-30 plus `day` days, as UTC (Shanghai is UTC+8, no DST)."""
    return datetime(2026, 11, 30, hour, minute, tzinfo=UTC) + timedelta(days=day, hours=-8)


def test_quiet_hours_cover_22_to_08_shanghai_time_across_midnight() -> None:
    q = QuietHours()
    assert not q.contains(shanghai(21, 59))
    assert q.contains(shanghai(22, 0))
    assert q.contains(shanghai(23, 30))
    assert q.contains(shanghai(3, 0))
    assert q.contains(shanghai(7, 59))
    assert not q.contains(shanghai(8, 0))
    assert not q.contains(shanghai(12, 0))


def test_non_urgent_sms_in_quiet_hours_waits_for_eight_in_the_morning() -> None:
    q = QuietHours()
    clock = ManualClock(shanghai(23, 15))
    assert q.earliest_send(clock.now(), "sms", urgent=False) == shanghai(8, 0, day=1)
    clock.advance(timedelta(hours=2))  # 01:15 the next day: still the same morning
    assert q.earliest_send(clock.now(), "sms", urgent=False) == shanghai(8, 0, day=1)
    # Urgent SMS, and other channels, go at once.
    assert q.earliest_send(clock.now(), "sms", urgent=True) == clock.now()
    assert q.earliest_send(clock.now(), "email", urgent=False) == clock.now()
    # Outside quiet hours nothing waits.
    assert q.earliest_send(shanghai(9, 0), "sms", urgent=False) == shanghai(9, 0)


def test_quiet_hours_can_be_configured_or_switched_off() -> None:
    assert not QuietHours.parse("off").contains(shanghai(23, 0))
    q = QuietHours.parse("21:30-07:00")
    assert q.contains(shanghai(21, 30))
    assert not q.contains(shanghai(7, 0))


def test_rate_limit_lets_the_first_n_through_and_defers_the_rest_until_slots_free() -> None:
    limit = RateLimit(limit=3, window=timedelta(hours=1))
    clock = ManualClock(shanghai(10, 0))
    ids = [uuid.uuid4() for _ in range(5)]
    other = uuid.uuid4()
    earlier = [clock.now() - timedelta(minutes=50)]  # one send already in the window
    allowed, deferred = limit.partition(
        [(i, "13800138000") for i in ids] + [(other, "13900139000")], {"13800138000": earlier}, clock.now()
    )
    assert allowed == [*ids[:2], other]  # 1 earlier + 2 now = 3; another recipient is not affected
    # The next slot frees when the earlier send leaves the window (in 10 minutes), the next ones in an hour.
    assert deferred == {
        ids[2]: earlier[0] + timedelta(hours=1),
        ids[3]: clock.now() + timedelta(hours=1),
        ids[4]: clock.now() + timedelta(hours=1),
    }
    # Once the window has moved on, the same recipient may receive again.
    clock.advance(timedelta(minutes=61))
    allowed, deferred = limit.partition([(ids[2], "13800138000")], {"13800138000": earlier}, clock.now())
    assert allowed == [ids[2]]
    assert not deferred


def test_rate_limit_keeps_priority_order() -> None:
    limit = RateLimit(limit=1, window=timedelta(minutes=10))
    now = shanghai(10, 0)
    urgent, reminder = uuid.uuid4(), uuid.uuid4()
    allowed, deferred = limit.partition([(urgent, "a"), (reminder, "a")], {}, now)
    assert allowed == [urgent]
    assert reminder in deferred


def test_backoff_doubles_up_to_a_cap_and_gives_up_after_the_last_attempt() -> None:
    b = Backoff(base=timedelta(seconds=5), cap=timedelta(minutes=1), max_attempts=4)
    assert [b.delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert not b.exhausted(3)
    assert b.exhausted(4)
