"""The district's register of alliance merchants (联盟商家): list and search, sign one up with its
manager account and a printable welcome sheet (开通通知), suspend (暂停联盟资格) and resume with a
reason, and one merchant's page (status history, staff, agreements, POS keys).

The manager's one-time password is shown once, by the page the creating POST redirects to
(POST-redirect-GET: the password is sealed server-side, never in a URL, never cached; a refresh
shows that it was shown and creates nothing); a lost sheet is replaced by resetting the
manager's password.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from district_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms_once import OnceForm, TokenOnlyForm, consume_once, take_secret
from rewards.models import Account, Role
from rewards.services import merchants
from rewards.services.accounts import ONE_TIME_PASSWORD_VALID
from rewards.services.merchants import MerchantFile
from rewards.web import no_store, page_arg, put_errors

PAGE_SIZE = 20
STATUSES = {"active": _l("正常"), "suspended": _l("已暂停")}

district_admin = requires_role(Role.DISTRICT_ADMIN)


class MerchantForm(OnceForm):
    """A new merchant and its manager (店长); the service checks formats and uniqueness."""

    code = StringField(
        _l("商家代码"),
        validators=[DataRequired(_l("请填写商家代码。")), Length(max=8)],
        description=_l("M 加数字，已按现有代码建议了下一个"),
    )
    name = StringField(_l("店名"), validators=[DataRequired(_l("请填写店名。")), Length(max=80)])
    category = StringField(
        _l("类别"),
        validators=[DataRequired(_l("请填写类别。")), Length(max=24)],
        description=_l("可从已有类别中选，也可输入新类别"),
    )
    address = StringField(
        _l("地址"), validators=[DataRequired(_l("请填写地址。")), Length(max=120)]
    )
    phone = StringField(
        _l("联系电话"),
        validators=[DataRequired(_l("请填写联系电话。")), Length(max=20)],
        description=_l("手机号或带区号的座机，如 0535-6123456"),
    )
    manager_username = StringField(
        _l("店长登录名"),
        validators=[DataRequired(_l("请填写店长登录名。")), Length(max=40)],
        description=_l("字母、数字、_ . -，建议用“代码-manager”"),
    )
    manager_name = StringField(
        _l("店长姓名"), validators=[DataRequired(_l("请填写店长姓名。")), Length(max=60)]
    )


class ReasonForm(FlaskForm):
    """Why a merchant is suspended or resumed; staff read a suspension's reason."""

    reason = StringField(
        _l("原因"),
        validators=[
            DataRequired(_l("请填写原因。")),
            Length(min=2, max=200, message=_l("原因需 2 到 200 个字。")),
        ],
    )


def _file(code: str) -> MerchantFile:
    try:
        return merchants.merchant_file(db.session, current_actor(), code)
    except NotFound:
        abort(404)


def _welcome(**sheet: object) -> Response:
    """The printable welcome sheet with the one-time password: shown once, never cached."""
    return no_store(
        render_template(
            "district/merchants/welcome.html",
            sign_in_url=url_for("auth.sign_in", _external=True),
            valid_days=ONE_TIME_PASSWORD_VALID.days,
            **sheet,
        )
    )


# -- the list ---------------------------------------------------------------------------------


@bp.get("/merchants")
@district_admin
def merchant_list() -> str:
    """Alliance merchants, searched by name, code, category or address, a page at a time."""
    query = request.args.get("q", "").strip()[:60]
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    page = merchants.search_merchants(
        db.session, current_actor(), query, status, page=page_arg(), page_size=PAGE_SIZE
    )
    args = {k: v for k, v in {"q": query, "status": status}.items() if v}
    return render_template(
        "district/merchants/list.html",
        page=page,
        query=query,
        status=status,
        statuses=STATUSES,
        args=args,
    )


# -- signing one up ---------------------------------------------------------------------------


def _new_form_page(form: MerchantForm, status: int = 200) -> tuple[str, int]:
    categories = merchants.merchant_categories(db.session)
    page = render_template(
        "district/merchants/new.html",
        form=form,
        categories=categories,
        valid_days=ONE_TIME_PASSWORD_VALID.days,
    )
    return page, status


@bp.get("/merchants/new")
@district_admin
def merchant_new() -> tuple[str, int]:
    """The sign-up form, with the next free code and its manager username proposed."""
    code = merchants.next_merchant_code(db.session)
    form = MerchantForm(
        formdata=None, code=code, manager_username=merchants.manager_username_for(code)
    )
    return _new_form_page(form)


@bp.post("/merchants/new")
@district_admin
def merchant_create() -> Response | tuple[str, int]:
    """Create the merchant and its manager in one go, then show the welcome sheet once."""
    form = MerchantForm()
    if not form.validate():
        return _new_form_page(form, 422)
    once = consume_once(db.session, form, "district.merchant")
    if once.repeat is not None:
        return once.repeat
    try:
        created = merchants.create_merchant(
            db.session,
            current_actor(),
            code=form.code.data or "",
            name=form.name.data or "",
            category=form.category.data or "",
            address=form.address.data or "",
            phone=form.phone.data or "",
            manager_username=form.manager_username.data or "",
            manager_name=form.manager_name.data or "",
        )
    except DomainError as error:
        db.session.rollback()
        put_errors(form, error)
        return _new_form_page(form, error.status)
    assert once.token is not None
    once.finish(
        url_for(
            ".merchant_welcome",
            code=created.merchant.code,
            account_id=created.manager.id,
            shown=once.token.id,
        ),
        secret=created.password,
    )
    db.session.commit()
    return redirect(once.result_url, code=303)


@bp.get("/merchants/<code>/managers/<int:account_id>/welcome")
@district_admin
def merchant_welcome(code: str, account_id: int) -> Response:
    """The welcome sheet of a merchant just created: the password shows on the first view only."""
    file, manager = _manager(code, account_id)
    password = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    return _welcome(merchant=file.merchant, manager=manager, password=password, is_new=True)


def _manager(code: str, account_id: int) -> tuple[MerchantFile, Account]:
    """The merchant's file and its manager ``account_id`` (404 for anyone else)."""
    file = _file(code)
    manager = next((person for person in file.staff if person.id == account_id), None)
    if manager is None or manager.role is not Role.MERCHANT_MANAGER:
        abort(404)
    return file, manager


# -- one merchant -----------------------------------------------------------------------------


def _detail_page(
    file: MerchantFile, form: ReasonForm | None = None, status: int = 200
) -> tuple[str, int]:
    # The agreements area is another module of this portal; link to it once it is there.
    has_agreements = "district.agreement_list" in current_app.view_functions
    page = render_template(
        "district/merchants/detail.html",
        file=file,
        merchant=file.merchant,
        form=form or ReasonForm(formdata=None),
        agreements_url=(
            url_for("district.agreement_list", merchant=file.merchant.code)
            if has_agreements
            else None
        ),
    )
    return page, status


@bp.get("/merchants/<code>")
@district_admin
def merchant_detail(code: str) -> tuple[str, int]:
    """A merchant's page: details, status history, staff, agreements and POS keys."""
    return _detail_page(_file(code))


def _change_status(
    code: str, change: Callable[..., object], done: str
) -> Response | tuple[str, int]:
    """Suspend or resume (``change``) with the form's reason; a refusal stays on the page."""
    file = _file(code)
    form = ReasonForm()
    if not form.validate():
        return _detail_page(file, form, 422)
    try:
        change(db.session, current_actor(), file.merchant.id, form.reason.data or "")
    except DomainError as error:
        db.session.rollback()
        put_errors(form, error, fallback="reason")
        return _detail_page(_file(code), form, error.status)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".merchant_detail", code=file.merchant.code))


@bp.post("/merchants/<code>/suspend")
@district_admin
def merchant_suspend(code: str) -> Response | tuple[str, int]:
    """Suspend the merchant: its staff and POS keys stop at once, told the reason."""
    return _change_status(
        code, merchants.suspend_merchant, _("已暂停该商家的联盟资格，其员工和 POS 密钥即刻停用。")
    )


@bp.post("/merchants/<code>/resume")
@district_admin
def merchant_resume(code: str) -> Response | tuple[str, int]:
    """Resume the merchant: its staff and POS keys work again."""
    return _change_status(
        code, merchants.resume_merchant, _("已恢复该商家的联盟资格，员工和 POS 密钥可以再用。")
    )


@bp.post("/merchants/<code>/managers/<int:account_id>/password")
@district_admin
def merchant_reset_password(code: str, account_id: int) -> Response | tuple[str, int]:
    """A new one-time password for a manager whose welcome sheet was lost; a new sheet."""
    file = _file(code)
    form = TokenOnlyForm()
    if not form.validate_on_submit():  # an old or incomplete page: nothing reset, say so
        return redirect(url_for(".merchant_detail", code=file.merchant.code))
    once = consume_once(db.session, form, "district.manager_reset")
    if once.repeat is not None:
        return once.repeat
    try:
        manager, password = merchants.reset_manager_password(
            db.session, current_actor(), file.merchant.id, account_id
        )
    except NotFound:
        abort(404)
    assert once.token is not None
    once.finish(
        url_for(
            ".merchant_password_reset",
            code=file.merchant.code,
            account_id=manager.id,
            shown=once.token.id,
        ),
        secret=password,
    )
    db.session.commit()
    return redirect(once.result_url, code=303)


@bp.get("/merchants/<code>/managers/<int:account_id>/password-reset")
@district_admin
def merchant_password_reset(code: str, account_id: int) -> Response:
    """The new sheet after a reset: the password shows on the first view only."""
    file, manager = _manager(code, account_id)
    password = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    return _welcome(merchant=file.merchant, manager=manager, password=password, is_new=False)
