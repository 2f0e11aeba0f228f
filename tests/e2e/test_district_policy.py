"""The district's points rules in a real browser at 1280 px: the tier policy's versions, a
preview with changed thresholds (the counts move), publishing a future version, a bad
threshold refused next to its field; point categories created, their limits changed, disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rewards.extensions import db
from rewards.models import Community, Member, PointCategory, Role, TierPolicy
from tests import factories
from tests.clock import today
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e


def district_admin(shop: Shop) -> str:
    """A district administrator, and a few more members so the preview has figures."""
    with shop.app.app_context():
        home = db.session.scalar(
            select(Community).join(Member, Member.community_id == Community.id).limit(1)
        )
        other = db.session.scalar(select(Community).where(Community.id != home.id))
        for name, points in (("赵丽华", 150), ("钱建国", 95), ("孙晓梅", 62), ("周志强", 30)):
            factories.points(db.session, factories.member(db.session, other, name=name), points)
        username = factories.account(db.session, Role.DISTRICT_ADMIN).username
        db.session.commit()
        db.session.remove()
    return username


def versions(shop: Shop) -> int:
    with shop.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(TierPolicy))
        db.session.remove()
    return count


def open_page(browser, shop: Shop):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, shop, district_admin(shop), home="/community/")
    return context, page


def test_tier_policy_preview_then_publish_a_future_version(browser, live_shop: Shop):
    context, page = open_page(browser, live_shop)
    page.goto(f"{live_shop.url}/district/policy")
    assert page.locator("[data-testid=in-force]").is_visible()
    assert page.locator("tr[data-version='1'] .badge").inner_text() == "现行"
    assert fits_the_width(page)
    screenshot(page, "district-policy-desktop")

    # A bad threshold: refused next to its field, nothing previewed.
    page.click("[data-testid=new-version]")
    page.fill("#gold_threshold", "40")
    page.fill("#silver_threshold", "50")
    page.click("[data-testid=preview]")
    error = page.locator(".field.has-error .field-error")
    assert "金卡门槛必须高于银卡门槛" in error.first.inner_text()
    assert page.locator("[data-testid=preview-result]").count() == 0
    screenshot(page, "district-policy-refused-desktop")

    # Changed thresholds from a month ahead: the counts differ from today's version.
    first_day = (today() + timedelta(days=30)).isoformat()
    page.fill("#gold_threshold", "160")
    page.fill("#silver_threshold", "60")
    page.fill("#window_months", "6")
    page.fill("#effective_on", first_day)
    page.fill("#note", "提高门槛，按近半年积分")
    page.click("[data-testid=preview]")
    result = page.locator("[data-testid=preview-result]")
    result.wait_for()
    district = page.locator("tfoot tr[data-community=ALL]")
    proposed = [district.locator(f"td[data-tier={t}]").inner_text() for t in ("gold", "silver")]
    current = [district.locator(f"td[data-today={t}]").inner_text() for t in ("gold", "silver")]
    assert proposed != current
    assert page.locator("td.changed").count() > 0
    assert versions(live_shop) == 1  # the preview wrote nothing
    assert fits_the_width(page)
    screenshot(page, "district-policy-preview-desktop")

    # Editing after the preview holds the publish button until a new preview.
    page.fill("#gold_threshold", "161")
    assert page.locator("[data-testid=publish]").is_disabled()
    page.fill("#gold_threshold", "160")
    page.click("[data-testid=preview]")
    result.wait_for()
    page.click("[data-testid=publish]")
    page.wait_for_url(f"{live_shop.url}/district/policy")
    assert f"{first_day} 起生效" in page.locator(".flash").inner_text()
    row = page.locator("tr[data-version='2']")
    assert row.get_attribute("data-status") == "scheduled"
    assert row.locator(".badge").inner_text() == "待生效"
    assert page.locator("tr[data-version='1'] .badge").inner_text() == "现行"
    assert versions(live_shop) == 2
    assert fits_the_width(page)
    screenshot(page, "district-policy-published-desktop")
    context.close()


def test_categories_create_change_limits_and_disable(browser, live_shop: Shop):
    context, page = open_page(browser, live_shop)
    page.goto(f"{live_shop.url}/district/policy#categories")
    page.click("[data-testid=new-category]")
    page.fill("#code", "Micro Wish")
    page.fill("#name", "微心愿")
    page.fill("#default_points", "8")
    page.fill("#max_points", "5")
    page.click("#category-form button[type=submit]")
    errors = page.locator(".field-error").all_inner_texts()
    assert any("小写字母" in e for e in errors) and any("不能低于默认积分" in e for e in errors)
    screenshot(page, "district-policy-category-refused-desktop")

    page.fill("#code", "micro_wish")
    page.fill("#max_points", "30")
    page.click("#category-form button[type=submit]")
    page.wait_for_url(f"{live_shop.url}/district/policy#categories")
    row = page.locator("tr[data-category=micro_wish]")
    assert row.locator("[data-testid=max-points]").inner_text() == "30 分"

    row.get_by_role("link", name="修改积分").click()
    page.fill("#default_points", "6")
    page.fill("#max_points", "12")
    screenshot(page, "district-policy-category-edit-desktop")
    page.click("#category-form button[type=submit]")
    page.wait_for_url(f"{live_shop.url}/district/policy#categories")
    assert row.locator("[data-testid=default-points]").inner_text() == "6 分"
    assert row.locator("[data-testid=max-points]").inner_text() == "12 分"

    row.get_by_role("button", name="停用").click()
    page.wait_for_url(f"{live_shop.url}/district/policy#categories")
    assert "已停用" in row.inner_text()
    assert row.get_by_role("button", name="重新启用").is_visible()
    with live_shop.app.app_context():
        made = db.session.scalar(select(PointCategory).where(PointCategory.code == "micro_wish"))
        assert (made.default_points, made.max_points, made.is_enabled) == (6, 12, False)
        db.session.remove()
    assert fits_the_width(page)
    page.locator("#categories").scroll_into_view_if_needed()
    screenshot(page, "district-policy-categories-desktop")
    context.close()
