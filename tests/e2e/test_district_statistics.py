"""The district's statistics (全区统计) in a real browser at 1280 px: every tab's charts and
tables, nothing fetched from outside the app, and a table downloaded as CSV and as .xlsx."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Account, Card, Member, PointCategory, Role
from rewards.services import checkout, claims
from rewards.services.audit import Actor
from tests import factories
from tests.e2e.conftest import (
    VIEWPORTS,
    Shop,
    fits_the_width,
    only_local_requests,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.e2e

SECTIONS = [("tiers", "等级分布"), ("points", "每月积分"), ("turnaround", "认定时效")]
SECTIONS += [("card-use", "刷卡消费")]


def _activity(shop: Shop, clock) -> str:  # type: ignore[no-untyped-def]
    """Sales today (one voided) and claims decided or waiting; the administrator's username."""
    with shop.app.app_context():
        session = db.session
        cashier = Actor.for_account(session.get(Account, shop.cashier_id))
        manager = session.scalar(select(Account).where(Account.username == shop.manager))
        tokens = shop.app.extensions["rewards.card_tokens"]
        cards = {c.member.name: c for c in session.scalars(select(Card))}
        for name, amount in (("张三明", "128.50"), ("李四", "66.00"), ("张三明", "42.00")):
            checkout.confirm(
                session, cashier, tokens, cards[name].card_no, amount, uuid.uuid4().hex
            )
        wrong, _ = checkout.confirm(
            session, cashier, tokens, cards["李四"].card_no, "999.00", uuid.uuid4().hex
        )
        checkout.void(session, Actor.for_account(manager), wrong.id, "输错金额")
        category = session.scalars(select(PointCategory)).first()
        office = Actor(label="e2e", role=Role.DISTRICT_ADMIN)
        for index, member in enumerate(session.scalars(select(Member).order_by(Member.id))):
            submitted = clock.now - timedelta(days=6 - index)
            claim = claims.submit_claim(
                session,
                office,
                member.id,
                category.id,
                "帮助社区清扫楼道",
                (clock.now - timedelta(days=7)).date(),
                now=submitted,
            )
            if index < 2:
                claims.certify_claim(session, office, claim.id, now=submitted + timedelta(days=2))
        admin = factories.account(session, Role.DISTRICT_ADMIN)
        session.commit()
        username = admin.username
        session.remove()
    return username


def test_every_statistics_tab_draws_its_charts_and_tables(browser, live_shop: Shop, clock):
    username = _activity(live_shop, clock)
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    outside = only_local_requests(context, live_shop)
    page = context.new_page()
    sign_in(page, live_shop, username, home="/community/")
    page.click("nav.topnav >> text=统计")
    page.wait_for_url("**/district/statistics")
    for section, label in SECTIONS:
        page.click(f"nav.tabs >> text={label}")
        page.wait_for_selector(f'nav.tabs a[aria-current="page"]:has-text("{label}")')
        charts = page.locator('svg[role="img"]')
        assert charts.count() >= 1, section
        assert charts.first.get_attribute("aria-labelledby")
        assert page.locator(".csv-link").count() >= 1
        assert page.locator("table").count() >= 1
        assert fits_the_width(page), section
        screenshot(page, f"district-statistics-{section}-desktop")
    assert page.locator("[data-testid=card-months-table] tfoot").inner_text().split()[1] == "3"
    assert outside == []
    context.close()


def test_a_statistics_table_downloads_as_csv_and_as_xlsx(browser, live_shop: Shop, clock):
    username = _activity(live_shop, clock)
    context = browser.new_context(
        viewport=VIEWPORTS["desktop"], locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    sign_in(page, live_shop, username, home="/community/")
    page.goto(f"{live_shop.url}/district/statistics?section=card-use")
    with page.expect_download() as download_info:
        page.click('a.csv-link[data-table="card-use-merchants"]')
    download = download_info.value
    assert download.suggested_filename == f"card-use-merchants-{clock.today.year}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["商家代码", "商家", "年", "月", "笔数", "消费金额(元)", "优惠金额(元)"]
    this_month = [r for r in rows[1:] if r[3] == str(clock.today.month)]
    assert this_month[0][4:] == ["3", "236.50", "23.76"]  # 128.50 and 42.00 at 88折, 66.00 at 95折
    assert this_month[0][0] == f'="{this_month[0][0][2:-1]}"'  # the code as text for Excel

    with page.expect_download() as download_info:
        page.click('a.xlsx-link[data-table="card-use-merchants"]')
    download = download_info.value
    assert download.suggested_filename == f"card-use-merchants-{clock.today.year}.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sheet.freeze_panes == "A2"
    month = next(r for r in sheet.iter_rows(2) if r[3].value == clock.today.month)
    assert month[0].data_type == "s" and [c.value for c in month[4:]] == [3, 236.5, 23.76]
    context.close()
