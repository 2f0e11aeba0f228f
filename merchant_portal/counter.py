"""The counter (收银台): a cashier's start, the checkout (scan, bill, preview, confirm), the
receipt to print, and the cashier's own sales of today and yesterday."""

from __future__ import annotations

import secrets

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from merchant_portal import bp
from merchant_portal.forms import CheckoutForm, ConfirmForm, VoidForm
from merchant_portal.refusals import REFUSALS, UNKNOWN_REFUSAL
from merchant_portal.shared import counter, own_merchant_id
from rewards.auth import card_tokens, current_actor
from rewards.clock import business_date
from rewards.errors import AmountInvalid, DomainError, TokenInvalid, ValidationFailed
from rewards.extensions import db
from rewards.models import Role
from rewards.services import checkout, merchant_reports, redemptions


@bp.get("/")
@counter
def home() -> str:
    """A cashier's start (a big 开始结算 and today's own count); a manager's overview."""
    actor, today = current_actor(), business_date()
    if current_user.role is Role.CASHIER:
        count = merchant_reports.cashier_sales_count(
            db.session, actor, own_merchant_id(), current_user.id, today
        )
        return render_template("merchant/cashier_home.html", today_count=count, today=today)
    first, last = merchant_reports.month_bounds(today)
    return render_template(
        "merchant/manager_home.html",
        today=today,
        today_summary=merchant_reports.period_summary(
            db.session, actor, own_merchant_id(), today, today
        ),
        month_summary=merchant_reports.period_summary(
            db.session, actor, own_merchant_id(), first, last
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
            db.session, current_actor(), own_merchant_id(), current_user.id, business_date()
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
    return receipt_page(redemption_id, VoidForm(formdata=None))


def receipt_page(redemption_id: int, void_form: VoidForm) -> str:
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
