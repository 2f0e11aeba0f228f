"""A stateful property test of the ledger and the card: hypothesis drives random sequences of
the real services (post an adjustment, reverse, certify a claim, record attendance, transfer a
member, check out with a phone token or an offline code, void a sale, let days pass) on a small
world, keeps its own model of what must be true, and after every step checks that

- each member's balance is the sum of their entries, and what the model expects;
- each member's tier is the one the model computes from its points in the trailing window;
- a phone token or an offline code pays once: a second use is refused, at any merchant;
- a voided sale counts nowhere: not in the merchants' or the district's sales reports, not in
  the member's savings;
- every member's hash chain verifies.

Each example starts from an empty database and the frozen clock (the world is built in the
machine's constructor, the tables emptied in its teardown). Bounded and derandomised."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.clock import business_date
from rewards.errors import (
    Conflict,
    DomainError,
    NoAgreement,
    NotFound,
    TierNone,
    TokenExpired,
    TokenUsed,
    ValidationFailed,
)
from rewards.models import LedgerEntry, Role, Tier
from rewards.services import (
    activities,
    agreements,
    card_use,
    checkout,
    claims,
    district_reports,
    ledger,
    merchant_reports,
    offline_codes,
    roster,
    tiers,
)
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens
from rewards.services.totp import totp
from tests import factories
from tests.clock import FIXED_NOW, FrozenClock, today
from tests.conftest import empty_all_tables

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
GOLD, SILVER = 100, 50  # the world's tier policy, over a 12-month window
# Pay percents by merchant and community (gold, silver): the shop serves home only, the
# market both communities.
MAX_DAYS_PASSED = 420  # far enough for every starting point to leave the window
REASON = "核对更正"


def window_start(on: date) -> date:
    """The first service date that counts on day ``on``: 12 months back, plus a day."""
    year, month = (on.year - 1, on.month)
    day = on.day
    while True:
        try:
            return date(year, month, day) + timedelta(days=1)
        except ValueError:
            day -= 1


def expected_tier(points: int) -> Tier:
    return Tier.GOLD if points >= GOLD else Tier.SILVER if points >= SILVER else Tier.NONE


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Entry:
    id: int
    member: int  # index into the model's members
    points: int
    occurred_on: date
    is_reversal: bool = False
    reversed: bool = False


@dataclass
class Sale:
    id: int
    member: int
    merchant: int
    amount_fen: int
    discount_fen: int
    business_date: date
    voided: bool = False


@dataclass
class Credential:
    text: str
    issued_at_days: int  # days passed when it was issued


@dataclass
class Model:
    communities: list[int] = field(default_factory=list)  # index -> community index
    entries: list[Entry] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    used: list[Credential] = field(default_factory=list)
    used_offline: set[tuple[int, int]] = field(default_factory=set)  # (member, TOTP period)

    def balance(self, member: int) -> int:
        return sum(e.points for e in self.entries if e.member == member)

    def window_points(self, member: int, on: date) -> int:
        start = window_start(on)
        return sum(
            e.points for e in self.entries if e.member == member and start <= e.occurred_on <= on
        )


class LedgerMachine(RuleBasedStateMachine):
    """Bound to a test's session, clock and card tokens by ``bound_machine``."""

    session: Session
    clock: FrozenClock
    tokens: CardTokens

    def __init__(self) -> None:
        super().__init__()
        self.clock.now = FIXED_NOW
        self.days_passed = 0
        session = self.session
        world = factories.build_world(session)
        far = factories.member(session, world.other, name="赵六")
        market = factories.merchant(session)
        agreements.sign_agreement(
            session, ADMIN, market.id, None, 90, 97, valid_from=date(2020, 1, 1)
        )
        self.communities = [world.home.id, world.other.id]
        self.members = [world.gold, world.silver, world.plain, far]
        self.cards = [world.gold_card, world.silver_card, world.plain_card]
        self.cards.append(factories.card(session, far))
        self.merchants = [world.shop.id, market.id]
        # Pay percents by (merchant, community index) and tier; absent: no agreement.
        self.terms = {
            (0, 0): {Tier.GOLD: 88, Tier.SILVER: 95},
            (1, 0): {Tier.GOLD: 90, Tier.SILVER: 97},
            (1, 1): {Tier.GOLD: 90, Tier.SILVER: 97},
        }
        self.cashiers = [
            world.actor(world.cashier),
            Actor.for_account(factories.account(session, Role.CASHIER, merchant=market)),
        ]
        self.category = world.category
        self.member_actors = []
        self.offline = []
        for member in self.members:
            account = factories.account(session, Role.MEMBER, member=member)
            actor = Actor.for_account(account)
            self.member_actors.append(actor)
            self.offline.append(offline_codes.issue_offline_key(session, actor, self.tokens.box))
        session.commit()
        self.model = Model(communities=[0, 0, 0, 1])
        start = today() - timedelta(days=10)
        for index, points in enumerate((120, 60, 10)):
            entry = session.scalars(
                select(LedgerEntry).where(LedgerEntry.member_id == self.members[index].id)
            ).one()
            assert (entry.points, entry.occurred_on) == (points, start)
            self.model.entries.append(Entry(entry.id, index, points, start))
        self.keys = iter(range(10**9))

    def teardown(self) -> None:
        self.session.rollback()
        empty_all_tables()
        self.clock.now = FIXED_NOW

    # -- helpers -------------------------------------------------------------------------------

    def commit(self) -> None:
        self.session.commit()

    def refused(self) -> None:
        """A refusal changes nothing: what the service may have flushed is rolled back."""
        self.session.rollback()

    def key(self) -> str:
        return f"state-machine-{next(self.keys):08d}"

    def tier_of(self, member: int) -> Tier:
        return expected_tier(self.model.window_points(member, today()))

    # -- rules ---------------------------------------------------------------------------------

    @rule(
        member=st.integers(0, 3),
        points=st.integers(-80, 80).filter(bool),
        days_ago=st.integers(0, 400),
    )
    def adjust(self, member: int, points: int, days_ago: int) -> None:
        occurred_on = today() - timedelta(days=days_ago)
        entry = ledger.adjust(
            self.session,
            ADMIN,
            self.members[member].id,
            points,
            REASON,
            occurred_on,
            self.key(),
        )
        self.commit()
        self.model.entries.append(Entry(entry.id, member, points, occurred_on))

    @rule(pick=st.integers(0, 10**6))
    def reverse(self, pick: int) -> None:
        original = self.model.entries[pick % len(self.model.entries)]
        if original.is_reversal or original.reversed:
            with pytest.raises(Conflict):
                ledger.reverse(self.session, ADMIN, original.id, REASON)
            self.refused()
            return
        entry = ledger.reverse(self.session, ADMIN, original.id, REASON)
        self.commit()
        original.reversed = True
        self.model.entries.append(
            Entry(entry.id, original.member, -original.points, original.occurred_on, True)
        )

    @rule(
        member=st.integers(0, 3),
        claimed=st.integers(1, 20),
        certified=st.none() | st.integers(1, 20),
        days_ago=st.integers(0, 30),
    )
    def certify(self, member: int, claimed: int, certified: int | None, days_ago: int) -> None:
        occurred_on = today() - timedelta(days=days_ago)
        claim = claims.submit_claim(
            self.session,
            ADMIN,
            self.members[member].id,
            self.category.id,
            "帮助独居老人买菜",
            occurred_on,
            points=claimed,
        )
        self.commit()
        entry = claims.certify_claim(self.session, ADMIN, claim.id, points=certified)
        self.commit()
        points = claimed if certified is None else certified
        self.model.entries.append(Entry(entry.id, member, points, occurred_on))
        with pytest.raises(Conflict):
            claims.certify_claim(self.session, ADMIN, claim.id)
        self.refused()

    @rule(
        community=st.integers(0, 1),
        chosen=st.sets(st.integers(0, 3), min_size=1),
        points=st.integers(1, 20),
        days_ago=st.integers(0, 30),
    )
    def attend(self, community: int, chosen: set[int], points: int, days_ago: int) -> None:
        occurred_on = today() - timedelta(days=days_ago)
        activity = activities.create_activity(
            self.session,
            ADMIN,
            self.communities[community],
            self.category.id,
            "社区环境整治",
            occurred_on,
            points,
        )
        self.commit()
        numbers = [self.members[m].member_no for m in sorted(chosen)]
        if any(self.model.communities[m] != community for m in chosen):
            # Another community's member refuses the whole batch.
            with pytest.raises(ValidationFailed):
                activities.record_attendance(self.session, ADMIN, activity.id, numbers)
            self.refused()
            return
        result = activities.record_attendance(self.session, ADMIN, activity.id, numbers)
        self.commit()
        assert sorted(result.credited) == sorted(numbers)
        credited = self.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.source_type == "activity", LedgerEntry.source_id == activity.id
            )
        ).all()
        by_member = {e.member_id: e for e in credited}
        for m in chosen:
            entry = by_member[self.members[m].id]
            self.model.entries.append(Entry(entry.id, m, points, occurred_on))
        # A re-submitted batch credits nobody twice.
        again = activities.record_attendance(self.session, ADMIN, activity.id, numbers)
        self.commit()
        assert (again.credited, sorted(again.already_recorded)) == ([], sorted(numbers))

    @rule(member=st.integers(0, 3), to=st.integers(0, 1))
    def transfer(self, member: int, to: int) -> None:
        target = self.communities[to]
        if self.model.communities[member] == to:
            with pytest.raises(Conflict):
                roster.transfer_member(self.session, ADMIN, self.members[member].id, target)
            self.refused()
            return
        roster.transfer_member(self.session, ADMIN, self.members[member].id, target)
        self.commit()
        self.model.communities[member] = to

    @rule(
        member=st.integers(0, 3),
        merchant=st.integers(0, 1),
        offline=st.booleans(),
        amount_fen=st.integers(1, 500_000),
    )
    def check_out(self, member: int, merchant: int, offline: bool, amount_fen: int) -> None:
        if offline:
            key = self.offline[member]
            period = int(self.clock.now.timestamp()) // key.period
            credential = key.card_number + totp(key.secret, period)
            spent = (member, period) in self.model.used_offline
        else:
            credential, _ = self.tokens.phone_token(self.cards[member])
            spent = False
        cashier = self.cashiers[merchant]
        tier = self.tier_of(member)
        terms = self.terms.get((merchant, self.model.communities[member]))
        expected: type[DomainError] | None = (
            TokenUsed
            if spent
            else TierNone
            if tier is Tier.NONE
            else NoAgreement
            if terms is None
            else None
        )
        if expected is not None:
            with pytest.raises(expected):
                checkout.confirm(
                    self.session, cashier, self.tokens, credential, yuan(amount_fen), self.key()
                )
            self.refused()
            return
        assert terms is not None
        sale, created = checkout.confirm(
            self.session, cashier, self.tokens, credential, yuan(amount_fen), self.key()
        )
        self.commit()
        assert created and sale.tier is tier
        discount = (amount_fen * (100 - terms[tier]) + 50) // 100
        assert (sale.amount_fen, sale.discount_fen) == (amount_fen, discount)
        self.model.sales.append(
            Sale(sale.id, member, merchant, amount_fen, discount, sale.business_date)
        )
        self.model.used.append(Credential(credential, self.days_passed))
        if offline:
            self.model.used_offline.add((member, period))
        # The same credential, right away, at the other merchant: refused.
        with pytest.raises(TokenUsed):
            other = self.cashiers[1 - merchant]
            checkout.confirm(self.session, other, self.tokens, credential, "1.00", self.key())
        self.refused()

    @precondition(lambda self: self.model.used)
    @rule(pick=st.integers(0, 10**6), merchant=st.integers(0, 1))
    def reuse_credential(self, pick: int, merchant: int) -> None:
        used = self.model.used[pick % len(self.model.used)]
        # Within its lifetime it is spent; once days have passed it has expired too.
        same_day = used.issued_at_days == self.days_passed
        with pytest.raises(TokenUsed if same_day else (TokenUsed, TokenExpired)):
            checkout.confirm(
                self.session, self.cashiers[merchant], self.tokens, used.text, "88.00", self.key()
            )
        self.refused()

    @precondition(lambda self: self.model.sales)
    @rule(pick=st.integers(0, 10**6), own_merchant=st.booleans())
    def void(self, pick: int, own_merchant: bool) -> None:
        sale = self.model.sales[pick % len(self.model.sales)]
        merchant = sale.merchant if own_merchant else 1 - sale.merchant
        cashier = self.cashiers[merchant]
        if not own_merchant:
            expected: type[DomainError] | None = NotFound
        elif sale.voided or sale.business_date != today():
            expected = Conflict
        else:
            expected = None
        if expected is not None:
            with pytest.raises(expected):
                checkout.void(self.session, cashier, sale.id, "顾客退货")
            self.refused()
            return
        checkout.void(self.session, cashier, sale.id, "顾客退货")
        self.commit()
        sale.voided = True

    @precondition(lambda self: self.days_passed < MAX_DAYS_PASSED)
    @rule(days=st.integers(1, 120))
    def days_pass(self, days: int) -> None:
        days = min(days, MAX_DAYS_PASSED - self.days_passed)
        self.clock.advance(days=days)
        self.days_passed += days

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def balance_is_the_sum_of_entries(self) -> None:
        for index, member in enumerate(self.members):
            entries = self.session.scalars(
                select(LedgerEntry.points).where(LedgerEntry.member_id == member.id)
            ).all()
            balance = ledger.balance(self.session, member.id)
            assert balance == sum(entries) == self.model.balance(index), member.member_no

    @invariant()
    def tier_follows_the_points_in_the_window(self) -> None:
        for index, member in enumerate(self.members):
            standing = tiers.evaluate_tier(self.session, member.id)
            points = self.model.window_points(index, today())
            assert (standing.points, standing.window_start) == (points, window_start(today()))
            assert standing.tier is expected_tier(points), member.member_no

    @invariant()
    def a_voided_sale_counts_nowhere(self) -> None:
        live = [s for s in self.model.sales if not s.voided]
        start = business_date(FIXED_NOW) - timedelta(days=2)
        for index, merchant_id in enumerate(self.merchants):
            mine = [s for s in live if s.merchant == index]
            summary = merchant_reports.period_summary(
                self.session, ADMIN, merchant_id, start, today()
            )
            assert (summary.sales_count, summary.sales_fen, summary.discount_fen) == (
                len(mine),
                sum(s.amount_fen for s in mine),
                sum(s.discount_fen for s in mine),
            )
        for year in range(start.year, today().year + 1):
            in_year = [s for s in live if s.business_date.year == year]
            report = district_reports.card_use(self.session, ADMIN, year)
            total = report.district.total
            assert (total.count, total.amount_fen, total.discount_fen) == (
                len(in_year),
                sum(s.amount_fen for s in in_year),
                sum(s.discount_fen for s in in_year),
            )
            by_merchant = {m.code: m.total.count for m in report.merchants}
            assert sum(by_merchant.values()) == len(in_year)
            for index, actor in enumerate(self.member_actors):
                own = [s for s in in_year if s.member == index]
                savings = card_use.my_savings(self.session, actor, year)
                assert (savings.sales, savings.discount_fen) == (
                    len(own),
                    sum(s.discount_fen for s in own),
                )

    @invariant()
    def every_chain_verifies(self) -> None:
        report = ledger.verify_chain(self.session)
        assert report.ok, report.problem
        assert report.entry_count == len(self.model.entries)


def bound_machine(session: Session, clock: FrozenClock, tokens: CardTokens) -> Any:
    return type(
        "BoundLedgerMachine",
        (LedgerMachine,),
        {"session": session, "clock": clock, "tokens": tokens},
    )


STATE_MACHINE_SETTINGS = settings(
    max_examples=10,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_ledger_and_the_card_keep_their_invariants_under_any_sequence(
    app: Flask, session: Session, clock: FrozenClock, tokens: CardTokens
) -> None:
    run_state_machine_as_test(
        bound_machine(session, clock, tokens), settings=STATE_MACHINE_SETTINGS
    )
