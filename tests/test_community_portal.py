"""The community portal's home: a secretary's own community, the district administrator's
table of every community, and the scoping between them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from rewards.clock import utcnow
from rewards.errors import Forbidden, NotFound
from rewards.models import Community, LedgerEntry, Member, MemberStatus, Role, Tier
from rewards.services import cards, claims, ledger, tiers
from rewards.services.audit import Actor
from rewards.services.overview import community_overview, district_overview
from tests import factories
from tests.clock import today
from tests.test_auth import sign_in
from tests.test_member_portal import stat


def claim(session, world, member: Member, submitted_at: datetime, points: int = 5):  # type: ignore[no-untyped-def]
    return claims.submit_claim(
        session,
        factories.OPERATOR,
        member.id,
        world.category.id,
        "帮助社区完成志愿服务",
        today() - timedelta(days=3),
        points=points,
        now=submitted_at,
    )


def row(html: str, code: str) -> str:
    """The district table's row of community ``code``."""
    return re.search(rf'<tr data-community="{code}">.*?</tr>', html, re.S).group(0)


def populate(session, world) -> None:  # type: ignore[no-untyped-def]
    """Beyond the world's gold, silver and tierless card holders in ``home``:
    - home: a holder whose 150 points are too old to count (so tierless today), a suspended
      card, a member without a card, an inactive registration, two pending claims;
    - other: one gold holder and one pending claim."""
    lapsed = factories.member(session, world.home, name="钱七")
    ledger.adjust(
        session,
        factories.OPERATOR,
        lapsed.id,
        150,
        "一年多以前的积分",
        today() - timedelta(days=400),
        idempotency_key="lapsed",
    )
    factories.card(session, lapsed)
    paused = factories.member(session, world.home, name="孙八")
    factories.points(session, paused, 200)
    cards.suspend_card(session, factories.OPERATOR, factories.card(session, paused).id, "挂失中")
    factories.member(session, world.home, name="周九")  # no card
    gone = factories.member(session, world.home, name="吴十")
    gone.status = MemberStatus.INACTIVE
    claim(session, world, world.plain, utcnow() - timedelta(hours=2))
    claim(session, world, world.silver, utcnow() - timedelta(hours=1))

    outsider = factories.member(session, world.other, name="郑外人")
    factories.points(session, outsider, 500)
    factories.card(session, outsider)
    claim(session, world, outsider, utcnow() - timedelta(days=3))
    session.commit()


def test_secretary_home_shows_own_community_numbers(client, session, world):
    populate(session, world)
    sign_in(client, world.secretary)
    page = client.get("/community/").text
    assert world.home.name in page and world.other.name not in page
    assert stat(page, "members") == 6  # 3 world members + lapsed, paused, no card; not inactive
    assert stat(page, "active_cards") == 4
    assert stat(page, "gold_cards") == 1  # the outsider's gold card is not counted here
    assert stat(page, "silver_cards") == 1
    assert stat(page, "untiered_cards") == 2  # the tierless one and the lapsed one
    assert stat(page, "suspended_cards") == 1
    assert stat(page, "pending_claims") == 2
    assert "郑外人" not in page


def test_secretary_sees_the_ten_oldest_pending_claims_oldest_first(client, session, world, clock):
    start = clock.now - timedelta(days=2)
    for n in range(1, 13):
        member = factories.member(session, world.home, name=f"党员{n:02d}")
        claim(session, world, member, start + timedelta(minutes=n))
    certified = claim(session, world, world.gold, start - timedelta(days=1))
    claims.certify_claim(session, factories.OPERATOR, certified.id)
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/").text
    assert re.findall(r"党员(\d\d)", page) == [f"{n:02d}" for n in range(1, 11)]
    assert "党员11" not in page and "党员12" not in page
    assert world.gold.name not in page  # certified, no longer pending
    assert "共 12 条待认定，这里列出最早的 10 条" in page
    assert world.category.name in page


def test_secretary_cannot_open_another_community(client, session, world):
    sign_in(client, world.secretary)
    refused = client.get(f"/community/{world.other.code}")
    assert refused.status_code == 404
    assert world.other.name not in refused.text


def test_secretary_can_open_own_community_by_code(client, session, world):
    sign_in(client, world.secretary)
    page = client.get(f"/community/{world.home.code}")
    assert page.status_code == 200
    assert world.home.name in page.text


def test_unknown_community_code_is_not_found(client, session, world):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    page = client.get("/community/C99")
    assert page.status_code == 404
    assert "找不到该社区" in page.text


def test_district_admin_sees_every_community_with_district_totals(client, session, world):
    populate(session, world)
    empty = factories.community(session, name="新建社区")
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    page = client.get("/community/").text
    assert stat(page, "communities") == 3
    home, other, new = (
        row(page, world.home.code),
        row(page, world.other.code),
        row(page, empty.code),
    )
    assert world.home.name in home and world.other.name in other and "新建社区" in new
    assert (stat(home, "members"), stat(home, "gold_cards"), stat(home, "pending_claims")) == (
        6,
        1,
        2,
    )
    assert (stat(other, "members"), stat(other, "gold_cards"), stat(other, "pending_claims")) == (
        1,
        1,
        1,
    )
    assert stat(new, "members") == 0 and stat(new, "pending_claims") == 0
    total = row(page, "total")
    assert stat(total, "members") == 7
    assert stat(total, "gold_cards") == 2
    assert stat(total, "silver_cards") == 1
    assert stat(total, "untiered_cards") == 2
    assert stat(total, "suspended_cards") == 1
    assert stat(total, "pending_claims") == 3


def test_district_admin_opens_any_community_with_its_pending_claims(client, session, world):
    populate(session, world)
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    page = client.get(f"/community/{world.other.code}")
    assert page.status_code == 200
    assert world.other.name in page.text
    assert "郑外人" in page.text
    assert 'href="/community/"' in page.text  # back to the district table


def test_tiers_are_counted_live_not_from_the_printed_card(client, session, world):
    sign_in(client, world.secretary)
    assert stat(client.get("/community/").text, "gold_cards") == 1
    reversed_ = ledger.reverse(
        session, world.actor(world.secretary), _first_entry(session, world.gold), "认定有误"
    )
    session.commit()
    assert reversed_.points == -120
    page = client.get("/community/").text
    assert stat(page, "gold_cards") == 0
    assert stat(page, "untiered_cards") == 2


def _first_entry(session, member: Member) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.member_id == member.id, LedgerEntry.seq == 1)
    )


def test_claims_follow_the_member_to_their_current_community(session, world, clock):
    waiting = claim(session, world, world.plain, clock.now)
    world.plain.community_id = world.other.id  # a transfer: the new secretary certifies
    session.flush()
    home = community_overview(session, world.actor(world.secretary), world.home.id)
    stranger = factories.account(session, Role.SECRETARY, community=world.other)
    other = community_overview(session, Actor.for_account(stranger), world.other.id)
    assert home.summary.counts.pending_claims == 0
    assert [c.id for c in other.oldest_pending] == [waiting.id]


def test_secretary_cannot_read_another_community_or_the_district(session, world):
    actor = world.actor(world.secretary)
    with pytest.raises(NotFound):
        community_overview(session, actor, world.other.id)
    with pytest.raises(NotFound):
        community_overview(session, actor, code=world.other.code)
    with pytest.raises(Forbidden):
        district_overview(session, actor)


def test_members_and_merchants_cannot_read_community_overviews(session, world):
    member = factories.account(session, Role.MEMBER, member=world.gold)
    for account in (member, world.cashier, world.manager):
        with pytest.raises(Forbidden):
            community_overview(session, Actor.for_account(account), world.home.id)


def test_district_counts_cover_every_community_in_code_order(session, world):
    for code in ("C03", "C01", "C02"):
        session.add(Community(code=code, name=f"{code}社区"))
    session.flush()
    district = district_overview(session, Actor(label="admin", role=Role.DISTRICT_ADMIN))
    codes = [s.community.code for s in district.communities]
    assert codes == sorted(codes) and {"C01", "C02", "C03"} <= set(codes)
    assert district.totals.members == sum(s.counts.members for s in district.communities) == 3
    assert district.totals.active_cards == 3


def test_the_home_says_what_to_do_next(client, session, world, clock):
    # Two claims waiting, the oldest for three days.
    claim(session, world, world.plain, clock.now - timedelta(days=3))
    claim(session, world, world.gold, clock.now - timedelta(hours=5))
    # A silver member without a card.
    waiting = factories.member(session, world.home, name="冯待卡")
    factories.points(session, waiting, 70)
    # A silver card holder whose points are about to leave the window.
    policy = tiers.current_policy(session)
    opens, _ = tiers.window(policy, clock.today)
    ageing = factories.member(session, world.home, name="褚将降")
    factories.points(session, ageing, 55, opens + timedelta(days=5))
    factories.card(session, ageing)
    session.commit()

    overview = community_overview(session, world.actor(world.secretary), world.home.id)
    assert overview.oldest_pending_days == 3
    assert overview.cards_to_issue == 1
    assert [d.member.name for d in overview.tier_drops] == ["褚将降"]
    assert overview.tier_drops[0].outlook.tier_then is Tier.NONE

    sign_in(client, world.secretary)
    page = client.get("/community/").text
    assert "最早的一条已等待 3 天" in page
    assert re.search(r'data-todo="cards">.*?<p class="stat">1</p>', page, re.S)
    assert re.search(r'data-todo="drops">.*?<p class="stat">1</p>', page, re.S)
    assert f'data-member="{ageing.member_no}"' in page
    assert overview.tier_drops[0].outlook.drops_on.isoformat() in page
