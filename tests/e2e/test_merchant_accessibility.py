"""Every merchant page passes axe-core with no violation at all (any impact), on a 390 px phone
and a 1280 px desktop, and fits the width; the card field's placeholder is not cut at 390 px.
(Issue 10 point 5.)"""

from __future__ import annotations

import pytest

from rewards.extensions import db
from rewards.models import Account
from rewards.services import merchants
from rewards.services.audit import Actor
from tests.e2e.conftest import (
    VIEWPORTS,
    Shop,
    axe_violations,
    fits_the_width,
    scan,
    screenshot,
    sign_in,
    wait_for_quote,
)
from tests.e2e.test_merchant_counter import record_sales

pytestmark = pytest.mark.e2e

EVERY_IMPACT = ("minor", "moderate", "serious", "critical")

# How wide the placeholder's text is against the room the field gives it.
PLACEHOLDER_ROOM = """(input) => {
  const style = getComputedStyle(input);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [context.measureText(input.placeholder).width, room];
}"""


def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page as it is now: no axe violation of any impact, nothing sticking out sideways."""
    page.wait_for_load_state()
    assert axe_violations(page, EVERY_IMPACT) == [], name
    assert fits_the_width(page), name
    screenshot(page, f"merchant-a11y-{name}")


def a_pos_key(shop: Shop) -> None:
    with shop.app.app_context():
        manager = db.session.scalar(db.select(Account).where(Account.username == shop.manager))
        merchants.create_api_key(
            db.session, Actor.for_account(manager), shop.merchant_id, "1号收银台"
        )
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_cashier_page_has_no_accessibility_violation(browser, live_shop: Shop, device: str):
    record_sales(live_shop, [(0, "128.50"), (1, "45.00")])
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    check(page, f"cashier-home-{device}")
    page.goto(f"{live_shop.url}/merchant/checkout")
    check(page, f"counter-{device}")
    page.goto(f"{live_shop.url}/merchant/checkout")
    page.fill("#code", "000000000000")
    page.fill("#amount", "10")
    page.click("#preview-button")
    page.wait_for_selector(".refusal")
    check(page, f"counter-refused-{device}")
    page.goto(f"{live_shop.url}/merchant/checkout")
    page.wait_for_selector("html[data-counter-ready]", state="attached")
    scan(page, live_shop.gold_card_no, "128.50")
    wait_for_quote(page)
    check(page, f"counter-quote-{device}")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("[data-testid=receipt]")
    check(page, f"receipt-next-customer-{device}")
    page.goto(f"{live_shop.url}/merchant/my-sales")
    check(page, f"own-sales-{device}")
    page.click("table.sales td a >> nth=0")
    page.wait_for_selector("[data-testid=receipt]")
    check(page, f"own-receipt-{device}")
    context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_manager_page_has_no_accessibility_violation(browser, live_shop: Shop, device: str):
    sales = record_sales(live_shop, [(0, "128.50"), (0, "60.00"), (3, "20.00")])
    a_pos_key(live_shop)
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.manager)
    pages = [
        ("manager-home", "/merchant/"),
        ("redemptions", "/merchant/redemptions"),
        ("receipt-with-void", f"/merchant/redemptions/{sales[0]}"),
        ("daily", "/merchant/reports/daily"),
        ("monthly", "/merchant/reports/monthly"),
        ("monthly-out-of-range", "/merchant/reports/monthly?year=1999"),
        ("staff", "/merchant/staff"),
        ("keys", "/merchant/keys"),
        ("agreements", "/merchant/agreements"),
    ]
    for name, path in pages:
        page.goto(f"{live_shop.url}{path}")
        check(page, f"{name}-{device}")

    # The void form with no reason: the message under the field, on the page.
    page.goto(f"{live_shop.url}/merchant/redemptions/{sales[1]}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(".void-panel button.danger")
    page.wait_for_selector("#reason-error")
    assert page.inner_text("#reason-error") == "请填写撤销原因。"
    assert page.evaluate("document.activeElement.id") == "reason"
    check(page, f"void-without-reason-{device}")

    # A new POS key: the page that shows its secret once.
    page.goto(f"{live_shop.url}/merchant/keys")
    page.fill("#label", "2号收银台")
    page.click("form >> text=创建")
    page.wait_for_selector("[data-testid=secret]")
    check(page, f"key-created-{device}")
    context.close()


def test_the_card_fields_placeholder_is_not_cut_at_390_px(browser, live_shop: Shop):
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    page.goto(f"{live_shop.url}/merchant/checkout")
    page.wait_for_selector("html[data-counter-ready]", state="attached")
    text_width, room = page.eval_on_selector("#code", PLACEHOLDER_ROOM)
    assert text_width <= room, (text_width, room)
    screenshot(page, "merchant-counter-placeholder-phone", full_page=False)
    context.close()
