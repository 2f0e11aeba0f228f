"""The district's accounts office and audit log in a real browser at 1280 px: the accounts list
and its filters, opening a secretary (a refusal, then the one-time password page and the new
secretary's first sign-in), a password reset's slip, disabling, clearing a slowed username,
and the audit log with each of its filters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.models import Account, AuditEvent, Community, Role
from rewards.services.accounts import FREE_FAILURES_PER_ADDRESS, throttle_label
from tests import factories
from tests.e2e.conftest import PASSWORD, VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

HOME = "/community/"


def district_admin(shop: Shop) -> str:
    """A district administrator (password PASSWORD), and the cashier slowed by failed sign-ins."""
    with shop.app.app_context():
        admin = factories.account(db.session, Role.DISTRICT_ADMIN)
        admin.display_name = "区办老周"
        for _ in range(FREE_FAILURES_PER_ADDRESS):
            db.session.add(
                AuditEvent(
                    recorded_at=utcnow(),
                    actor_label=throttle_label(shop.cashier),
                    action="account.sign_in_failed",
                    object_type="account",
                    details={"ip": "203.0.113.7"},
                )
            )
        db.session.commit()
        username = admin.username
        db.session.remove()
    return username


def home_community(shop: Shop) -> tuple[str, str]:
    with shop.app.app_context():
        secretary = db.session.scalar(select(Account).where(Account.username == shop.secretary))
        community = db.session.get(Community, secretary.community_id)
        code, name = community.code, community.name
        db.session.remove()
    return code, name


def account_id(shop: Shop, username: str) -> int:
    with shop.app.app_context():
        found = db.session.scalar(select(Account.id).where(Account.username == username))
        db.session.remove()
    return found


def submit_filter(page) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.click("form.filter button[type=submit]")


def look(page, name: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, name)
    assert fits_the_width(page), name


def test_accounts_list_with_filters(browser, live_shop: Shop):
    admin = district_admin(live_shop)
    code, name = home_community(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, admin, home=HOME)
    page.click("nav.topnav >> text=账号")
    page.wait_for_url("**/district/accounts")
    assert page.locator("tr[data-account]").count() == 4
    assert "登录受限" in page.text_content(f"tr[data-account='{live_shop.cashier}']")
    look(page, "district-accounts-list-desktop")

    page.select_option("#role", "secretary")
    submit_filter(page)
    assert page.locator("tr[data-account]").count() == 1
    page.select_option("#role", "")
    page.select_option("#community", code)
    submit_filter(page)
    rows = page.locator("tr[data-account]")
    assert rows.count() == 1 and name in rows.first.text_content()
    look(page, "district-accounts-community-desktop")

    page.goto(f"{live_shop.url}/district/accounts")
    page.select_option("#merchant", index=1)
    submit_filter(page)
    assert page.locator("tr[data-account]").count() == 2  # the shop's cashier and manager
    page.goto(f"{live_shop.url}/district/accounts")
    page.select_option("#state", "throttled")
    submit_filter(page)
    assert page.locator("tr[data-account]").count() == 1
    look(page, "district-accounts-locked-filter-desktop")
    page.goto(f"{live_shop.url}/district/accounts")
    page.fill("#q", live_shop.manager)
    submit_filter(page)
    assert page.locator("tr[data-account]").count() == 1
    context.close()


def test_opening_a_secretary_shows_the_one_time_password_once(browser, live_shop: Shop):
    admin = district_admin(live_shop)
    code, _ = home_community(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, admin, home=HOME)
    page.goto(f"{live_shop.url}/district/accounts")
    page.click("text=开通账号")
    page.wait_for_url("**/district/accounts/new*")
    page.fill("#username", "c 22")
    page.fill("#display_name", "刘书记")
    page.click("button[type=submit].primary")
    page.wait_for_selector(".field-error")
    errors = " ".join(page.locator(".field-error").all_text_contents())
    assert "用户名为 3 到 40 位" in errors and "请选择社区" in errors
    look(page, "district-accounts-new-error-desktop")

    page.fill("#username", "c22-secretary")
    page.select_option("#community", code)
    with page.expect_response(lambda r: "/opened" in r.url) as slip:
        page.click("button[type=submit].primary")
    page.wait_for_url("**/opened?*")  # and its load: the print button is shown by pages.js
    assert slip.value.headers["cache-control"] == "no-store"
    password = page.text_content("[data-testid=one-time-password]").strip()
    assert len(password) == 10
    assert page.is_visible("button[data-print]")
    look(page, "district-accounts-one-time-desktop")
    page.click("text=我已交给本人，返回账号页")
    page.wait_for_url("**/district/accounts/*")
    assert password not in page.content()
    assert "须修改密码" in page.text_content(".states")
    look(page, "district-accounts-detail-desktop")

    newcomer = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN").new_page()
    newcomer.goto(f"{live_shop.url}/login")
    newcomer.fill("#username", "c22-secretary")
    newcomer.fill("#password", password)
    newcomer.click("button[type=submit]")
    newcomer.wait_for_url("**/password/new")
    newcomer.fill("#password", "my own secret")
    newcomer.fill("#password_again", "my own secret")
    newcomer.click("button.primary[type=submit]")
    newcomer.wait_for_url(f"{live_shop.url}{HOME}")
    newcomer.context.close()
    context.close()


def test_reset_disable_and_unlock_from_an_accounts_page(browser, live_shop: Shop):
    admin = district_admin(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, admin, home=HOME)

    # Reset the manager's password: a slip, shown once, to print.
    page.goto(f"{live_shop.url}/district/accounts/{account_id(live_shop, live_shop.manager)}")
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    with page.expect_response(lambda r: "/password-reset" in r.url) as slip:
        page.click("[data-testid=reset]")
    page.wait_for_url("**/password-reset?*")
    assert slip.value.headers["cache-control"] == "no-store"
    assert "密码已重置" in page.text_content("h1")
    assert page.locator("[data-testid=one-time-password]").count() == 1
    look(page, "district-accounts-reset-desktop")
    page.emulate_media(media="print")
    screenshot(page, "district-accounts-reset-paper")
    page.emulate_media(media="screen")
    page.reload()  # a refresh shows no password and resets nothing
    assert page.locator("[data-testid=one-time-password]").count() == 0

    # Disable the secretary: signed-in or not, they are out.
    page.goto(f"{live_shop.url}/district/accounts/{account_id(live_shop, live_shop.secretary)}")
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    page.click("[data-testid=disable]")
    page.wait_for_selector(".flash-success")
    assert "已停用" in page.text_content(".flash-success")
    assert page.is_visible("[data-testid=enable]")
    look(page, "district-accounts-disabled-desktop")
    refused = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN").new_page()
    refused.goto(f"{live_shop.url}/login")
    refused.fill("#username", live_shop.secretary)
    refused.fill("#password", PASSWORD)
    refused.click("button[type=submit]")
    refused.wait_for_selector(".flash-error")
    refused.context.close()

    # Clear the cashier's failed sign-ins (five from one address): that address is in at once.
    page.goto(f"{live_shop.url}/district/accounts/{account_id(live_shop, live_shop.cashier)}")
    assert "登录受限" in page.text_content(".states")
    look(page, "district-accounts-locked-desktop")
    page.click("[data-testid=unlock]")
    page.wait_for_selector(".flash-success")
    assert page.locator("[data-testid=unlock]").count() == 0
    look(page, "district-accounts-unlocked-desktop")
    cashier = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN").new_page()
    sign_in(cashier, live_shop, live_shop.cashier, home="/merchant/")
    cashier.context.close()
    context.close()


def test_the_audit_log_with_each_filter(browser, live_shop: Shop):
    admin = district_admin(live_shop)
    code, _ = home_community(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, admin, home=HOME)
    # Something to find: the admin unlocks the cashier.
    page.goto(f"{live_shop.url}/district/accounts/{account_id(live_shop, live_shop.cashier)}")
    page.click("[data-testid=unlock]")
    page.wait_for_selector(".flash-success")

    page.click("nav.topnav >> text=审计日志")
    page.wait_for_url("**/district/audit")
    assert page.locator("tr[data-action]").count() > 5
    assert "解除登录锁定" in page.text_content("table.audit-log")
    look(page, "district-audit-desktop")

    page.fill("#person", admin)
    submit_filter(page)
    actions = page.locator("tr[data-action]")
    assert {a.get_attribute("data-action") for a in actions.all()} == {
        "account.sign_in",
        "account.unlock",
    }
    look(page, "district-audit-person-desktop")

    page.fill("#person", "")
    page.select_option("#community", code)
    submit_filter(page)
    assert "签订发展协议" in page.text_content("table.audit-log")
    look(page, "district-audit-community-desktop")

    page.goto(f"{live_shop.url}/district/audit")
    page.select_option("#kind", "sign_in")
    submit_filter(page)
    kinds = {a.get_attribute("data-action") for a in page.locator("tr[data-action]").all()}
    assert kinds == {"account.sign_in", "account.sign_in_failed"}
    assert "登录尝试" in page.text_content("table.audit-log")
    look(page, "district-audit-kind-desktop")

    page.goto(f"{live_shop.url}/district/audit")
    page.fill("#date_from", "2020-01-01")
    page.fill("#date_to", "2020-01-31")
    submit_filter(page)
    assert page.locator("tr[data-action]").count() == 0
    assert page.is_visible("[data-testid=log-empty]")
    page.fill("#date_from", "2020-02-01")
    submit_filter(page)
    assert "开始日期不能晚于结束日期" in page.text_content(".field-error")
    look(page, "district-audit-dates-desktop")
    page.click("summary")
    look(page, "district-audit-rules-desktop")
    context.close()
