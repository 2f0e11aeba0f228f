"""Sign-in and sign-out, roles, the ``requires_role`` decorator and the current actor."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from rewards.extensions import db, login_manager
from rewards.models import Account, Role
from rewards.services import accounts
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

HOME_ENDPOINTS = {
    Role.MEMBER: "member.home",
    Role.SECRETARY: "community.home",
    Role.DISTRICT_ADMIN: "community.home",
    Role.CASHIER: "merchant.home",
    Role.MERCHANT_MANAGER: "merchant.home",
}


class SignInForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=40)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    account = db.session.get(Account, int(account_id)) if account_id.isdigit() else None
    return account if account is not None and account.is_enabled else None


def current_actor() -> Actor:
    """The signed-in account as an ``Actor`` for the domain services."""
    return Actor.for_account(current_user._get_current_object())


def card_tokens() -> CardTokens:
    """The app's token signer (keys and phone-token lifetime come from the config)."""
    return current_app.extensions["rewards.card_tokens"]


def requires_role(*roles: Role) -> Callable[[F], F]:
    """Allow the view only to signed-in accounts with one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def home_url(account: Account) -> str:
    return url_for(HOME_ENDPOINTS[account.role])


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect a sign-in to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.sign_in"))


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Response | str:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = SignInForm()
    if form.validate_on_submit():
        account = accounts.authenticate(db.session, form.username.data, form.password.data)
        if account is None:
            flash(_("用户名或密码不正确，或账号已停用。"), "error")
        else:
            db.session.commit()
            login_user(account)
            return redirect(_safe_next(request.args.get("next")) or home_url(account))
    return render_template("auth/sign_in.html", form=form)


@bp.post("/logout")
@login_required
def sign_out() -> Response:
    logout_user()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.sign_in"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
