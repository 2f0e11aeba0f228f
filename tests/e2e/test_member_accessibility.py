"""The member's pages for older eyes (适老化, issue 7 point 8) in a real browser at 390 px: every
member page, and the sign-in and first sign-in pages, pass axe-core (served by the app) with no
serious or critical violation, in standard and in large text (大字模式); the large-text choice is
remembered on this phone across reloads and sign-outs, and applies to the card page that the
service worker kept for airplane mode."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Claim, ClaimStatus
from tests.e2e.conftest import (
    VIEWPORTS,
    Shop,
    axe_violations,
    fits_the_width,
    screenshot,
    sign_in,
)
from tests.e2e.test_member_account_pages import add_alliance
from tests.e2e.test_member_pages import pending_claim_with_photo, seed_history
from tests.e2e.test_merchant_counter import record_sales

pytestmark = pytest.mark.e2e

MODES = ("standard", "large")
# The height of every visible button, field and button-like link, by its name.
TOUCH_TARGET_HEIGHTS = """
[...document.querySelectorAll(
  'button, select, textarea, input:not([type=hidden]), a.button, a.button-link, .pager a')]
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => [el.id || el.name || el.textContent.trim(), el.getBoundingClientRect().height])
"""


def member_world(shop: Shop, folder) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the member pages show: a year of history with claims certified, rejected and
    pending (and their notices), a claim with a photo, the alliance, sales with the gold card;
    the ids of the claim pages to open."""
    shop.member_login()
    seed_history(shop)
    with_photo = pending_claim_with_photo(shop, folder)
    add_alliance(shop)
    record_sales(shop, [(0, "128.50"), (0, "60.00"), (3, "45.00")])
    with shop.app.app_context():
        rejected = db.session.scalar(select(Claim.id).where(Claim.status == ClaimStatus.REJECTED))
        db.session.remove()
    return {"with_photo": with_photo, "rejected": rejected}


def member_pages(claims: dict[str, int]) -> list[tuple[str, str, str]]:
    """(name for the screenshot, path, what shows once the page is ready)."""
    return [
        ("home", "/member/", "[data-testid=outlook]"),
        ("notices", "/member/notices", ".notice-list"),
        ("history", "/member/history", ".entry-list"),
        ("claims", "/member/claims", ".claim-list"),
        ("claim-new", "/member/claims/new", "#submit-claim"),
        ("claim-photo", f"/member/claims/{claims['with_photo']}", "img[data-photo]"),
        (
            "claim-rejected",
            f"/member/claims/{claims['rejected']}",
            "[data-testid=rejection-reason]",
        ),
        ("card", "/member/card", "html[data-offline-ready]"),
        ("merchants", "/member/merchants", "li.offer"),
        ("redemptions", "/member/redemptions", "li.use"),
        ("account", "/member/account", "[data-testid=username]"),
        ("password", "/member/account/password", "#current_password"),
        ("my-data", "/member/account/my-data", "[data-section=ledger]"),
    ]


def phone(browser, clock):  # type: ignore[no-untyped-def]
    """A 390 px phone whose clock agrees with the server's."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    page.clock.set_fixed_time(clock.now)
    return context, page


def choose(page, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Press 标准字 or 大字 in the top bar, as the member would."""
    page.get_by_role("button", name="大字" if mode == "large" else "标准字").click()
    assert is_large(page) is (mode == "large")


def is_large(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.classList.contains('large-text')")


def open_everything(page) -> None:  # type: ignore[no-untyped-def]
    """Unfold every <details>, so axe and the screenshot see what they hold too."""
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def described(name: str, violations: list[dict]) -> list[str]:
    """axe's findings as lines a failing test prints: rule, impact, help, where, what to fix."""
    return [
        f"{name}: {v['id']} [{v['impact']}] {v['help']}\n"
        + "\n".join(f"    {node['target']}: {node['summary']}" for node in v["nodes"])
        for v in violations
    ]


def check_page(page, name: str, mode: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What is wrong with the open page: axe's serious and critical findings, sideways scroll,
    the wrong text size; a screenshot in large text."""
    open_everything(page)
    problems = described(f"{name} ({mode})", axe_violations(page))
    if not fits_the_width(page):
        problems.append(f"{name} ({mode}): the page scrolls sideways at 390 px")
    if is_large(page) is not (mode == "large"):
        problems.append(f"{name} ({mode}): shown in the other text size")
    if mode == "large":
        screenshot(page, f"member-{name}-large-phone")
    return problems


@pytest.mark.parametrize("mode", MODES)
def test_every_member_page_passes_axe_at_390_px(
    browser, live_shop: Shop, clock, tmp_path, mode: str
):
    claims = member_world(live_shop, tmp_path)
    context, page = phone(browser, clock)
    sign_in(page, live_shop, live_shop.member_login(), home="/member/")
    choose(page, mode)
    problems: list[str] = []
    for name, path, ready in member_pages(claims):
        page.goto(f"{live_shop.url}{path}")
        page.wait_for_selector(ready, state="attached")
        problems += check_page(page, name, mode)
    # Forms sent back with their refusals next to the fields.
    page.goto(f"{live_shop.url}/member/claims/new")
    page.click("#submit-claim")
    page.wait_for_selector("[data-error-for]")
    problems += check_page(page, "claim-refused", mode)
    page.goto(f"{live_shop.url}/member/account/password")
    page.fill("#current_password", "not my password")
    page.get_by_role("button", name="确认修改").click()
    page.wait_for_selector(".field-error, .flash-error")
    problems += check_page(page, "password-refused", mode)
    assert not problems, "\n".join(problems)
    context.close()


def test_the_sign_in_pages_pass_axe_at_390_px(browser, live_shop: Shop, clock):
    context, page = phone(browser, clock)
    problems: list[str] = []
    for name, path in (("sign-in", "/login"), ("activate", "/activate")):
        page.goto(f"{live_shop.url}{path}")
        page.wait_for_selector("button[type=submit]")
        problems += described(name, axe_violations(page))
        if not fits_the_width(page):
            problems.append(f"{name}: the page scrolls sideways at 390 px")
    page.goto(f"{live_shop.url}/login")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    page.wait_for_selector(".field-error, .flash-error")
    problems += described("sign-in refused", axe_violations(page))
    assert not problems, "\n".join(problems)
    context.close()


def test_large_text_is_remembered_across_reloads_and_sign_outs(browser, live_shop: Shop, clock):
    username = live_shop.member_login()
    context, page = phone(browser, clock)
    sign_in(page, live_shop, username, home="/member/")
    assert not is_large(page)
    assert page.get_by_role("button", name="标准字").get_attribute("aria-pressed") == "true"

    choose(page, "large")  # at once, without a reload
    assert page.get_by_role("button", name="大字").get_attribute("aria-pressed") == "true"
    [cookie] = [c for c in context.cookies() if c["name"] == "text_size"]
    assert cookie["value"] == "large" and cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax" and cookie["expires"] > time.time() + 360 * 86400
    font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert 20 <= font <= 22
    assert fits_the_width(page)
    screenshot(page, "member-home-large-switched-phone", full_page=False)
    page.set_viewport_size(VIEWPORTS["desktop"])  # a member at a computer gets it too
    assert fits_the_width(page)
    screenshot(page, "member-home-large-desktop", full_page=False)
    page.set_viewport_size(VIEWPORTS["phone"])

    # The server renders it from the first byte: no flash of small text.
    html = page.request.get(f"{live_shop.url}/member/history").text()
    assert '<html lang="zh-CN" class="large-text">' in html
    page.reload()
    assert is_large(page)

    page.click("button.signout")
    page.wait_for_url(f"{live_shop.url}/login*")
    sign_in(page, live_shop, username, home="/member/")
    assert is_large(page)
    assert page.get_by_role("button", name="大字").get_attribute("aria-pressed") == "true"

    choose(page, "standard")
    page.reload()
    assert not is_large(page)
    context.close()


def test_large_text_buttons_and_fields_are_big_enough_to_touch(browser, live_shop: Shop, clock):
    context, page = phone(browser, clock)
    sign_in(page, live_shop, live_shop.member_login(), home="/member/")
    choose(page, "large")
    for path in (
        "/member/claims/new",
        "/member/account/password",
        "/member/account",
        "/member/card",
    ):
        page.goto(f"{live_shop.url}{path}")
        heights = page.evaluate(TOUCH_TARGET_HEIGHTS)
        assert heights and all(height >= 48 for _, height in heights), (path, heights)
    context.close()


def test_the_kept_card_page_applies_the_choice_in_airplane_mode(browser, live_shop: Shop, clock):
    context, page = phone(browser, clock)
    sign_in(page, live_shop, live_shop.member_login(), home="/member/")
    page.goto(f"{live_shop.url}/member/card")
    page.wait_for_selector("html[data-offline-ready]", state="attached")
    page.wait_for_function("caches.match('/member/card').then((r) => r !== undefined)")
    kept = page.evaluate("caches.match('/member/card').then((r) => r.text())")
    assert '<html lang="zh-CN">' in kept  # kept in standard text

    choose(page, "large")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("[data-panel=offline][data-period]", state="attached")
    assert is_large(page)
    assert page.get_by_role("button", name="大字").get_attribute("aria-pressed") == "true"
    assert page.locator("[data-qr] svg").is_visible()
    assert fits_the_width(page)
    screenshot(page, "member-card-large-airplane-phone")
    context.close()


def test_the_checker_finds_a_fault_planted_in_a_member_page(browser, live_shop: Shop, clock):
    context, page = phone(browser, clock)
    sign_in(page, live_shop, live_shop.member_login(), home="/member/")
    assert axe_violations(page) == []
    # The faint colour is set through the CSSOM: the CSP refuses an inline style="…" attribute.
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<button type=button></button><p>浅色小字</p>');"
        " document.querySelector('main').lastElementChild.style.color = '#ddd';"
    )
    found = {violation["id"]: violation for violation in axe_violations(page)}
    assert set(found) == {"button-name", "color-contrast"}
    assert found["button-name"]["impact"] == "critical"
    assert found["button-name"]["nodes"][0]["target"] == ['main > button[type="button"]']
    context.close()


def test_without_javascript_the_switch_posts_and_comes_back_to_the_page(browser, live_shop: Shop):
    context = browser.new_context(
        viewport=VIEWPORTS["phone"], locale="zh-CN", java_script_enabled=False
    )
    page = context.new_page()
    sign_in(page, live_shop, live_shop.member_login(), home="/member/")
    page.goto(f"{live_shop.url}/member/history")
    page.get_by_role("button", name="大字").click()
    page.wait_for_load_state()
    assert page.url == f"{live_shop.url}/member/history"
    assert page.locator("html.large-text").count() == 1
    assert page.get_by_role("button", name="大字").get_attribute("aria-pressed") == "true"
    context.close()
