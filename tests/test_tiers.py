"""Rule 3: tiers are derived live from the ledger and the tier policy in force."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from rewards.clock import business_date, months_before
from rewards.errors import Forbidden, ValidationFailed
from rewards.models import Member, Role, Tier
from rewards.services import ledger, tiers
from rewards.services.audit import Actor
from tests import factories

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _noon(day: date) -> datetime:
    """Midday in Shanghai on ``day`` (04:00 UTC), far from any date boundary."""
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)


def _member_with_policy(session: Session, silver: int = 50, gold: int = 100) -> Member:
    tiers.set_policy(
        session, ADMIN, gold_threshold=gold, silver_threshold=silver, effective_from=LONG_AGO
    )
    member = factories.member(session, factories.community(session))
    session.commit()
    return member


def test_tier_is_derived_live_from_ledger(world, session):
    assert tiers.evaluate_tier(session, world.plain.id).tier is Tier.NONE
    factories.points(session, world.plain, 40)  # 10 + 40 = exactly silver
    session.commit()
    assert tiers.evaluate_tier(session, world.plain.id).tier is Tier.SILVER
    factories.points(session, world.plain, 50)
    session.commit()
    assert tiers.evaluate_tier(session, world.plain.id).tier is Tier.GOLD


def test_points_leaving_the_window_drop_the_tier(session):
    member = _member_with_policy(session)
    factories.points(session, member, 60, occurred_on=date(2024, 3, 15))
    session.commit()

    last_day_counted = tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 3, 14)))
    assert (last_day_counted.tier, last_day_counted.points) == (Tier.SILVER, 60)
    assert last_day_counted.window_start == date(2024, 3, 15)

    first_day_out = tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 3, 15)))
    assert (first_day_out.tier, first_day_out.points) == (Tier.NONE, 0)
    assert first_day_out.window_start == date(2024, 3, 16)


def test_window_uses_the_business_date_in_shanghai(session):
    member = _member_with_policy(session)
    factories.points(session, member, 60, occurred_on=date(2024, 3, 15))
    session.commit()
    # 20:00 UTC on 14 March is already 15 March in Shanghai: the points have left the window.
    evening_utc = datetime(2025, 3, 14, 20, tzinfo=UTC)
    assert tiers.evaluate_tier(session, member.id, at=evening_utc).tier is Tier.NONE
    assert tiers.evaluate_tier(session, member.id, at=evening_utc - timedelta(hours=5)).tier is (
        Tier.SILVER
    )


def test_points_with_a_future_service_date_do_not_count_yet(session):
    member = _member_with_policy(session)
    factories.points(session, member, 60, occurred_on=date(2025, 6, 1))
    session.commit()
    assert tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 5, 31))).tier is Tier.NONE
    assert tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 6, 1))).tier is Tier.SILVER


def test_a_reversal_drops_the_tier(world, session):
    entry = factories.points(session, world.silver, 45)  # 60 + 45 = gold
    session.commit()
    assert tiers.evaluate_tier(session, world.silver.id).tier is Tier.GOLD
    ledger.reverse(session, ADMIN, entry.id, "录入错误")
    session.commit()
    assert tiers.evaluate_tier(session, world.silver.id).tier is Tier.SILVER


def test_a_new_policy_version_changes_tiers_from_its_effective_from(session):
    member = _member_with_policy(session, silver=50, gold=100)  # version 1
    factories.points(session, member, 60, occurred_on=date(2025, 1, 10))
    switch = datetime(2025, 3, 1, 4, tzinfo=UTC)
    v2 = tiers.set_policy(
        session,
        ADMIN,
        gold_threshold=120,
        silver_threshold=70,
        effective_from=switch,
        now=switch - timedelta(days=1),  # published the day before it takes effect
    )
    session.commit()
    assert v2.version == 2

    before = tiers.evaluate_tier(session, member.id, at=switch - timedelta(seconds=1))
    assert (before.tier, before.policy_version, before.silver_threshold) == (Tier.SILVER, 1, 50)
    after = tiers.evaluate_tier(session, member.id, at=switch)
    assert (after.tier, after.policy_version, after.silver_threshold) == (Tier.NONE, 2, 70)
    # The earlier version is kept as published.
    assert tiers.current_policy(session, switch - timedelta(days=1)).silver_threshold == 50


def test_a_policy_published_for_the_future_does_not_apply_yet(world, session, clock):
    tiers.set_policy(
        session,
        ADMIN,
        gold_threshold=1000,
        silver_threshold=900,
        effective_from=clock.now + timedelta(days=30),
    )
    session.commit()
    assert tiers.evaluate_tier(session, world.gold.id).tier is Tier.GOLD


def test_a_policy_window_of_months_is_applied(session):
    tiers.set_policy(
        session,
        ADMIN,
        gold_threshold=100,
        silver_threshold=50,
        window_months=3,
        effective_from=LONG_AGO,
    )
    member = factories.member(session, factories.community(session))
    factories.points(session, member, 60, occurred_on=date(2025, 1, 10))
    session.commit()
    assert tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 4, 9))).tier is Tier.SILVER
    assert tiers.evaluate_tier(session, member.id, at=_noon(date(2025, 4, 10))).tier is Tier.NONE


@pytest.mark.parametrize(
    ("points", "tier"),
    [(49, Tier.NONE), (50, Tier.SILVER), (99, Tier.SILVER), (100, Tier.GOLD), (500, Tier.GOLD)],
)
def test_thresholds_are_inclusive(session, points: int, tier: Tier):
    member = _member_with_policy(session, silver=50, gold=100)
    factories.points(session, member, points)
    session.commit()
    assert tiers.evaluate_tier(session, member.id).tier is tier


def test_negative_adjustments_count_against_the_tier(world, session, clock):
    ledger.adjust(session, ADMIN, world.gold.id, -30, "扣分", clock.today, "neg-1")
    session.commit()
    standing = tiers.evaluate_tier(session, world.gold.id)
    assert (standing.tier, standing.points) == (Tier.SILVER, 90)


def test_without_a_policy_nobody_has_a_tier(session):
    member = factories.member(session, factories.community(session))
    factories.points(session, member, 1000)
    session.commit()
    standing = tiers.evaluate_tier(session, member.id)
    assert standing.tier is Tier.NONE
    assert standing.policy_version is None
    assert standing.points_to_next is None


def test_points_to_next_tier(world, session):
    plain = tiers.evaluate_tier(session, world.plain.id)
    assert (plain.tier, plain.next_tier, plain.points_to_next) == (Tier.NONE, Tier.SILVER, 40)
    silver = tiers.evaluate_tier(session, world.silver.id)
    assert (silver.tier, silver.next_tier, silver.points_to_next) == (Tier.SILVER, Tier.GOLD, 40)
    gold = tiers.evaluate_tier(session, world.gold.id)
    assert (gold.next_tier, gold.points_to_next) == (None, None)


def test_evaluating_many_members_agrees_with_one_at_a_time(world, session):
    ids = [world.gold.id, world.silver.id, world.plain.id]
    many = tiers.evaluate_tiers(session, ids)
    assert many == {i: tiers.evaluate_tier(session, i).tier for i in ids}
    assert many == {
        world.gold.id: Tier.GOLD,
        world.silver.id: Tier.SILVER,
        world.plain.id: Tier.NONE,
    }


def test_only_district_admin_publishes_a_policy(world, session):
    with pytest.raises(Forbidden):
        tiers.set_policy(session, world.actor(world.secretary), 200, 100)


@pytest.mark.parametrize(
    ("gold", "silver", "months"),
    [(50, 50, 12), (40, 50, 12), (100, 0, 12), (100, 50, 0), (100, 50, 61)],
)
def test_incoherent_policy_is_refused(session, gold: int, silver: int, months: int):
    with pytest.raises(ValidationFailed):
        tiers.set_policy(session, ADMIN, gold, silver, window_months=months)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 3, 31), 1, date(2024, 2, 29)),  # leap year: clamped to 29 Feb
        (date(2023, 3, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2023, 2, 28)),
        (date(2028, 2, 29), 48, date(2024, 2, 29)),
        (date(2024, 5, 31), 1, date(2024, 4, 30)),
        (date(2024, 1, 15), 1, date(2023, 12, 15)),
        (date(2025, 3, 15), 12, date(2024, 3, 15)),
        (date(2025, 1, 31), 13, date(2023, 12, 31)),
    ],
)
def test_months_before_clamps_to_the_end_of_the_month(day: date, months: int, expected: date):
    assert months_before(day, months) == expected


def test_tier_on_a_day_uses_that_days_window(world, session, clock):
    # The world's points were earned ten days ago; thirteen months from now they no longer count.
    later = clock.now + timedelta(days=400)
    assert tiers.evaluate_tier(session, world.gold.id, at=later).tier is Tier.NONE
    assert business_date(later) > clock.today


# -- the outlook: the tier on a coming day if nothing new is certified ------------------------


def test_outlook_names_the_day_the_tier_drops_as_old_points_leave_the_window(session, clock):
    member = _member_with_policy(session)
    policy = tiers.current_policy(session)
    opens_today, _ = tiers.window(policy, clock.today)
    ageing = opens_today + timedelta(days=10)  # leaves the window in about ten days
    factories.points(session, member, 40, ageing)
    factories.points(session, member, 20, clock.today - timedelta(days=5))
    session.commit()

    seen = tiers.outlook(session, [member.id], days=30)[member.id]
    assert (seen.tier_now, seen.points_now) == (Tier.SILVER, 60)
    assert (seen.tier_then, seen.points_then, seen.leaving) == (Tier.NONE, 20, 40)
    assert seen.drops_on is not None
    assert tiers.window(policy, seen.drops_on)[0] > ageing  # gone on that day
    assert (
        tiers.window(policy, seen.drops_on - timedelta(days=1))[0] <= ageing
    )  # not the day before
    # The same as evaluating the tier on that day.
    assert tiers.evaluate_tier(session, member.id, at=_noon(seen.drops_on)).tier is Tier.NONE


def test_outlook_without_ageing_points_keeps_the_tier(session, clock):
    member = _member_with_policy(session)
    factories.points(session, member, 120, clock.today - timedelta(days=3))
    session.commit()
    seen = tiers.outlook(session, [member.id], days=30)[member.id]
    assert (seen.tier_now, seen.tier_then, seen.drops_on, seen.leaving) == (
        Tier.GOLD,
        Tier.GOLD,
        None,
        0,
    )


def test_outlook_counts_a_drop_from_gold_to_silver(session, clock):
    member = _member_with_policy(session)
    policy = tiers.current_policy(session)
    opens_today, _ = tiers.window(policy, clock.today)
    factories.points(session, member, 30, opens_today + timedelta(days=2))
    factories.points(session, member, 80, clock.today)
    session.commit()
    seen = tiers.outlook(session, [member.id], days=30)[member.id]
    assert (seen.tier_now, seen.tier_then) == (Tier.GOLD, Tier.SILVER)
    assert clock.today < seen.drops_on <= clock.today + timedelta(days=30)
