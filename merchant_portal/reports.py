"""The manager's reports: sales per day of a month (日报) and per month of a year (月报)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request
from flask_babel import gettext as _

from merchant_portal import bp
from merchant_portal.shared import back_office, own_merchant_id
from rewards.auth import current_actor
from rewards.clock import business_date
from rewards.extensions import db
from rewards.services import merchant_reports

# The reports reach back to this year and up to this year (no sale is dated later than today);
# anything else is refused.
FIRST_REPORT_YEAR = 2000


def _year_refused(year_text: str, today: date) -> str | None:
    """Why ``year_text`` is no year a report can show (not digits, or out of range), or None."""
    first, last = FIRST_REPORT_YEAR, today.year
    if not (year_text.isascii() and year_text.isdigit()):
        return _("年份格式不对（应为四位数字，如 2026）。")
    if not first <= int(year_text) <= last:
        return _(
            "%(year)s 年超出范围：报表可查 %(first)s 至 %(last)s 年。",
            year=int(year_text),
            first=first,
            last=last,
        )
    return None


def _parse_month(text: str | None, today: date) -> tuple[date, str | None]:
    """The month asked for (``YYYY-MM``), or this month and why the one asked for is refused."""
    if not text:
        return today.replace(day=1), None
    year_text, _dash, month_text = text.partition("-")
    refused = _year_refused(year_text, today)
    month_ok = month_text.isascii() and month_text.isdigit() and 1 <= int(month_text) <= 12
    if refused is None and month_ok:
        return date(int(year_text), int(month_text), 1), None
    if refused is None or not (year_text.isascii() and year_text.isdigit()):
        refused = _("月份格式不对（应为 年-月，如 2026-03）。")
    return today.replace(day=1), refused + _("下面是本月。")


def _parse_year(text: str | None, today: date) -> tuple[int, str | None]:
    """The year asked for, or this year and why the one asked for is refused."""
    if not text:
        return today.year, None
    refused = _year_refused(text, today)
    if refused is not None:
        return today.year, refused + _("下面是今年。")
    return int(text), None


@bp.get("/reports/daily")
@back_office
def daily_report() -> str | tuple[str, int]:
    """Sales per day of a month (日报), with a bar chart; a month out of range is refused (400)
    with the reason, over this month's figures."""
    today = business_date()
    month, refused = _parse_month(request.args.get("month"), today)
    first, last = merchant_reports.month_bounds(month)
    days = merchant_reports.daily_summary(db.session, current_actor(), own_merchant_id(), month)
    total = merchant_reports.period_summary(
        db.session, current_actor(), own_merchant_id(), first, last
    )
    page = render_template(
        "merchant/report.html",
        kind="daily",
        rows=days,
        total=total,
        month=month,
        previous=(first - timedelta(days=1)).replace(day=1),
        following=last + timedelta(days=1),
        today=today,
        first_year=FIRST_REPORT_YEAR,
        refused=refused,
    )
    return (page, 400) if refused else page


@bp.get("/reports/monthly")
@back_office
def monthly_report() -> str | tuple[str, int]:
    """Sales per month of a year (月报), with a bar chart; a year out of range is refused (400)
    with the reason, over this year's figures."""
    today = business_date()
    year, refused = _parse_year(request.args.get("year"), today)
    months = merchant_reports.monthly_summary(db.session, current_actor(), own_merchant_id(), year)
    total = merchant_reports.period_summary(
        db.session, current_actor(), own_merchant_id(), date(year, 1, 1), date(year, 12, 31)
    )
    page = render_template(
        "merchant/report.html",
        kind="monthly",
        rows=months,
        total=total,
        year=year,
        today=today,
        first_year=FIRST_REPORT_YEAR,
        refused=refused,
    )
    return (page, 400) if refused else page
