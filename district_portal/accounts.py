"""The district's accounts office (账号管理): every sign-in account by role, community and merchant,
searched by username or name; open a secretary's or another administrator's account with a
one-time password (一次性密码); reset a password; disable and enable; clear the failed
sign-ins slowing a username (解除登录限制).

A one-time password is shown once, as a slip to print and hand over (never in a URL, never
cached); only its hash is kept. A new account's slip is the page its POST redirects to
(POST-redirect-GET): the password is sealed server-side until that first view, and a refresh
shows that it was shown and creates nothing. The district administrator
may open another district administrator's account: the district office has several people, and
one who leaves is replaced without the operator CLI; an administrator cannot disable themselves,
so one enabled administrator always remains.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from community_portal.scope import community_choice
from district_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.clock import utcnow
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms_once import OnceForm, TokenOnlyForm, consume_once, take_secret
from rewards.models import ROLE_LABELS, Account, Merchant, Role
from rewards.services import accounts, audit_log
from rewards.services.accounts import ACCOUNT_STATES, ONE_TIME_PASSWORD_VALID, AccountRow
from rewards.web import no_store, page_arg, put_errors

PAGE_SIZE = 25
HISTORY_SIZE = 10

district_admin = requires_role(Role.DISTRICT_ADMIN)


# -- forms ------------------------------------------------------------------------------------


class AccountFilterForm(FlaskForm):
    """The list's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("用户名或姓名"), validators=[Optional(), Length(max=40)])
    role = StringField(validators=[Optional(), Length(max=24)])
    community = StringField(validators=[Optional(), Length(max=8)])
    merchant = StringField(validators=[Optional(), Length(max=8)])
    state = StringField(validators=[Optional(), Length(max=12)])


class NewAccountForm(OnceForm):
    """Open a secretary's (社区书记) or a district administrator's (区管理员) account."""

    role = RadioField(
        _l("角色"),
        choices=[
            SelectChoice(Role.SECRETARY.value, _l("社区书记（管理一个社区）")),
            SelectChoice(Role.DISTRICT_ADMIN.value, _l("区管理员（管理全区，慎重开通）")),
        ],
        default=Role.SECRETARY.value,
        validators=[DataRequired(_l("请选择角色。"))],
    )
    username = StringField(
        _l("登录名"),
        validators=[DataRequired(_l("请填写登录名。")), Length(max=40)],
        description=_l("3–40 位字母、数字、_ . -，例如 c22-secretary"),
    )
    display_name = StringField(
        _l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)]
    )
    community = SelectField(_l("所在社区"), validators=[Optional()], validate_choice=False)


# -- shared -----------------------------------------------------------------------------------


def _row(account_id: int) -> AccountRow:
    """The account, else 404."""
    try:
        return accounts.account_row(db.session, current_actor(), account_id)
    except NotFound:
        abort(404)


def _merchant_id(code: str, merchants: list[Merchant]) -> int | None:
    """The merchant a ``?merchant=M001`` filter names; an unknown code is a 404."""
    code = (code or "").strip().upper()
    if not code:
        return None
    found = next((m for m in merchants if m.code == code), None)
    if found is None:
        abort(404)
    return found.id


def _one_time_slip(account: Account, password: str | None, heading: str) -> Response:
    """The page that shows a one-time password, once: never cached, never in a URL."""
    row = accounts.account_row(db.session, current_actor(), account.id)
    return no_store(
        render_template(
            "district/accounts/one_time.html",
            row=row,
            password=password,
            heading=heading,
            valid_days=ONE_TIME_PASSWORD_VALID.days,
            sign_in_url=url_for("auth.sign_in", _external=True),
        )
    )


# -- the list ---------------------------------------------------------------------------------


@bp.get("/accounts")
@district_admin
def account_list() -> str:
    """Every account (账号), paged, by role, community, merchant and state, searched."""
    form = AccountFilterForm(request.args)
    form.validate()
    choice = community_choice(form.community.data)
    merchant_options = accounts.merchant_choices(db.session)
    merchant_id = _merchant_id(form.merchant.data or "", merchant_options)
    role = form.role.data if form.role.data in {r.value for r in Role} else ""
    state = form.state.data if form.state.data in ACCOUNT_STATES else ""
    page = accounts.search_accounts(
        db.session,
        current_actor(),
        form.q.data or "",
        role=Role(role) if role else None,
        community_id=choice.chosen_id,
        merchant_id=merchant_id,
        state=state,
        page=page_arg(),
        page_size=PAGE_SIZE,
    )
    args = {
        "q": (form.q.data or "").strip(),
        "role": role,
        "community": choice.code,
        "merchant": (form.merchant.data or "").strip().upper() if merchant_id else "",
        "state": state,
    }
    args = {key: value for key, value in args.items() if value}
    return render_template(
        "district/accounts/list.html",
        form=form,
        page=page,
        args=args,
        roles=ROLE_LABELS,
        states=ACCOUNT_STATES,
        communities=choice.communities,
        merchants=merchant_options,
    )


# -- opening an account -------------------------------------------------------------------------


@bp.route("/accounts/new", methods=["GET", "POST"])
@district_admin
def account_new() -> str | Response | tuple[str, int]:
    """Open a secretary's or an administrator's account; its one-time password is shown once."""
    form = NewAccountForm()
    choice = community_choice(None)
    form.community.choices = choice.options()
    if request.method == "GET":
        form.community.data = request.args.get("community", "").strip().upper()
    if not form.validate_on_submit():
        page = render_template("district/accounts/new.html", form=form)
        return page, 422 if form.errors else 200
    once = consume_once(db.session, form, "district.account")
    if once.repeat is not None:
        return once.repeat
    role = Role(form.role.data)
    code = (form.community.data or "").strip().upper()
    community_id = next((c.id for c in choice.communities if c.code == code), None)
    try:
        account, password = accounts.open_account(
            db.session,
            current_actor(),
            form.username.data or "",
            form.display_name.data or "",
            role,
            community_id=community_id,
        )
    except DomainError as error:
        db.session.rollback()
        put_errors(form, error)
        return render_template("district/accounts/new.html", form=form), 422
    assert once.token is not None
    once.finish(
        url_for(".account_opened", account_id=account.id, shown=once.token.id), secret=password
    )
    db.session.commit()
    return redirect(once.result_url, code=303)


@bp.get("/accounts/<int:account_id>/opened")
@district_admin
def account_opened(account_id: int) -> Response:
    """The new account's slip: its one-time password shows on the first view only."""
    row = _row(account_id)
    password = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    return _one_time_slip(row.account, password, _("账号已开通"))


# -- one account ----------------------------------------------------------------------------------


@bp.get("/accounts/<int:account_id>")
@district_admin
def account_detail(account_id: int) -> str:
    """One account: where it belongs, whether it can sign in now, what was done to it lately."""
    row = _row(account_id)
    history = audit_log.audit_log(
        db.session,
        current_actor(),
        audit_log.LogFilter(object_type="account", object_id=account_id),
        page_size=HISTORY_SIZE,
    )
    return render_template(
        "district/accounts/detail.html",
        row=row,
        history=history,
        is_me=row.account.id == current_actor().account_id,
        now=utcnow(),
    )


@bp.post("/accounts/<int:account_id>/reset")
@district_admin
def account_reset(account_id: int) -> Response | tuple[str, int]:
    """A new one-time password (重置密码), shown once; the old password stops working."""
    row = _row(account_id)
    form = TokenOnlyForm()
    if not form.validate_on_submit():  # an old or incomplete page: nothing reset, say so
        return redirect(url_for(".account_detail", account_id=row.account.id))
    once = consume_once(db.session, form, "district.account_reset")
    if once.repeat is not None:
        return once.repeat
    password = accounts.reset_password(db.session, current_actor(), row.account.id)
    assert once.token is not None
    once.finish(
        url_for(".account_password_reset", account_id=row.account.id, shown=once.token.id),
        secret=password,
    )
    db.session.commit()
    return redirect(once.result_url, code=303)


@bp.get("/accounts/<int:account_id>/password-reset")
@district_admin
def account_password_reset(account_id: int) -> Response:
    """The reset slip: the new one-time password shows on the first view only."""
    row = _row(account_id)
    password = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    return _one_time_slip(row.account, password, _("密码已重置"))


@bp.post("/accounts/<int:account_id>/<any(enable, disable):action>")
@district_admin
def account_enable(account_id: int, action: str) -> Response:
    """Disable (停用) or re-enable (启用) an account; a disabled one is out at its next page."""
    row = _row(account_id)
    accounts.set_enabled(db.session, current_actor(), row.account.id, action == "enable")
    db.session.commit()
    if action == "enable":
        flash(_("已启用 %(u)s，可以正常登录。", u=row.account.username), "success")
    else:
        flash(
            _("已停用 %(u)s：不能再登录，已登录的也会在下一次操作时退出。", u=row.account.username),
            "success",
        )
    return redirect(url_for(".account_detail", account_id=row.account.id))


@bp.post("/accounts/<int:account_id>/unlock")
@district_admin
def account_unlock(account_id: int) -> Response:
    """Clear the failed sign-ins slowing a username, from every address (解除登录限制)."""
    row = _row(account_id)
    accounts.unlock(db.session, current_actor(), row.account.id)
    db.session.commit()
    flash(_("已解除 %(u)s 的登录限制，任何地址现在即可登录。", u=row.account.username), "success")
    return redirect(url_for(".account_detail", account_id=row.account.id))
