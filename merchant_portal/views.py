"""Merchant portal pages: the cashier's counter (收银台) and the manager's back office."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from merchant_portal import bp
from merchant_portal.forms import (
    ApiKeyForm,
    CashierForm,
    CheckoutForm,
    ConfirmForm,
    DateRangeForm,
    VoidForm,
)
from rewards.auth import card_tokens, current_actor, requires_role
from rewards.clock import business_date
from rewards.errors import AmountInvalid, DomainError, TokenInvalid, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import consume_once, take_secret
from rewards.models import Role
from rewards.services import (
    accounts,
    agreements,
    checkout,
    merchant_reports,
    merchants,
    redemptions,
)

counter = requires_role(Role.CASHIER, Role.MERCHANT_MANAGER)
back_office = requires_role(Role.MERCHANT_MANAGER)

PAGE_SIZE = 20


@dataclass(frozen=True)
class Refusal:
    """Why the counter cannot give the discount, in a cashier's words, and what to do next."""

    title: str
    next_step: str
    # The service's own message adds facts worth showing (e.g. the minimum spend); where it
    # would only repeat the title, it is left out.
    show_detail: bool = False


REFUSALS: dict[str, Refusal] = {
    "token_invalid": Refusal(
        _l("无法识别此卡码"),
        _l("请重新扫描会员的手机卡码；手工输入时请核对实体卡上的 12 位卡号。"),
        show_detail=True,
    ),
    "token_expired": Refusal(
        _l("手机卡码已过期"),
        _l("请会员刷新手机卡码后重新扫描。"),
    ),
    "token_used": Refusal(
        _l("此手机卡码已经用过"),
        _l("请会员刷新手机卡码（生成新码）后重新扫描。"),
    ),
    "card_suspended": Refusal(
        _l("此卡已被社区暂停使用"),
        _l("本次请按原价收款；请会员联系所在社区了解原因。"),
    ),
    "card_revoked": Refusal(
        _l("此卡已作废"),
        _l("本次请按原价收款；如会员已补办新卡，请出示新卡或手机卡码。"),
        show_detail=True,
    ),
    "tier_none": Refusal(
        _l("持卡人暂未达到银卡标准"),
        _l("本次请按原价收款；会员可在手机上查看自己的积分进度。"),
    ),
    "no_agreement": Refusal(
        _l("本店与持卡人所在社区没有有效协议"),
        _l("本次请按原价收款；店长可在「合作协议」页查看本店协议覆盖的社区。"),
    ),
    "below_minimum_spend": Refusal(
        _l("未达到最低消费"),
        _l("请核对金额；未满最低消费时本次按原价收款。"),
        show_detail=True,
    ),
    "amount_invalid": Refusal(
        _l("金额不正确"),
        _l("请重新输入以元为单位的金额，例如 128.50。"),
        show_detail=True,
    ),
    "conflict": Refusal(
        _l("这笔结算与已记录的结算冲突"),
        _l("请重新扫描会员卡码，重新计算后再确认。"),
        show_detail=True,
    ),
    "invalid": Refusal(
        _l("页面已过期"),
        _l("请重新扫描会员卡码，重新计算后再确认。"),
    ),
    "forbidden": Refusal(
        _l("本店暂不能结算"),
        _l("请联系店长或区管理员。"),
        show_detail=True,
    ),
}
UNKNOWN_REFUSAL = Refusal(_l("无法完成结算"), _l("请重新扫描会员卡码后再试。"), show_detail=True)


# -- shared ---------------------------------------------------------------------------------


def _merchant_id() -> int:
    return int(current_user.merchant_id)


@bp.context_processor
def _merchant_context() -> dict[str, object]:
    if not current_user.is_authenticated or current_user.merchant_id is None:
        return {}
    merchant = merchant_reports.merchant_of(db.session, current_actor())
    return {"merchant": merchant, "is_manager": current_user.role is Role.MERCHANT_MANAGER}


# The reports reach back to this year and forward to next year; anything else is refused.
FIRST_REPORT_YEAR = 2000


def _report_years(today: date) -> tuple[int, int]:
    return FIRST_REPORT_YEAR, today.year + 1


def _parse_month(text: str | None, today: date) -> tuple[date, str | None]:
    """The month asked for (``YYYY-MM``), or this month and why the one asked for is refused."""
    if not text:
        return today.replace(day=1), None
    first, last = _report_years(today)
    year_text, _dash, month_text = text.partition("-")
    if (
        year_text.isascii()
        and year_text.isdigit()
        and month_text.isascii()
        and month_text.isdigit()
    ):
        year, month = int(year_text), int(month_text)
        if not first <= year <= last:
            return today.replace(day=1), _(
                "%(year)s 年超出范围：报表可查 %(first)s 至 %(last)s 年。下面是本月。",
                year=year,
                first=first,
                last=last,
            )
        if 1 <= month <= 12:
            return date(year, month, 1), None
    return today.replace(day=1), _("月份格式不对（应为 年-月，如 2026-03）。下面是本月。")


def _parse_year(text: str | None, today: date) -> tuple[int, str | None]:
    """The year asked for, or this year and why the one asked for is refused."""
    if not text:
        return today.year, None
    first, last = _report_years(today)
    if not (text.isascii() and text.isdigit()):
        return today.year, _("年份格式不对（应为四位数字，如 2026）。下面是今年。")
    if not first <= int(text) <= last:
        return today.year, _(
            "%(year)s 年超出范围：报表可查 %(first)s 至 %(last)s 年。下面是今年。",
            year=int(text),
            first=first,
            last=last,
        )
    return int(text), None


# -- the counter ----------------------------------------------------------------------------


@bp.get("/")
@counter
def home() -> str:
    """A cashier's start (a big 开始结算 and today's own count); a manager's overview."""
    actor, today = current_actor(), business_date()
    if current_user.role is Role.CASHIER:
        count = merchant_reports.cashier_sales_count(
            db.session, actor, _merchant_id(), current_user.id, today
        )
        return render_template("merchant/cashier_home.html", today_count=count, today=today)
    first, last = merchant_reports.month_bounds(today)
    return render_template(
        "merchant/manager_home.html",
        today=today,
        today_summary=merchant_reports.period_summary(
            db.session, actor, _merchant_id(), today, today
        ),
        month_summary=merchant_reports.period_summary(
            db.session, actor, _merchant_id(), first, last
        ),
        recent=redemptions.list_redemptions(db.session, actor, today, today, 1, 5),
    )


def _render_checkout(
    form: CheckoutForm,
    status: int = 200,
    quote: checkout.Quote | None = None,
    error: DomainError | None = None,
    focus: str = "code",
    hint: str | None = None,
) -> tuple[str, int]:
    confirm_form = None
    if quote is not None:
        confirm_form = ConfirmForm(
            formdata=None,
            code=form.code.data,
            amount=form.amount.data,
            # Minted with the preview: pressing confirm twice, or resubmitting, records one sale.
            idempotency_key=secrets.token_urlsafe(18),
        )
        focus = "confirm"
    refusal = None
    if error is not None:
        refusal = REFUSALS.get(error.code, UNKNOWN_REFUSAL)
    today_count = None
    if current_user.role is Role.CASHIER:
        today_count = merchant_reports.cashier_sales_count(
            db.session, current_actor(), _merchant_id(), current_user.id, business_date()
        )
    page = render_template(
        "merchant/checkout.html",
        form=form,
        quote=quote,
        confirm_form=confirm_form,
        error=error,
        refusal=refusal,
        focus=focus,
        hint=hint,
        today_count=today_count,
    )
    return page, status


@bp.route("/checkout", methods=["GET", "POST"])
@counter
def checkout_page() -> tuple[str, int]:
    """Scan or type the card, type the bill, see the discount (no side effects)."""
    form = CheckoutForm()
    if request.method == "GET":
        return _render_checkout(form)
    code, amount = (form.code.data or "").strip(), (form.amount.data or "").strip()
    form.code.data, form.amount.data = code, amount
    if not form.validate():
        too_long = (
            TokenInvalid(_("卡码太长，请重新扫描。")) if form.code.errors else AmountInvalid()
        )
        return _render_checkout(form, 422, error=too_long)
    if not code:
        return _render_checkout(form, hint=_("请扫描会员的手机卡码或实体卡，或输入 12 位卡号。"))
    if not amount:
        # A scanner that types and presses Enter lands here when JavaScript is off.
        return _render_checkout(form, focus="amount", hint=_("请输入消费金额。"))
    try:
        quote = checkout.preview(db.session, current_actor(), card_tokens(), code, amount)
    except DomainError as error:
        db.session.rollback()
        focus = "amount" if error.code == "amount_invalid" else "code"
        return _render_checkout(form, 422, error=error, focus=focus)
    return _render_checkout(form, quote=quote)


@bp.post("/checkout/confirm")
@counter
def checkout_confirm() -> Response | tuple[str, int]:
    """Record the previewed sale once, then show its receipt."""
    form = ConfirmForm()
    code, amount = (form.code.data or "").strip(), (form.amount.data or "").strip()
    if not form.validate():
        retry = CheckoutForm(formdata=None, code=code, amount=amount)
        return _render_checkout(retry, 422, error=ValidationFailed())
    try:
        redemption, created = checkout.confirm(
            db.session,
            current_actor(),
            card_tokens(),
            code,
            amount,
            form.idempotency_key.data,
        )
    except DomainError as error:
        db.session.rollback()
        retry = CheckoutForm(formdata=None, code=code, amount=amount)
        focus = "amount" if error.code == "amount_invalid" else "code"
        return _render_checkout(retry, 422, error=error, focus=focus)
    db.session.commit()
    if created:
        flash(_("结算成功，已记录。"), "success")
    else:
        flash(_("这笔结算已经记录过，没有重复记账。"), "info")
    return redirect(url_for(".receipt", redemption_id=redemption.id, next_customer=1))


@bp.get("/redemptions/<int:redemption_id>")
@counter
def receipt(redemption_id: int) -> str:
    """The receipt (小票) of one sale of this shop: printable on a narrow receipt printer."""
    return _receipt_page(redemption_id, VoidForm(formdata=None))


def _receipt_page(redemption_id: int, void_form: VoidForm) -> str:
    found = redemptions.get_receipt(db.session, current_actor(), redemption_id)
    return render_template(
        "merchant/receipt.html",
        receipt=found,
        sale=found.sale,
        today=business_date(),
        void_form=void_form,
        next_customer=request.args.get("next_customer") == "1",
        scan_form=CheckoutForm(formdata=None),
    )


@bp.get("/my-sales")
@counter
def own_sales() -> str:
    """The sales this cashier recorded today and yesterday, each with its receipt to reprint."""
    days = redemptions.own_recent_sales(db.session, current_actor(), business_date())
    return render_template("merchant/own_sales.html", days=days)


# -- the back office ------------------------------------------------------------------------


@bp.post("/redemptions/<int:redemption_id>/void")
@back_office
def void(redemption_id: int) -> Response | tuple[str, int]:
    """Void a sale of today with a reason (撤销); without one, the receipt again with the
    message under the reason field (422), nothing voided."""
    form = VoidForm()
    if not form.validate():
        return _receipt_page(redemption_id, form), 422
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
        db.session, current_actor(), _merchant_id(), first, last
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
    from rewards import spreadsheets  # here, not at the top: the downloads' one import

    form, first, last = _date_range()
    if form.errors:
        raise BadRequest(_("日期格式不正确，请用日期选择框选择。"))
    actor = current_actor()
    rows = merchant_reports.export_rows(db.session, actor, _merchant_id(), first, last)
    merchant = merchant_reports.merchant_of(db.session, actor)
    stem = f"redemptions-{merchant.code}-{first:%Y%m%d}-{last:%Y%m%d}"
    return spreadsheets.download(fmt, merchant_reports.EXPORT_COLUMNS, rows, stem, "结算记录")


@bp.get("/reports/daily")
@back_office
def daily_report() -> str | tuple[str, int]:
    """Sales per day of a month (日报), with a bar chart; a month out of range is refused (400)
    with the reason, over this month's figures."""
    today = business_date()
    month, refused = _parse_month(request.args.get("month"), today)
    first, last = merchant_reports.month_bounds(month)
    days = merchant_reports.daily_summary(db.session, current_actor(), _merchant_id(), month)
    total = merchant_reports.period_summary(
        db.session, current_actor(), _merchant_id(), first, last
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
    months = merchant_reports.monthly_summary(db.session, current_actor(), _merchant_id(), year)
    total = merchant_reports.period_summary(
        db.session, current_actor(), _merchant_id(), date(year, 1, 1), date(year, 12, 31)
    )
    page = render_template(
        "merchant/report.html",
        kind="monthly",
        rows=months,
        total=total,
        year=year,
        today=today,
        refused=refused,
    )
    return (page, 400) if refused else page


@bp.route("/staff", methods=["GET", "POST"])
@back_office
def staff() -> str | Response | tuple[str, int]:
    """The shop's accounts; add a cashier (添加收银员)."""
    form = CashierForm()
    status = 200
    if form.validate_on_submit():
        once = consume_once(db.session, form, "merchant.cashier")
        if once.repeat is not None:
            return once.repeat
        try:
            account = accounts.create_account(
                db.session,
                current_actor(),
                username=form.username.data,
                password=form.password.data,
                role=Role.CASHIER,
                display_name=form.display_name.data,
                merchant_id=_merchant_id(),
            )
        except DomainError as error:
            db.session.rollback()
            form.username.errors = [*form.username.errors, error.message]
            status = 422
        else:
            once.finish(url_for(".staff"))
            db.session.commit()
            flash(
                _(
                    "已添加收银员 %(name)s，请把用户名和初始密码交给本人。",
                    name=account.display_name,
                ),
                "success",
            )
            return redirect(once.result_url, code=303)
    elif request.method == "POST":
        status = 422
    people = merchant_reports.staff_of_merchant(db.session, current_actor(), _merchant_id())
    return render_template("merchant/staff.html", form=form, people=people), status


@bp.post("/staff/<int:account_id>/<any(enable, disable):action>")
@back_office
def staff_enable(account_id: int, action: str) -> Response:
    """Disable or re-enable a cashier account."""
    accounts.set_enabled(db.session, current_actor(), account_id, action == "enable")
    db.session.commit()
    flash(
        _("已启用该账号。") if action == "enable" else _("已停用该账号，它不能再登录。"), "success"
    )
    return redirect(url_for(".staff"))


@bp.route("/keys", methods=["GET", "POST"])
@back_office
def api_keys() -> str | tuple[str, int] | Response:
    """The shop's POS API keys; create one (shown once, on the result page)."""
    form = ApiKeyForm()
    status = 200
    if form.validate_on_submit():
        once = consume_once(db.session, form, "merchant.api_key")
        if once.repeat is not None:
            return once.repeat
        api_key, secret = merchants.create_api_key(
            db.session, current_actor(), _merchant_id(), form.label.data
        )
        # PRG: the key is shown once, by the page this redirects to (a refresh creates nothing).
        once.finish(url_for(".key_created", key_id=api_key.id, shown=once.token.id), secret=secret)
        db.session.commit()
        return redirect(once.result_url, code=303)
    if request.method == "POST":
        status = 422
    keys = merchant_reports.api_keys_of_merchant(db.session, current_actor(), _merchant_id())
    return render_template("merchant/keys.html", form=form, keys=keys), status


@bp.get("/keys/<int:key_id>/created")
@back_office
def key_created(key_id: int) -> Response:
    """The new key, shown once: a refresh (or the history) shows that it was shown already."""
    keys = merchant_reports.api_keys_of_merchant(db.session, current_actor(), _merchant_id())
    api_key = next((key for key in keys if key.id == key_id), None)
    if api_key is None:
        abort(404)
    secret = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    page = render_template("merchant/key_created.html", api_key=api_key, secret=secret)
    # The key exists only in this response: keep it out of caches and the history.
    return Response(page, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@bp.post("/keys/<int:key_id>/revoke")
@back_office
def revoke_key(key_id: int) -> Response:
    """Revoke a POS key at once."""
    merchants.revoke_api_key(db.session, current_actor(), key_id)
    db.session.commit()
    flash(_("已吊销该密钥，使用它的收银系统将无法再结算。"), "success")
    return redirect(url_for(".api_keys"))


@bp.get("/agreements")
@back_office
def agreement_list() -> str:
    """The shop's development agreements (发展协议) with each version's terms."""
    today = business_date()
    found = [
        (agreement, agreements.version_in_force(db.session, agreement.id, today))
        for agreement in agreements.agreements_of_merchant(db.session, _merchant_id())
    ]
    return render_template("merchant/agreements.html", agreements=found, today=today)
