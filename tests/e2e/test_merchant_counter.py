"""The merchant counter and back office in a real browser, on a phone and a counter tablet."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.money import format_fen
from rewards.services import checkout
from rewards.services.audit import Actor
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORTS,
    Shop,
    fits_the_width,
    only_local_requests,
    scan,
    screenshot,
    sign_in,
    wait_for_quote,
)

pytestmark = pytest.mark.e2e

VENDOR = Path(__file__).resolve().parents[2] / "rewards" / "static" / "vendor"


def focused_id(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("document.activeElement && document.activeElement.id")


def record_sales(shop: Shop, amounts_by_days_ago: list[tuple[int, str]]) -> list[int]:
    """Sales by the shop's cashier through the checkout service, some on earlier days."""
    from rewards.models import Account

    ids = []
    with shop.app.app_context():
        cashier = db.session.get(Account, shop.cashier_id)
        tokens = shop.app.extensions["rewards.card_tokens"]
        for n, (days_ago, amount) in enumerate(amounts_by_days_ago):
            card_no = shop.gold_card_no if n % 2 == 0 else shop.silver_card_no
            redemption, _ = checkout.confirm(
                db.session,
                Actor.for_account(cashier),
                tokens,
                card_no,
                amount,
                f"e2e-sale-{n:04d}",
                now=utcnow() - timedelta(days=days_ago),
            )
            ids.append(redemption.id)
        db.session.commit()
        db.session.remove()
    return ids


@pytest.mark.parametrize("device", ["phone", "tablet"])
def test_cashier_scans_by_typing_previews_and_confirms(browser, live_shop: Shop, device: str):
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    outside = only_local_requests(context, live_shop)
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    assert page.get_by_text("开始结算").is_visible()
    screenshot(page, f"cashier-home-{device}")
    page.get_by_text("开始结算").click()
    page.wait_for_url("**/merchant/checkout")
    assert focused_id(page) == "code"  # a USB scanner can type straight away

    token = live_shop.phone_token()
    page.keyboard.type(token)  # what a scanner in keyboard mode does …
    page.keyboard.press("Enter")  # … followed by Enter
    assert focused_id(page) == "amount"
    page.keyboard.type("128.50")
    page.keyboard.press("Enter")
    wait_for_quote(page)
    assert page.inner_text("[data-testid=zhe]") == "88折"
    assert page.inner_text("[data-testid=discount]") == "−¥15.42"
    assert page.inner_text("[data-testid=payable]") == "¥113.08"
    assert "张*明" in page.inner_text("#result")
    assert focused_id(page) == "confirm-button"
    assert fits_the_width(page)
    assert page.locator("#confirm-button").is_visible()
    assert page.evaluate(
        "document.getElementById('confirm-button').getBoundingClientRect().bottom"
        " <= window.innerHeight"
    )  # in view at once: nobody scrolls at a busy counter
    screenshot(page, f"checkout-preview-{device}")
    screenshot(page, f"checkout-preview-{device}-in-view", full_page=False)

    page.keyboard.press("Enter")  # one press confirms
    page.wait_for_selector("[data-testid=receipt]")
    assert "结算成功" in page.inner_text("main")
    assert page.inner_text("[data-testid=paid]") == "¥113.08"
    number = page.inner_text("[data-testid=number]")
    assert len(number) == 14
    assert fits_the_width(page)
    screenshot(page, f"receipt-{device}")
    page.emulate_media(media="print")
    screenshot(page, f"receipt-print-{device}")
    page.emulate_media(media="screen")

    assert outside == []
    context.close()


def test_a_cashier_typing_in_full_width_mode_gets_the_discount(browser, live_shop: Shop):
    """A Chinese input method in full-width mode types the card number and the bill in
    full-width digits and a full-width full stop: read as plain ones (issue 10 point 1)."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    page.goto(f"{live_shop.url}/merchant/checkout")
    page.wait_for_selector("html[data-counter-ready]", state="attached")
    full_width = str.maketrans("0123456789.", "０１２３４５６７８９．")
    card = live_shop.gold_card_no
    typed_card = f"{card[:4]}\u3000{card[4:8]}\u3000{card[8:]}".translate(full_width)
    page.fill("#code", typed_card)
    page.fill("#amount", "１２８．５０")
    screenshot(page, "checkout-full-width-typed-phone", full_page=False)
    page.click("#preview-button")
    wait_for_quote(page)
    assert page.inner_text("[data-testid=payable]") == "¥113.08"
    assert page.inner_text("[data-testid=zhe]") == "88折"
    screenshot(page, "checkout-full-width-quote-phone")
    page.click("#confirm-button")
    page.wait_for_selector("[data-testid=receipt]")
    assert page.inner_text("[data-testid=paid]") == "¥113.08"

    # A full-width comma is still not a decimal point: refused, with the amount field to fix.
    page.goto(f"{live_shop.url}/merchant/checkout")
    page.fill("#code", typed_card)
    page.fill("#amount", "１２８，５０")
    page.click("#preview-button")
    page.wait_for_selector(".refusal")
    assert page.get_attribute(".refusal", "data-code") == "amount_invalid"
    context.close()


def test_double_click_on_confirm_records_one_sale(browser, live_shop: Shop):
    context = browser.new_context(viewport=VIEWPORTS["tablet"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    page.goto(f"{live_shop.url}/merchant/checkout")
    scan(page, live_shop.gold_card_no, "10")
    page.wait_for_selector("#confirm-button")
    page.dblclick("#confirm-button")
    page.wait_for_selector("[data-testid=receipt]")
    page.goto(f"{live_shop.url}/merchant/")
    assert page.inner_text("[data-testid=today-count]") == "1"
    context.close()


@pytest.mark.parametrize("device", ["phone", "tablet"])
def test_a_used_phone_code_is_refused_with_what_to_do(browser, live_shop: Shop, device: str):
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    token = live_shop.phone_token()
    page.goto(f"{live_shop.url}/merchant/checkout")
    scan(page, token, "30")
    page.click("#confirm-button")
    page.wait_for_selector("[data-testid=receipt]")
    page.wait_for_load_state()  # the receipt's scripts have put the focus in its code field

    # The next customer shows the same (already used) code: scanned on the receipt page.
    assert focused_id(page) == "code"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url("**/merchant/checkout")
    assert focused_id(page) == "amount"
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    refusal = page.wait_for_selector("[data-code=token_used]")
    # The refusal is parsed before the page's scripts run: wait for them, or the next scan
    # lands before the kept code is selected and is appended to it.
    page.wait_for_selector("html[data-counter-ready]", state="attached")
    text = refusal.inner_text()
    assert "此手机卡码已经用过" in text and "请会员刷新手机卡码" in text
    assert focused_id(page) == "code"
    assert page.input_value("#amount") == "30"  # typed values kept
    # The kept code is selected, so the member's refreshed code replaces it when scanned.
    fresh = live_shop.phone_token()
    page.keyboard.type(fresh)
    assert page.input_value("#code") == fresh
    assert fits_the_width(page)
    screenshot(page, f"checkout-refusal-{device}")
    screenshot(page, f"checkout-refusal-{device}-in-view", full_page=False)
    page.keyboard.press("Enter")
    wait_for_quote(page)
    assert page.inner_text("[data-testid=payable]") == "¥26.40"
    context.close()


def test_typing_while_a_quote_is_shown_starts_the_next_scan(browser, live_shop: Shop):
    context = browser.new_context(viewport=VIEWPORTS["tablet"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_shop, live_shop.cashier)
    page.goto(f"{live_shop.url}/merchant/checkout")
    scan(page, live_shop.gold_card_no, "100")
    wait_for_quote(page)
    # Not confirmed: the next member's card is scanned while the confirm button has focus.
    page.keyboard.type(live_shop.silver_card_no)
    assert page.input_value("#code") == live_shop.silver_card_no
    assert page.input_value("#amount") == ""
    page.keyboard.press("Enter")
    assert focused_id(page) == "amount"
    page.keyboard.type("100")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.inner_text("[data-testid=zhe]") == "95折"
    context.close()


@pytest.mark.parametrize("device", ["phone", "tablet"])
def test_manager_voids_a_sale_and_exports_csv(browser, live_shop: Shop, device: str, clock):
    record_sales(live_shop, [(0, "128.50"), (0, "100.00"), (1, "40.00"), (3, "250.00")])
    context = browser.new_context(viewport=VIEWPORTS[device], locale="zh-CN", accept_downloads=True)
    outside = only_local_requests(context, live_shop)
    page = context.new_page()
    sign_in(page, live_shop, live_shop.manager)
    assert fits_the_width(page)
    screenshot(page, f"manager-home-{device}")
    page.click("nav.topnav >> text=结算记录")
    page.wait_for_url("**/merchant/redemptions")
    screenshot(page, f"redemptions-{device}")
    page.locator("table.sales a").first.click()  # the newest sale: 100.00 by silver
    page.wait_for_selector("[data-testid=receipt]")
    page.fill("#reason", "顾客退货")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.danger")
    page.wait_for_selector("[data-testid=voided]")
    assert "顾客退货" in page.inner_text("[data-testid=receipt]")
    screenshot(page, f"receipt-voided-{device}")

    # The manager picks the range that holds the four sales (the default is this month, which
    # on the first days of a month does not reach back three days) and exports it.
    page.goto(f"{live_shop.url}/merchant/redemptions")
    page.fill("#from", (clock.today - timedelta(days=3)).isoformat())
    page.fill("#to", clock.today.isoformat())
    page.click("form.filter >> text=查询")
    page.wait_for_url("**/merchant/redemptions?*")
    with page.expect_download() as download_info:
        page.click("[data-testid=export]")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines)
    assert lines[0].startswith("结算单号,营业日期,结算时间")
    rows = [line.split(",") for line in lines[1:-1]]
    assert len(rows) == 4
    assert sorted(row[9] for row in rows) == ["100.00", "128.50", "250.00", "40.00"]
    assert [row[12] for row in rows if row[9] == "100.00"] == ["已撤销"]
    assert [row[13] for row in rows if row[9] == "100.00"] == ["顾客退货"]
    assert all(row[0].startswith('"=""') for row in rows)  # 结算单号 as ="…": text in Excel
    with page.expect_download() as download_info:
        page.click("[data-testid=export-xlsx]")
    workbook = download_info.value
    assert workbook.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(workbook.path()).read_bytes())).active
    numbers = [row[0] for row in sheet.iter_rows(2)]
    assert len(numbers) == 4 and all(c.data_type == "s" and len(c.value) == 14 for c in numbers)
    assert sorted(row[9].value for row in sheet.iter_rows(2)) == [40.0, 100.0, 128.5, 250.0]

    for name, path in [
        ("daily", "/merchant/reports/daily"),
        ("monthly", "/merchant/reports/monthly"),
        ("staff", "/merchant/staff"),
        ("keys", "/merchant/keys"),
        ("agreements", "/merchant/agreements"),
    ]:
        page.goto(f"{live_shop.url}{path}")
        assert fits_the_width(page), name
        screenshot(page, f"{name}-{device}")
    page.goto(f"{live_shop.url}/merchant/keys")
    page.fill("#label", "1号收银台")
    page.click("form >> text=创建")
    secret = page.inner_text("[data-testid=secret]")
    assert secret.startswith("rpk_") and "只显示这一次" in page.inner_text("main")
    screenshot(page, f"key-created-{device}")
    page.click("text=我已保存，返回密钥列表")
    assert secret not in page.content() and "1号收银台" in page.inner_text("main")
    screenshot(page, f"keys-after-{device}")

    this_year = sum(
        fen
        for days_ago, fen in ((0, 12850), (1, 4000), (3, 25000))
        if (clock.today - timedelta(days=days_ago)).year == clock.today.year
    )
    monthly = page.goto(f"{live_shop.url}/merchant/reports/monthly").text()
    assert f"¥{format_fen(this_year)}" in monthly  # the voided 100.00 is left out
    assert outside == []
    context.close()


def _qr_video(token: str, path: Path) -> Path:
    """A short Y4M clip of the printed card's QR, for Chromium's fake camera."""
    import segno
    from PIL import Image

    png = path.with_suffix(".png")
    segno.make_qr(token, error="m").save(str(png), scale=7, border=4)
    code = Image.open(png).convert("RGB")
    image = Image.new("RGB", (640, 480), "white")
    image.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    y, u, v = image.convert("YCbCr").split()
    u, v = u.resize((320, 240)), v.resize((320, 240))
    frame = b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()
    path.write_bytes(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n" + frame * 10)
    return path


def test_camera_scan_uses_the_bundled_decoder(playwright_driver, live_shop: Shop, tmp_path: Path):
    if not (VENDOR / "zxing-reader.js").exists() or not (VENDOR / "zxing_reader.wasm").exists():
        pytest.skip("the QR decoder is not vendored: run `npm ci && npm run vendor` first")
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
        sign_in(page, live_shop, live_shop.cashier)
        page.goto(f"{live_shop.url}/merchant/checkout")
        uses_own_detector = page.evaluate("'BarcodeDetector' in window")
        page.click("#camera-button")
        page.wait_for_function("document.getElementById('code').value.length > 0", timeout=20000)
        assert page.input_value("#code") == live_shop.printed_token()
        assert focused_id(page) == "amount"
        assert page.is_hidden("#scanner")
        if not uses_own_detector:
            loaded = page.evaluate(
                "performance.getEntriesByType('resource').map(e => e.name)"
                ".filter(n => n.includes('/vendor/'))"
            )
            assert any(n.endswith("zxing_reader.wasm") for n in loaded)
        page.keyboard.type("50")
        page.keyboard.press("Enter")
        wait_for_quote(page)
        assert page.inner_text("[data-testid=payable]") == "¥44.00"
        screenshot(page, "checkout-camera-phone")
        assert outside == []
        context.close()
    finally:
        browser.close()
