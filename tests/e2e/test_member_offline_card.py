"""The member's offline card code in a real browser (issue 7 point 4, DESIGN rule 4): after one
visit online the card page shows the code in airplane mode (service worker), the phone computes
it (RFC 6238 with WebCrypto), the counter accepts it once through the POS API, it rotates with
the period, and online the screen says within 3 s that a code was used.

The server's clock is frozen by the ``clock`` fixture; the browser's ``Date`` is set to the same
instant (``page.clock.set_fixed_time``) and both move together, so the phone and the counter
agree on the period as they do in life."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
import zxingcpp
from PIL import Image

from rewards.extensions import db
from rewards.models import Role
from rewards.services import cards, merchants
from rewards.services.audit import Actor
from rewards.services.totp import period_of
from tests import factories
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in
from tests.test_offline_codes import RFC_SECRET, RFC_VECTORS

pytestmark = pytest.mark.e2e

ADMIN = Actor(label="e2e-admin", role=Role.DISTRICT_ADMIN)
# RFC 6238 appendix B, SHA-1, all 8 digits (the last vector's counter needs more than 32 bits
# of time in milliseconds, not of the counter).
RFC_EIGHT_DIGITS = {
    59: "94287082",
    1111111109: "07081804",
    1234567890: "89005924",
    2000000000: "69279037",
    20000000000: "65353130",
}
USED_WITHIN_MS = 3000


# -- helpers ----------------------------------------------------------------------------------


def counter_key(shop: Shop) -> str:
    """A POS API key of the shop, as its manager would make one."""
    with shop.app.app_context():
        _, key = merchants.create_api_key(db.session, ADMIN, shop.merchant_id, "1号收银台")
        db.session.commit()
        db.session.remove()
    return key


def check_out(shop: Shop, key: str, code: str, sale: str) -> requests.Response:
    """The counter's POS confirms a 100 yuan sale paid with ``code``."""
    return requests.post(
        f"{shop.url}/api/v1/checkout/redemptions",
        json={"token": code, "amount": "100.00", "idempotency_key": sale},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


@contextmanager
def served(shop: Shop) -> Iterator[list[str]]:
    """The requests that reach the server meanwhile ("GET /member/card")."""
    seen: list[str] = []
    inner = shop.app.wsgi_app

    def recording(environ, start_response):  # type: ignore[no-untyped-def]
        seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return inner(environ, start_response)

    shop.app.wsgi_app = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        shop.app.wsgi_app = inner  # type: ignore[method-assign]


def open_card(browser, shop: Shop, clock):  # type: ignore[no-untyped-def]
    """The gold member's phone on the card page, online, its clock at the server's instant;
    returns when the offline code shows and the page is kept for airplane mode."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    page.clock.set_fixed_time(clock.now)
    sign_in(page, shop, shop.member_login(), home="/member/")
    page.goto(f"{shop.url}/member/card")
    page.wait_for_selector("html[data-offline-ready]", state="attached")
    return context, page


def shown_period(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_attribute("[data-panel=offline]", "data-period"))


def shown_digits(page) -> str:  # type: ignore[no-untyped-def]
    """The 18 digits as a cashier reads them off the screen."""
    return "".join(page.inner_text("[data-testid=offline-digits]").split())


def decoded(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    """What a counter scanner reads off the element (a QR or a Code 128)."""
    png = page.locator(selector).screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, f"exactly one readable code in {selector}"
    return results[0].text


def move_both_clocks(page, clock, seconds: int) -> None:  # type: ignore[no-untyped-def]
    """Time passes for the counter and for the phone alike."""
    clock.advance(seconds=seconds)
    page.clock.set_fixed_time(clock.now)


# -- tests ------------------------------------------------------------------------------------


def test_the_pages_totp_matches_the_rfc_6238_vectors(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    for unix_time, code in RFC_VECTORS.items():
        script = f"offlineCardCode.totp('{RFC_SECRET}', Math.floor({unix_time} / 30))"
        assert page.evaluate(script) == code, unix_time
    for unix_time, code in RFC_EIGHT_DIGITS.items():
        script = f"offlineCardCode.totp('{RFC_SECRET}', Math.floor({unix_time} / 30), 8)"
        assert page.evaluate(script) == code, unix_time
    context.close()


def test_after_one_visit_online_the_code_shows_and_pays_in_airplane_mode(
    browser, live_shop: Shop, clock
):
    key = counter_key(live_shop)
    context, page = open_card(browser, live_shop, clock)
    secret = page.evaluate("JSON.parse(localStorage.getItem('rewards.offlineCard')).secret")
    kept_page = page.evaluate("caches.match('/member/card').then((r) => r.text())")
    assert secret not in kept_page and "<h1" in kept_page
    assert all(secret not in cookie["value"] for cookie in context.cookies())
    screenshot(page, "member-card-phone-online")

    context.set_offline(True)
    with served(live_shop) as seen:
        page.reload()
        page.wait_for_selector("[data-panel=offline][data-period]", state="attached")
        page.wait_for_selector("[data-connection]:not([hidden])")
    assert seen == [], "in airplane mode nothing reaches the server"
    assert page.locator("[data-qr] svg").is_visible()
    assert page.locator("svg[data-barcode] rect").count() > 10  # the Code 128 bars
    assert page.locator("svg[data-barcode]").is_visible()
    code = shown_digits(page)
    assert len(code) == 18 and code.startswith(live_shop.gold_card_no)
    assert shown_period(page) == period_of(clock.now)
    assert decoded(page, "[data-qr] svg") == code
    assert decoded(page, "svg[data-barcode]") == code
    assert fits_the_width(page)
    screenshot(page, "member-card-phone-airplane")

    paid = check_out(live_shop, key, code, "airplane-1")
    assert paid.status_code == 201, paid.text
    assert paid.json()["card_tail"] == live_shop.gold_card_no[-4:]
    again = check_out(live_shop, key, code, "airplane-2")
    assert again.status_code == 409 and again.json()["error"]["code"] == "token_used"

    # The next period: the phone, still offline, shows the next code, which pays too.
    move_both_clocks(page, clock, 30)
    page.wait_for_function(
        "(period) => document.querySelector('[data-panel=offline]').dataset.period == period",
        arg=period_of(clock.now),
    )
    following = shown_digits(page)
    assert following != code and following.startswith(live_shop.gold_card_no)
    assert check_out(live_shop, key, following, "airplane-3").status_code == 201

    # The installed app starts at /member/: offline, it opens on the card.
    page.goto(f"{live_shop.url}/member/")
    page.wait_for_url(f"{live_shop.url}/member/card")
    page.wait_for_selector("[data-panel=offline][data-period]", state="attached")
    assert shown_digits(page) == following
    context.close()


def test_online_a_used_code_says_so_within_3_seconds_and_the_next_one_follows(
    browser, live_shop: Shop, clock
):
    key = counter_key(live_shop)
    context, page = open_card(browser, live_shop, clock)
    code = shown_digits(page)
    assert check_out(live_shop, key, code, "online-1").status_code == 201
    page.wait_for_selector("[data-used-banner]", state="visible", timeout=USED_WITHIN_MS)
    assert page.locator("[data-used-stamp]").is_visible()
    assert "已使用" in page.inner_text("[data-used-banner]")
    screenshot(page, "member-card-phone-used")

    move_both_clocks(page, clock, 30)
    page.wait_for_selector("[data-used-banner]", state="hidden")
    following = shown_digits(page)
    assert following != code
    assert page.locator("[data-just-used]").is_hidden()  # already said for this code
    assert check_out(live_shop, key, following, "online-2").status_code == 201
    page.wait_for_selector("[data-used-banner]", state="visible", timeout=USED_WITHIN_MS)
    context.close()


def test_the_online_signed_code_keeps_working_and_says_when_used(browser, live_shop: Shop, clock):
    key = counter_key(live_shop)
    context, page = open_card(browser, live_shop, clock)
    page.click("#tab-online")
    page.wait_for_selector("[data-panel=online]", state="visible")
    page.wait_for_function("document.querySelector('[data-panel=online] .qr-image svg') !== null")
    page.wait_for_selector("[data-panel=online] [data-code-url]:not(.stale)")
    page.wait_for_timeout(300)  # the new code replaces the one rendered with the page
    token = decoded(page, "[data-panel=online] .qr-image svg")
    before = page.inner_html("[data-panel=online] .qr-image")
    screenshot(page, "member-card-phone-online-code")
    assert check_out(live_shop, key, token, "signed-1").status_code == 201
    page.wait_for_selector("[data-online-used]", state="visible", timeout=USED_WITHIN_MS)
    page.wait_for_function(
        "(old) => document.querySelector('[data-panel=online] .qr-image').innerHTML !== old",
        arg=before,
    )
    renewed = decoded(page, "[data-panel=online] .qr-image svg")
    assert renewed != token
    assert check_out(live_shop, key, renewed, "signed-2").status_code == 201
    context.close()


def test_the_bright_view_fills_the_screen_in_white(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    page.click("[data-bright]")
    page.wait_for_selector(".code-area.bright")
    box = page.locator(".code-area.bright").bounding_box()
    assert box["width"] >= 389 and box["height"] >= 700
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.code-area.bright')).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)"
    qr = page.locator("[data-qr] svg").bounding_box()
    assert qr["width"] >= 280
    assert page.locator("[data-bright-exit]").is_visible()
    screenshot(page, "member-card-phone-bright", full_page=False)
    code = shown_digits(page)
    assert decoded(page, "[data-qr] svg") == code
    page.click("[data-bright-exit]")
    page.wait_for_selector(".code-area.bright", state="detached")
    context.close()


def test_a_suspended_card_says_so_and_shows_no_code(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    with live_shop.app.app_context():
        cards.suspend_card(db.session, factories.OPERATOR, live_shop.gold_card_id, "会员申请暂停")
        db.session.commit()
        db.session.remove()
    # The open page hears of it at its next question and hides the codes.
    page.wait_for_selector("[data-panel=offline]", state="hidden", timeout=USED_WITHIN_MS)
    assert "此卡已被社区暂停使用" in page.inner_text("[data-card-page]")
    assert page.evaluate("localStorage.getItem('rewards.offlineCard')") is None

    page.reload()
    notice = page.locator("[data-testid=card-suspended]")
    assert notice.is_visible() and "此卡已被社区暂停使用" in notice.inner_text()
    assert page.locator("[data-qr]").count() == 0 and page.locator(".qr-image").count() == 0
    assert fits_the_width(page)
    screenshot(page, "member-card-phone-suspended")
    context.close()


def test_chromium_finds_the_member_pages_installable(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/member/manifest.webmanifest") and manifest["errors"] == []
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # A test browser context is incognito-like; nothing else may stand in the way.
    assert [error["errorId"] for error in errors if error["errorId"] != "in-incognito"] == []
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{live_shop.url}/member/"
    context.close()


def test_the_key_endpoint_wants_the_csrf_header(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    refused = page.request.post(f"{live_shop.url}/member/card/offline-key")
    assert refused.status == 400
    context.close()


def test_a_reload_online_keeps_the_phones_key(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    first = page.evaluate("localStorage.getItem('rewards.offlineCard')")
    with served(live_shop) as seen:
        page.reload()
        page.wait_for_selector("[data-card-page][data-ready]", state="attached")
    assert "POST /member/card/offline-key" not in seen
    assert page.evaluate("localStorage.getItem('rewards.offlineCard')") == first
    context.close()


def test_a_member_without_a_card_is_told_where_to_get_one(browser, live_shop: Shop, clock):
    from rewards.models import Card

    with live_shop.app.app_context():
        community = db.session.get(Card, live_shop.gold_card_id).member.community
        newcomer = factories.member(db.session, community, name="赵六")
        username = factories.account(db.session, Role.MEMBER, member=newcomer).username
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, username, home="/member/")
    page.goto(f"{live_shop.url}/member/card")
    assert "您还没有动力卡，请联系所在社区办理" in page.inner_text("[data-testid=no-card]")
    assert page.locator("[data-panel]").count() == 0
    screenshot(page, "member-card-phone-no-card")
    context.close()


def test_another_phone_taking_the_key_is_said_and_this_phone_can_take_it_back(
    browser, live_shop: Shop, clock
):
    key = counter_key(live_shop)
    context, page = open_card(browser, live_shop, clock)
    old_code = shown_digits(page)
    other, other_page = open_card(browser, live_shop, clock)  # the member's second phone
    page.wait_for_selector("[data-rekey]", state="visible", timeout=USED_WITHIN_MS)
    assert page.locator("[data-code-area]").is_hidden()
    assert "已失效" in page.inner_text("[data-offline-state]")
    screenshot(page, "member-card-phone-key-replaced")
    refused = check_out(live_shop, key, old_code, "old-key-1")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "token_invalid"

    page.reload()  # still replaced: a reload must not silently take the key back
    page.wait_for_selector("[data-rekey]", state="visible")
    page.click("[data-rekey]")
    page.wait_for_selector("[data-code-area]", state="visible")
    assert check_out(live_shop, key, shown_digits(page), "taken-back").status_code == 201
    other_page.wait_for_selector("[data-rekey]", state="visible", timeout=USED_WITHIN_MS)
    other.close()
    context.close()


def test_signing_out_forgets_the_card_on_this_phone(browser, live_shop: Shop, clock):
    context, page = open_card(browser, live_shop, clock)
    page.click("button.signout")
    page.wait_for_url(f"{live_shop.url}/login*")
    assert page.evaluate("localStorage.getItem('rewards.offlineCard')") is None
    kept = page.evaluate("caches.match('/member/card').then((r) => r === undefined)")
    assert kept is True
    context.close()
