"""Statistics: members and active cards counted by live tier, equal to evaluate_tiers."""

from __future__ import annotations

from datetime import timedelta

from rewards.models import Tier
from rewards.services import cards, reports, tiers
from rewards.services.audit import Actor
from tests import factories

OPERATOR = Actor.operator("tests")


def test_statistics_count_members_and_active_cards_by_live_tier(world, session):
    stats = reports.community_statistics(session)

    by_code = {c.code: c for c in stats.communities}
    home, other = by_code[world.home.code], by_code[world.other.code]
    assert home.members == 3
    assert home.members_by_tier.to_dict() == {"gold": 1, "silver": 1, "none": 1, "total": 3}
    assert home.active_cards.to_dict() == {"gold": 1, "silver": 1, "none": 1, "total": 3}
    assert other.members == 0 and other.active_cards.total == 0
    assert stats.district.members_by_tier.to_dict() == home.members_by_tier.to_dict()
    assert stats.policy_version == 1


def test_statistics_equal_evaluate_tiers_for_every_member(world, session):
    extra = [factories.member(session, world.other, name=f"党员{n}") for n in range(4)]
    for member, amount in zip(extra, (130, 70, 49, 5), strict=True):
        factories.points(session, member, amount)
    session.commit()

    stats = reports.community_statistics(session)
    ids = [world.gold.id, world.silver.id, world.plain.id, *(m.id for m in extra)]
    live = tiers.evaluate_tiers(session, ids)
    for tier in Tier:
        expected = sum(1 for t in live.values() if t is tier)
        assert getattr(stats.district.members_by_tier, tier.value) == expected
    other = next(c for c in stats.communities if c.code == world.other.code)
    assert other.members_by_tier.to_dict() == {"gold": 1, "silver": 1, "none": 2, "total": 4}


def test_suspended_and_revoked_cards_are_not_counted_as_active(world, session):
    cards.suspend_card(session, OPERATOR, world.gold_card.id, "核查")
    cards.revoke_card(session, OPERATOR, world.plain_card.id, "退卡")
    session.commit()
    home = reports.community_statistics(session, community_id=world.home.id).communities[0]
    assert home.active_cards.to_dict() == {"gold": 0, "silver": 1, "none": 0, "total": 1}
    assert home.members == 3


def test_tiers_in_statistics_are_live_not_what_the_card_was_issued_at(world, session, clock):
    # Thirteen months on, the points earned ten days ago have left the 12-month window.
    later = clock.now + timedelta(days=400)
    stats = reports.community_statistics(session, at=later)
    assert stats.district.members_by_tier.to_dict() == {
        "gold": 0,
        "silver": 0,
        "none": 3,
        "total": 3,
    }
    assert stats.district.active_cards.none == 3


def test_members_awaiting_cards_are_eligible_members_without_a_current_card(world, session):
    newcomer = factories.member(session, world.home, name="周新")
    factories.points(session, newcomer, 70)
    below = factories.member(session, world.home, name="吴低")
    factories.points(session, below, 10)
    cards.reissue_card(session, OPERATOR, world.silver_card.id, "遗失")
    session.commit()

    waiting = reports.members_awaiting_cards(session, world.home.id)
    assert [m.id for m in waiting] == [newcomer.id]
    assert reports.members_awaiting_cards(session, world.other.id) == []
