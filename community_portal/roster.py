"""The roster pages (党员名册): search, a member's page, add and edit, transfers (组织关系转接),
and corrections of points (积分调整 and 冲正). The CSV import is in ``roster_import``.

Secretaries act on their own community; another community's member is 404 on every URL here.
The district administrator reaches every community (a ``?community=C01`` filter on the list, a
community select when adding or importing).
"""

from __future__ import annotations

import secrets

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from community_portal import bp
from community_portal.scope import (
    community_choice,
    is_district,
    offer_communities,
    staff,
    target_community_id,
)
from rewards.auth import current_actor
from rewards.clock import business_date, utcnow
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import EntryKind, Member
from rewards.services import history, ledger, members, roster
from rewards.services.history import EntryLine
from rewards.web import page_arg, put_errors

PAGE_SIZE = 20


# -- forms ------------------------------------------------------------------------------------


class _MemberFields(FlaskForm):
    """What a secretary types about a member; the roster service checks the formats."""

    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=40)])
    phone = StringField(
        _l("手机号"),
        validators=[DataRequired(_l("请填写手机号。")), Length(max=20)],
        description=_l("11 位大陆手机号"),
    )
    joined_on = DateField(
        _l("报到日期"),
        validators=[InputRequired(_l("请填写报到日期。"))],
        description=_l("到本社区报到（双报到）的日期"),
    )
    employer = StringField(_l("工作单位"), validators=[Optional(), Length(max=120)])


class MemberForm(OnceForm, _MemberFields):
    """Register a member (登记党员); the administrator also picks the community."""

    member_no = StringField(
        _l("党员编号"),
        validators=[DataRequired(_l("请填写党员编号。")), Length(max=16)],
        description=_l("0–2 个大写字母加 6–14 位数字，例如 YT0100001"),
    )
    community = SelectField(_l("所在社区"), validators=[DataRequired(_l("请选择社区。"))])


class MemberEditForm(_MemberFields):
    """Correct a member's details or mark the registration inactive (停用)."""

    status = RadioField(
        _l("登记状态"),
        choices=[
            SelectChoice("active", _l("在册")),
            SelectChoice("inactive", _l("已停用（不再积分、不发卡）")),
        ],
        default="active",
    )


class AdjustmentForm(FlaskForm):
    """A manual correction (积分调整); the key is minted when the form is shown."""

    points = IntegerField(
        _l("调整分值"),
        validators=[
            InputRequired(_l("请填写调整分值。")),
            NumberRange(
                -ledger.MAX_ADJUSTMENT_POINTS,
                ledger.MAX_ADJUSTMENT_POINTS,
                _l("调整分值必须在 ±1 到 ±%(n)s 之间。", n=ledger.MAX_ADJUSTMENT_POINTS),
            ),
        ],
        description=_l("正数加分，负数扣分，如 -5"),
    )
    reason = StringField(
        _l("调整原因"),
        validators=[DataRequired(_l("请填写调整原因。")), Length(max=200)],
    )
    occurred_on = DateField(_l("服务日期"), validators=[InputRequired(_l("请填写服务日期。"))])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=8, max=60)])

    def validate_points(self, field: IntegerField) -> None:
        if field.data == 0:
            raise ValidationError(_("调整分值不能为 0。"))

    def validate_occurred_on(self, field: DateField) -> None:
        if field.data and field.data > business_date():
            raise ValidationError(_("服务日期不能晚于今天。"))


class ReversalForm(FlaskForm):
    """Cancel one ledger entry (冲正) with a reason; ``page`` and ``year`` bring the reader back."""

    reason = StringField(
        _l("冲正原因"),
        validators=[DataRequired(_l("请填写冲正原因。")), Length(max=200)],
    )
    page = HiddenField()
    year = HiddenField()


class TransferForm(FlaskForm):
    """Move a member to another community (组织关系转接)."""

    community = SelectField(_l("转入社区"), validators=[DataRequired(_l("请选择转入的社区。"))])


# -- shared -----------------------------------------------------------------------------------


def _member(member_no: str) -> Member:
    """The member in the actor's reach, else 404 (also on POST: never a hint it exists)."""
    try:
        return members.member_by_number(db.session, current_actor(), member_no)
    except NotFound:
        abort(404)


# -- the list ---------------------------------------------------------------------------------


@bp.get("/members")
@staff
def member_list() -> str:
    """The roster (党员名册), searched by name, member number or phone tail, a page at a time."""
    query = request.args.get("q", "").strip()
    choice = community_choice(request.args.get("community"))
    code = choice.code
    include_inactive = request.args.get("inactive") == "1"
    page = members.search_members(
        db.session,
        current_actor(),
        query,
        community_id=choice.chosen_id,
        include_inactive=include_inactive,
        page=page_arg(),
        page_size=PAGE_SIZE,
    )
    args = {"q": query} if query else {}
    if code:
        args["community"] = code
    if include_inactive:
        args["inactive"] = "1"
    return render_template(
        "community/roster/list.html",
        page=page,
        query=query,
        code=code,
        include_inactive=include_inactive,
        args=args,
        communities=choice.communities,
    )


# -- adding and editing -----------------------------------------------------------------------


@bp.route("/members/new", methods=["GET", "POST"])
@staff
def member_new() -> str | Response | tuple[str, int]:
    """Register a member by hand (登记党员)."""
    form = MemberForm()
    offer_communities(form)
    if request.method == "GET":
        return render_template("community/roster/member_form.html", form=form, member=None)
    if form.validate():
        once = consume_once(db.session, form, "community.member")
        if once.repeat is not None:
            return once.repeat
        try:
            member = members.add_member(
                db.session,
                current_actor(),
                target_community_id(form.community.data if is_district() else None),
                form.member_no.data,
                form.name.data,
                form.phone.data,
                form.joined_on.data,
                form.employer.data or "",
            )
        except DomainError as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            once.finish(url_for(".member_detail", member_no=member.member_no))
            db.session.commit()
            flash(
                _("已登记党员 %(name)s（%(no)s）。", name=member.name, no=member.member_no),
                "success",
            )
            return redirect(once.result_url, code=303)
    return render_template("community/roster/member_form.html", form=form, member=None), 422


@bp.route("/members/<member_no>/edit", methods=["GET", "POST"])
@staff
def member_edit(member_no: str) -> str | Response | tuple[str, int]:
    """Correct a member's details, or mark the registration inactive or active again."""
    member = _member(member_no)
    if request.method == "GET":
        form = MemberEditForm(obj=member, status=str(member.status))
        return render_template("community/roster/member_form.html", form=form, member=member)
    form = MemberEditForm()
    if form.validate():
        try:
            members.update_member(
                db.session,
                current_actor(),
                member.id,
                name=form.name.data,
                phone=form.phone.data,
                joined_on=form.joined_on.data,
                employer=form.employer.data or "",
                active=form.status.data == "active",
            )
        except DomainError as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            db.session.commit()
            flash(_("已保存 %(name)s 的资料。", name=form.name.data.strip()), "success")
            return redirect(url_for(".member_detail", member_no=member_no))
    member = _member(member_no)  # reloaded after a rollback
    return render_template("community/roster/member_form.html", form=form, member=member), 422


# -- a member's page --------------------------------------------------------------------------


def _reversible(line: EntryLine) -> bool:
    return line.entry.kind is not EntryKind.REVERSAL and line.reversed_by_id is None


def _render_member(
    member: Member,
    *,
    page: int = 1,
    year: int | None = None,
    reverse_id: int | None = None,
    adjust_form: AdjustmentForm | None = None,
    reverse_form: ReversalForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    actor = current_actor()
    record = members.member_record(db.session, actor, member.id)
    entries = history.member_ledger(
        db.session, actor, member.id, year=year, page=page, page_size=PAGE_SIZE
    )
    if adjust_form is None:
        # Minted now: a double click or a re-sent form posts the adjustment once.
        adjust_form = AdjustmentForm(
            formdata=None, occurred_on=business_date(), idempotency_key=secrets.token_urlsafe(18)
        )
    target = next(
        (line for line in entries.items if line.entry.id == reverse_id and _reversible(line)),
        None,
    )
    if reverse_form is None:
        reverse_form = ReversalForm(formdata=None, prefix="reversal", page=page, year=year or "")
    transfer_form = TransferForm(formdata=None)
    transfer_form.community.choices = community_choice(None, everyone=True).options(
        exclude=member.community_id
    )
    page_html = render_template(
        "community/roster/member.html",
        record=record,
        member=record.member,
        standing=record.standing,
        entries=entries,
        years=history.ledger_years(db.session, actor, member.id),
        year=year,
        target=target,
        reverse_id=reverse_id,
        reversible=_reversible,
        adjust_form=adjust_form,
        reverse_form=reverse_form,
        transfer_form=transfer_form,
        today=business_date(),
    )
    return page_html, status


@bp.get("/members/<member_no>")
@staff
def member_detail(member_no: str) -> tuple[str, int]:
    """A member's page (党员档案): profile, live tier, ledger, cards, claims, transfers."""
    return _render_member(
        _member(member_no),
        page=page_arg(),
        year=request.args.get("year", type=int),
        reverse_id=request.args.get("reverse", type=int),
    )


# -- corrections ------------------------------------------------------------------------------


@bp.post("/members/<member_no>/adjust")
@staff
def member_adjust(member_no: str) -> Response | tuple[str, int]:
    """Add or take off points with a reason (积分调整), once per form shown."""
    member = _member(member_no)
    form = AdjustmentForm()
    if not form.validate():
        return _render_member(member, adjust_form=form, status=422)
    now = utcnow()
    try:
        entry = ledger.adjust(
            db.session,
            current_actor(),
            member.id,
            form.points.data,
            form.reason.data,
            form.occurred_on.data,
            form.idempotency_key.data,
            now=now,
        )
    except DomainError as error:
        db.session.rollback()
        put_errors(form, error)
        return _render_member(_member(member_no), adjust_form=form, status=422)
    db.session.commit()
    if entry.recorded_at == now:
        flash(_("已记录积分调整 %(points)+d 分。", points=entry.points), "success")
    else:
        flash(_("这次积分调整已经记录过，没有重复记账。"), "info")
    return redirect(url_for(".member_detail", member_no=member.member_no, _anchor="ledger"))


@bp.post("/members/<member_no>/entries/<int:entry_id>/reverse")
@staff
def member_reverse(member_no: str, entry_id: int) -> Response | tuple[str, int]:
    """Cancel one of the member's entries with an opposite entry (冲正); once per entry."""
    member = _member(member_no)
    form = ReversalForm(prefix="reversal")
    page = int(form.page.data) if (form.page.data or "").isdigit() else 1
    year = int(form.year.data) if (form.year.data or "").isdigit() else None
    back = {"page": page, "year": year} if year else {"page": page}
    if not form.validate():
        return _render_member(
            member, page=page, year=year, reverse_id=entry_id, reverse_form=form, status=422
        )
    try:
        reversal = ledger.reverse(db.session, current_actor(), entry_id, form.reason.data)
        if reversal.member_id != member.id:
            raise NotFound()
    except NotFound:
        db.session.rollback()
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".member_detail", member_no=member_no, **back, _anchor="ledger"))
    db.session.commit()
    flash(_("已冲正，积分变动 %(points)+d 分。", points=reversal.points), "success")
    return redirect(url_for(".member_detail", member_no=member_no, **back, _anchor="ledger"))


# -- transfer ---------------------------------------------------------------------------------


@bp.post("/members/<member_no>/transfer")
@staff
def member_transfer(member_no: str) -> Response:
    """Move the member to another community's roster; their history goes with them."""
    member = _member(member_no)
    form = TransferForm()
    communities = {c.code: c for c in community_choice(None, everyone=True).communities}
    form.community.choices = [SelectChoice(code) for code in communities]
    back = url_for(".member_detail", member_no=member_no, _anchor="transfer")
    if not form.validate():
        flash(_("请选择转入的社区。"), "error")
        return redirect(back)
    target = communities[form.community.data]
    try:
        roster.transfer_member(db.session, current_actor(), member.id, target.id)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(
        _(
            "已将 %(name)s 的组织关系转至%(community)s，积分记录随人转移。",
            name=member.name,
            community=target.name,
        ),
        "success",
    )
    if is_district():
        return redirect(url_for(".member_detail", member_no=member_no))
    # The member is no longer on this secretary's roster: their page would be a 404 now.
    return redirect(url_for(".member_list"))
