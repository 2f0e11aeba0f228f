"""Browser tests: the app served for real on 127.0.0.1, driven by the system's Chromium."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from rewards import create_app
from rewards.extensions import db
from tests import factories
from tests.clock import today
from tests.conftest import TEST_DATABASE_URL, empty_all_tables, is_postgres

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
PASSWORD = "correct horse"
VIEWPORTS = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 1024, "height": 768},
    "desktop": {"width": 1280, "height": 900},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"browser tests need Chromium at {CHROMIUM}, which is missing")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@dataclass
class Shop:
    """What the browser tests need to know about the data behind the server."""

    url: str
    app: Flask
    cashier: str
    manager: str
    secretary: str  # the home community's secretary
    gold_card_id: int
    gold_card_no: str
    silver_card_no: str
    merchant_id: int
    cashier_id: int

    def phone_token(self) -> str:
        """A fresh phone token for the gold card, as the member's screen would show it."""
        from rewards.models import Card

        with self.app.app_context():
            card = db.session.get(Card, self.gold_card_id)
            token, _ = self.app.extensions["rewards.card_tokens"].phone_token(card)
            return token

    def member_login(self, card_no: str | None = None) -> str:
        """The username of a member account (made on first call) for the holder of ``card_no``
        (default: the gold card), password ``PASSWORD``."""
        from sqlalchemy import select

        from rewards.models import Account, Card, Role

        with self.app.app_context():
            card = db.session.scalar(
                select(Card).where(Card.card_no == (card_no or self.gold_card_no))
            )
            username = db.session.scalar(
                select(Account.username).where(Account.member_id == card.member_id)
            )
            if username is None:
                username = factories.account(db.session, Role.MEMBER, member=card.member).username
                db.session.commit()
            db.session.remove()
            return username

    def printed_token(self) -> str:
        """The static token printed on the gold card's QR."""
        from rewards.models import Card

        with self.app.app_context():
            card = db.session.get(Card, self.gold_card_id)
            return self.app.extensions["rewards.card_tokens"].printed_token(card)


@pytest.fixture()
def live_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """A fresh world (gold 88折, silver 95折 at the shop) behind a real HTTP server, on the
    database of this pass (a SQLite file, or the PostgreSQL test database emptied first)."""
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = TEST_DATABASE_URL if is_postgres() else f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "e2e-secret-key",
            "SECRET_KEY_FALLBACKS": [],
        }
    )
    with app.app_context():
        db.create_all()
        empty_all_tables()
        world = factories.build_world(db.session)
        # Older points too, so sales on earlier days (for the reports) find the same tiers.
        long_ago = today() - timedelta(days=90)
        factories.points(db.session, world.gold, 200, long_ago)
        factories.points(db.session, world.silver, 30, long_ago)
        db.session.commit()
        shop = Shop(
            url="",
            app=app,
            cashier=world.cashier.username,
            manager=world.manager.username,
            secretary=world.secretary.username,
            gold_card_id=world.gold_card.id,
            gold_card_no=world.gold_card.card_no,
            silver_card_no=world.silver_card.card_no,
            merchant_id=world.shop.id,
            cashier_id=world.cashier.id,
        )
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    shop.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            empty_all_tables()
            db.engine.dispose()


@pytest.fixture(scope="session")
def playwright_driver():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launch = driver.chromium.launch

        def watched_launch(*args, **kwargs):  # type: ignore[no-untyped-def]
            return _watch_browser(launch(*args, **kwargs))

        # Every browser, also one a test launches itself (the fake camera), is watched.
        driver.chromium.launch = watched_launch
        yield driver


# What Chromium printed to a page's console about the Content-Security-Policy during the
# current test (an inline script or style refused, a source not allowed): any one fails the test.
CSP_VIOLATIONS: list[str] = []


def _watch_for_csp_violations(page) -> None:  # type: ignore[no-untyped-def]
    def note(message) -> None:  # type: ignore[no-untyped-def]
        if "Content Security Policy" in message.text:
            CSP_VIOLATIONS.append(f"{page.url}: {message.text}")

    page.on("console", note)
    page.wait_for_function = _csp_safe_wait_for_function(page)


def _csp_safe_wait_for_function(page):  # type: ignore[no-untyped-def]
    """Playwright's ``wait_for_function`` compiles its predicate with ``new Function`` inside the
    page, which the app's CSP (no 'unsafe-eval') refuses; ``page.evaluate`` goes through the
    DevTools protocol, which the CSP does not govern. Same contract: poll until truthy or raise
    Playwright's TimeoutError after ``timeout`` ms (30 s by default)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    def wait_for_function(expression: str, *, arg=None, timeout: float | None = None, polling=None):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
        while True:
            result = page.evaluate(expression, arg)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PlaywrightTimeout(f"wait_for_function: {expression!r} stayed false")
            page.wait_for_timeout(polling if isinstance(polling, int | float) else 50)

    return wait_for_function


@pytest.fixture(scope="session")
def browser(playwright_driver):  # type: ignore[no-untyped-def]
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


def _watch_browser(browser):  # type: ignore[no-untyped-def]
    """Watch every page of ``browser``, made by browser.new_page() or in a context."""
    new_page, new_context = browser.new_page, browser.new_context

    def watched_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        page = new_page(*args, **kwargs)
        _watch_for_csp_violations(page)
        return page

    def watched_context(*args, **kwargs):  # type: ignore[no-untyped-def]
        context = new_context(*args, **kwargs)
        context.on("page", _watch_for_csp_violations)
        return context

    browser.new_page, browser.new_context = watched_page, watched_context
    return browser


@pytest.fixture(autouse=True)
def no_csp_violation() -> Iterator[None]:
    """A browser test fails if a page broke the Content-Security-Policy (docs/security.md)."""
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


def screenshot(page, name: str, full_page: bool = True) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot under test-output/e2e/ (look at them); ``full_page`` False keeps only
    what is in view without scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page, shop: Shop, username: str, home: str = "/merchant/") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the form and wait for the role's home page (``home``)."""
    page.goto(f"{shop.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{shop.url}{home}")


def fits_the_width(page) -> bool:  # type: ignore[no-untyped-def]
    """Nothing sticks out sideways (tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def scan(page, code: str, amount: str) -> None:  # type: ignore[no-untyped-def]
    """What a keyboard-wedge scanner and the cashier do: the code and Enter, the bill and Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.keyboard.type(amount)
    page.keyboard.press("Enter")


def wait_for_quote(page) -> None:  # type: ignore[no-untyped-def]
    """The preview is shown and the counter script handles keys, so a scan typed now is kept."""
    page.wait_for_selector("[data-testid=quote]")
    page.wait_for_selector("html[data-counter-ready]", state="attached")


def only_local_requests(context, shop: Shop) -> list[str]:  # type: ignore[no-untyped-def]
    """Refuse and record every request that leaves the app (a CDN must never be needed)."""
    outside: list[str] = []

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(shop.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return outside


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:  # type: ignore[no-untyped-def]
    """The page's accessibility violations of these impacts found by axe-core as the app serves
    it (/static/vendor/axe.min.js, never a CDN): each with its rule id, help text and the nodes
    (CSS targets and axe's summary), so that a failing assert says what to fix."""
    if not page.evaluate("typeof window.axe === 'object'"):
        vendored = Path(__file__).resolve().parents[2] / "rewards/static/vendor/axe.min.js"
        assert vendored.exists(), "axe-core is not vendored: run `make install`"
        origin = page.evaluate("location.origin")
        page.add_script_tag(url=f"{origin}/static/vendor/axe.min.js")
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                {"target": node["target"], "summary": node.get("failureSummary", "")}
                for node in violation["nodes"]
            ],
        }
        for violation in results["violations"]
        if violation["impact"] in impacts
    ]
