"""District statistics (全区统计): four tabs of charts and tables for the district administrator
(tier distribution, points per month, claim turnaround, card use at merchants), each table
downloadable as an Excel workbook (.xlsx) and as CSV (see ``rewards.spreadsheets``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest
from wtforms import DateField, IntegerField
from wtforms.validators import Optional, ValidationError

from district_portal import bp
from rewards import spreadsheets
from rewards.auth import current_actor, requires_role
from rewards.clock import business_date
from rewards.errors import ValidationFailed
from rewards.extensions import db
from rewards.models import Role
from rewards.services import district_reports
from rewards.spreadsheets import Column
from rewards.web import put_errors

admin_only = requires_role(Role.DISTRICT_ADMIN)

# (section in ?section=, tab label)
SECTIONS = (
    ("tiers", _l("等级分布")),
    ("points", _l("每月积分")),
    ("turnaround", _l("认定时效")),
    ("card-use", _l("刷卡消费")),
)
TOP_MERCHANTS = 10


class StatisticsFilter(FlaskForm):
    """The year (and, for the turnaround, a period) read from the query string."""

    class Meta:
        csrf = False

    year = IntegerField(_l("年份"), validators=[Optional()])
    start = DateField(_l("处理日期从"), validators=[Optional()], name="from")
    end = DateField(_l("至"), validators=[Optional()], name="to")

    def validate_year(self, field: IntegerField) -> None:
        if field.data is not None and field.data not in district_reports.statistics_years(
            business_date()
        ):
            raise ValidationError(_l("请选择列表中的年份。"))

    @property
    def chosen_year(self) -> int:
        return self.year.data or business_date().year

    def period(self) -> tuple[date, date]:
        """The turnaround's period: the dates typed, else the chosen year (up to today)."""
        year, today = self.chosen_year, business_date()
        last_of_year = today if year == today.year else date(year, 12, 31)
        return self.start.data or date(year, 1, 1), self.end.data or last_of_year


def _filter(section: str) -> StatisticsFilter:
    """The filter as typed; the tier tab (today's figures) takes none, so it refuses nothing."""
    form = StatisticsFilter(request.args)
    if section != "tiers":
        form.validate()
    return form


def _query(form: StatisticsFilter) -> dict[str, str]:
    """The filter's arguments to carry into the tabs and the downloads (none if refused)."""
    if form.errors:
        return {}
    return {name: request.args[name] for name in ("year", "from", "to") if request.args.get(name)}


def _section() -> str:
    section = request.args.get("section", SECTIONS[0][0])
    if section not in dict(SECTIONS):
        abort(404)
    return section


def _figures(section: str, form: StatisticsFilter) -> Any:
    """The one service call behind a section."""
    actor = current_actor()
    if section == "tiers":
        return district_reports.tier_distribution(db.session, actor)
    if section == "points":
        return district_reports.points_by_month(db.session, actor, form.chosen_year)
    if section == "turnaround":
        return district_reports.claim_turnaround(db.session, actor, *form.period())
    return district_reports.card_use(db.session, actor, form.chosen_year)


@bp.get("/statistics")
@admin_only
def statistics() -> str:
    """One tab of the district's statistics (全区统计), with its filter, charts and tables."""
    section = _section()
    form = _filter(section)
    figures = None
    if not form.errors:
        try:
            figures = _figures(section, form)
        except ValidationFailed as error:
            put_errors(form, error)
    return render_template(
        "district/statistics/page.html",
        sections=SECTIONS,
        section=section,
        form=form,
        years=district_reports.statistics_years(business_date()),
        figures=figures,
        query=_query(form),
        month_labels=[_("%(m)s月", m=m) for m in district_reports.MONTHS],
        kind_labels=district_reports.ENTRY_KIND_LABELS,
        kinds=district_reports.ENTRY_KIND_ORDER,
        top_merchants=TOP_MERCHANTS,
    )


# -- the downloads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """One table's file: the section whose figures it reads, its columns, rows (typed values in
    the columns' order), file name without the extension, and the workbook's sheet name."""

    section: str
    columns: Sequence[Column]
    rows: Callable[[Any], Iterable[Sequence[Any]]]
    stem: Callable[[StatisticsFilter], str]
    sheet: str


def _by_year(stem: str) -> Callable[[StatisticsFilter], str]:
    return lambda form: f"{stem}-{form.chosen_year}"


def _turnaround_name(form: StatisticsFilter) -> str:
    first, last = form.period()
    return f"claim-turnaround-{first:%Y%m%d}-{last:%Y%m%d}"


DOWNLOADS = {
    "tiers": Download(
        "tiers",
        district_reports.TIER_COLUMNS,
        district_reports.tier_rows,
        lambda form: f"tiers-{business_date():%Y%m%d}",
        "等级分布",
    ),
    "points": Download(
        "points",
        district_reports.POINTS_COLUMNS,
        district_reports.points_rows,
        _by_year("points"),
        "每月积分",
    ),
    "points-kinds": Download(
        "points",
        district_reports.POINTS_KINDS_COLUMNS,
        district_reports.points_kind_rows,
        _by_year("points-by-kind"),
        "每月积分（按类型）",
    ),
    "turnaround": Download(
        "turnaround",
        district_reports.TURNAROUND_COLUMNS,
        district_reports.turnaround_rows,
        _turnaround_name,
        "认定时效",
    ),
    "card-use-months": Download(
        "card-use",
        district_reports.CARD_USE_COLUMNS["district"],
        lambda figures: district_reports.card_use_rows(figures.year, [figures.district]),
        _by_year("card-use-district"),
        "刷卡消费（全区）",
    ),
    "card-use-communities": Download(
        "card-use",
        district_reports.CARD_USE_COLUMNS["community"],
        lambda figures: district_reports.card_use_rows(figures.year, figures.communities),
        _by_year("card-use-communities"),
        "刷卡消费（社区）",
    ),
    "card-use-merchants": Download(
        "card-use",
        district_reports.CARD_USE_COLUMNS["merchant"],
        lambda figures: district_reports.card_use_rows(figures.year, figures.merchants),
        _by_year("card-use-merchants"),
        "刷卡消费（商家）",
    ),
}


@bp.get("/statistics/<table>.csv")
@admin_only
def statistics_csv(table: str) -> Response:
    """One statistics table as a CSV that opens in Excel and WPS (UTF-8 BOM, CRLF, codes as
    ="…" text, yuan with 2 decimals)."""
    return _statistics_file(table, "csv")


@bp.get("/statistics/<table>.xlsx")
@admin_only
def statistics_xlsx(table: str) -> Response:
    """One statistics table as an Excel workbook (codes as text, yuan as numbers with 2
    decimals, the header row frozen)."""
    return _statistics_file(table, "xlsx")


def _statistics_file(table: str, fmt: str) -> Response:
    """The table's download in ``fmt``: the same filter, refusals and rows in either format."""
    download = DOWNLOADS.get(table)
    if download is None:
        abort(404)
    form = _filter(download.section)
    if form.errors:
        raise BadRequest(_("筛选条件有误：%(errors)s", errors=_first_error(form)))
    figures = _figures(download.section, form)
    return spreadsheets.download(
        fmt, download.columns, download.rows(figures), download.stem(form), download.sheet
    )


def _first_error(form: FlaskForm) -> str:
    return next(iter(message for messages in form.errors.values() for message in messages), "")
