"""The member's account (我的): sign-in name, changing the password, and my data (个人信息,
PIPL): everything held about me, as a readable page and as a JSON download."""

from __future__ import annotations

import json
import re

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from member_portal import bp
from rewards.auth import current_actor, record_failed_sign_in, requires_role, sign_in_wait
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.models import CLAIM_STATUS_LABELS, Role
from rewards.services import accounts
from rewards.services.member_data import export
from rewards.services.members import member_in_reach
from rewards.web import no_store, put_errors

member_only = requires_role(Role.MEMBER)


class PasswordForm(FlaskForm):
    """Change one's password (修改密码): the current one, then the new one twice."""

    current_password = PasswordField(
        _l("当前密码"), validators=[DataRequired(_l("请输入当前密码。")), Length(max=200)]
    )
    new_password = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(_l("请输入新密码。")),
            Length(
                min=accounts.MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("新密码至少 %(n)s 位。", n=accounts.MIN_PASSWORD_LENGTH),
            ),
        ],
        description=_l("至少 %(n)s 位，请勿与他人共用", n=accounts.MIN_PASSWORD_LENGTH),
    )
    new_password_again = PasswordField(
        _l("再次输入新密码"),
        validators=[
            DataRequired(_l("请再次输入新密码。")),
            EqualTo("new_password", _l("两次输入的新密码不一致。")),
        ],
    )

    def validate_new_password(self, field: Field) -> None:
        if field.data and field.data == self.current_password.data:
            raise ValidationError(_("新密码不能与当前密码相同。"))


@bp.get("/account")
@member_only
def account() -> str:
    """My account: who I am, my sign-in name, and the links to the password and my data."""
    member = member_in_reach(db.session, current_actor(), current_user.member_id)
    return render_template("member/account/account.html", member=member)


def _password_page(form: PasswordForm, status: int = 200) -> tuple[str, int]:
    return render_template("member/account/password.html", form=form), status


def _refuse(field: Field, message: str) -> None:
    field.errors = [*field.errors, message]


@bp.route("/account/password", methods=["GET", "POST"])
@member_only
def password() -> Response | tuple[str, int]:
    """Change my password; the current one is checked first (wrong guesses count as failed
    sign-ins, so a borrowed phone cannot try passwords without limit)."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return _password_page(form, 422 if form.errors else 200)
    username = current_user.username
    wait = sign_in_wait(db.session, username)
    if wait:  # refused unchecked, like a sign-in during its wait
        _refuse(form.current_password, accounts.AttemptsDelayed(wait, "密码输错次数过多").message)
        return _password_page(form, 429)
    if accounts.authenticate(db.session, username, form.current_password.data or "") is None:
        record_failed_sign_in(db.session, username)
        db.session.commit()
        _refuse(form.current_password, _("当前密码不正确。"))
        return _password_page(form, 422)
    try:
        accounts.change_password(
            db.session, current_actor(), current_user.id, form.new_password.data or ""
        )
    except DomainError as error:
        db.session.rollback()
        put_errors(form, error, fallback="new_password")
        return _password_page(form, 422)
    db.session.commit()
    flash(_("密码已修改，下次登录请使用新密码。"), "success")
    return redirect(url_for("member.account"))


@bp.get("/account/my-data")
@member_only
def my_data() -> Response:
    """Everything held about me, section by section (the export is audited)."""
    data = export(db.session, current_actor())
    db.session.commit()
    page = render_template(
        "member/account/my_data.html", data=data, claim_statuses=CLAIM_STATUS_LABELS
    )
    return no_store(Response(page))


def _download_name(member_no: str) -> str:
    # Member numbers are letters and digits; anything else must not reach the header.
    return f"my-data-{re.sub(r'[^A-Za-z0-9_-]', '', member_no)}.json"


@bp.get("/account/my-data.json")
@member_only
def my_data_json() -> Response:
    """Everything held about me as a JSON file (PIPL: a copy in a common format)."""
    data = export(db.session, current_actor())
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2)
    response = Response(body, content_type="application/json; charset=utf-8")
    name = _download_name(data["member"]["member_no"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)
