"""Sign-in and sign-out, roles, the ``requires_role`` decorator and the current actor."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from rewards.errors import DomainError, TooManyAttempts, ValidationFailed
from rewards.extensions import db, login_manager
from rewards.models import Account, Role
from rewards.services import accounts, activation, merchants
from rewards.services.audit import Actor, record
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

# Sign-in throttling (docs/security.md): per username and client address, growing delays after
# a few failures; per username, a ceiling that slows unfamiliar addresses but never refuses an
# address without failures of its own. The rule lives in services/accounts.py, which the token
# endpoint and the district's accounts list read too. The client address is
# ``request.remote_addr``: behind a reverse proxy, configure ProxyFix (docs/security.md), never
# trust X-Forwarded-For as it comes.
FAILED_SIGN_IN_ACTION = accounts.SIGN_IN_FAILED


class SignInForm(FlaskForm):
    """The sign-in form (登录): username and password."""

    username = StringField(
        _l("用户名"), validators=[DataRequired(_l("请输入用户名。")), Length(max=40)]
    )
    password = PasswordField(
        _l("密码"), validators=[DataRequired(_l("请输入密码。")), Length(max=200)]
    )


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    """The session's account, reloaded on every request; a disabled account drops out at once."""
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
    """The home page of the account's portal."""
    return url_for(HOME_ENDPOINTS[account.role])


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: never redirect a sign-in elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers drop tabs and newlines and read "\" as "/", turning "/\t/evil" into "//evil".
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def request_address() -> str:
    """The client address attempts are counted under: ``request.remote_addr`` (ProxyFix, when
    configured, sets it from the proxy's header)."""
    return accounts.client_address(request.remote_addr)


def sign_in_wait(session: Session, username: str, now: datetime | None = None) -> timedelta:
    """How long a sign-in for ``username`` from this request's address must still wait."""
    return accounts.sign_in_wait(session, username, request_address(), now)


def sign_in_throttled(session: Session, username: str, now: datetime | None = None) -> bool:
    """True when a sign-in for ``username`` from this request's address must wait."""
    return sign_in_wait(session, username, now) > timedelta(0)


def record_failed_sign_in(session: Session, username: str) -> None:
    """Count a failed sign-in against ``username`` from this request's address (the page and
    the API count together)."""
    accounts.record_sign_in_failure(session, username, request_address())


def delayed_headers(error: accounts.AttemptsDelayed) -> dict[str, str]:
    """The ``Retry-After`` header of a refusal during a wait."""
    return {"Retry-After": str(error.retry_after)}


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.sign_in"))


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = SignInForm()
    if form.validate_on_submit():
        username = form.username.data or ""
        wait = sign_in_wait(db.session, username)
        if wait:  # refused before the password is looked at; not another failure
            delayed = accounts.AttemptsDelayed(wait)
            flash(delayed.message, "error")
            page = render_template("auth/sign_in.html", form=form)
            return page, 429, delayed_headers(delayed)
        account = accounts.authenticate(db.session, username, form.password.data or "")
        if account is None:
            record_failed_sign_in(db.session, username)
            db.session.commit()
            flash(_("用户名或密码不正确。账号如已停用，请联系社区或店长。"), "error")
        elif (refusal := merchants.staff_refusal(db.session, account)) is not None:
            db.session.rollback()  # the district suspended the shop: no sign-in, say why
            flash(refusal, "error")
            return render_template("auth/sign_in.html", form=form), 403
        else:
            actor = Actor.for_account(account)
            record(
                db.session, actor, "account.sign_in", "account", account.id, ip=request_address()
            )
            db.session.commit()
            login_user(account)
            return redirect(safe_next(request.args.get("next")) or home_url(account))
    return render_template("auth/sign_in.html", form=form)


@bp.post("/logout")
def sign_out() -> Response:
    if current_user.is_authenticated:
        logout_user()
        flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.sign_in"))


def _csrf_refused(error: CSRFError) -> Response | tuple[Response | str, int]:
    """A form without a valid CSRF token: explain in Chinese (the API keeps its JSON body)."""
    from rewards.web import API_PREFIX, handle_http_error

    if request.path.startswith(API_PREFIX):
        return handle_http_error(error)
    message = _("页面已过期或无法确认请求来自本站，请返回刷新页面后重新提交。")
    return render_template("errors/error.html", message=message, code=400), 400


def init_app(app: Flask) -> None:
    """Bind Flask-Login and the sign-in pages to ``app``."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_blueprint(bp)
    # Sign-in throttling counts per client address: behind reverse proxies, say how many, so
    # that ``request.remote_addr`` is the client's (X-Forwarded-For is never trusted otherwise).
    proxies = int(
        app.config.get("REWARDS_TRUSTED_PROXIES") or os.environ.get("REWARDS_TRUSTED_PROXIES") or 0
    )
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


# -- first sign-in with an activation code (首次登录 · 激活码) -----------------------------------


class ActivationForm(FlaskForm):
    """A member's first sign-in: member number, the printed activation code, a new password."""

    member_no = StringField(
        _l("党员编号"), validators=[DataRequired(_l("请输入党员编号。")), Length(max=20)]
    )
    code = StringField(
        _l("激活码"), validators=[DataRequired(_l("请输入激活码。")), Length(max=40)]
    )
    password = PasswordField(
        _l("设置密码"),
        validators=[
            DataRequired(_l("请设置密码。")),
            Length(
                min=accounts.MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("密码至少 %(n)s 位。", n=accounts.MIN_PASSWORD_LENGTH),
            ),
        ],
        description=_l("至少 %(n)s 位，请勿与他人共用", n=accounts.MIN_PASSWORD_LENGTH),
    )
    password_again = PasswordField(
        _l("再次输入密码"),
        validators=[
            DataRequired(_l("请再次输入密码。")),
            EqualTo("password", _l("两次输入的密码不一致。")),
        ],
    )


@bp.route("/activate", methods=["GET", "POST"])
def activate() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """A member sets their password with the activation code from the community, and is in."""
    form = ActivationForm()
    if not form.validate_on_submit():
        return render_template("auth/activate.html", form=form), 422 if form.errors else 200
    member_no = form.member_no.data or ""
    try:
        account = activation.activate(
            db.session,
            member_no,
            form.code.data or "",
            form.password.data or "",
            address=request_address(),
        )
    except TooManyAttempts as error:
        db.session.rollback()
        flash(error.message, "error")
        headers = delayed_headers(error) if isinstance(error, accounts.AttemptsDelayed) else {}
        return render_template("auth/activate.html", form=form), 429, headers
    except activation.ActivationRefused as error:
        db.session.rollback()
        activation.record_failure(db.session, member_no, address=request_address())
        db.session.commit()
        form.code.errors.append(error.message)
        return render_template("auth/activate.html", form=form), 422
    except ValidationFailed as error:  # the password rules
        db.session.rollback()
        form.password.errors.append(error.message)
        return render_template("auth/activate.html", form=form), 422
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("auth/activate.html", form=form), error.status
    db.session.commit()
    login_user(account)
    flash(
        _(
            "账号已开通，欢迎！以后请用登录名 %(username)s 和刚设置的密码登录。",
            username=account.username,
        ),
        "success",
    )
    return redirect(home_url(account))


# -- a one-time password is replaced at the first sign-in (首次登录修改密码) -------------------


class NewPasswordForm(FlaskForm):
    """Replace a one-time password handed out by the district with one's own."""

    password = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(_l("请设置新密码。")),
            Length(
                min=accounts.MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("密码至少 %(n)s 位。", n=accounts.MIN_PASSWORD_LENGTH),
            ),
        ],
        description=_l("至少 %(n)s 位，请勿与他人共用", n=accounts.MIN_PASSWORD_LENGTH),
    )
    password_again = PasswordField(
        _l("再次输入新密码"),
        validators=[
            DataRequired(_l("请再次输入新密码。")),
            EqualTo("password", _l("两次输入的密码不一致。")),
        ],
    )


# What a signed-in account with a one-time password may still reach before replacing it.
_OPEN_WHILE_CHANGING = {"auth.new_password", "auth.sign_out", "static"}


@bp.before_app_request
def _one_time_password_first() -> Response | None:
    """Until a one-time password is replaced, every page leads to the new-password page."""
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_WHILE_CHANGING or endpoint.endswith(".static"):
        return None
    if request.path.startswith("/api/"):
        return None  # the API signs in with tokens, not sessions
    return redirect(url_for("auth.new_password"))


@bp.route("/password/new", methods=["GET", "POST"])
@login_required
def new_password() -> Response | str | tuple[str, int]:
    """Set one's own password in place of the one-time password (首次登录请修改密码)."""
    form = NewPasswordForm()
    if not form.validate_on_submit():
        page = render_template("auth/new_password.html", form=form)
        return page, 422 if form.errors else 200
    try:
        accounts.change_password(
            db.session, current_actor(), current_user.id, form.password.data or ""
        )
    except ValidationFailed as error:
        db.session.rollback()
        form.password.errors.append(error.message)
        return render_template("auth/new_password.html", form=form), 422
    db.session.commit()
    flash(_("密码已设置，以后请用新密码登录。"), "success")
    return redirect(home_url(current_user))


# -- staff of a suspended merchant are stopped at once (暂停联盟资格) --------------------------


@bp.before_app_request
def _suspended_merchant_staff_out() -> Response | None:
    """A signed-in cashier or manager of a merchant the district has suspended is signed out
    on their next page, and told why."""
    if not current_user.is_authenticated or current_user.merchant_id is None:
        return None
    if (request.endpoint or "").endswith("static") or request.path.startswith("/api/"):
        return None
    refusal = merchants.staff_refusal(db.session, current_user._get_current_object())
    if refusal is None:
        return None
    logout_user()
    flash(refusal, "error")
    return redirect(url_for("auth.sign_in"))
