"""The member's card use page (优惠记录): only my sales, where and when, the amounts, voided sales
marked and left out of the savings, the savings per month of a chosen year, and pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from rewards.clock import BUSINESS_TZ
from rewards.models import Role
from rewards.services import checkout
from tests import factories
from tests.test_auth import sign_in


def sale(session, world, tokens, card, amount: str, key: str, at=None):  # type: ignore[no-untyped-def]
    """A sale at the world's shop through the checkout service, with a fresh phone code."""
    token, _ = tokens.phone_token(card)
    redemption, _ = checkout.confirm(
        session, world.actor(world.cashier), tokens, token, amount, f"member-sale-{key}", now=at
    )
    return redemption


def open_redemptions(client, session, member, **query) -> str:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    response = client.get("/member/redemptions", query_string=query)
    assert response.status_code == 200
    return response.text


def entries(html: str) -> dict[str, str]:
    """Each listed sale's block, by redemption number."""
    return dict(
        re.findall(r'<li class="card use[^"]*" data-redemption="([^"]+)">(.*?)</li>', html, re.S)
    )


def year_saved(html: str) -> str:
    return re.search(r'data-testid="year-saved">([^<]*)<', html).group(1)


def month_saved(html: str, month: int) -> str:
    row = re.search(rf'<tr data-month="{month}">.*?</tr>', html, re.S).group(0)
    return re.search(r'data-testid="month-saved">([^<]*)<', row).group(1)


@pytest.mark.parametrize("who", ["secretary", "cashier", "manager"])
def test_only_members_reach_their_redemptions(client, session, world, who):
    sign_in(client, getattr(world, who))
    assert client.get("/member/redemptions").status_code == 403


def test_lists_only_my_sales_never_another_members(client, session, world, tokens):
    mine = sale(session, world, tokens, world.gold_card, "100.00", "mine-1")
    theirs = sale(session, world, tokens, world.silver_card, "80.00", "theirs-1")
    page = open_redemptions(client, session, world.gold)
    assert list(entries(page)) == [mine.number]
    assert theirs.number not in page and "¥80.00" not in page


def test_a_sale_shows_where_when_amount_discount_and_paid(client, session, world, tokens, clock):
    sold = sale(session, world, tokens, world.gold_card, "128.50", "sale-1")
    world.shop.address = "长江路 18 号"
    page = open_redemptions(client, session, world.gold)
    block = entries(page)[sold.number]
    assert world.shop.name in block and "长江路 18 号" in block
    assert f"{clock.today.isoformat()} {clock.now.astimezone(BUSINESS_TZ):%H:%M}" in block
    assert "¥128.50" in block and "¥15.42" in block and "¥113.08" in block  # 88折
    assert "88折" in block and "已撤销" not in block


def test_a_voided_sale_is_marked_with_its_reason(client, session, world, tokens):
    voided = sale(session, world, tokens, world.gold_card, "50.00", "void-1")
    checkout.void(session, world.actor(world.manager), voided.id, "顾客退货")
    page = open_redemptions(client, session, world.gold)
    block = entries(page)[voided.number]
    assert "已撤销" in block and "顾客退货" in block


def test_savings_per_month_and_year_leave_voided_sales_out(client, session, world, tokens, clock):
    sale(session, world, tokens, world.gold_card, "100.00", "kept-1")  # saves ¥12.00
    voided = sale(session, world, tokens, world.gold_card, "50.00", "void-1")  # would save ¥6.00
    checkout.void(session, world.actor(world.manager), voided.id, "顾客退货")
    page = open_redemptions(client, session, world.gold)
    assert year_saved(page) == "¥12.00"
    assert "共 1 笔" in page  # the year's count of completed sales
    assert month_saved(page, clock.today.month) == "¥12.00"
    assert 'data-testid="savings-chart"' in page and "<svg" in page


def test_a_sale_of_last_year_counts_in_last_years_savings_only(
    client, session, world, tokens, clock
):
    days_back = max(clock.today.timetuple().tm_yday, 40)
    last_year = clock.now - timedelta(days=days_back)
    # Points earned a month before that day, so the card was gold then too.
    factories.points(session, world.gold, 200, clock.today - timedelta(days=days_back + 30))
    sale(session, world, tokens, world.gold_card, "100.00", "old-1", at=last_year)
    page = open_redemptions(client, session, world.gold)
    assert year_saved(page) == "¥0.00" and "这一年还没有用动力卡打过折" in page
    assert f'<option value="{clock.today.year - 1}">' in page
    page = client.get("/member/redemptions", query_string={"year": clock.today.year - 1}).text
    assert year_saved(page) == "¥12.00"
    assert f'<option value="{clock.today.year - 1}" selected>' in page
    assert len(entries(page)) == 1  # the list of sales is every year's


def test_a_year_out_of_range_is_refused_with_a_message(client, session, world, clock):
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    sign_in(client, account)
    response = client.get("/member/redemptions", query_string={"year": clock.today.year + 1})
    assert response.status_code == 422 and "年份不正确" in response.text


def test_member_without_sales_is_told_how_to_get_a_discount(client, session, world):
    page = open_redemptions(client, session, world.plain)
    assert "还没有刷卡记录" in page and "/member/merchants" in page


def test_sales_are_paged_newest_first_and_the_pages_keep_the_year(
    client, session, world, tokens, clock
):
    numbers = []
    for n in range(21):
        clock.advance(minutes=1)
        numbers.append(sale(session, world, tokens, world.gold_card, "10.00", f"p-{n}").number)
    page = open_redemptions(client, session, world.gold, year=clock.today.year)
    assert list(entries(page)) == numbers[::-1][:20]
    assert f"year={clock.today.year}" in re.search(r'<a href="([^"]+)" rel="next"', page).group(1)
    second = client.get("/member/redemptions", query_string={"page": 2}).text
    assert list(entries(second)) == [numbers[0]]
