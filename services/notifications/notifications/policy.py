"""When a message may go out: quiet hours, per-recipient rate limit, retry backoff, SMS segments.

Pure functions of an injected clock's time, so that tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# GSM 03.38 does not cover Chinese: UCS-2 gives 70 characters in one SMS, 67 per part once concatenated
# (the user data header takes the other three).
SINGLE_SMS_CHARS = 70
CONCATENATED_PART_CHARS = 67


def sms_segments(text: str) -> int:
    """How many SMS the carrier bills for this text (the signature counts: it is part of the text)."""
    n = len(text)
    if n <= SINGLE_SMS_CHARS:
        return 1
    return math.ceil(n / CONCATENATED_PART_CHARS)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock tests set and move."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass(frozen=True)
class QuietHours:
    """No SMS between start and end local time (crossing midnight), unless the message is urgent."""

    start: time = time(22, 0)
    end: time = time(8, 0)
    zone: ZoneInfo = SHANGHAI
    enabled: bool = True

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Shanghai") -> QuietHours:
        """ "22:00-08:00", or "" / "off" for none."""
        spec = spec.strip()
        if spec.lower() in ("", "off", "none"):
            return cls(enabled=False, zone=ZoneInfo(zone))
        start, end = (time.fromisoformat(part.strip()) for part in spec.split("-", 1))
        return cls(start, end, ZoneInfo(zone))

    def contains(self, at: datetime) -> bool:
        if not self.enabled:
            return False
        local = at.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, at: datetime) -> datetime:
        """The first moment at or after `at` outside quiet hours."""
        if not self.contains(at):
            return at
        local = at.astimezone(self.zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)

    def earliest_send(self, at: datetime, channel: str, urgent: bool) -> datetime:
        """When a message composed at `at` may first be sent: quiet hours hold back non-urgent SMS only."""
        if channel != "sms" or urgent:
            return at
        return self.ends_after(at)


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` messages per recipient and channel within any `window` (a sliding window)."""

    limit: int = 5
    window: timedelta = timedelta(hours=1)

    def partition(
        self, candidates: Sequence[tuple[uuid.UUID, str]], recent: dict[str, Iterable[datetime]], now: datetime
    ) -> tuple[list[uuid.UUID], dict[uuid.UUID, datetime]]:
        """Split claimed messages (id, recipient), in priority order, into those that may go now and those that
        must wait, with the time each may try again. `recent` holds each recipient's send times already in
        the window."""
        allowed: list[uuid.UUID] = []
        deferred: dict[uuid.UUID, datetime] = {}
        horizon = now - self.window
        sends = {r: sorted(t for t in times if t > horizon) for r, times in recent.items()}
        for message_id, recipient in candidates:
            times = sends.setdefault(recipient, [])
            if len(times) < self.limit:
                allowed.append(message_id)
                times.append(now)
                times.sort()
            else:
                # The slot frees when the oldest send in the window leaves it; later ones queue behind it.
                position = len(times) - self.limit
                deferred[message_id] = times[position] + self.window
                times.append(times[position] + self.window)
                times.sort()
        return allowed, deferred


@dataclass(frozen=True)
class Backoff:
    """Delay before retry n (1-based): base * 2^(n-1), capped; after max_attempts the failure is permanent."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 8

    def delay(self, attempt: int) -> timedelta:
        delay: timedelta = self.base * (2 ** max(0, attempt - 1))
        return min(self.cap, delay)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
