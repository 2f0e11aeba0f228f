"""The activities pages (活动签到) in a real browser, on a desktop and a phone: the list, creating
an activity, and recording attendance by ticking, by pasting (an unknown number first) and by
scanning phone codes and printed card numbers with a keyboard-wedge scanner or a camera."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rewards.extensions import db
from rewards.models import Activity, Attendance, Card, Community, Member, PointCategory
from rewards.services import activities
from tests import factories
from tests.clock import today
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORTS,
    Shop,
    fits_the_width,
    only_local_requests,
    screenshot,
    sign_in,
)
from tests.e2e.test_merchant_counter import VENDOR, _qr_video

pytestmark = pytest.mark.e2e

NEIGHBOURS = [
    "赵丽华",
    "钱建国",
    "孙晓梅",
    "周志强",
    "吴秀英",
    "郑海燕",
    "冯国庆",
    "陈春花",
    "褚明辉",
]


def seed_activities(shop: Shop) -> dict[str, object]:
    """More members in the home community, two past activities (one with attendees) and one
    of another community; what the tests need to know about them."""
    with shop.app.app_context():
        gold = db.session.scalar(select(Member).where(Member.name == "张三明"))
        home = db.session.get(Community, gold.community_id)
        other = db.session.scalar(select(Community).where(Community.id != home.id))
        category = db.session.scalars(select(PointCategory)).first()
        for name in NEIGHBOURS:
            factories.member(db.session, home, name=name)
        stranger = factories.member(db.session, other, name="郑外人")

        def create(title: str, days_ago: int, community: Community = home) -> Activity:
            return activities.create_activity(
                db.session,
                factories.OPERATOR,
                community.id,
                category.id,
                title,
                today() - timedelta(days=days_ago),
                category.default_points,
            )

        cleaning = create("社区环境清洁日", 14)
        visit = create("重阳节敬老院慰问", 3)
        create("别的社区的活动", 1, other)
        members = db.session.scalars(select(Member).where(Member.community_id == home.id)).all()
        activities.record_attendance(
            db.session, factories.OPERATOR, cleaning.id, [m.member_no for m in members[:6]]
        )
        db.session.commit()
        seeded = {
            "visit": visit.id,
            "category": category.name,
            "gold_no": gold.member_no,
            "silver_no": db.session.scalar(select(Member.member_no).where(Member.name == "李四")),
            "plain_no": db.session.scalar(select(Member.member_no).where(Member.name == "王五")),
            "stranger_no": stranger.member_no,
        }
        db.session.remove()
    return seeded


def attendees(shop: Shop, activity_id: int) -> list[str]:
    """The member numbers recorded for the activity."""
    with shop.app.app_context():
        numbers = list(
            db.session.scalars(
                select(Member.member_no)
                .join(Attendance, Attendance.member_id == Member.id)
                .where(Attendance.activity_id == activity_id)
                .order_by(Attendance.id)
            )
        )
        db.session.remove()
    return numbers


def open_activity(page, shop: Shop, activity_id: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{shop.url}/community/activities/{activity_id}")
    page.wait_for_selector("html[data-attendance-ready]", state="attached")


def wedge_scan(page, code: str) -> None:  # type: ignore[no-untyped-def]
    """What a keyboard-wedge scanner does: types the code and presses Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_activity_list_and_creating_an_activity(browser, live_shop: Shop, device: str):
    seed_activities(live_shop)
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    page.click("nav.topnav >> text=活动签到")
    page.wait_for_url("**/community/activities")
    rows = page.locator("table.activities tbody tr")
    assert rows.count() == 2  # not the other community's
    assert "重阳节敬老院慰问" in rows.nth(0).inner_text()  # latest first
    assert "6 人" in rows.nth(1).inner_text()
    screenshot(page, f"community-activities-{device}")
    assert fits_the_width(page)

    page.click("[data-testid=new-activity]")
    page.wait_for_url("**/community/activities/new")
    assert page.input_value("#occurred_on") == today().isoformat()
    page.fill("#title", "x")
    page.fill("#points", "30")
    page.click("#activity-form button[type=submit]")
    assert "填写的是 30 分" in page.inner_text(".field-error")
    assert page.input_value("#title") == "x"  # what was typed stays
    screenshot(page, f"community-activity-new-refused-{device}")
    assert fits_the_width(page)
    page.fill("#title", "三八妇女节社区义诊")
    page.fill("#points", "6")
    screenshot(page, f"community-activity-new-{device}")
    page.click("#activity-form button[type=submit]")
    page.wait_for_url("**/community/activities/*")
    assert page.get_by_text("已创建活动「三八妇女节社区义诊」").is_visible()
    assert page.locator("h1").inner_text() == "三八妇女节社区义诊"
    page.wait_for_selector("html[data-attendance-ready]", state="attached")
    screenshot(page, f"community-activity-{device}")
    assert fits_the_width(page)
    context.close()


def test_recording_attendance_by_ticking(browser, live_shop: Shop):
    seeded = seed_activities(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    open_activity(page, live_shop, seeded["visit"])
    page.fill("#member-filter", "李")
    visible = page.locator("#tick-list li:visible")
    assert visible.count() == 1 and "李四" in visible.inner_text()
    page.check("#tick-list li:visible input")
    page.fill("#member-filter", "")
    page.check(f"#tick-list input[value={seeded['plain_no']}]")
    assert page.inner_text("#tick-count") == "2"
    screenshot(page, "community-activity-ticked-desktop")
    page.click("#tick-submit")
    page.wait_for_selector(".flash-success")
    assert "新登记 2 人" in page.inner_text(".flash-success")
    assert sorted(attendees(live_shop, seeded["visit"])) == sorted(
        [seeded["silver_no"], seeded["plain_no"]]
    )
    assert page.get_by_test_id("attendee-total").inner_text() == "已登记 2 人"
    screenshot(page, "community-activity-recorded-desktop")
    context.close()


def test_recording_attendance_by_pasting_an_unknown_number_first(browser, live_shop: Shop):
    seeded = seed_activities(live_shop)
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    open_activity(page, live_shop, seeded["visit"])
    pasted = f"ZZ0000001\n{seeded['gold_no']}, {seeded['stranger_no']}"
    page.fill("#numbers", pasted)
    page.click("#paste-submit")
    error = page.get_by_test_id("attendance-error")
    assert "ZZ0000001" in error.inner_text() and seeded["stranger_no"] in error.inner_text()
    assert "整批未记录" in error.inner_text()
    assert page.input_value("#numbers") == pasted  # kept to be corrected
    assert attendees(live_shop, seeded["visit"]) == []
    screenshot(page, "community-activity-paste-refused-phone")
    assert fits_the_width(page)

    page.fill("#numbers", f"{seeded['gold_no']}\n{seeded['silver_no']}")
    page.click("#paste-submit")
    page.wait_for_selector(".flash-success")
    assert "新登记 2 人" in page.inner_text(".flash-success")
    page.fill("#numbers", f"{seeded['gold_no']}，{seeded['plain_no']}")
    page.click("#paste-submit")
    page.wait_for_selector(".flash-success")
    assert "新登记 1 人；1 人此前已登记" in page.inner_text(".flash-success")
    assert len(attendees(live_shop, seeded["visit"])) == 3
    screenshot(page, "community-activity-paste-again-phone")
    assert fits_the_width(page)
    context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_recording_attendance_by_wedge_scanning(browser, live_shop: Shop, device: str):
    seeded = seed_activities(live_shop)
    with live_shop.app.app_context():  # the tierless member came earlier, recorded by number
        activities.record_attendance(
            db.session, factories.OPERATOR, seeded["visit"], [seeded["plain_no"]]
        )
        plain_card = db.session.scalar(
            select(Card.card_no).join(Member).where(Member.member_no == seeded["plain_no"])
        )
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home="/community/")
    open_activity(page, live_shop, seeded["visit"])
    assert page.evaluate("document.activeElement.id") == "scan-code"  # the scanner types here

    scanned = page.locator("#scanned-list li")
    wedge_scan(page, live_shop.phone_token())  # the gold member's phone
    page.wait_for_function("document.querySelectorAll('#scanned-list li').length === 1")
    assert "张三明" in scanned.nth(0).inner_text()
    assert page.input_value("#scan-code") == ""  # ready for the next one
    wedge_scan(page, live_shop.silver_card_no)  # a printed card's number
    page.wait_for_function("document.querySelectorAll('#scanned-list li').length === 2")
    assert "李四" in scanned.nth(0).inner_text()
    wedge_scan(page, plain_card)  # already recorded earlier
    page.wait_for_function("document.querySelectorAll('#scanned-list li').length === 3")
    assert "此前已登记" in scanned.nth(0).inner_text()
    wedge_scan(page, live_shop.silver_card_no)  # scanned twice: listed once
    page.wait_for_selector("#scan-message:has-text('已在列表中')")
    wedge_scan(page, "not-a-card")
    page.wait_for_selector("#scan-message[data-kind=error]")
    assert scanned.count() == 3 and page.inner_text("#scan-count") == "3"
    screenshot(page, f"community-activity-scanned-{device}")
    assert fits_the_width(page)

    page.click("#scanned-list li:has-text('王五') button.remove")
    assert scanned.count() == 2 and page.inner_text("#scan-count") == "2"
    assert page.evaluate("document.activeElement.id") == "scan-code"
    page.click("#scan-submit")
    page.wait_for_selector(".flash-success")
    assert "新登记 2 人" in page.inner_text(".flash-success")
    recorded = attendees(live_shop, seeded["visit"])
    assert sorted(recorded) == sorted([seeded["plain_no"], seeded["gold_no"], seeded["silver_no"]])
    assert page.locator("#scanned-list li").count() == 0
    screenshot(page, f"community-activity-scan-recorded-{device}")
    context.close()


def test_camera_scans_members_one_after_another(playwright_driver, live_shop: Shop, tmp_path: Path):
    if not (VENDOR / "zxing-reader.js").exists() or not (VENDOR / "zxing_reader.wasm").exists():
        pytest.skip("the QR decoder is not vendored: run `npm ci && npm run vendor` first")
    seeded = seed_activities(live_shop)
    video = _qr_video(live_shop.printed_token(), tmp_path / "card.y4m")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
        context.grant_permissions(["camera"], origin=live_shop.url)
        outside = only_local_requests(context, live_shop)
        page = context.new_page()
        sign_in(page, live_shop, live_shop.secretary, home="/community/")
        open_activity(page, live_shop, seeded["visit"])
        page.click("#camera-button")
        page.wait_for_function(
            "document.querySelectorAll('#scanned-list li').length === 1", timeout=20000
        )
        assert "张三明" in page.inner_text("#scanned-list")
        assert page.is_visible("#scanner")  # keeps scanning for the next member
        screenshot(page, "community-activity-camera-phone")
        page.click("#scanner-close")
        assert page.is_hidden("#scanner")
        page.click("#scan-submit")
        page.wait_for_selector(".flash-success")
        assert attendees(live_shop, seeded["visit"]) == [seeded["gold_no"]]
        assert outside == []
        context.close()
    finally:
        browser.close()


def test_district_admin_lists_every_community(browser, live_shop: Shop):
    seed_activities(live_shop)
    with live_shop.app.app_context():
        from rewards.models import Role

        admin = factories.account(db.session, Role.DISTRICT_ADMIN)
        username = admin.username
        count = db.session.scalar(select(func.count(Activity.id)))
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, username, home="/community/")
    page.goto(f"{live_shop.url}/community/activities")
    assert page.locator("table.activities tbody tr").count() == count
    screenshot(page, "community-activities-admin-desktop")
    assert fits_the_width(page)
    context.close()
