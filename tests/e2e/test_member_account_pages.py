"""The member's merchants directory, card use and account pages in a real browser on a 390 px
phone: searching and filtering the alliance, a sale made at the counter showing up with the
savings, changing the password, reading my data and downloading it as JSON."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Account, Card, Member, Merchant, Role
from rewards.services import checkout
from rewards.services.agreements import sign_agreement
from rewards.services.audit import Actor
from tests import factories
from tests.e2e.conftest import PASSWORD, VIEWPORTS, Shop, fits_the_width, screenshot, sign_in
from tests.e2e.test_merchant_counter import record_sales

pytestmark = pytest.mark.e2e

ADMIN = Actor(label="e2e-admin", role=Role.DISTRICT_ADMIN)
NEW_PASSWORD = "a new long secret"


def holder(shop: Shop, name: str) -> tuple[str, str]:
    """The card number and member number of the world's member called ``name``."""
    with shop.app.app_context():
        member = db.session.scalar(select(Member).where(Member.name == name))
        found = (
            db.session.scalar(select(Card.card_no).where(Card.member_id == member.id)),
            member.member_no,
        )
        db.session.remove()
    return found


def phone_page(browser, shop: Shop, card_no: str | None = None):  # type: ignore[no-untyped-def]
    """A 390 px phone signed in as the holder of ``card_no`` (default: the gold card)."""
    context = browser.new_context(
        viewport=VIEWPORTS["phone"], locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    sign_in(page, shop, shop.member_login(card_no), home="/member/")
    return page


def add_alliance(shop: Shop) -> None:
    """The world's shop gets a category and address; three more merchants sign district-wide."""
    with shop.app.app_context():
        world_shop = db.session.get(Merchant, shop.merchant_id)
        world_shop.name, world_shop.category = "福满楼饺子馆", "餐饮"
        world_shop.address, world_shop.phone = "芝罘区长江路 18 号", "0535-6012345"
        for name, category, address, terms in (
            ("惠民大药房", "药店", "芝罘区黄河路 6 号", {}),
            ("海韵面馆", "餐饮", "福山区珠江路 21 号", {"cap_fen": 2000, "min_spend_fen": 5000}),
            ("鑫源生活超市", "超市", "莱山区淮河路 3 号", {}),
        ):
            merchant = factories.merchant(db.session, name=name)
            merchant.category, merchant.address = category, address
            sign_agreement(db.session, ADMIN, merchant.id, None, 85, 95, date(2020, 1, 1), **terms)
        db.session.commit()
        db.session.remove()


def test_member_finds_merchants_by_search_and_category_on_a_phone(browser, live_shop: Shop):
    add_alliance(live_shop)
    page = phone_page(browser, live_shop, live_shop.silver_card_no)
    page.get_by_role("link", name="联盟商家").click()
    page.wait_for_url("**/member/merchants")
    assert page.inner_text("[data-testid=my-tier]") == "您今天是银卡"
    shop = page.locator("li.offer", has_text="福满楼饺子馆")
    assert shop.locator("[data-testid=mine]").inner_text() == "95折"
    assert shop.locator("[data-testid=gold]").inner_text() == "88折"
    assert fits_the_width(page)
    screenshot(page, "member-merchants-phone")

    page.fill("#q", "面馆")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url("**/member/merchants?q=*")
    assert page.locator("li.offer").count() == 1
    noodles = page.locator("li.offer")
    assert noodles.locator("h2").inner_text() == "海韵面馆"
    assert (
        "满 ¥50.00 可用" in noodles.inner_text() and "每笔最多优惠 ¥20.00" in noodles.inner_text()
    )
    assert fits_the_width(page)
    screenshot(page, "member-merchants-search-phone")

    page.get_by_role("link", name="清除条件").click()
    page.select_option("#category", "餐饮")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url("**/member/merchants?*category=*")
    names = page.locator("li.offer h2").all_inner_texts()
    assert sorted(names) == ["海韵面馆", "福满楼饺子馆"]
    assert fits_the_width(page)
    screenshot(page, "member-merchants-category-phone")
    page.context.close()


def test_member_below_silver_is_told_why_there_is_no_discount(browser, live_shop: Shop):
    card_no, _ = holder(live_shop, "王五")
    page = phone_page(browser, live_shop, card_no)
    page.goto(f"{live_shop.url}/member/merchants")
    assert "还差" in page.inner_text("[data-testid=why-none]")
    assert page.locator("li.offer [data-testid=mine]").first.inner_text() == "暂无优惠"
    assert fits_the_width(page)
    screenshot(page, "member-merchants-none-phone")
    page.context.close()


def test_member_sees_where_the_card_was_used_and_the_savings(browser, live_shop: Shop, clock):
    # Sales alternate gold, silver: the gold holder's are the 1st, 3rd and 5th.
    ids = record_sales(
        live_shop, [(0, "128.50"), (0, "60.00"), (0, "45.00"), (0, "30.00"), (40, "88.00")]
    )
    with live_shop.app.app_context():
        manager = db.session.scalar(select(Account).where(Account.username == live_shop.manager))
        checkout.void(db.session, Actor.for_account(manager), ids[2], "顾客退货")
        db.session.commit()
        db.session.remove()
    page = phone_page(browser, live_shop)
    page.get_by_role("link", name="优惠记录").click()
    page.wait_for_url("**/member/redemptions")
    uses = page.locator("li.use")
    assert uses.count() == 3  # the gold holder's three, never the silver holder's
    voided = page.locator("li.use-voided")
    assert (
        voided.count() == 1
        and "已撤销" in voided.inner_text()
        and "顾客退货" in voided.inner_text()
    )
    sale = uses.filter(has_text="¥128.50").inner_text()
    assert "¥15.42" in sale and "¥113.08" in sale and "88折" in sale
    # ¥15.42 today (the voided ¥5.40 left out), and ¥10.56 40 days ago if still this year.
    this_year = (clock.today - timedelta(days=40)).year == clock.today.year
    assert page.inner_text("[data-testid=year-saved]") == ("¥25.98" if this_year else "¥15.42")
    assert fits_the_width(page)
    screenshot(page, "member-redemptions-phone")
    page.locator("details.months summary").click()
    assert page.locator("tr[data-month]").count() == clock.today.month
    screenshot(page, "member-redemptions-months-phone")
    page.context.close()


def test_member_changes_the_password_on_the_account_page(browser, live_shop: Shop):
    page = phone_page(browser, live_shop)
    username = live_shop.member_login()
    page.get_by_role("link", name="我的", exact=True).click()
    page.wait_for_url("**/member/account")
    assert page.inner_text("[data-testid=username]") == username
    assert fits_the_width(page)
    screenshot(page, "member-account-phone")

    page.get_by_role("link", name="修改密码").click()
    page.wait_for_url("**/member/account/password")
    page.fill("#current_password", "not my password")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_again", NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    assert page.inner_text("#current_password-error") == "当前密码不正确。"
    assert fits_the_width(page)
    screenshot(page, "member-password-refused-phone")

    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_again", NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    page.wait_for_url("**/member/account")
    assert "密码已修改" in page.inner_text(".flash")
    screenshot(page, "member-password-changed-phone")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/login")
    page.fill("#username", username)
    page.fill("#password", NEW_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_shop.url}/member/")
    page.context.close()


def test_member_reads_my_data_and_downloads_it_as_json(browser, live_shop: Shop, tmp_path: Path):
    record_sales(live_shop, [(0, "128.50")])
    page = phone_page(browser, live_shop)
    page.goto(f"{live_shop.url}/member/account")
    page.locator('a[href$="/my-data"]').click()
    page.wait_for_url("**/member/account/my-data")
    assert "张三明" in page.inner_text("#profile")
    assert fits_the_width(page)
    screenshot(page, "member-my-data-phone")
    for summary in page.locator("details.data-section summary").all():
        summary.click()
    assert "¥128.50" in page.inner_text("#card-use")
    assert "李四" not in page.content() and "王五" not in page.content()
    assert fits_the_width(page)
    screenshot(page, "member-my-data-open-phone")

    with page.expect_download() as download_info:
        page.get_by_test_id("download-my-data").click()
    download = download_info.value
    _, member_no = holder(live_shop, "张三明")
    assert download.suggested_filename == f"my-data-{member_no}.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["member"]["name"] == "张三明" and data["member"]["member_no"] == member_no
    assert [s["amount_fen"] for s in data["card_use"]] == [12850]
    assert "李四" not in saved.read_text(encoding="utf-8")
    page.context.close()
