"""The claims pages (认定申报) in a real browser, on a desktop and a phone: the queue, a claim,
certifying with edited points, rejecting, bulk certifying, and a claim decided in another tab."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.models import Account, Claim, LedgerEntry, Member, PointCategory
from rewards.services import claims
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

DESCRIPTIONS = [
    ("张三明", 3, "参加社区周末环境整治，清理楼道杂物和小广告", 6),
    ("李四", 5, "为独居老人代购生活用品并陪同就医", 5),
    ("王五", 8, "参与社区疫苗接种点志愿服务半天，负责引导和秩序维护", 8),
]


def seed_claims(shop: Shop) -> list[int]:
    """Three pending claims of the home community, oldest first; their ids."""
    with shop.app.app_context():
        category = db.session.scalars(select(PointCategory)).first()
        ids = []
        for hours, (name, days, text, points) in enumerate(DESCRIPTIONS):
            member = db.session.scalar(select(Member).where(Member.name == name))
            made = claims.submit_claim(
                db.session,
                factories.OPERATOR,
                member.id,
                category.id,
                text,
                today() - timedelta(days=days),
                points=points,
                now=utcnow() - timedelta(days=2, hours=-hours * 7),
            )
            ids.append(made.id)
        db.session.commit()
        db.session.remove()
    return ids


def certify_elsewhere(shop: Shop, claim_id: int) -> None:
    """A colleague certifies the claim meanwhile (another browser, same community)."""
    with shop.app.app_context():
        secretary = db.session.scalar(select(Account).where(Account.username == shop.secretary))
        claims.certify_claim(db.session, Actor.for_account(secretary), claim_id)
        db.session.commit()
        db.session.remove()


def ledger_entries(shop: Shop, claim_id: int) -> list[int]:
    with shop.app.app_context():
        points = list(
            db.session.scalars(
                select(LedgerEntry.points).where(LedgerEntry.idempotency_key == f"claim:{claim_id}")
            )
        )
        db.session.remove()
    return points


def claim_status(shop: Shop, claim_id: int) -> str:
    with shop.app.app_context():
        status = str(db.session.get(Claim, claim_id).status)
        db.session.remove()
    return status


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_queue_and_a_claim_page(browser, live_shop: Shop, device: str):
    ids = seed_claims(live_shop)
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    page.click("nav.topnav >> text=认定申报")
    page.wait_for_url("**/community/claims")
    rows = page.locator("table.claims tbody tr")
    assert rows.count() == 3
    assert "张三明" in rows.nth(0).inner_text()  # the oldest first
    assert page.get_by_text("共 3 条待认定").is_visible()
    screenshot(page, f"community-claims-{device}")
    assert fits_the_width(page)

    page.click(f'tr[data-claim="{ids[2]}"] td a >> nth=0')
    page.wait_for_url(f"**/community/claims/{ids[2]}?**")
    assert page.get_by_test_id("category-limits").inner_text().startswith("默认 5 分，最多 20 分")
    assert page.input_value("#points") == "8"
    screenshot(page, f"community-claim-{device}")
    assert fits_the_width(page)
    context.close()


def test_certify_with_edited_points(browser, live_shop: Shop):
    ids = seed_claims(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    page.goto(f"{live_shop.url}/community/claims")
    page.click(f'tr[data-claim="{ids[0]}"] td a >> nth=0')
    page.fill("#points", "25")
    page.click("#certify-button")
    error = page.locator("#points-error")
    assert "每次可得 1 到 20 分，填写的是 25 分" in error.inner_text()
    screenshot(page, "community-claim-points-refused-desktop")
    assert ledger_entries(live_shop, ids[0]) == []

    page.fill("#points", "9")
    page.click("#certify-button")
    page.wait_for_url("**/community/claims")
    assert page.get_by_text("已认定，记入 9 分").is_visible()
    assert page.locator(f'tr[data-claim="{ids[0]}"]').count() == 0  # left the queue
    screenshot(page, "community-claims-after-certify-desktop")
    assert ledger_entries(live_shop, ids[0]) == [9]
    context.close()


def test_reject_needs_a_reason_the_member_reads(browser, live_shop: Shop):
    ids = seed_claims(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    page.goto(f"{live_shop.url}/community/claims/{ids[1]}")
    assert page.get_by_text("党员会在自己的申报记录里看到这条原因").is_visible()
    page.click("#reject-button")
    assert "驳回必须填写原因" in page.locator("#reject-form .field-error").inner_text()
    screenshot(page, "community-claim-reject-refused-phone")
    assert fits_the_width(page)
    page.fill("#reason", "服务日期与社区活动记录不符，请补充照片后重新申报")
    page.click("#reject-button")
    page.wait_for_url("**/community/claims")
    assert page.get_by_text("已驳回").first.is_visible()
    assert claim_status(live_shop, ids[1]) == "rejected"
    page.goto(f"{live_shop.url}/community/claims?status=rejected")
    assert page.locator(f'tr[data-claim="{ids[1]}"]').is_visible()
    screenshot(page, "community-claims-rejected-phone")
    assert fits_the_width(page)
    context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_bulk_certify_shows_one_line_per_claim(browser, live_shop: Shop, device: str):
    ids = seed_claims(live_shop)
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    page.goto(f"{live_shop.url}/community/claims")
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    page.check("[data-select-all=claim_ids]")
    assert page.locator("input[name=claim_ids]:checked").count() == 3
    certify_elsewhere(live_shop, ids[1])  # decided in another browser meanwhile
    page.click(".bulk-button")
    page.wait_for_selector("[data-testid=bulk-results]")
    lines = page.locator("[data-testid=bulk-results] li")
    assert lines.count() == 3
    assert "已认定 6 分" in lines.nth(0).inner_text()
    assert "没有重复记分" in lines.nth(1).inner_text()
    assert "已认定 8 分" in lines.nth(2).inner_text()
    assert page.get_by_text("已认定 2 条，1 条未认定").is_visible()
    screenshot(page, f"community-claims-bulk-{device}")
    assert fits_the_width(page)
    assert [len(ledger_entries(live_shop, n)) for n in ids] == [1, 1, 1]
    context.close()


def test_a_claim_decided_in_another_tab_says_so(browser, live_shop: Shop):
    ids = seed_claims(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    first = context.new_page()
    sign_in(first, live_shop, live_shop.secretary, home="/community/")
    second = context.new_page()
    for page in (first, second):
        page.goto(f"{live_shop.url}/community/claims/{ids[0]}")
    first.click("#certify-button")
    first.wait_for_url("**/community/claims")
    second.click("#certify-button")
    second.wait_for_selector(".flash-error")
    message = second.locator(".flash-error").inner_text()
    assert "这条申报已于" in message and "没有重复记分" in message
    assert second.get_by_test_id("claim-status").inner_text() == "已认定"
    screenshot(second, "community-claim-decided-elsewhere-desktop")
    assert ledger_entries(live_shop, ids[0]) == [6]
    with live_shop.app.app_context():
        assert (
            db.session.scalar(
                select(func.count(LedgerEntry.id)).where(LedgerEntry.source_type == "claim")
            )
            == 1
        )
        db.session.remove()
    context.close()
