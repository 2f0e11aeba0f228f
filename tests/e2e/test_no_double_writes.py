"""No double writes from a browser, in a real one: the POS key form after the back button,
with Chromium's back-forward cache and without it (then the form page is fetched again)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from rewards.extensions import db
from rewards.models import ApiKey
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, Shop, sign_in

pytestmark = pytest.mark.e2e


def keys_of(shop: Shop) -> int:
    with shop.app.app_context():
        found = db.session.scalar(
            select(func.count(ApiKey.id)).where(ApiKey.merchant_id == shop.merchant_id)
        )
        db.session.remove()
        return found or 0


@pytest.fixture()
def everyday_browser(playwright_driver):  # type: ignore[no-untyped-def]
    """Chromium as people run it: with the back-forward cache, which Playwright turns off by
    default (the back button then shows the form as it was, its one-time token included)."""
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield browser
    browser.close()


def test_reload_and_back_button_resubmit_never_create_a_second_pos_key(
    everyday_browser, live_shop: Shop
):
    context = everyday_browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.manager)
    page.goto(f"{live_shop.url}/merchant/keys")
    page.fill("#label", "1号收银台")
    page.click("form >> text=创建")
    secret = page.inner_text("[data-testid=secret]")
    assert secret.startswith("rpk_") and "/merchant/keys/" in page.url
    assert keys_of(live_shop) == 1

    page.reload()  # refresh the "key created" page: a GET, no new key, no secret
    assert page.locator("[data-testid=secret]").count() == 0
    assert secret not in page.content() and "已经显示过一次" in page.inner_text("main")
    assert keys_of(live_shop) == 1

    # Back to the form as it was submitted (restored, so no "load" event), and 创建 again.
    page.go_back(wait_until="commit")
    page.wait_for_selector("#label")
    assert page.url.endswith("/merchant/keys")
    assert page.input_value("#label") == "1号收银台"  # the page as it was, not a new form
    page.click("form >> text=创建")
    assert "此表单已提交过" in page.inner_text("main")
    assert page.locator("[data-testid=secret]").count() == 0
    assert keys_of(live_shop) == 1
    context.close()


def test_without_a_back_forward_cache_the_back_button_resubmit_creates_nothing(
    browser, live_shop: Shop
):
    """Playwright's Chromium runs without the back-forward cache, like a browser that may not
    keep a page: the back button fetches the form again, with a fresh token, and Chromium
    restores what was typed. Sent unchanged, it is the same submission (pages.js puts the kept
    token back); changed, it is a new one."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.manager)
    page.goto(f"{live_shop.url}/merchant/keys")
    page.fill("#label", "2号收银台")
    page.click("form >> text=创建")
    page.wait_for_selector("[data-testid=secret]")
    first_result = page.url
    assert keys_of(live_shop) == 1

    page.go_back()
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    assert page.input_value("#label") == "2号收银台"  # restored by the browser into a new form
    page.click("form >> text=创建")
    page.wait_for_load_state()
    assert "此表单已提交过" in page.inner_text("main")
    assert page.url == first_result
    assert page.locator("[data-testid=secret]").count() == 0
    assert keys_of(live_shop) == 1

    # Back again, and this time the form is changed: that is a new key, made on purpose.
    page.go_back()
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    page.fill("#label", "3号收银台")
    page.click("form >> text=创建")
    page.wait_for_selector("[data-testid=secret]")
    assert keys_of(live_shop) == 2
    context.close()
