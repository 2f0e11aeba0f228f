"""The member's phone QR in a real browser: it decodes to a phone token of their card and the
page swaps in a new one before it expires (DESIGN rule 4: short-lived, rotates on screen)."""

from __future__ import annotations

import io
import time

import pytest
import zxingcpp
from PIL import Image

from rewards.extensions import db
from rewards.models import Card, Role
from rewards.services.cards import TokenKind
from tests import factories
from tests.e2e.conftest import PASSWORD, VIEWPORTS, Shop, screenshot

pytestmark = pytest.mark.e2e


def shown_token(page) -> str:  # type: ignore[no-untyped-def]
    """What a counter scanner reads off the screen (the QR's box, which stays in the page when
    the renewed code's SVG replaces the old one)."""
    png = page.locator("[data-testid=phone-code] .qr-image").screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    # zxing may report one symbol twice (found by two of its detectors): what matters is that
    # exactly one code, old or new, is on screen.
    texts = {result.text for result in results}
    assert len(texts) == 1, f"exactly one readable QR code on screen, found {len(texts)}"
    return texts.pop()


def test_phone_code_decodes_to_the_members_card_and_rotates_before_expiry(browser, live_shop: Shop):
    tokens = live_shop.app.extensions["rewards.card_tokens"]
    tokens.phone_ttl_seconds = 10  # short-lived, so the renewal happens within the test
    with live_shop.app.app_context():
        card = db.session.get(Card, live_shop.gold_card_id)
        username = factories.account(db.session, Role.MEMBER, member=card.member).username
        db.session.commit()

    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_shop.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/member/")
    page.goto(f"{live_shop.url}/member/card")
    page.wait_for_selector("[data-testid=phone-code][data-ready]", state="attached")
    page.click("#tab-online")  # the offline code is the card page's first tab
    page.wait_for_selector("[data-testid=phone-code]:not(.stale) .qr-image svg")
    screenshot(page, "member-card-phone")

    first = shown_token(page)
    deadline = time.monotonic() + 20
    second = first
    while second == first and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        second = shown_token(page)
    assert second != first, "the code on screen was not renewed before it expired"

    with live_shop.app.app_context():
        for token in (first, second):
            verified = tokens.verify(db.session, token)
            assert verified.kind is TokenKind.PHONE
            assert verified.card.id == live_shop.gold_card_id
    context.close()
