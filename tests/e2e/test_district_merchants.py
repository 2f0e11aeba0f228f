"""The district's merchants (联盟商家) in a real browser at 1280 px: the list and a search, signing
one up (a refused form, then the welcome sheet on screen and in print), the merchant's page,
suspending the shop (its cashier, signed in in another browser, is stopped with the reason, and
cannot sign in again), and resuming it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from rewards.extensions import db
from rewards.models import Merchant, Role
from rewards.services import merchants
from rewards.services.audit import Actor
from tests import factories
from tests.e2e.conftest import PASSWORD, VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

REASON = "顾客投诉核查中"
REFUSAL = f"本店已暂停联盟资格：{REASON}，请联系区里"
SHOPS = [
    ("M101", "福满楼饺子馆", "餐饮", "烟台开发区长江路 18 号"),
    ("M102", "开发区红星便民超市（长江路店）", "超市", "烟台开发区长江路 210 号金沙滩商业广场一层"),
    ("M103", "仁和大药房", "医药", "烟台开发区黄河路 66 号"),
    ("M104", "晨光文具", "文具", "烟台开发区珠江路 9 号"),
    ("M130", "老街理发", "美容美发", "烟台开发区天山路 3 号"),
]


@dataclass
class Office:
    admin: str
    shop_code: str


def prepare(shop: Shop) -> Office:
    """An administrator, a few merchants of several categories, one of them suspended."""
    with shop.app.app_context():
        admin = factories.account(db.session, Role.DISTRICT_ADMIN)
        for code, name, category, address in SHOPS:
            made = factories.merchant(db.session, code=code, name=name)
            made.category, made.address, made.phone = category, address, "0535-6100000"
        db.session.flush()
        closed = db.session.scalar(db.select(Merchant).where(Merchant.code == "M104"))
        merchants.suspend_merchant(
            db.session, Actor.for_account(admin), closed.id, "营业执照过期，待换证"
        )
        shop_code = db.session.get(Merchant, shop.merchant_id).code
        db.session.commit()
        office = Office(admin.username, shop_code)
        db.session.remove()
    return office


def look(page, name: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"district-merchants-{name}-desktop")
    assert fits_the_width(page), f"{name} sticks out sideways"


def test_the_district_signs_up_suspends_and_resumes_a_merchant(browser, live_shop):  # type: ignore[no-untyped-def]
    office = prepare(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, office.admin, home="/community/")

    # The list, reached from the navigation, and a search.
    page.click("nav.topnav >> text=联盟商家")
    page.wait_for_url(f"{live_shop.url}/district/merchants")
    assert page.locator("tr[data-merchant]").count() == 6
    assert "营业执照过期" in page.inner_text("tr[data-merchant=M104]")
    look(page, "list")
    page.fill("#q", "超市")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/district/merchants?q=*")
    assert page.locator("tr[data-merchant]").count() == 1
    look(page, "search")

    # Sign one up: a taken code first, then the proposed one.
    page.click("text=新增商家")
    page.wait_for_url(f"{live_shop.url}/district/merchants/new")
    assert page.input_value("#code") == "M131"
    assert page.input_value("#manager_username") == "m131-manager"
    page.fill("#code", "M130")
    page.fill("#name", "红旗烟酒副食")
    page.fill("#category", "超市")
    page.fill("#address", "烟台开发区长江路 300 号")
    page.fill("#phone", "0535-6123456")
    page.fill("#manager_name", "刘店长")
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-error-for=code]")
    assert "M130 已被使用" in page.inner_text("[data-error-for=code]")
    assert page.input_value("#name") == "红旗烟酒副食"
    look(page, "new-error")
    page.fill("#code", "M131")
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-testid=welcome-sheet]")
    password = page.inner_text("[data-testid=password]").strip()
    assert password not in page.url  # no password in any URL
    assert re.fullmatch(r"[a-z0-9]{10}", password)
    assert "首次登录后请立即修改密码" in page.inner_text("[data-testid=welcome-sheet]")
    look(page, "welcome")
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1, "the sheet is one A4 page"
    # In print, at the width of A4 inside its 15 mm margins (180 mm).
    page.set_viewport_size({"width": 680, "height": 962})
    page.emulate_media(media="print")
    screenshot(page, "district-merchants-welcome-print")
    assert not page.is_visible("nav.topnav") and not page.is_visible("[data-testid=once]")
    page.emulate_media(media="screen")
    page.set_viewport_size(VIEWPORTS["desktop"])

    # The new manager signs in with the sheet and must set a password first.
    manager_context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    manager = manager_context.new_page()
    manager.goto(f"{live_shop.url}/login")
    manager.fill("#username", "m131-manager")
    manager.fill("#password", password)
    manager.click("button[type=submit]")
    manager.wait_for_url(f"{live_shop.url}/password/new")
    manager_context.close()

    page.click("text=查看商家")
    page.wait_for_url(f"{live_shop.url}/district/merchants/M131")
    assert "m131-manager" in page.inner_text("table.staff")
    look(page, "detail")

    # The world's shop: its cashier is signed in elsewhere when the district suspends it.
    cashier_context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    cashier = cashier_context.new_page()
    sign_in(cashier, live_shop, live_shop.cashier)

    page.goto(f"{live_shop.url}/district/merchants/{office.shop_code}")
    page.click("#status button.danger")  # no reason: refused next to the field
    page.wait_for_selector("[data-error-for=reason]")
    page.fill("#reason", REASON)
    page.click("#status button.danger")
    page.wait_for_selector("[data-testid=suspension]")
    assert REASON in page.inner_text("[data-testid=suspension]")
    assert REASON in page.inner_text("table.history")
    look(page, "suspended")

    cashier.reload()
    cashier.wait_for_url(f"{live_shop.url}/login")
    assert REFUSAL in cashier.inner_text(".flash-error")
    screenshot(cashier, "district-merchants-cashier-stopped-desktop")
    cashier.fill("#username", live_shop.cashier)
    cashier.fill("#password", PASSWORD)
    cashier.click("button[type=submit]")
    cashier.wait_for_selector(".flash-error")
    assert REFUSAL in cashier.inner_text(".flash-error")
    assert cashier.url.startswith(f"{live_shop.url}/login")
    screenshot(cashier, "district-merchants-cashier-refused-desktop")

    # Resume: the cashier signs in again.
    page.fill("#reason", "核查完毕，已整改")
    page.click("#status button.primary")
    page.wait_for_selector("text=已恢复该商家的联盟资格")
    assert not page.is_visible("[data-testid=suspension]")
    look(page, "resumed")
    sign_in(cashier, live_shop, live_shop.cashier)
    cashier_context.close()
    context.close()
