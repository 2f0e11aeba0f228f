"""The district's statistics (全区统计): tier distribution, points per month, claim turnaround
and card use at merchants, each figure against hand-built data, with its page and its downloads
(CSV, and .xlsx with the same rows)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from district_portal.statistics import DOWNLOADS
from rewards.clock import BUSINESS_TZ
from rewards.models import Account, Card, Member, Merchant, Role
from rewards.services import (
    activities,
    agreements,
    checkout,
    claims,
    district_reports,
    ledger,
    roster,
)
from rewards.services.audit import Actor
from rewards.spreadsheets import header
from tests import factories
from tests.forms import without_csrf_tokens
from tests.spreadsheets import read_xlsx, xlsx_as_csv
from tests.test_auth import sign_in


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant on a business date (Asia/Shanghai)."""
    return datetime(year, month, day, hour, minute, tzinfo=BUSINESS_TZ)


@dataclass
class Past:
    """A world dated two years before the clock's, so the figures of ``year`` never meet the
    world's own points of today, whatever day REWARDS_TEST_NOW picks."""

    world: factories.World
    year: int
    admin: Account

    @property
    def actor(self) -> Actor:
        return Actor.for_account(self.admin)


@pytest.fixture()
def past(session, clock) -> Past:  # type: ignore[no-untyped-def]
    year = clock.today.year - 2
    world = factories.build_world(session, now=at(year, 1, 2))
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return Past(world, year, admin)


@pytest.fixture()
def admin(session, world) -> Account:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


def row_cells(html: str, attribute: str, key: str) -> list[str]:
    """The texts of the cells of the table row ``<tr data-<attribute>="<key>">``."""
    row = re.search(rf'<tr data-{attribute}="{key}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {attribute}={key}"
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def stat(html: str, name: str, row: str) -> str:
    """One figure (``data-stat``) of one table row."""
    match = re.search(
        rf'<tr data-[a-z]+="{row}"[^>]*>.*?data-stat="{name}"[^>]*>([^<]*)<', html, re.S
    )
    assert match, f"no {name} in row {row}"
    return match.group(1).strip()


def read_csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The rows of an Excel CSV download, after checking what makes Excel open it right."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    assert text.count("\r\n") == text.count("\n")
    return list(csv.reader(io.StringIO(text, newline="")))


# -- 1. tier distribution ---------------------------------------------------------------------


def test_tier_distribution_counts_members_by_live_tier_per_community(client, session, world, admin):
    outsider = factories.member(session, world.other, name="郑外人")
    factories.points(session, outsider, 500)
    factories.member(session, world.other, name="冯无分")
    gone = factories.member(session, world.home, name="吴十")
    factories.points(session, gone, 500)
    gone.status = "inactive"
    session.commit()

    figures = district_reports.tier_distribution(session, Actor.for_account(admin))
    home = next(c for c in figures.communities if c.code == world.home.code)
    assert home.members_by_tier.to_dict() == {"gold": 1, "silver": 1, "none": 1, "total": 3}

    sign_in(client, admin)
    page = client.get("/district/statistics").text
    assert row_cells(page, "community", world.home.code)[1:] == ["3", "1", "1", "1", "66.7%"]
    assert row_cells(page, "community", world.other.code)[1:] == ["2", "1", "0", "1", "50.0%"]
    assert row_cells(page, "community", "ALL")[1:] == ["5", "2", "1", "2", "60.0%"]
    chart = re.search(r'<svg[^>]*aria-labelledby="chart-tiers-title chart-tiers-desc"', page)
    assert chart and 'role="img"' in chart.group(0)
    assert '<title id="chart-tiers-title">' in page and "https://" not in page

    rows = read_csv(client.get("/district/statistics/tiers.csv"))
    assert rows[0] == ["社区代码", "社区", "在册党员", "金卡等级", "银卡等级", "未达银卡"]
    assert [f'="{world.home.code}"', world.home.name, "3", "1", "1", "1"] in rows
    assert rows[-1] == ['="ALL"', "全区合计", "5", "2", "1", "2"]


# -- 2. points per month ----------------------------------------------------------------------


def _points_history(session, past: Past) -> None:  # type: ignore[no-untyped-def]
    """In ``past.year``: a claim of 7 certified in January, one of 5 certified and reversed, an
    activity of 4 points in March for two members of home, adjustments +6 and -2 in March for a
    member of other; and 9 points on the last day of the year before."""
    w, y, actor = past.world, past.year, past.actor
    for member, points, day, reverse in ((w.gold, 7, 15, False), (w.silver, 5, 20, True)):
        claim = claims.submit_claim(
            session,
            actor,
            member.id,
            w.category.id,
            "帮助社区清扫楼道",
            date(y, 1, day),
            points=points,
            now=at(y, 1, day + 1),
        )
        entry = claims.certify_claim(session, actor, claim.id, now=at(y, 1, day + 2))
        if reverse:
            ledger.reverse(session, actor, entry.id, "重复申报", now=at(y, 2, 3))
    activity = activities.create_activity(
        session,
        actor,
        w.home.id,
        w.category.id,
        "三月学雷锋活动",
        date(y, 3, 5),
        4,
        now=at(y, 3, 5),
    )
    activities.record_attendance(
        session, actor, activity.id, [w.gold.member_no, w.plain.member_no], now=at(y, 3, 6)
    )
    outsider = factories.member(session, w.other, name="郑外人")
    for points, day in ((6, 10), (-2, 11)):
        ledger.adjust(
            session,
            actor,
            outsider.id,
            points,
            "补录",
            date(y, 3, day),
            f"adj-{day}",
            now=at(y, 3, day),
        )
    ledger.adjust(
        session,
        actor,
        w.gold.id,
        9,
        "上年补录",
        date(y - 1, 12, 31),
        "last-year",
        now=at(y, 1, 2),
    )
    session.commit()


def test_points_are_summed_by_service_month_net_of_reversals(client, session, past):
    _points_history(session, past)
    w, y = past.world, past.year
    figures = district_reports.points_by_month(session, past.actor, y)
    home = next(c for c in figures.communities if c.code == w.home.code)
    other = next(c for c in figures.communities if c.code == w.other.code)
    assert home.months == [7, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # the reversal cancels in January
    assert other.months == [0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert figures.district.months == [7, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    kinds = {kind.value: months[:3] for kind, months in figures.by_kind.items()}
    assert kinds == {
        "award": [12, 0, 0],
        "attendance": [0, 0, 8],
        "adjustment": [0, 0, 4],
        "reversal": [-5, 0, 0],
    }
    previous = district_reports.points_by_month(session, past.actor, y - 1)
    assert previous.district.months[11] == 9 and previous.district.total == 9

    sign_in(client, past.admin)
    page = client.get(f"/district/statistics?section=points&year={y}").text
    assert row_cells(page, "community", w.home.code) == [w.home.name, "7", "0", "8"] + ["0"] * 9 + [
        "15"
    ]
    assert row_cells(page, "community", "ALL")[-1] == "19"
    assert row_cells(page, "kind", "reversal")[1:3] == ["-5", "0"]
    assert 'aria-labelledby="chart-points-title chart-points-desc"' in page


def test_points_csv_has_every_community_and_month_and_the_total(client, session, past):
    _points_history(session, past)
    w, y = past.world, past.year
    sign_in(client, past.admin)
    response = client.get(f"/district/statistics/points.csv?year={y}")
    assert f'filename="points-{y}.csv"' in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == ["社区代码", "社区", *(f"{m}月" for m in range(1, 13)), "全年合计"]
    by_code = {row[0]: row for row in rows[1:]}
    home = f'="{w.home.code}"'  # a code stays text in Excel and WPS
    assert by_code[home] == [home, w.home.name, "7", "0", "8", *["0"] * 9, "15"]
    assert by_code['="ALL"'][2:5] == ["7", "0", "12"] and rows[-1][0] == '="ALL"'
    kinds = read_csv(client.get(f"/district/statistics/points-kinds.csv?year={y}"))
    assert [row[0] for row in kinds] == [
        "类型",
        "认定申报",
        "活动签到",
        "积分调整",
        "冲正",
        "净积分",
    ]
    assert kinds[4][1:3] == ["-5", "0"] and kinds[5][-1] == "19"


# -- 3. claim turnaround ----------------------------------------------------------------------


def _claim(session, past: Past, member: Member, submitted: datetime):  # type: ignore[no-untyped-def]
    return claims.submit_claim(
        session,
        past.actor,
        member.id,
        past.world.category.id,
        "帮助独居老人买菜",
        submitted.astimezone(BUSINESS_TZ).date(),
        now=submitted,
    )


def _turnaround_history(session, past: Past) -> datetime:  # type: ignore[no-untyped-def]
    """Home: four claims decided after 1, 2, 3 and 4 days (one rejected), two pending, one
    withdrawn; other: one decided after 10 days; one decided just after the period (00:10 on
    1 June, Beijing time). Returns when the oldest pending claim was submitted."""
    w, y, actor = past.world, past.year, past.actor
    start = at(y, 4, 1)
    for days, member in ((1, w.gold), (2, w.silver), (3, w.plain), (4, w.gold)):
        claim = _claim(session, past, member, start)
        if days == 3:
            claims.reject_claim(session, actor, claim.id, "材料不全", now=start + timedelta(days=3))
        else:
            claims.certify_claim(session, actor, claim.id, now=start + timedelta(days=days))
    outsider = factories.member(session, w.other, name="郑外人")
    far = _claim(session, past, outsider, at(y, 5, 1))
    claims.certify_claim(session, actor, far.id, now=at(y, 5, 11))
    late = _claim(session, past, w.silver, at(y, 5, 30))
    claims.certify_claim(session, actor, late.id, now=at(y, 6, 1, 0, 10))
    oldest = at(y, 5, 20)
    _claim(session, past, w.gold, oldest)
    _claim(session, past, w.plain, at(y, 5, 25))
    member_actor = Actor(label="member", role=Role.MEMBER, member_id=w.silver.id)
    withdrawn = _claim(session, past, w.silver, at(y, 5, 2))
    claims.withdraw_claim(session, member_actor, withdrawn.id, now=at(y, 5, 3))
    session.commit()
    return oldest


def test_turnaround_median_of_an_even_count_is_the_mean_of_the_middle_two(
    client, session, past, clock
):
    oldest = _turnaround_history(session, past)
    w, y = past.world, past.year
    report = district_reports.claim_turnaround(
        session, past.actor, date(y, 4, 1), date(y, 5, 31), at=clock.now
    )
    home = next(c for c in report.communities if c.code == w.home.code)
    other = next(c for c in report.communities if c.code == w.other.code)
    assert (home.decided, home.certified, home.rejected) == (4, 3, 1)
    assert home.median_days == pytest.approx(2.5)
    assert other.median_days == pytest.approx(10.0) and other.pending == 0
    assert report.district.decided == 5 and report.district.median_days == pytest.approx(3.0)
    waited = (clock.now - oldest).total_seconds() / 86400
    assert home.pending == 2 and home.oldest_pending_days == pytest.approx(waited)
    assert report.district.pending == 2

    sign_in(client, past.admin)
    query = f"section=turnaround&from={y}-04-01&to={y}-05-31"
    page = client.get(f"/district/statistics?{query}").text
    assert stat(page, "median", w.home.code) == "2.5 天"
    assert stat(page, "decided", w.home.code) == "4"
    assert stat(page, "rejected", w.home.code) == "1"
    assert stat(page, "pending", w.home.code) == "2"
    assert stat(page, "oldest", w.home.code) == f"{waited:.1f} 天"
    assert stat(page, "median", "ALL") == "3.0 天"

    rows = read_csv(client.get(f"/district/statistics/turnaround.csv?{query}"))
    assert rows[0] == list(header(district_reports.TURNAROUND_COLUMNS))
    home_row = next(row for row in rows if row[0] == f'="{w.home.code}"')
    assert home_row[2:] == ["4", "3", "1", "2.5", "2", f"{waited:.1f}"]
    other_row = next(row for row in rows if row[0] == f'="{w.other.code}"')
    assert other_row[2:] == ["1", "1", "0", "10.0", "0", ""]

    sheet = read_xlsx(client.get(f"/district/statistics/turnaround.xlsx?{query}"))
    home_cells = next(row for row in sheet.iter_rows(2) if row[0].value == w.home.code)
    median = home_cells[5]
    assert median.data_type == "n" and median.value == 2.5 and median.number_format == "0.0"
    assert home_cells[7].value == round(waited, 1)
    other_cells = next(row for row in sheet.iter_rows(2) if row[0].value == w.other.code)
    assert other_cells[7].value is None  # nothing pending: an empty cell, as in the CSV


def test_turnaround_without_dates_covers_the_chosen_year(client, session, past):
    _turnaround_history(session, past)
    sign_in(client, past.admin)
    page = client.get(f"/district/statistics?section=turnaround&year={past.year}").text
    assert f"{past.year}-01-01 至 {past.year}-12-31" in page
    assert stat(page, "decided", past.world.home.code) == "5"  # the 1 June one too


def test_a_reversed_or_too_long_period_is_refused_with_a_message(client, session, past):
    y = past.year
    sign_in(client, past.admin)
    page = client.get(f"/district/statistics?section=turnaround&from={y}-05-01&to={y}-04-01").text
    assert "开始日期不能晚于结束日期" in page and 'data-testid="turnaround-table"' not in page
    page = client.get(f"/district/statistics?section=turnaround&from={y}-01-01&to={y + 1}-06-01")
    assert "一次最多统计 366 天" in page.text
    refused = client.get(f"/district/statistics/turnaround.csv?from={y}-05-01&to={y}-04-01")
    assert refused.status_code == 422
    as_xlsx = client.get(f"/district/statistics/turnaround.xlsx?from={y}-05-01&to={y}-04-01")
    assert as_xlsx.status_code == 422
    assert without_csrf_tokens(as_xlsx.text) == without_csrf_tokens(refused.text)


# -- 4. card use at merchants -----------------------------------------------------------------


def _sale(session, tokens, cashier: Account, member: Member, amount: str, when: datetime):  # type: ignore[no-untyped-def]
    card = session.scalar(select(Card).where(Card.member_id == member.id))
    redemption, _ = checkout.confirm(
        session,
        Actor.for_account(cashier),
        tokens,
        card.card_no,
        amount,
        f"test-{uuid.uuid4().hex}",
        now=when,
    )
    return redemption


@dataclass
class Sales:
    deli: Merchant
    outsider: Member


def _card_use_history(session, tokens, past: Past) -> Sales:  # type: ignore[no-untyped-def]
    """March: at the shop, gold pays 100 (12 off) and silver 200 (10 off); a 999 sale voided.
    May: at a deli serving every community (gold 90折, silver 95折), gold pays 50 (5 off) and a
    silver member of other 80 (4 off). Then silver moves from home to other."""
    w, y, actor = past.world, past.year, past.actor
    for member, points in ((w.gold, 150), (w.silver, 60)):
        factories.points(session, member, points, date(y, 1, 5))
    outsider = factories.member(session, w.other, name="郑外人")
    factories.points(session, outsider, 60, date(y, 1, 5))
    factories.card(session, outsider)
    deli = factories.merchant(session, name="社区熟食店")
    agreements.sign_agreement(
        session,
        actor,
        deli.id,
        None,
        gold_pay_percent=90,
        silver_pay_percent=95,
        valid_from=date(y - 1, 1, 1),
    )
    deli_cashier = factories.account(session, Role.CASHIER, merchant=deli)
    _sale(session, tokens, w.cashier, w.gold, "100.00", at(y, 3, 15, 10))
    _sale(session, tokens, w.cashier, w.silver, "200.00", at(y, 3, 15, 11))
    wrong = _sale(session, tokens, w.cashier, w.gold, "999.00", at(y, 3, 15, 12))
    checkout.void(
        session, Actor.for_account(w.manager), wrong.id, "输错金额", now=at(y, 3, 15, 12, 5)
    )
    _sale(session, tokens, deli_cashier, w.gold, "50.00", at(y, 5, 2))
    _sale(session, tokens, deli_cashier, outsider, "80.00", at(y, 5, 3))
    roster.transfer_member(session, actor, w.silver.id, w.other.id, now=at(y, 6, 1))
    session.commit()
    return Sales(deli, outsider)


def test_card_use_counts_completed_sales_by_month_community_and_merchant(
    client, session, tokens, past
):
    sales = _card_use_history(session, tokens, past)
    w, y = past.world, past.year
    report = district_reports.card_use(session, past.actor, y)
    figures = {c.code: [(m.count, m.discount_fen) for m in c.months] for c in report.communities}
    empty = [(0, 0)]
    assert figures[w.home.code] == empty * 2 + [(1, 1200), (0, 0), (1, 500)] + empty * 7
    # silver's March sale counts in other, where silver is registered now
    assert figures[w.other.code] == empty * 2 + [(1, 1000), (0, 0), (1, 400)] + empty * 7
    march = report.district.months[2]
    assert (march.count, march.amount_fen, march.discount_fen) == (2, 30000, 2200)
    assert report.district.total.count == 4 and report.district.total.discount_fen == 3100
    assert [m.code for m in report.top_merchants()] == [w.shop.code, sales.deli.code]
    assert len(report.merchants) == 2

    sign_in(client, past.admin)
    page = client.get(f"/district/statistics?section=card-use&year={y}").text
    assert stat(page, "count", "3") == "2" and stat(page, "discount", "3") == "¥22.00"
    assert stat(page, "count", "1") == "0" and stat(page, "amount", "1") == "¥0.00"
    assert stat(page, "discount", w.home.code) == "¥17.00"
    assert stat(page, "discount", w.shop.code) == "¥22.00"
    assert stat(page, "count", sales.deli.code) == "2"
    for chart in ("chart-card-count", "chart-card-discount", "chart-merchants"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in page


def test_card_use_csvs_list_every_month_in_yuan_with_two_decimals(client, session, tokens, past):
    sales = _card_use_history(session, tokens, past)
    w, y = past.world, past.year
    sign_in(client, past.admin)
    rows = read_csv(client.get(f"/district/statistics/card-use-communities.csv?year={y}"))
    assert rows[0] == ["社区代码", "社区", "年", "月", "笔数", "消费金额(元)", "优惠金额(元)"]
    assert len(rows) == 1 + 2 * 12  # every community, every month
    home = f'="{w.home.code}"'
    assert [home, w.home.name, str(y), "3", "1", "100.00", "12.00"] in rows
    assert [home, w.home.name, str(y), "4", "0", "0.00", "0.00"] in rows
    merchants = read_csv(client.get(f"/district/statistics/card-use-merchants.csv?year={y}"))
    assert merchants[0][:2] == ["商家代码", "商家"] and len(merchants) == 1 + 2 * 12
    deli = f'="{sales.deli.code}"'
    assert [deli, sales.deli.name, str(y), "5", "2", "130.00", "9.00"] in merchants
    months = read_csv(client.get(f"/district/statistics/card-use-months.csv?year={y}"))
    assert ['="ALL"', "全区合计", str(y), "3", "2", "300.00", "22.00"] in months


def test_card_use_xlsx_keeps_codes_as_text_and_yuan_as_numbers(client, session, tokens, past):
    sales = _card_use_history(session, tokens, past)
    y = past.year
    sign_in(client, past.admin)
    response = client.get(f"/district/statistics/card-use-merchants.xlsx?year={y}")
    assert f'filename="card-use-merchants-{y}.xlsx"' in response.headers["Content-Disposition"]
    sheet = read_xlsx(response)
    assert [cell.value for cell in sheet[1]] == list(
        header(district_reports.CARD_USE_COLUMNS["merchant"])
    )
    may = next(
        row for row in sheet.iter_rows(2) if row[0].value == sales.deli.code and row[3].value == 5
    )
    code, _name, year, month, count, amount, discount = may
    assert code.data_type == "s" and code.number_format == "@"
    assert (year.value, month.value, count.value) == (y, 5, 2) and count.data_type == "n"
    assert amount.value == 13000 / 100 and discount.value == 900 / 100
    assert amount.number_format == discount.number_format == "0.00"
    assert amount.data_type == discount.data_type == "n"


@pytest.mark.parametrize("table", list(DOWNLOADS))
def test_every_table_downloads_as_xlsx_with_the_same_rows_as_its_csv(
    client, session, tokens, past, table
):
    _card_use_history(session, tokens, past)
    _turnaround_history(session, past)
    y = past.year
    sign_in(client, past.admin)
    query = f"year={y}&from={y}-04-01&to={y}-05-31"
    sheet = read_xlsx(client.get(f"/district/statistics/{table}.xlsx?{query}"))
    rows = read_csv(client.get(f"/district/statistics/{table}.csv?{query}"))
    assert len(rows) > 1
    assert xlsx_as_csv(sheet) == rows


# -- who may look, and bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/district/statistics?section=points",
        "/district/statistics/tiers.csv",
        "/district/statistics/tiers.xlsx",
    ],
)
def test_only_the_district_administrator_sees_the_statistics(client, session, world, path):
    sign_in(client, world.secretary)
    assert client.get(path).status_code == 403
    client.post("/logout")
    sign_in(client, world.manager)
    assert client.get(path).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/district/statistics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unknown_tab_or_table_is_not_found(client, admin):
    sign_in(client, admin)
    assert client.get("/district/statistics?section=nonsense").status_code == 404
    assert client.get("/district/statistics/members.csv").status_code == 404
    assert client.get("/district/statistics/members.xlsx").status_code == 404


def test_a_year_outside_the_list_is_refused_with_a_message(client, admin):
    sign_in(client, admin)
    page = client.get("/district/statistics?section=points&year=1990").text
    assert "请选择列表中的年份" in page and 'data-testid="points-table"' not in page
    refused = client.get("/district/statistics/points.csv?year=1990")
    as_xlsx = client.get("/district/statistics/points.xlsx?year=1990")
    assert refused.status_code == as_xlsx.status_code == 400
    assert "请选择列表中的年份" in as_xlsx.text
    assert without_csrf_tokens(as_xlsx.text) == without_csrf_tokens(refused.text)


def test_every_tab_renders_with_no_data_at_all(client, session):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    for section in ("tiers", "points", "turnaround", "card-use"):
        response = client.get(f"/district/statistics?section={section}")
        assert response.status_code == 200, section
        assert "下载 Excel（.xlsx）" in response.text and "下载 CSV" in response.text
