"""What the demo's steps share: the session, the one seeded rng, the instant the history is laid
out back from, and what earlier steps made (communities, accounts, merchants, members …)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from rewards.clock import BUSINESS_TZ, business_date
from rewards.errors import Conflict
from rewards.models import Account, Community, Merchant, PointCategory, Tier
from rewards.services import ledger
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens, luhn_check_digit

from .words import GIVEN_CHARS, PHONE_PREFIXES, SURNAMES

DEMO_PASSWORD = "hongse2019"


@dataclass
class PlannedMember:
    community_index: int
    member_no: str
    name: str
    phone: str
    employer: str
    joined_on: date
    band: Tier = Tier.NONE
    target_points: int = 0
    id: int = 0
    aged_points: int = 0  # an ageing member's points placed near the window's edge so far


@dataclass(frozen=True)
class PlannedPosting:
    """A ledger posting waiting for its monthly certification batch."""

    instant: datetime
    community_index: int
    posting: ledger.Posting


@dataclass(frozen=True)
class IssuedCard:
    """An active card the demo issued: who may show it at a counter, and since when."""

    member: PlannedMember
    card_no: str
    issued_at: datetime


@dataclass(eq=False)
class Demo:
    """The demo under construction. Every random choice comes from ``rng``, in step order."""

    session: Session
    rng: random.Random
    member_count: int
    now: datetime
    operator: Actor
    tokens: CardTokens
    today: date = field(init=False)
    admin: Actor = field(init=False)
    communities: list[Community] = field(default_factory=list)
    categories: dict[str, PointCategory] = field(default_factory=dict)
    secretaries: list[Account] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    merchants: list[Merchant] = field(default_factory=list)
    # Per merchant id: the community indexes its agreements serve (None: the whole district).
    served: dict[int, set[int] | None] = field(default_factory=dict)
    members: list[PlannedMember] = field(default_factory=list)
    designated: dict[str, PlannedMember] = field(default_factory=dict)
    outcome_cards: dict[str, str] = field(default_factory=dict)
    active_cards: list[IssuedCard] = field(default_factory=list)
    card_numbers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    postings: list[PlannedPosting] = field(default_factory=list)
    # (instant, community index, idempotency key of the entry, reason)
    reversals: list[tuple[datetime, int, str, str]] = field(default_factory=list)
    activity_count: int = 0
    attendance_count: int = 0

    def __post_init__(self) -> None:
        self.now = self.now.astimezone(UTC)
        self.today = business_date(self.now)

    # -- time -------------------------------------------------------------------------------

    def instant(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local (Asia/Shanghai) time on ``day`` as UTC, never later than a minute ago."""
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=BUSINESS_TZ)
        return min(local.astimezone(UTC), self.now - timedelta(minutes=1))

    def days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def batch_instant(self, day: date, community_index: int) -> datetime:
        """When the branch certifies a service of ``day``: its monthly review on the 5th of the
        next month (月度积分评议), or today for the current month."""
        month = date(day.year + day.month // 12, day.month % 12 + 1, 5)
        return self.instant(month, 15, community_index * 2)

    # -- people and numbers -----------------------------------------------------------------

    def person_name(self) -> str:
        given = "".join(self.rng.choice(GIVEN_CHARS) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def phone(self) -> str:
        while True:
            phone = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def card_number(self) -> str:
        while True:
            body = str(self.rng.randrange(10**10, 10**11))
            number = body + luhn_check_digit(body)
            if number not in self.card_numbers:
                self.card_numbers.add(number)
                return number

    def add_login(self, role: str, account: Account, scope: str) -> None:
        """A sign-in printed by ``make run`` (all share the demo password)."""
        self.logins.append(
            {
                "role": role,
                "username": account.username,
                "password": DEMO_PASSWORD,
                "display_name": account.display_name,
                "scope": scope,
            }
        )

    # -- writing ----------------------------------------------------------------------------

    def insert_in_order(
        self, model: Any, rows: list[dict[str, Any]], check: tuple[str, ...]
    ) -> list[int]:
        """Bulk insert ``rows`` and return their new ids, in row order.

        A plain executemany (no RETURNING: psycopg would parse one giant multi-row statement per
        1,000 rows, slower than the inserts themselves), then the ids read back in id order.
        The ``check`` columns of every row read back must match, or someone else was writing.
        """
        before = self.session.scalar(select(func.max(model.id))) or 0
        self.session.execute(insert(model), rows)
        columns = [getattr(model, name) for name in check]
        found = self.session.execute(
            select(model.id, *columns).where(model.id > before).order_by(model.id)
        ).all()
        expected = [tuple(row[name] for name in check) for row in rows]
        if [tuple(r[1:]) for r in found] != expected:
            raise Conflict("写入演示数据时有其他程序同时写入数据库，请在空数据库上重试。")
        return [r[0] for r in found]
