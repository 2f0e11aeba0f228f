"""The shop's staff (店员): its accounts; the manager adds, disables and re-enables cashiers."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from merchant_portal import bp
from merchant_portal.forms import CashierForm
from merchant_portal.shared import back_office, own_merchant_id
from rewards.auth import current_actor
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.forms_once import consume_once
from rewards.models import Role
from rewards.services import accounts, merchant_reports


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
                merchant_id=own_merchant_id(),
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
    people = merchant_reports.staff_of_merchant(db.session, current_actor(), own_merchant_id())
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
