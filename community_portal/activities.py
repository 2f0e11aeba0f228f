"""Activities pages (活动签到): a community's activities, creating one, and recording who
attended: ticked in the roster, pasted member numbers, or card codes scanned at the door."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from community_portal import bp
from community_portal.scope import CommunityChoice, community_choice, staff
from rewards.auth import card_tokens, current_actor
from rewards.clock import business_date
from rewards.errors import DomainError, NotFound, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import Activity, PointCategory
from rewards.services import activities, members
from rewards.services.activities import AttendanceResult
from rewards.services.categories import enabled_categories
from rewards.services.paging import MAX_PAGE_SIZE
from rewards.web import page_arg, put_errors

PAGE_SIZE = 20
ATTENDEES_PAGE_SIZE = 50
# The tick list shows a whole page of the roster; the browser filters it as the secretary types.
ROSTER_PAGE_SIZE = MAX_PAGE_SIZE
MAX_CODE_LENGTH = 400


# -- forms --------------------------------------------------------------------------------------


class ActivityForm(OnceForm):
    """A new activity (新建活动): title, category, date and each attendee's points."""

    community = IntegerField(_l("社区"), validators=[Optional()])  # the administrator's choice
    title = StringField(_l("活动名称"), validators=[Length(max=200)])
    category = IntegerField(_l("积分类别"), validators=[InputRequired(_l("请选择积分类别。"))])
    occurred_on = DateField(
        _l("活动日期"), validators=[InputRequired(_l("请填写活动日期，例如 2026-03-01。"))]
    )
    points = IntegerField(
        _l("每人积分"),
        validators=[InputRequired(_l("请填写每人积分（整数）。"))],
    )


class AttendanceForm(FlaskForm):
    """A batch of attendees: ticked or scanned member numbers and pasted text (all or none)."""

    source = HiddenField()  # which of the three ways: scan, paste, tick
    numbers = TextAreaField(_l("党员编号"))


@dataclass
class Kept:
    """What the secretary entered in a refused batch, shown again so it can be corrected."""

    source: str = ""
    ticked: set[str] = field(default_factory=set)
    scanned: list[tuple[str, str]] = field(default_factory=list)  # (member number, name)
    numbers: str = ""
    error: str = ""
    named: set[str] = field(default_factory=set)  # the numbers the refusal names


def outcome(result: AttendanceResult) -> str:
    """What a batch did, in the secretary's words (新登记 N 人；M 人此前已登记)."""
    fresh, already = len(result.credited), len(result.already_recorded)
    if already:
        return _("新登记 %(n)s 人；%(m)s 人此前已登记，没有重复记分。", n=fresh, m=already)
    return _("新登记 %(n)s 人。", n=fresh)


# -- the list and a new activity -----------------------------------------------------------------


@bp.get("/activities")
@staff
def activity_list() -> str:
    """A community's activities, latest first, with how many attended (the district: all)."""
    choice = community_choice(request.args.get("community"))
    page = activities.list_activities(
        db.session, current_actor(), choice.chosen_id, page=page_arg("page"), page_size=PAGE_SIZE
    )
    args = {"community": choice.code} if choice.code else {}
    return render_template("community/activities/list.html", page=page, choice=choice, args=args)


def _activity_form_choices(form: ActivityForm) -> tuple[list[PointCategory], CommunityChoice]:
    """What the form's selects offer; only the district administrator chooses a community."""
    choice = community_choice(request.args.get("community"))
    if not choice.communities:
        del form.community
    elif request.method == "GET" and choice.chosen:
        form.community.data = choice.chosen.id
    return enabled_categories(db.session), choice


def _create(form: ActivityForm) -> Activity | None:
    """Create the activity the valid form describes, or put the refusal next to its field."""
    actor = current_actor()
    community_id = form.community.data if "community" in form else actor.community_id
    if community_id is None:
        form.community.errors = [_("请选择活动所属的社区。")]
        return None
    try:
        return activities.create_activity(
            db.session,
            actor,
            community_id,
            form.category.data,
            form.title.data or "",
            form.occurred_on.data,
            form.points.data,
        )
    except (ValidationFailed, NotFound) as error:
        db.session.rollback()
        put_errors(form, error)
        return None


@bp.route("/activities/new", methods=["GET", "POST"])
@staff
def activity_new() -> Response | tuple[str, int]:
    """Create an activity; the district administrator also picks its community."""
    form = ActivityForm()
    categories, choice = _activity_form_choices(form)
    if request.method == "GET":
        form.occurred_on.data = form.occurred_on.data or business_date()
        if categories and form.points.data is None:
            form.points.data = categories[0].default_points
    elif form.validate():
        once = consume_once(db.session, form, "community.activity")
        if once.repeat is not None:
            return once.repeat
        if (activity := _create(form)) is not None:
            once.finish(url_for("community.activity_detail", activity_id=activity.id))
            db.session.commit()
            flash(_("已创建活动「%(title)s」，现在可以登记签到。", title=activity.title), "success")
            return redirect(once.result_url, code=303)
        db.session.rollback()  # the refused form's token stays free for the corrected one
    status = 422 if request.method == "POST" else 200
    page = render_template(
        "community/activities/new.html", form=form, categories=categories, choice=choice
    )
    return page, status


# -- one activity and its attendance ------------------------------------------------------------


def _detail_page(activity_id: int, kept: Kept | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    row = activities.get_activity(db.session, actor, activity_id)
    query = request.values.get("q", "").strip()
    roster = members.search_members(
        db.session,
        actor,
        query,
        community_id=row.activity.community_id,
        page=page_arg("mpage"),
        page_size=ROSTER_PAGE_SIZE,
    )
    recorded = activities.attendees(
        db.session, actor, activity_id, page=page_arg("page"), page_size=ATTENDEES_PAGE_SIZE
    )
    choice = community_choice(None)
    already = activities.recorded_members(
        db.session, actor, activity_id, [entry.member.id for entry in roster.items]
    )
    page = render_template(
        "community/activities/detail.html",
        already=already,
        row=row,
        activity=row.activity,
        community_name=choice.name_of(row.activity.community_id),
        roster=roster,
        query=query,
        recorded=recorded,
        kept=kept or Kept(),
    )
    return page, status


@bp.get("/activities/<int:activity_id>")
@staff
def activity_detail(activity_id: int) -> tuple[str, int]:
    """An activity: its details, who is recorded, and the three ways to record attendance."""
    return _detail_page(activity_id)


def _kept(form: AttendanceForm, member_nos: list[str]) -> Kept:
    source = form.source.data or ""
    names = request.form.getlist("names")
    scanned = [(n, names[i] if i < len(names) else "") for i, n in enumerate(member_nos)]
    return Kept(
        source=source,
        ticked=set(member_nos) if source == "tick" else set(),
        scanned=scanned if source == "scan" else [],
        numbers=form.numbers.data or "",
    )


@bp.post("/activities/<int:activity_id>/attendance")
@staff
def activity_attend(activity_id: int) -> Response | tuple[str, int]:
    """Record a batch of attendees; all or nothing, and nobody twice."""
    form = AttendanceForm()
    form.validate()
    # Ticked and scanned members arrive as numbers, pasted ones as text: one batch either way.
    member_nos = [n.strip().upper() for n in request.form.getlist("member_nos") if n.strip()]
    kept = _kept(form, member_nos)
    wanted = member_nos + activities.split_member_numbers(kept.numbers)
    try:
        result = activities.record_attendance(db.session, current_actor(), activity_id, wanted)
    except ValidationFailed as error:
        db.session.rollback()
        kept.error = error.message
        kept.named = set(error.details.get("member_nos") or [])
        return _detail_page(activity_id, kept, status=422)
    db.session.commit()
    flash(outcome(result), "success")
    return redirect(url_for("community.activity_detail", activity_id=activity_id))


@bp.post("/activities/<int:activity_id>/identify")
@staff
def activity_identify(activity_id: int) -> tuple[Response, int]:
    """Who a scanned card code or typed number names (JSON); nothing is recorded yet."""
    body = request.get_json(silent=True) or {}
    code = str(body.get("code") or "")[:MAX_CODE_LENGTH]
    try:
        attendee = activities.identify_attendee(
            db.session, current_actor(), card_tokens(), activity_id, code
        )
    except DomainError as error:
        db.session.rollback()
        return jsonify({"error": {"code": error.code, "message": error.message}}), error.status
    return jsonify(
        {
            "member_no": attendee.member_no,
            "name": attendee.name,
            "already_recorded": attendee.already_recorded,
        }
    ), 200
