"""A cashier's own recent sales (issue 10 point 2): today's and yesterday's sales recorded under
their own account, each with its receipt to reprint; no export and no voids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from rewards.models import Redemption, Role
from rewards.services import checkout, merchants
from rewards.services.audit import Actor
from tests import factories
from tests.test_merchant_portal import page_text, sale, sign_in


@dataclass(frozen=True)
class Sales:
    """The shop's sales around today: the cashier's own, and others the cashier must not see."""

    today: Redemption
    yesterday: Redemption
    older: Redemption  # the cashier's own, two days ago
    theirs: Redemption  # a colleague's, today
    managers: Redemption  # the manager's, today


@pytest.fixture()
def sales(shop, session, clock) -> Sales:  # type: ignore[no-untyped-def]
    now = clock.now
    today = sale(session, shop, shop.gold_card, "128.50", at=now)
    yesterday = sale(session, shop, shop.silver_card, "20.00", at=now - timedelta(days=1))
    older = sale(session, shop, shop.gold_card, "30.00", at=now - timedelta(days=2))
    colleague = factories.account(session, Role.CASHIER, merchant=shop.shop)
    session.commit()
    theirs = sale(session, shop, shop.gold_card, "40.00", at=now, account=colleague)
    managers = sale(session, shop, shop.gold_card, "50.00", at=now, account=shop.manager)
    return Sales(today, yesterday, older, theirs, managers)


def test_a_cashier_sees_their_own_sales_of_today_and_yesterday_and_no_others(
    client, shop, sales, clock
):
    today, yesterday = sales.today, sales.yesterday
    older, theirs, managers = sales.older, sales.theirs, sales.managers
    sign_in(client, shop.cashier)
    response = client.get("/merchant/my-sales")
    assert response.status_code == 200
    html = page_text(response)
    today_part, yesterday_part = html.split('data-testid="day-')[1:3]
    assert today_part.startswith(clock.today.isoformat()) and today.number in today_part
    assert yesterday.number in yesterday_part and today.number not in yesterday_part
    for other in (older, theirs, managers):
        assert other.number not in html
    assert f'href="/merchant/redemptions/{today.id}"' in html  # the receipt, to reprint
    assert "完成 1 笔，实收 ¥113.08" in today_part


def test_the_receipt_of_an_own_sale_opens_for_the_cashier_with_its_way_back(client, shop, session):
    recorded = sale(session, shop, shop.gold_card, "128.50")
    sign_in(client, shop.cashier)
    receipt = page_text(client.get(f"/merchant/redemptions/{recorded.id}"))
    assert recorded.number in receipt and "data-print" in receipt
    assert 'href="/merchant/my-sales"' in receipt
    assert "撤销这笔结算" not in receipt  # no voids for a cashier


def test_a_cashier_opens_only_the_receipts_of_their_own_sales_of_today_and_yesterday(
    client, shop, session, sales, clock
):
    key, _secret = merchants.create_api_key(
        session, Actor.for_account(shop.manager), shop.shop.id, "前台收银机"
    )
    by_pos, _ = checkout.confirm(
        session,
        Actor.for_api_key(key),
        session.info["tokens"],
        shop.gold_card.card_no,
        "15.00",
        "pos-sale-0001",
        now=clock.now,
    )
    session.commit()

    sign_in(client, shop.cashier)
    for own in (sales.today, sales.yesterday):
        assert client.get(f"/merchant/redemptions/{own.id}").status_code == 200
    for other in (sales.older, sales.theirs, sales.managers, by_pos):
        refused = client.get(f"/merchant/redemptions/{other.id}")
        assert refused.status_code == 404, other.number
        assert other.number not in page_text(refused)
        assert "收银员可以查看自己今天和昨天的结算" in page_text(refused)
    client.post("/logout")
    sign_in(client, shop.manager)  # the manager opens every receipt of the shop
    every_sale = (sales.today, sales.yesterday, sales.older, sales.theirs, sales.managers, by_pos)
    for every in every_sale:
        assert client.get(f"/merchant/redemptions/{every.id}").status_code == 200


def test_own_sales_offer_no_export_and_no_void(client, shop, session):
    recorded = sale(session, shop, shop.gold_card, "10.00")
    sign_in(client, shop.cashier)
    html = page_text(client.get("/merchant/my-sales"))
    assert "export" not in html and "导出" not in html and "/void" not in html
    assert client.get("/merchant/redemptions/export.csv").status_code == 403
    void = client.post(f"/merchant/redemptions/{recorded.id}/void", data={"reason": "试试"})
    assert void.status_code == 403


def test_a_voided_own_sale_shows_as_voided_and_counts_nowhere_in_the_day(client, shop, session):
    kept = sale(session, shop, shop.gold_card, "10.00")
    voided = sale(session, shop, shop.gold_card, "20.00")
    checkout.void(session, Actor.for_account(shop.manager), voided.id, "金额输错")
    session.commit()
    sign_in(client, shop.cashier)
    html = page_text(client.get("/merchant/my-sales"))
    row = re.search(rf'<tr class="row-voided" data-number="{voided.number}">.*?</tr>', html, re.S)
    assert row and "已撤销" in row.group(0)
    assert kept.number in html
    assert "完成 1 笔，实收 ¥8.80；已撤销 1 笔" in html


def test_the_cashiers_menu_leads_to_their_sales_and_an_empty_day_says_so(client, shop):
    sign_in(client, shop.cashier)
    html = page_text(client.get("/merchant/my-sales"))
    assert 'href="/merchant/my-sales" aria-current="page"' in html
    assert html.count("这一天你还没有刷卡结算。") == 2


def test_a_suspended_merchants_cashier_is_refused_their_sales_too(client, shop, session):
    sign_in(client, shop.cashier)
    merchants.suspend_merchant(session, Actor(label="区管理员", role=None), shop.shop.id, "整改")
    session.commit()
    assert client.get("/merchant/my-sales").status_code in (302, 403)
