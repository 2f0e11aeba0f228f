"""The member's alliance directory page (联盟商家): my discount at my tier today in 折, what gold
would give, the conditions of the agreement, why I get nothing, search, category and pages."""

from __future__ import annotations

import re
from datetime import date

import pytest

from rewards.models import Role
from rewards.services import agreements
from rewards.services.audit import Actor
from tests import factories
from tests.test_auth import sign_in

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def open_directory(client, session, member, **query) -> str:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    response = client.get("/member/merchants", query_string=query)
    assert response.status_code == 200
    return response.text


def offer(html: str, code: str) -> str:
    """The directory entry of merchant ``code``."""
    found = re.search(rf'<li class="card offer[^"]*" data-merchant="{code}">.*?</li>', html, re.S)
    assert found, f"merchant {code} is not listed"
    return found.group(0)


def shown(html: str, testid: str) -> str | None:
    """The text of the element marked ``data-testid=testid`` (None when absent)."""
    found = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    return found.group(1).strip() if found else None


def listed(html: str) -> list[str]:
    return re.findall(r'data-merchant="([^"]+)"', html)


def shop_with(session, name: str, category: str, address: str, **terms):  # type: ignore[no-untyped-def]
    """A merchant with a district-wide agreement (gold 80, silver 90 unless given)."""
    shop = factories.merchant(session, name=name)
    shop.category, shop.address = category, address
    agreements.sign_agreement(
        session,
        ADMIN,
        shop.id,
        None,
        gold_pay_percent=terms.pop("gold", 80),
        silver_pay_percent=terms.pop("silver", 90),
        valid_from=date(2020, 1, 1),
        **terms,
    )
    return shop


@pytest.mark.parametrize("who", ["secretary", "cashier"])
def test_only_members_reach_the_directory(client, session, world, who):
    sign_in(client, getattr(world, who))
    assert client.get("/member/merchants").status_code == 403


def test_signed_out_visitor_is_sent_to_sign_in(client, world):
    response = client.get("/member/merchants")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_silver_member_sees_95zhe_and_golds_88zhe_at_the_shop(client, session, world):
    page = open_directory(client, session, world.silver)
    assert "您今天是银卡" in page
    entry = offer(page, world.shop.code)
    assert shown(entry, "mine") == "95折"
    assert shown(entry, "gold") == "88折"


def test_gold_member_sees_88zhe_without_a_comparison_with_gold(client, session, world):
    page = open_directory(client, session, world.gold)
    assert "您今天是金卡" in page
    entry = offer(page, world.shop.code)
    assert shown(entry, "mine") == "88折" and shown(entry, "gold") is None


def test_member_below_silver_gets_no_discount_anywhere_and_is_told_why(client, session, world):
    page = open_directory(client, session, world.plain)
    assert "您今天未达到银卡" in page
    assert "还差 40 分达到银卡" in shown(page, "why-none")
    entry = offer(page, world.shop.code)
    assert shown(entry, "mine") == "暂无优惠"
    assert shown(entry, "gold") == "88折"
    assert "未达到银卡" in shown(entry, "why")
    assert "95折" not in entry


def test_member_of_a_community_without_an_agreement_is_told_so(client, session, world):
    outsider = factories.member(session, world.other, name="郑外人")
    factories.points(session, outsider, 120)  # gold, but the shop signed with `home` only
    page = open_directory(client, session, outsider)
    assert "您今天是金卡" in page
    entry = offer(page, world.shop.code)
    assert shown(entry, "mine") == "暂无优惠"
    assert "暂未与您所在社区签订" in shown(entry, "why")


def test_cap_per_sale_and_minimum_spend_are_shown_when_set(client, session, world):
    market = shop_with(session, "鑫源超市", "超市", "长江路 8 号", cap_fen=2000, min_spend_fen=5000)
    page = open_directory(client, session, world.silver)
    capped = offer(page, market.code)
    assert shown(capped, "mine") == "9折" and shown(capped, "gold") == "8折"
    assert "满 ¥50.00 可用" in capped and "每笔最多优惠 ¥20.00" in capped
    assert 'data-testid="conditions"' not in offer(page, world.shop.code)  # none set there


def test_search_finds_a_merchant_by_name_or_by_address(client, session, world):
    noodles = shop_with(session, "福满楼面馆", "餐饮", "黄河路 1 号")
    chemist = shop_with(session, "康宁大药房", "药店", "珠江路 2 号")
    page = open_directory(client, session, world.silver, q="面馆")
    assert listed(page) == [noodles.code]
    assert "找到 1 家商家" in page and 'value="面馆"' in page
    page = client.get("/member/merchants", query_string={"q": "珠江路"}).text
    assert listed(page) == [chemist.code]
    page = client.get("/member/merchants", query_string={"q": "没有这家店"}).text
    assert listed(page) == [] and "没有找到符合条件的商家" in page


def test_category_filter_lists_only_that_category_and_offers_every_category(client, session, world):
    shop_with(session, "福满楼面馆", "餐饮", "黄河路 1 号")
    chemist = shop_with(session, "康宁大药房", "药店", "珠江路 2 号")
    page = open_directory(client, session, world.silver, category="药店")
    assert listed(page) == [chemist.code]
    assert '<option value="药店" selected>' in page and '<option value="餐饮">' in page


def test_directory_is_paged_and_the_pages_keep_the_search(client, session, world):
    for n in range(21):
        shop_with(session, f"同心便利店{n:02d}", "超市", f"嵩山路 {n} 号")
    page = open_directory(client, session, world.silver, q="同心")
    assert len(listed(page)) == 20 and "第 1 / 2 页" in page
    assert re.search(r'href="/member/merchants\?[^"]*page=2[^"]*"', page)
    assert "q=%E5%90%8C%E5%BF%83" in page  # the search travels with the next-page link
    second = client.get("/member/merchants", query_string={"q": "同心", "page": 2}).text
    assert len(listed(second)) == 1


def test_a_disabled_merchant_is_not_listed(client, session, world):
    closed = shop_with(session, "已歇业的店", "餐饮", "长江路 9 号")
    closed.is_enabled = False
    page = open_directory(client, session, world.silver)
    assert closed.code not in listed(page) and world.shop.code in listed(page)


def test_merchants_with_an_agreement_for_my_community_come_first_or_alone(client, session, world):
    from rewards.services import directory
    from rewards.services.audit import Actor

    outside = factories.merchant(session, code="A000", name="甲外社区商家")  # sorts first by code
    account = factories.account(session, Role.MEMBER, member=world.silver)
    session.commit()
    found = directory.merchant_directory(session, Actor.for_account(account))
    assert [o.merchant.id for o in found.offers.items][:1] == [world.shop.id]
    only = directory.merchant_directory(session, Actor.for_account(account), only_agreed=True)
    assert [o.merchant.id for o in only.offers.items] == [world.shop.id]
    assert outside.id in [o.merchant.id for o in found.offers.items]
    sign_in(client, account)
    page = client.get("/member/merchants?agreed=1").text
    assert "甲外社区商家" not in page and world.shop.name in page
