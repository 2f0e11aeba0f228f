"""The tests' one clock: a fixed instant, so that no test depends on the day it runs.

The ``clock`` fixture (autouse, in conftest.py) freezes ``rewards.clock`` at ``FIXED_NOW`` for
every test, the app included (a browser test's server runs in the same process). A test that
needs time to pass moves the clock with ``clock.advance(...)``.

``REWARDS_TEST_NOW`` sets another instant (ISO 8601 with an offset), so the whole suite can be
run on a month's first or last day, a year's end or 29 February:
``REWARDS_TEST_NOW=2027-01-31T23:59:00+08:00 make test``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from rewards.clock import business_date, utcnow

# The 1st of a month, right after a short February: "three days ago" is last month.
DEFAULT_NOW = "2026-03-01T09:30:00+08:00"


def fixed_instant() -> datetime:
    """The instant the suite runs at: ``REWARDS_TEST_NOW`` or ``DEFAULT_NOW``."""
    text = os.environ.get("REWARDS_TEST_NOW") or DEFAULT_NOW
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"REWARDS_TEST_NOW needs a UTC offset, e.g. +08:00: {text!r}")
    return instant.astimezone(UTC)


FIXED_NOW = fixed_instant()


@dataclass
class FrozenClock:
    """A clock that stands still until a test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    @property
    def today(self) -> date:
        """The business date (Asia/Shanghai) at the frozen instant."""
        return business_date(self.now)

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)`` and return the new instant."""
        self.now += timedelta(**delta)
        return self.now


def today() -> date:
    """The business date of the running clock (frozen during tests), for helpers and factories."""
    return business_date(utcnow())
