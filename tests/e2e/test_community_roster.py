"""The roster pages (党员名册) in a real browser, on a desktop and a phone: search, a member's
page, add and edit, the roster import (a CSV with a bad row, then the Excel template filled
in), corrections in the ledger (积分调整, 冲正) and a transfer to another community."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from rewards.extensions import db
from rewards.models import Card, Community, Role
from rewards.services import claims, ledger
from tests import factories
from tests.clock import today
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

HEADER = "党员编号,姓名,手机号,报到日期,工作单位\n"


@dataclass
class Roster:
    gold_no: str
    silver_no: str
    other_code: str
    other_name: str
    other_secretary: str


def prepare(shop: Shop) -> Roster:
    """More members to page through, a rejected claim and a long-winded adjustment."""
    with shop.app.app_context():
        gold = db.session.get(Card, shop.gold_card_id).member
        home = gold.community
        other = db.session.scalar(
            db.select(Community).where(Community.id != home.id).order_by(Community.id)
        )
        for n in range(24):
            factories.member(db.session, home, name=f"党员{n:02d}", phone=f"1390000{n:04d}")
        category = factories.category(db.session)
        claim = claims.submit_claim(
            db.session,
            factories.OPERATOR,
            gold.id,
            category.id,
            "为社区独居老人代购生活用品并陪同就医",
            today() - timedelta(days=3),
            points=5,
        )
        claims.reject_claim(db.session, factories.OPERATOR, claim.id, "服务日期与活动记录不一致")
        ledger.adjust(
            db.session,
            factories.OPERATOR,
            gold.id,
            8,
            "补录 2018 年在开发区志愿服务队参加防汛值守、垃圾分类宣传和社区义诊的积分",
            today() - timedelta(days=20),
            idempotency_key="e2e-long-reason",
        )
        for name in ("郑外人", "冯远"):
            factories.member(db.session, other, name=name, phone="13700000000")
        other_secretary = factories.account(db.session, Role.SECRETARY, community=other)
        silver_no = db.session.scalar(
            db.select(Card).where(Card.card_no == shop.silver_card_no)
        ).member.member_no
        roster = Roster(gold.member_no, silver_no, other.code, other.name, other_secretary.username)
        db.session.commit()
        db.session.remove()
    return roster


def look(page, name: str, viewport: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"community-roster-{name}-{viewport}")
    assert fits_the_width(page), f"{name} sticks out sideways at {viewport}"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_secretary_keeps_the_roster(browser, live_shop: Shop, viewport: str, tmp_path):
    roster = prepare(live_shop)
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    url = live_shop.url

    # The roster: paged, then searched by name and by phone tail.
    page.goto(f"{url}/community/members")
    assert page.locator("tr[data-member]").count() == 20
    assert page.locator("nav.pager").is_visible()
    look(page, "list", viewport)
    page.fill("#q", "李四")
    page.press("#q", "Enter")
    page.wait_for_url("**/community/members?q=*")
    assert page.locator("tr[data-member]").count() == 1
    look(page, "search", viewport)
    page.fill("#q", "0007")
    page.press("#q", "Enter")
    page.wait_for_selector("text=党员07")

    # A member's page: profile, tier and window, ledger with reasons, cards, claims.
    page.goto(f"{url}/community/members/{roster.gold_no}")
    assert page.locator("[data-stat=all_time_points]").inner_text() == "328"
    assert page.get_by_text("服务日期与活动记录不一致").is_visible()
    look(page, "member", viewport)

    # Add a member: a bad phone is refused next to the field, then the corrected form saves.
    page.goto(f"{url}/community/members")
    page.click("text=添加党员")
    page.fill("#member_no", "YT0100900")
    page.fill("#name", "陈新")
    page.fill("#phone", "12345")
    page.fill("#joined_on", "2019-07-01")
    page.fill("#employer", "烟台港集团")
    page.click("button[type=submit].primary")
    assert "不是 11 位大陆手机号" in page.locator("[data-error-for=phone]").inner_text()
    look(page, "add-error", viewport)
    page.fill("#phone", "13911112222")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/community/members/YT0100900")
    assert page.get_by_text("已登记党员 陈新").is_visible()

    # Edit: change the employer.
    page.click("text=修改资料")
    page.fill("#employer", "烟台港集团西港区")
    look(page, "edit", viewport)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/community/members/YT0100900")
    assert page.locator("[data-testid=profile]").get_by_text("烟台港集团西港区").is_visible()

    # Import: a file with one bad row shows every error and no import button.
    bad = (
        HEADER
        + "YT0100901,孙丽,13911113333,2020-03-01,开发区医院\nYT0100902,周强,139,2020-03-01,\n"
    )
    page.goto(f"{url}/community/members/import")
    look(page, "import", viewport)
    upload(page, tmp_path, "bad.csv", bad)
    page.wait_for_url("**/import/preview?*")
    assert page.locator("tr[data-action=error]").count() == 1
    assert page.locator("[data-testid=import]").count() == 0
    look(page, "preview-error", viewport)
    # The corrected file comes as the Excel template, downloaded, filled in and uploaded as is.
    page.click("text=重新上传")
    with page.expect_download() as download:
        page.get_by_text("下载模板 Excel（.xlsx）").click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    book.active.append(["YT0100901", "孙丽", "13911113333", "2020-03-01", "开发区医院"])
    book.active.append([roster.silver_no, "李四", "13800000000", "2020-01-01", ""])
    filled = tmp_path / "名册.xlsx"
    book.save(filled)
    page.set_input_files("#file", str(filled))
    page.click("button[type=submit].primary")
    page.wait_for_url("**/import/preview?*")
    look(page, "preview", viewport)
    page.click("[data-testid=import]")
    page.wait_for_url("**/community/members")
    assert page.get_by_text("新增 1 人，更新 0 人，不变 1 人").is_visible()

    # An adjustment, then the reversal of it, both in the ledger at once.
    page.goto(f"{url}/community/members/{roster.gold_no}")
    page.fill("#points", "-3")
    page.fill("#reason", "重复认定扣回")
    page.click("#adjust button[type=submit]")
    page.wait_for_url(f"**/community/members/{roster.gold_no}#ledger")
    first_row = page.locator("tr[data-entry]").first
    assert "重复认定扣回" in first_row.inner_text() and "-3" in first_row.inner_text()
    look(page, "adjusted", viewport)
    first_row.locator("[data-action=reverse]").click()
    page.wait_for_selector("#reverse")
    page.fill("#reversal-reason", "扣错了，撤回")
    look(page, "reverse-form", viewport)
    page.click("#reverse button.danger")
    page.wait_for_selector("text=已冲正，积分变动 +3 分")
    newest = page.locator("tr[data-entry]").first
    assert newest.get_attribute("data-kind") == "reversal"
    assert page.locator("tr[data-entry]").nth(1).locator("[data-action=reverse]").count() == 0
    assert page.locator("[data-stat=all_time_points]").inner_text() == "328"
    look(page, "reversed", viewport)

    # Transfer: the member leaves this roster, the receiving secretary sees the whole ledger.
    page.select_option("#transfer select", roster.other_code)
    look(page, "transfer", viewport)
    page.click("#transfer button.danger")
    page.wait_for_url("**/community/members")
    assert page.get_by_text(f"组织关系转至{roster.other_name}").is_visible()
    look(page, "transferred", viewport)
    context.close()

    receiving = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
    page = receiving.new_page()
    sign_in(page, live_shop, roster.other_secretary, home="/community/")
    page.goto(f"{url}/community/members/{roster.gold_no}")
    assert page.locator("[data-stat=all_time_points]").inner_text() == "328"
    assert page.locator("tr[data-entry]").count() >= 5
    look(page, "received", viewport)
    receiving.close()


def upload(page, folder, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    path = folder / name
    path.write_text(text, encoding="utf-8")
    page.set_input_files("#file", str(path))
    page.click("button[type=submit].primary")


def test_the_administrator_filters_the_roster_by_community(browser, live_shop: Shop):
    roster = prepare(live_shop)
    with live_shop.app.app_context():
        username = factories.account(db.session, Role.DISTRICT_ADMIN).username
        db.session.commit()
        db.session.remove()
    for viewport in ("desktop", "phone"):
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        page = context.new_page()
        sign_in(page, live_shop, username, home="/community/")
        page.goto(f"{live_shop.url}/community/members")
        assert page.get_by_text("共 29 人").is_visible()  # both communities
        look(page, "admin", viewport)
        page.select_option("#community", roster.other_code)
        page.click("form.filter button[type=submit]")
        page.wait_for_url(f"**community={roster.other_code}*")
        assert page.locator("tr[data-member]").count() == 2
        look(page, "admin-filtered", viewport)
        context.close()
