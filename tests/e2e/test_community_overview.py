"""The secretary's overview says what to do next, and the district's table, in a real browser
at 1280 px and 390 px."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rewards.extensions import db
from rewards.models import Member, Role
from rewards.services import claims, tiers
from tests import factories
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e


def _work_waiting(shop: Shop, clock) -> None:  # type: ignore[no-untyped-def]
    """A claim waiting three days, a silver member without a card, a holder about to drop."""
    with shop.app.app_context():
        member = db.session.get(Member, _plain_id(shop))
        category = factories.category(db.session)
        claims.submit_claim(
            db.session,
            factories.OPERATOR,
            member.id,
            category.id,
            "帮独居老人买菜",
            clock.today - timedelta(days=3),
            now=clock.now - timedelta(days=3),
        )
        waiting = factories.member(db.session, member.community, name="冯待卡")
        factories.points(db.session, waiting, 70)
        opens, _ = tiers.window(tiers.current_policy(db.session), clock.today)
        ageing = factories.member(db.session, member.community, name="褚将降")
        factories.points(db.session, ageing, 55, opens + timedelta(days=5))
        factories.card(db.session, ageing)
        db.session.commit()
        db.session.remove()


def _plain_id(shop: Shop) -> int:
    from sqlalchemy import select

    with shop.app.app_context():
        return db.session.scalar(select(Member.id).where(Member.name == "王五"))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_secretarys_overview_says_what_to_do_next(browser, live_shop: Shop, device, clock):
    _work_waiting(live_shop, clock)
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    todo = page.inner_text("section.todo")
    assert "最早的一条已等待 3 天" in todo
    assert page.inner_text("[data-todo=cards] .stat") == "1"
    assert page.inner_text("[data-todo=drops] .stat") == "1"
    assert "褚将降" in page.inner_text("#drops-heading + p + .table-scroll")
    assert fits_the_width(page)
    screenshot(page, f"community-overview-{device}")
    page.click("[data-todo=claims] a.todo-link")
    page.wait_for_url("**/community/claims*")
    assert "帮独居老人买菜" in page.inner_text("main")
    page.go_back()
    page.click("[data-todo=cards] a.todo-link")
    page.wait_for_url("**/community/cards/eligible*")
    assert "冯待卡" in page.inner_text("main")
    context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_district_sees_every_community(browser, live_shop: Shop, device):
    with live_shop.app.app_context():
        admin = factories.account(db.session, Role.DISTRICT_ADMIN)
        db.session.commit()
        username = admin.username
        db.session.remove()
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, username, home="/community/")
    assert "全区概览" in page.inner_text("h1")
    assert fits_the_width(page)
    screenshot(page, f"community-district-{device}")
    page.locator("table a").first.click()
    page.wait_for_selector("section.todo")
    screenshot(page, f"community-district-one-{device}")
    context.close()
