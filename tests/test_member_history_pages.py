"""The member's points history page (积分明细): the whole ledger, paged, newest first, each entry
with its reason in words, its service date and recording time; filtered by year."""

from __future__ import annotations

import re
from datetime import date, timedelta

from rewards.clock import BUSINESS_TZ
from rewards.models import Role
from rewards.services import activities, claims, ledger
from tests import factories
from tests.clock import today
from tests.test_auth import sign_in


def signed_in_member(client, session, member) -> None:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)


def entry_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-entry="(\d+)"', html)]


def adjust(session, member, points: int, reason: str, occurred_on: date):  # type: ignore[no-untyped-def]
    return ledger.adjust(
        session, factories.OPERATOR, member.id, points, reason, occurred_on, idempotency_key=reason
    )


def test_history_lists_every_entry_newest_first_in_pages_of_20(client, session, world):
    made = [adjust(session, world.plain, n, f"第{n:02d}次调整", today()) for n in range(1, 25)]
    session.commit()
    signed_in_member(client, session, world.plain)
    first = client.get("/member/history").text
    newest_first = [e.id for e in reversed(made)]
    assert entry_ids(first) == newest_first[:20]
    assert "全部积分记录共 25 条" in first  # with the world's own entry
    assert "第 1 / 2 页" in first and 'href="/member/history?page=2"' in first
    second = client.get("/member/history?page=2").text
    assert entry_ids(second)[:4] == newest_first[20:]
    assert len(entry_ids(second)) == 5


def test_each_entry_says_why_with_service_date_and_recording_time(client, session, world, clock):
    served = clock.today - timedelta(days=3)
    claim = claims.submit_claim(
        session, factories.OPERATOR, world.plain.id, world.category.id, "帮独居老人买菜", served
    )
    award = claims.certify_claim(session, world.actor(world.secretary), claim.id)
    activity = activities.create_activity(
        session,
        world.actor(world.secretary),
        world.home.id,
        world.category.id,
        "植树节义务植树",
        served,
        6,
    )
    activities.record_attendance(
        session, world.actor(world.secretary), activity.id, [world.plain.member_no]
    )
    ledger.reverse(session, factories.OPERATOR, award.id, "重复申报")
    session.commit()
    signed_in_member(client, session, world.plain)
    page = client.get("/member/history").text
    assert f"{world.category.name}：帮独居老人买菜" in page
    assert "植树节义务植树" in page
    assert "冲正" in page and "重复申报" in page
    assert "这条记录已被冲正" in page
    assert f"服务日期 {served.isoformat()}" in page
    assert "记入 " + clock.now.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") in page


def test_history_filters_by_the_year_of_the_service_date(client, session, world, clock):
    # Two years back (the world's own entry, ten days old, may be last year in early January),
    # and one entry today, so this year is listed whatever the day.
    last_year = date(clock.today.year - 2, 6, 1)
    old = adjust(session, world.plain, 7, "去年的服务", last_year)
    adjust(session, world.plain, 1, "今天的服务", clock.today)
    session.commit()
    signed_in_member(client, session, world.plain)
    everything = client.get("/member/history").text
    assert f'data-year="{clock.today.year}"' in everything
    assert f'data-year="{last_year.year}"' in everything
    only_last = client.get(f"/member/history?year={last_year.year}").text
    assert entry_ids(only_last) == [old.id]
    assert f"{last_year.year} 年服务的积分记录共 1 条" in only_last
    this_year = client.get(f"/member/history?year={clock.today.year}").text
    assert old.id not in entry_ids(this_year) and entry_ids(this_year)


def test_a_year_without_entries_or_nonsense_shows_every_year(client, session, world):
    signed_in_member(client, session, world.plain)
    for query in ("?year=1999", "?year=abc", "?page=abc"):
        page = client.get("/member/history" + query)
        assert page.status_code == 200
        assert "全部积分记录共 1 条" in page.text


def test_history_shows_only_the_members_own_entries(client, session, world):
    signed_in_member(client, session, world.plain)
    page = client.get("/member/history").text
    assert len(entry_ids(page)) == 1
    assert "+10" in page and "+120" not in page
