"""Time: timestamps are UTC; business dates are in the district's time zone (Asia/Shanghai).

Every reading of the current instant goes through ``utcnow``, so one switch (``use_clock``)
decides what "now" is for the whole process: the system clock in production, a fixed instant in
the tests, so that no test depends on the day it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def _system_clock() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_clock


def use_clock(source: Callable[[], datetime] | None) -> None:
    """Make ``source`` the process's clock (it returns aware datetimes); None: the system's."""
    global _source
    _source = source or _system_clock


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _source().astimezone(UTC)


def business_date(at: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai at instant ``at`` (default: now)."""
    return (at or utcnow()).astimezone(BUSINESS_TZ).date()


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which business date ``day`` starts and ends (half-open)."""
    start = datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` months earlier, clamped to the month's end (31 Mar → 28 Feb)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")
