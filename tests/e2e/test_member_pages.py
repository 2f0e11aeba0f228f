"""The member's phone pages in a real browser at 390 px: home (with the points leaving the
window), history, claims; a claim submitted with a photo and withdrawn; a claim certified by the
secretary (who sees its photo as a thumbnail at 1280 px) and the notice the member then reads."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Account, Card, Claim, ClaimStatus, Member, PointCategory
from rewards.services import activities, claims, ledger, photos, tiers
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e


def photo_file(folder: Path, name: str = "现场照片.jpg") -> Path:
    """A small JPEG as a phone would take it."""
    image = Image.new("RGB", (800, 600), (236, 236, 230))
    for x in range(0, 800, 40):
        for y in range(0, 600, 40):
            if (x + y) // 40 % 2:
                image.paste((200, 22, 29), (x, y, x + 40, y + 40))
    path = folder / name
    image.save(path, "JPEG")
    return path


def phone_page(browser, shop: Shop, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, shop, username, home="/member/")
    return context, page


def seed_history(shop: Shop) -> None:
    """A year and more of the gold member's history: adjustments (one of them last year's,
    whatever the day), an activity, claims decided both ways, a reversal; and 40 points that
    leave the window within 30 days."""
    with shop.app.app_context():
        card = db.session.get(Card, shop.gold_card_id)
        member = card.member
        secretary = db.session.scalar(select(Account).where(Account.username == shop.secretary))
        boss = Actor.for_account(secretary)
        category = db.session.scalars(select(PointCategory)).first()
        for n in range(1, 19):
            ledger.adjust(
                db.session,
                factories.OPERATOR,
                member.id,
                2,
                f"社区季度考评加分（第 {n} 次）",
                today() - timedelta(days=20 + n * 17),
                idempotency_key=f"seed:{n}",
            )
        # Last year has entries whatever the day (on 31 December the others are all this year's).
        ledger.adjust(
            db.session,
            factories.OPERATOR,
            member.id,
            2,
            "上年度社区考评加分",
            date(today().year - 1, 12, 1),
            idempotency_key="seed:last-year",
        )
        activity = activities.create_activity(
            db.session,
            boss,
            member.community_id,
            category.id,
            "“七一”主题党日志愿服务",
            today() - timedelta(days=6),
            8,
        )
        activities.record_attendance(db.session, boss, activity.id, [member.member_no])
        certified = claims.submit_claim(
            db.session,
            factories.OPERATOR,
            member.id,
            category.id,
            "为小区独居老人代购生活用品并陪同就医",
            today() - timedelta(days=4),
        )
        award = claims.certify_claim(db.session, boss, certified.id, points=10)
        ledger.reverse(db.session, boss, award.id, "与活动签到重复记分")
        rejected = claims.submit_claim(
            db.session,
            factories.OPERATOR,
            member.id,
            category.id,
            "周末参加楼道清理",
            today() - timedelta(days=3),
        )
        claims.reject_claim(
            db.session, boss, rejected.id, "服务日期与社区记录不符，请核对后重新申报"
        )
        claims.submit_claim(
            db.session,
            factories.OPERATOR,
            member.id,
            category.id,
            "在社区疫苗接种点做引导志愿者半天",
            today() - timedelta(days=1),
        )
        opens, _ = tiers.window(tiers.current_policy(db.session), today())
        factories.points(db.session, member, 40, opens + timedelta(days=3))
        db.session.commit()
        db.session.remove()


def ageing_member(shop: Shop) -> str:
    """A silver card holder whose points all leave the window within 30 days; their card no."""
    with shop.app.app_context():
        community_id = db.session.get(Card, shop.gold_card_id).member.community_id
        member = db.session.scalar(select(Member).where(Member.community_id == community_id))
        member = factories.member(db.session, member.community, name="褚将降")
        opens, _ = tiers.window(tiers.current_policy(db.session), today())
        factories.points(db.session, member, 55, opens + timedelta(days=5))
        card_no = factories.card(db.session, member).card_no
        db.session.commit()
        db.session.remove()
    return card_no


def pending_claim_with_photo(shop: Shop, folder: Path) -> int:
    """The gold member's claim with one photo, kept where the app keeps them; its id (the
    member's account must exist: ``Shop.member_login``)."""
    with shop.app.app_context():
        member = db.session.get(Card, shop.gold_card_id).member
        account = db.session.scalar(select(Account).where(Account.member_id == member.id))
        me = Actor.for_account(account)
        category = db.session.scalars(select(PointCategory)).first()
        claim = claims.submit_claim(
            db.session, me, member.id, category.id, "帮助社区布置党史学习展板", today()
        )
        store = photos.PhotoStore(Path(shop.app.instance_path) / "claim-photos")
        checked = photos.check_photos([photo_file(folder).read_bytes()])
        photos.attach_photos(db.session, me, claim, checked, store)
        db.session.commit()
        claim_id = claim.id
        db.session.remove()
    return claim_id


def thumbnails_loaded(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "[...document.querySelectorAll('img[data-photo]')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def test_home_history_and_claims_on_a_phone(browser, live_shop: Shop):
    seed_history(live_shop)
    context, page = phone_page(browser, live_shop, live_shop.member_login())

    page.wait_for_selector("[data-testid=outlook]")
    assert page.inner_text("[data-stat=leaving]") == "40"
    assert page.get_attribute("[data-testid=pending-claims]", "data-count") == "1"
    assert fits_the_width(page)
    screenshot(page, "member-home-phone")

    page.click("nav.topnav >> text=积分明细")
    page.wait_for_url("**/member/history")
    assert page.locator("[data-entry]").count() == 20
    assert "与活动签到重复记分" in page.inner_text(".entry-list")
    assert fits_the_width(page)
    screenshot(page, "member-history-phone")
    page.click("a[rel=next]")
    page.wait_for_url("**/member/history?page=2")
    assert page.locator("[data-entry]").count() > 0
    last_year = str(today().year - 1)
    page.click(f"[data-year='{last_year}']")
    page.wait_for_url(f"**/member/history?year={last_year}")
    assert all(
        text.startswith(f"服务日期 {last_year}")
        for text in page.locator(".entry-meta span:nth-child(2)").all_inner_texts()
    )
    assert fits_the_width(page)
    screenshot(page, "member-history-year-phone")

    page.click("nav.topnav >> text=申报")
    page.wait_for_url("**/member/claims")
    assert page.locator("[data-claim]").count() == 3
    assert "服务日期与社区记录不符" in page.inner_text(".claim-list")
    assert fits_the_width(page)
    screenshot(page, "member-claims-phone")
    context.close()


def test_a_tier_about_to_drop_is_announced_on_the_home(browser, live_shop: Shop):
    card_no = ageing_member(live_shop)
    context, page = phone_page(browser, live_shop, live_shop.member_login(card_no))
    drop = page.inner_text("[data-testid=drops-on]")
    assert date.fromisoformat(drop) <= today() + timedelta(days=30)
    assert "未达等级" in page.inner_text("[data-testid=outlook]")
    assert fits_the_width(page)
    screenshot(page, "member-home-drop-phone")
    context.close()


def test_a_claim_with_a_photo_is_submitted_and_withdrawn(browser, live_shop: Shop, tmp_path):
    context, page = phone_page(browser, live_shop, live_shop.member_login())
    page.goto(f"{live_shop.url}/member/claims/new")
    assert fits_the_width(page)
    screenshot(page, "member-claim-new-phone")

    # A fake photo is refused next to the field, and nothing is kept.
    fake = tmp_path / "不是照片.jpg"
    fake.write_bytes(b"%PDF-1.4 a scanned form, not a photo")
    page.select_option("#category", index=1)
    page.fill("#description", "在社区活动室为老年人讲解智能手机使用")
    page.set_input_files("#photos", [str(fake)])
    page.click("#submit-claim")
    page.wait_for_selector("[data-error-for=photos]")
    assert "不是有效的 JPEG 或 PNG 图片" in page.inner_text("[data-error-for=photos]")
    assert fits_the_width(page)
    screenshot(page, "member-claim-refused-phone")

    page.set_input_files("#photos", [str(photo_file(tmp_path))])
    page.click("#submit-claim")
    page.wait_for_url("**/member/claims/*")
    page.wait_for_function(
        "[...document.querySelectorAll('img[data-photo]')].every(i => i.complete)"
    )
    assert thumbnails_loaded(page)
    assert page.inner_text("[data-testid=claim-status]") == "待认定"
    assert fits_the_width(page)
    screenshot(page, "member-claim-detail-phone")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#withdraw-button")
    page.wait_for_selector("text=申报已撤回")
    assert page.inner_text("[data-testid=claim-status]") == "已撤回"
    screenshot(page, "member-claim-withdrawn-phone")
    with live_shop.app.app_context():
        [claim] = db.session.scalars(select(Claim)).all()
        assert claim.status is ClaimStatus.WITHDRAWN and len(claim.photos) == 1
        db.session.remove()
    context.close()


def test_the_secretary_certifies_a_claim_with_its_photo_and_the_member_reads_the_notice(
    browser, live_shop: Shop, tmp_path
):
    member = live_shop.member_login()
    claim_id = pending_claim_with_photo(live_shop, tmp_path)

    office = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    desk = office.new_page()
    sign_in(desk, live_shop, live_shop.secretary, home="/community/")
    desk.goto(f"{live_shop.url}/community/claims/{claim_id}")
    desk.wait_for_function(
        "[...document.querySelectorAll('img[data-photo]')].every(i => i.complete)"
    )
    assert thumbnails_loaded(desk)
    full = desk.get_attribute("[data-testid=claim-photos] a", "href")
    assert desk.request.get(f"{live_shop.url}{full}").headers["content-type"] == "image/jpeg"
    screenshot(desk, "community-claim-photos-desktop")
    desk.fill("#points", "7")
    desk.click("#certify-button")
    desk.wait_for_selector("text=已认定，记入 7 分")
    office.close()

    context, page = phone_page(browser, live_shop, member)
    assert page.inner_text("[data-stat=unread_notices]") == "2"  # the card, the certification
    page.click("[data-testid=unread-notices]")
    page.wait_for_url("**/member/notices")
    assert page.locator(".notice-new").count() == 2
    assert "已认定，记入 7 分" in page.inner_text(".notice-list")
    assert fits_the_width(page)
    screenshot(page, "member-notices-phone")
    page.click("text=查看这条申报")
    page.wait_for_url(f"**/member/claims/{claim_id}")
    assert page.inner_text("[data-testid=certified-points]") == "已认定，记入 7 分。"
    page.goto(f"{live_shop.url}/member/")
    assert page.locator("[data-stat=unread_notices]").count() == 0
    context.close()


def test_a_request_over_the_limit_gets_the_form_back_not_a_bare_413(
    browser, live_shop: Shop, tmp_path
):
    context, page = phone_page(browser, live_shop, live_shop.member_login())
    page.goto(f"{live_shop.url}/member/claims/new")
    huge = tmp_path / "原图.jpg"
    huge.write_bytes(b"\xff\xd8" + b"\0" * live_shop.app.config["MAX_CONTENT_LENGTH"])
    page.select_option("#category", index=1)
    page.fill("#description", "在社区活动室为老年人讲解智能手机使用")
    page.set_input_files("#photos", [str(huge)])
    page.click("#submit-claim")
    page.wait_for_selector("[data-error-for=photos]")
    assert "照片太大，申报没有提交" in page.inner_text("[data-error-for=photos]")
    assert fits_the_width(page)
    screenshot(page, "member-claim-too-large-phone")
    with live_shop.app.app_context():
        assert db.session.scalars(select(Claim)).all() == []
        db.session.remove()
    context.close()
