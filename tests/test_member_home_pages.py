"""The member's home and notices pages: the points leaving the window in 30 days and the day the
tier drops, pending claims, unread notices and marking them read by opening the page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from rewards.models import Notice, Role
from rewards.services import claims, tiers
from tests import factories
from tests.clock import today
from tests.test_auth import sign_in
from tests.test_member_portal import stat


def signed_in_member(client, session, member):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    return account


def unread(session, member) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count(Notice.id)).where(Notice.member_id == member.id, Notice.read_at.is_(None))
    )


def count_of(html: str, testid: str) -> int:
    """The count a home page link carries (``data-count``)."""
    return int(re.search(rf'data-testid="{testid}" data-count="(\d+)"', html).group(1))


def submit(session, world, member, description: str = "帮助社区完成志愿服务"):  # type: ignore[no-untyped-def]
    made = claims.submit_claim(
        session,
        factories.OPERATOR,
        member.id,
        world.category.id,
        description,
        today() - timedelta(days=2),
    )
    session.commit()
    return made


def test_home_shows_points_leaving_and_the_day_the_tier_drops(client, session, world, clock):
    # A silver member whose 55 points age out of the window within 30 days.
    policy = tiers.current_policy(session)
    opens, _ = tiers.window(policy, clock.today)
    ageing = factories.member(session, world.home, name="褚将降")
    factories.points(session, ageing, 55, opens + timedelta(days=5))
    factories.card(session, ageing)
    session.commit()
    expected = tiers.outlook(session, [ageing.id], days=30)[ageing.id]
    assert expected.drops_on is not None

    signed_in_member(client, session, ageing)
    page = client.get("/member/").text
    assert stat(page, "leaving") == 55
    drop = re.search(r'data-testid="drops-on">([^<]+)<', page).group(1)
    assert drop == expected.drops_on.isoformat()
    assert "未达等级" in re.search(r'data-testid="outlook".*?</div>', page, re.S).group(0)


def test_home_says_nothing_leaves_when_all_points_are_recent(client, session, world):
    signed_in_member(client, session, world.gold)
    page = client.get("/member/").text
    assert "没有积分移出统计周期" in page
    assert 'data-testid="drops-on"' not in page


def test_home_counts_pending_claims_and_links_to_them(client, session, world):
    submit(session, world, world.gold)
    submit(session, world, world.gold, "为社区老人理发")
    signed_in_member(client, session, world.gold)
    page = client.get("/member/").text
    assert count_of(page, "pending-claims") == 2
    assert "您有 2 条服务申报正在等待社区认定" in page
    assert 'href="/member/claims?status=pending"' in page


def test_home_counts_unread_notices_and_the_notices_page_marks_them_read(
    client, session, world, clock
):
    signed_in_member(client, session, world.gold)
    claim = submit(session, world, world.gold)
    claims.certify_claim(session, world.actor(world.secretary), claim.id, points=8)
    session.commit()
    # The card's issue and the certification.
    assert unread(session, world.gold) == 2

    home = client.get("/member/").text
    assert stat(home, "unread_notices") == 2 and count_of(home, "notices-link") == 2
    assert 'href="/member/notices"' in home

    notices_page = client.get("/member/notices")
    assert notices_page.status_code == 200
    assert notices_page.headers["Cache-Control"] == "no-store"
    text = notices_page.text
    assert "已认定，记入 8 分" in text
    assert text.count("notice-item notice-new") == 2  # highlighted on this visit
    assert f'href="/member/claims/{claim.id}"' in text
    assert unread(session, world.gold) == 0

    again = client.get("/member/").text
    assert 'data-stat="unread_notices"' not in again and count_of(again, "notices-link") == 0
    assert "notice-new" not in client.get("/member/notices").text


def test_notices_page_shows_only_the_members_own_notices(client, session, world):
    signed_in_member(client, session, world.silver)
    mine = client.get("/member/notices").text
    assert "尾号 " + world.silver_card.tail in mine
    assert "尾号 " + world.gold_card.tail not in mine
    assert unread(session, world.gold) == 1  # the gold member's notice is untouched


def test_notices_page_is_for_members_only(client, session, world):
    sign_in(client, world.secretary)
    assert client.get("/member/notices").status_code == 403
