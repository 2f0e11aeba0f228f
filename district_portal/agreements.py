"""Development agreements (发展协议) in the district office: the list with the terms in force,
the agreements about to run out, signing a merchant's new agreements (all communities or chosen
ones), and one agreement's versions side by side with its amendment (修订) and its end (终止).

Versions are never edited: amending and ending each add one. A sale keeps the terms it was
made under; a new version applies at the checkout from its own date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional

from community_portal.scope import community_choice
from district_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.clock import business_date
from rewards.errors import AmountInvalid, Conflict, NotFound, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import AgreementVersion, Merchant, Role
from rewards.money import format_fen, format_zhe, parse_yuan
from rewards.services import agreements
from rewards.services.agreements import EXPIRING_WITHIN_DAYS, TermsInput
from rewards.web import page_arg, put_errors

district = requires_role(Role.DISTRICT_ADMIN)

PAGE_SIZE = 30
EXPIRING_CHOICES = (30, 60, 90, 180)


# -- fields and forms ---------------------------------------------------------------------------


class ZheField(IntegerField):
    """A discount typed in 折 as the share paid: 88 is 88折 (8.8折), 90 is 9折."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not text:
            return
        if not (text.isascii() and text.isdigit()):
            raise ValueError(_("请输入整数：88 表示 88折（8.8折），9折请输入 90。"))
        self.data = int(text)


class YuanField(StringField):
    """An optional amount typed in yuan (50 or 50.00), kept in fen; blank or 0 is none."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if text.replace(".", "").strip("0") in ("", "¥", "￥"):
            return
        try:
            self.data = parse_yuan(text)
        except AmountInvalid as error:
            raise ValueError(error.message) from None

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return format_fen(self.data).replace(",", "") if self.data else ""


class TermsForm(FlaskForm):
    """A version's terms: 折 per tier, cap per sale, minimum spend, validity."""

    gold = ZheField(_l("金卡折扣"), validators=[InputRequired(_l("请填写金卡折扣，例如 88。"))])
    silver = ZheField(_l("银卡折扣"), validators=[InputRequired(_l("请填写银卡折扣，例如 95。"))])
    cap = YuanField(_l("单笔优惠上限（元）"))
    min_spend = YuanField(_l("最低消费（元）"))
    valid_from = DateField(
        _l("生效日期"), validators=[InputRequired(_l("请填写生效日期，例如 2026-04-01。"))]
    )
    valid_until = DateField(_l("截止日期（含当天）"), validators=[Optional()])
    note = StringField(_l("备注"), validators=[Length(max=200)])

    def terms(self) -> TermsInput:
        """The terms the valid form describes."""
        return TermsInput(
            gold_pay_percent=self.gold.data,
            silver_pay_percent=self.silver.data,
            valid_from=self.valid_from.data,
            valid_until=self.valid_until.data,
            cap_fen=self.cap.data,
            min_spend_fen=self.min_spend.data or 0,
            note=(self.note.data or "").strip(),
        )

    def fill_from(self, version: AgreementVersion, valid_from: date) -> None:
        """Start from a version's terms (an amendment usually changes one or two of them)."""
        self.gold.data = version.gold_pay_percent
        self.silver.data = version.silver_pay_percent
        self.cap.data = version.cap_fen
        self.min_spend.data = version.min_spend_fen
        self.valid_from.data = valid_from
        until = version.valid_until
        self.valid_until.data = until if until is not None and until >= valid_from else None


class SignForm(OnceForm, TermsForm):
    """New agreements of a merchant: one district-wide, or one per chosen community."""

    merchant = SelectField(
        _l("商家"), validators=[InputRequired(_l("请选择商家。"))], validate_choice=False
    )
    scope = RadioField(
        _l("适用范围"),
        choices=[
            SelectChoice("chosen", _l("选定的社区（每个社区一份协议）")),
            SelectChoice("all", _l("全部社区（一份区级协议）")),
        ],
        default="chosen",
        validate_choice=False,
    )
    communities = SelectMultipleField(_l("社区"), coerce=int, validate_choice=False)


class EndForm(FlaskForm):
    """The end of an agreement: its last day of cover."""

    last_day = DateField(
        _l("最后有效日"), validators=[InputRequired(_l("请填写最后有效日，例如 2027-01-31。"))]
    )
    end_note = StringField(_l("备注"), validators=[Length(max=200)])


# -- helpers of the views -----------------------------------------------------------------------


def _merchant_arg(code: str | None) -> Merchant | None:
    """The merchant ``?merchant=M001`` names (404 if unknown), or None."""
    if not (code or "").strip():
        return None
    try:
        return agreements.merchant_by_code(db.session, code or "")
    except NotFound:
        abort(404)


def _describe(version: AgreementVersion) -> str:
    """A version's terms in one line: 金卡 88折、银卡 95折."""
    return _(
        "金卡 %(gold)s、银卡 %(silver)s",
        gold=format_zhe(version.gold_pay_percent),
        silver=format_zhe(version.silver_pay_percent),
    )


# -- the list and the agreements about to run out ------------------------------------------------


@bp.get("/agreements")
@district
def agreement_list() -> str:
    """Every agreement with the terms in force today; by merchant and by community."""
    merchant = _merchant_arg(request.args.get("merchant"))
    choice = community_choice(request.args.get("community"))
    actor = current_actor()
    page = agreements.list_agreements(
        db.session,
        actor,
        merchant_id=merchant.id if merchant else None,
        community_id=choice.chosen_id,
        page=page_arg(),
        page_size=PAGE_SIZE,
    )
    expiring = agreements.expiring_agreements(db.session, actor, page_size=1).total
    args = {key: value for key, value in request.args.items() if key in ("merchant", "community")}
    return render_template(
        "district/agreements/list.html",
        page=page,
        choice=choice,
        merchant=merchant,
        merchants=agreements.merchant_choices(db.session),
        expiring=expiring,
        args=args,
    )


@bp.get("/agreements/expiring")
@district
def agreement_expiring() -> str:
    """Agreements whose cover ends within 60 days (or the days chosen), soonest first."""
    days = request.args.get("days", EXPIRING_WITHIN_DAYS, type=int)
    if days not in EXPIRING_CHOICES:
        days = EXPIRING_WITHIN_DAYS
    page = agreements.expiring_agreements(
        db.session, current_actor(), within_days=days, page=page_arg(), page_size=PAGE_SIZE
    )
    return render_template(
        "district/agreements/expiring.html",
        page=page,
        days=days,
        choices=EXPIRING_CHOICES,
        args={"days": days},
    )


# -- signing new agreements ---------------------------------------------------------------------


def _sign(form: SignForm) -> list[AgreementVersion] | None:
    """Sign what the valid form describes, or put the refusal next to its field."""
    try:
        merchant = agreements.merchant_by_code(db.session, form.merchant.data)
        community_ids = None if form.scope.data == "all" else form.communities.data or []
        return agreements.sign_agreements(
            db.session, current_actor(), merchant.id, community_ids, form.terms()
        )
    except (ValidationFailed, NotFound, Conflict) as error:
        db.session.rollback()
        put_errors(form, error, "merchant" if isinstance(error, NotFound) else None)
        form.existing = error.details.get("existing") or []  # type: ignore[attr-defined]
        return None


def _signed_message(versions: list[AgreementVersion]) -> str:
    first = versions[0]
    agreement = first.agreement
    where = "、".join(v.agreement.community.name for v in versions if v.agreement.community) or _(
        "全部社区"
    )
    return _(
        "已与 %(merchant)s 签订 %(n)s 份协议（%(where)s）：%(terms)s，%(start)s 起生效。",
        merchant=agreement.merchant.name,
        n=len(versions),
        where=where,
        terms=_describe(first),
        start=first.valid_from.isoformat(),
    )


@bp.route("/agreements/new", methods=["GET", "POST"])
@district
def agreement_new() -> Response | tuple[str, int]:
    """Sign a merchant's new agreements: for all communities, or one for each chosen one."""
    form = SignForm()
    form.existing = []  # type: ignore[attr-defined]
    if request.method == "GET":
        merchant = _merchant_arg(request.args.get("merchant"))
        form.merchant.data = merchant.code if merchant else ""
        form.valid_from.data = business_date()
        chosen = community_choice(request.args.get("community")).chosen
        form.communities.data = [chosen.id] if chosen else []
    elif form.validate():
        once = consume_once(db.session, form, "district.agreements")
        if once.repeat is not None:
            return once.repeat
        if (versions := _sign(form)) is not None:
            if len(versions) == 1:
                once.finish(url_for(".agreement_detail", agreement_id=versions[0].agreement_id))
            else:
                once.finish(url_for(".agreement_list", merchant=form.merchant.data))
            db.session.commit()
            flash(_signed_message(versions), "success")
            return redirect(once.result_url, code=303)
    page = render_template(
        "district/agreements/new.html",
        form=form,
        merchants=agreements.merchant_choices(db.session),
        communities=community_choice(None).communities,
        checked=set(form.communities.data or []),
        signed=agreements.signed_communities(db.session),
    )
    return page, 422 if request.method == "POST" else 200


# -- one agreement: versions side by side, amend, end ------------------------------------------


def _detail_page(
    agreement_id: int,
    amend_form: TermsForm | None = None,
    end_form: EndForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    standing = agreements.get_agreement(db.session, current_actor(), agreement_id)
    today = standing.on
    if amend_form is None:
        amend_form = TermsForm(formdata=None)
        newest = standing.versions[-1]
        amend_form.fill_from(newest, max(today, newest.valid_from))
    page = render_template(
        "district/agreements/detail.html",
        standing=standing,
        agreement=standing.agreement,
        amend_form=amend_form,
        end_form=end_form or EndForm(formdata=None),
        today=today,
    )
    return page, status


@bp.get("/agreements/<int:agreement_id>")
@district
def agreement_detail(agreement_id: int) -> tuple[str, int]:
    """An agreement's versions side by side (the one in force today marked), with the forms to
    amend it from a date and to end it."""
    return _detail_page(agreement_id)


@bp.post("/agreements/<int:agreement_id>/amend")
@district
def agreement_amend(agreement_id: int) -> Response | tuple[str, int]:
    """Add a version from a date (today or later); sales already made keep their terms."""
    form = TermsForm()
    if form.validate():
        try:
            version = agreements.amend_agreement(
                db.session, current_actor(), agreement_id, form.terms()
            )
        except ValidationFailed as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            db.session.commit()
            flash(
                _(
                    "已修订：第 %(v)s 版 %(start)s 起生效（%(terms)s）。此前的结算保留原来的条款。",
                    v=version.version,
                    start=version.valid_from.isoformat(),
                    terms=_describe(version),
                ),
                "success",
            )
            return redirect(url_for(".agreement_detail", agreement_id=agreement_id))
    return _detail_page(agreement_id, amend_form=form, status=422)


@bp.post("/agreements/<int:agreement_id>/end")
@district
def agreement_end(agreement_id: int) -> Response | tuple[str, int]:
    """End an agreement on a date: a new version whose cover stops that day."""
    form = EndForm()
    if form.validate():
        try:
            version = agreements.end_agreement(
                db.session,
                current_actor(),
                agreement_id,
                form.last_day.data,
                form.end_note.data or "",
            )
        except ValidationFailed as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            db.session.commit()
            last_day = version.valid_until or form.last_day.data
            flash(
                _(
                    "协议将于 %(day)s 终止（当天仍可享受优惠）；从 %(next)s 起不再优惠。"
                    "已记为第 %(v)s 版。",
                    day=last_day.isoformat(),
                    next=(last_day + timedelta(days=1)).isoformat(),
                    v=version.version,
                ),
                "success",
            )
            return redirect(url_for(".agreement_detail", agreement_id=agreement_id))
    return _detail_page(agreement_id, end_form=form, status=422)
