"""The manager's sales (结算记录): the list by dates, voids of the day, the exports."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from merchant_portal import bp
from merchant_portal.counter import receipt_page
from merchant_portal.forms import DateRangeForm, VoidForm
from merchant_portal.shared import PAGE_SIZE, back_office, own_merchant_id
from rewards import spreadsheets
from rewards.auth import current_actor
from rewards.clock import business_date
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.services import checkout, merchant_reports, redemptions


@bp.post("/redemptions/<int:redemption_id>/void")
@back_office
def void(redemption_id: int) -> Response | tuple[str, int]:
    """Void a sale of today with a reason (撤销); without one, the receipt again with the
    message under the reason field (422), nothing voided."""
    form = VoidForm()
    if not form.validate():
        return receipt_page(redemption_id, form), 422
    try:
        checkout.void(db.session, current_actor(), redemption_id, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        if error.code == "not_found":
            abort(404)
        flash(error.message, "error")
        return redirect(url_for(".receipt", redemption_id=redemption_id))
    db.session.commit()
    flash(_("已撤销这笔结算。"), "success")
    return redirect(url_for(".receipt", redemption_id=redemption_id))


def _date_range(default_days: int = 0) -> tuple[DateRangeForm, date, date]:
    form = DateRangeForm(request.args)
    form.validate()
    today = business_date()
    default_start = today - timedelta(days=default_days) if default_days else today.replace(day=1)
    first, last = form.dates_or(default_start, today)
    return form, first, last


@bp.get("/redemptions")
@back_office
def redemption_list() -> str:
    """The shop's sales between two dates, newest first, a page at a time."""
    form, first, last = _date_range()
    page_number = request.args.get("page", 1, type=int) or 1
    page = redemptions.list_redemptions(
        db.session, current_actor(), first, last, max(page_number, 1), PAGE_SIZE
    )
    summary = merchant_reports.period_summary(
        db.session, current_actor(), own_merchant_id(), first, last
    )
    pages = max(1, -(-page.total // page.page_size))
    return render_template(
        "merchant/redemptions.html",
        form=form,
        first=first,
        last=last,
        page=page,
        pages=pages,
        summary=summary,
    )


@bp.get("/redemptions/export.csv")
@back_office
def redemption_export() -> Response:
    """The shop's sales between two dates as a CSV that opens in Excel and WPS (UTF-8 BOM, CRLF,
    结算单号 and card tails as ="…" text, yuan as plain numbers)."""
    return _redemption_file("csv")


@bp.get("/redemptions/export.xlsx")
@back_office
def redemption_export_xlsx() -> Response:
    """The same sales as an Excel workbook (结算单号 as text, yuan as numbers, header frozen)."""
    return _redemption_file("xlsx")


def _redemption_file(fmt: str) -> Response:
    """The sales export in ``fmt``: the same dates, refusals and rows in either format."""
    form, first, last = _date_range()
    if form.errors:
        raise BadRequest(_("日期格式不正确，请用日期选择框选择。"))
    actor = current_actor()
    rows = merchant_reports.export_rows(db.session, actor, own_merchant_id(), first, last)
    merchant = merchant_reports.merchant_of(db.session, actor)
    stem = f"redemptions-{merchant.code}-{first:%Y%m%d}-{last:%Y%m%d}"
    return spreadsheets.download(fmt, merchant_reports.EXPORT_COLUMNS, rows, stem, "结算记录")
