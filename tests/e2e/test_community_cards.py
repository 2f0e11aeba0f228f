"""The secretary's cards (动力卡) and activation codes (激活码) in a real browser, at 1280 px and
390 px: the cards list, issuing to newly eligible members and printing their A4 sheet (page count
of the PDF, a QR that the counter accepts), a card's suspend / resume / reissue, the activation
sheet, and a member's first sign-in at /activate."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Card, CardStatus, Member, Role
from rewards.services.cards import TokenKind
from tests import factories
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

HOME = "/community/"


def printed(page) -> PdfReader:  # type: ignore[no-untyped-def]
    """The current page printed to PDF by the browser, as the secretary's printer gets it."""
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    reader = PdfReader(io.BytesIO(pdf))
    first = reader.pages[0].mediabox
    assert (round(float(first.width)), round(float(first.height))) == (595, 842), "A4 portrait"
    return reader


def pdf_pages(page) -> int:  # type: ignore[no-untyped-def]
    """How many A4 pages the browser prints the current page on."""
    return len(printed(page).pages)


def print_preview(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot of the page as it prints (print media, A4 width at 96 dpi)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 794, "height": 1123})
    page.emulate_media(media="print")
    screenshot(page, name)
    page.emulate_media(media="screen")
    page.set_viewport_size(size)


def eligible_members(shop: Shop, count: int, prefix: str) -> list[int]:
    """``count`` members of the home community at silver, without a card."""
    with shop.app.app_context():
        secretary = _secretary(shop)
        made = []
        for n in range(count):
            member = factories.member(db.session, secretary.community, name=f"{prefix}{n + 1:02d}")
            factories.points(db.session, member, 60)
            made.append(member.id)
        db.session.commit()
        db.session.remove()
    return made


def _secretary(shop: Shop):  # type: ignore[no-untyped-def]
    from rewards.models import Account, Community

    account = db.session.scalar(select(Account).where(Account.username == shop.secretary))
    account.community = db.session.get(Community, account.community_id)
    return account


def decoded_qr(page) -> str:  # type: ignore[no-untyped-def]
    """What a counter scanner reads off the first printed card's QR."""
    png = page.locator("[data-testid=card-qr] svg").first.screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, "exactly one readable QR code"
    return results[0].text


def test_cards_list_at_both_widths(browser, live_shop: Shop):
    for name, viewport in (("desktop", VIEWPORTS["desktop"]), ("phone", VIEWPORTS["phone"])):
        context = browser.new_context(viewport=viewport, locale="zh-CN")
        page = context.new_page()
        sign_in(page, live_shop, live_shop.secretary, home=HOME)
        page.click("nav.topnav >> text=动力卡")
        page.wait_for_url("**/community/cards")
        assert page.locator("tr[data-card]").count() == 3
        screenshot(page, f"community-cards-{name}")
        assert fits_the_width(page)
        page.fill("#q", "张三明")
        page.click("form.filter button[type=submit]")
        page.wait_for_url("**q=*")
        assert page.locator("tr[data-card]").count() == 1
        context.close()


def test_the_district_administrator_lists_every_communitys_cards(browser, live_shop: Shop):
    with live_shop.app.app_context():
        admin = factories.account(db.session, Role.DISTRICT_ADMIN).username
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, admin, home=HOME)
    page.goto(f"{live_shop.url}/community/cards")
    assert page.locator("tr[data-card]").count() == 3
    page.select_option("#community", index=2)  # the other community: no cards
    page.click("form.filter button[type=submit]")
    page.wait_for_url("**community=*")
    assert page.locator("tr[data-card]").count() == 0
    page.select_option("#community", index=1)
    page.click("form.filter button[type=submit]")
    page.wait_for_url("**community=*")
    assert page.locator("tr[data-card]").count() == 3
    screenshot(page, "community-cards-admin-desktop")
    context.close()


def test_eligible_members_get_cards_in_one_action_and_a_printable_sheet(browser, live_shop: Shop):
    eligible_members(live_shop, 9, "新党员")
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home=HOME)
    page.goto(f"{live_shop.url}/community/cards/eligible")
    assert page.locator("tr[data-member]").count() == 9
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    page.check("input[data-select-all=member_ids]")
    screenshot(page, "community-cards-eligible-desktop")
    page.set_viewport_size(VIEWPORTS["phone"])
    screenshot(page, "community-cards-eligible-phone")
    assert fits_the_width(page)
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.click("[data-testid=issue-cards]")
    page.wait_for_url("**/community/cards/issued?*")
    assert "已为 9 名党员发卡" in page.text_content(".flash")
    screenshot(page, "community-cards-issued-desktop")
    page.click("[data-testid=print-issued]")
    page.wait_for_url("**/community/cards/print?*")
    assert page.locator(".power-card").count() == 9
    assert page.locator(".sheet").count() == 2
    assert page.is_visible("button[data-print]")
    screenshot(page, "community-cards-print-desktop")
    pdf = printed(page)
    assert len(pdf.pages) == 2
    numbers = page.locator(".power-card-number").all_text_contents()
    # PDF text may come back with Kangxi radicals (⾊ for 色); NFKC folds them.
    first_page = unicodedata.normalize("NFKC", pdf.pages[0].extract_text())
    assert all(n in first_page for n in numbers[:8]) and numbers[8] not in first_page
    assert "红色联盟" in first_page
    assert "打印动力卡" not in first_page and "退出" not in first_page  # no heading, nav, footer
    print_preview(page, "community-cards-print-paper")

    token = decoded_qr(page)
    tokens = live_shop.app.extensions["rewards.card_tokens"]
    first_card_no = page.get_attribute(".power-card >> nth=0", "data-card")
    with live_shop.app.app_context():
        verified = tokens.verify(db.session, token)
        assert verified.kind is TokenKind.PRINTED
        assert verified.card.card_no == first_card_no
        db.session.remove()

    page.set_viewport_size(VIEWPORTS["phone"])
    screenshot(page, "community-cards-print-phone")
    assert fits_the_width(page)
    page.goto(f"{live_shop.url}/community/cards/eligible")
    assert page.locator("tr[data-member]").count() == 0  # all of them have their card now
    screenshot(page, "community-cards-eligible-none-phone")
    context.close()


def test_ticked_cards_print_eight_to_an_a4_page(browser, live_shop: Shop):
    members = eligible_members(live_shop, 14, "党员")
    with live_shop.app.app_context():
        for member_id in members:
            factories.card(db.session, db.session.get(Member, member_id))
        db.session.commit()
        card_ids = db.session.scalars(
            select(Card.id).where(Card.status == CardStatus.ACTIVE).order_by(Card.id)
        ).all()
        db.session.remove()
    assert len(card_ids) == 17  # the world's three and fourteen new

    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home=HOME)
    page.goto(f"{live_shop.url}/community/cards")
    boxes = page.locator("input[name=card_ids]")
    for n in range(8):
        boxes.nth(n).check()
    page.click("text=打印勾选的卡")
    page.wait_for_url("**/community/cards/print?*")
    assert page.locator(".power-card").count() == 8
    assert pdf_pages(page) == 1

    query = "&".join(f"card_ids={card_id}" for card_id in card_ids)
    page.goto(f"{live_shop.url}/community/cards/print?{query}")
    assert page.locator(".power-card").count() == 17
    assert pdf_pages(page) == 3
    context.close()


def test_a_card_is_suspended_resumed_and_reissued_with_reasons(browser, live_shop: Shop):
    for name in ("desktop", "phone"):
        context = browser.new_context(viewport=VIEWPORTS[name], locale="zh-CN")
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, live_shop, live_shop.secretary, home=HOME)
        page.goto(f"{live_shop.url}/community/cards")
        page.click(f"tr[data-card='{live_shop.silver_card_no}'] a")
        page.wait_for_url(re.compile(r".*/community/cards/\d+$"))
        card_url = page.url
        page.wait_for_selector("html[data-pages-ready]", state="attached")
        screenshot(page, f"community-card-{name}")
        assert fits_the_width(page)

        if name == "desktop":
            assert page.locator(".action-resume").count() == 0
            page.click(".action-suspend button")  # no reason: refused, nothing changes
            assert page.text_content(".action-suspend .field-error") == "请填写原因。"
            assert "正常" in page.text_content("[data-testid=status]")
            page.fill(".action-suspend input[name$=reason]", "本人挂失，待找回")
            page.click(".action-suspend button")
            page.wait_for_selector(".action-resume")
            assert "已暂停" in page.text_content("[data-testid=status]")
            assert page.locator(".action-suspend").count() == 0
            screenshot(page, "community-card-suspended-desktop")
            page.fill(".action-resume input[name$=reason]", "卡已找回")
            page.click(".action-resume button")
            page.wait_for_selector(".action-suspend")
            assert "正常" in page.text_content("[data-testid=status]")
            assert "卡已找回" in page.text_content(".history")
        else:
            page.fill(".action-reissue input[name$=reason]", "卡片遗失")
            page.click(".action-reissue button")
            page.wait_for_selector(".flash >> text=已补办新卡")
            assert "第 2 张" in page.text_content("dl.facts")
            assert "已补办新卡" in page.text_content(".flash")
            new_number = page.text_content(".card-number-title").replace(" ", "")
            assert new_number != live_shop.silver_card_no
            screenshot(page, "community-card-reissued-phone")
            assert fits_the_width(page)
            page.goto(card_url)
            assert "已补办换新" in page.text_content("[data-testid=status]")
            assert page.locator(".card-actions").count() == 0
            assert new_number in page.text_content("[data-testid=current-card]").replace(" ", "")
        context.close()


def test_activation_sheet_prints_and_a_member_activates_on_a_phone(browser, live_shop: Shop):
    eligible_members(live_shop, 6, "激活")  # with the world's three: nine in the community
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.secretary, home=HOME)
    page.goto(f"{live_shop.url}/community/activation")
    assert page.locator("tr[data-member]").count() == 9
    page.wait_for_selector("html[data-pages-ready]", state="attached")
    screenshot(page, "community-activation-desktop")
    page.check("input[data-select-all=member_ids]")
    page.click("[data-testid=issue-codes]")
    page.wait_for_url(re.compile(r".*/community/activation/[0-9a-f]+$"))
    assert page.locator(".slip").count() == 9
    screenshot(page, "community-activation-sheet-desktop")
    pdf = printed(page)
    assert len(pdf.pages) == 2
    codes = page.locator("[data-testid=slip-code]").all_text_contents()
    first_page = unicodedata.normalize("NFKC", pdf.pages[0].extract_text())
    assert all(c.strip() in first_page for c in codes[:8]) and codes[8].strip() not in first_page
    assert "有效期至" in first_page and "打印激活码" not in first_page
    print_preview(page, "community-activation-sheet-paper")
    sheet_url = page.url

    slip = page.locator(".slip").first
    member_no = slip.locator("[data-testid=slip-member-no]").text_content().strip()
    code = slip.locator("[data-testid=slip-code]").text_content().strip()
    assert "/activate" in slip.text_content() and "有效期至" in slip.text_content()

    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_shop.url}/community/activation")
    screenshot(page, "community-activation-phone")
    assert fits_the_width(page)
    page.goto(sheet_url)
    screenshot(page, "community-activation-sheet-phone")
    assert fits_the_width(page)
    context.close()

    desktop = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    form = desktop.new_page()
    form.goto(f"{live_shop.url}/activate")
    assert fits_the_width(form)
    screenshot(form, "activate-desktop")
    desktop.close()

    phone = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    member_page = phone.new_page()
    member_page.goto(f"{live_shop.url}/login")
    member_page.click("text=首次登录？使用激活码")
    member_page.wait_for_url("**/activate")
    member_page.fill("#member_no", member_no)
    member_page.fill("#code", "ABCDE-FGHJK")
    member_page.fill("#password", "my new password")
    member_page.fill("#password_again", "my new password")
    member_page.click("main button[type=submit]")
    assert "激活码不正确" in member_page.text_content("#code-error")
    screenshot(member_page, "activate-wrong-code-phone")
    assert fits_the_width(member_page)
    member_page.fill("#code", code.lower())  # typed in lower case: still the code
    member_page.fill("#password", "my new password")
    member_page.fill("#password_again", "my new password")
    member_page.click("main button[type=submit]")
    member_page.wait_for_url("**/member/")
    assert "账号已开通" in member_page.text_content(".flash")
    screenshot(member_page, "activate-signed-in-phone")
    assert fits_the_width(member_page)

    # The code is spent: the sheet no longer prints it, and using it again is refused.
    member_page.goto(f"{live_shop.url}/activate")  # signed in; the form is still reachable
    member_page.fill("#member_no", member_no)
    member_page.fill("#code", code)
    member_page.fill("#password", "another password")
    member_page.fill("#password_again", "another password")
    member_page.click("main button[type=submit]")
    assert "激活码不正确" in member_page.text_content("#code-error")
    phone.close()
