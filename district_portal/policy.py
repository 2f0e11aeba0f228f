"""The district's points rules (积分标准): the tier policy's versions (积分等级标准), published
from a date after a preview from the live ledger, and the point categories (积分类别)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import InputRequired, Length

from district_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.clock import business_date, utcnow
from rewards.errors import DomainError, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import Role, TierPolicy
from rewards.services import categories, tiers
from rewards.services.tiers import PolicyPreview
from rewards.web import put_errors

district_only = requires_role(Role.DISTRICT_ADMIN)


# -- forms --------------------------------------------------------------------------------------


def _points_field(label: str, missing: str) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(missing)])


class PolicyForm(OnceForm):
    """A proposed version: thresholds, window, first day and a note."""

    gold_threshold = _points_field(_l("金卡门槛（分）"), _l("请填写金卡门槛（整数分）。"))
    silver_threshold = _points_field(_l("银卡门槛（分）"), _l("请填写银卡门槛（整数分）。"))
    window_months = _points_field(_l("统计周期（月）"), _l("请填写统计周期（1 到 60 个月）。"))
    effective_on = DateField(
        _l("生效日期"), validators=[InputRequired(_l("请填写生效日期，例如 2027-01-01。"))]
    )
    note = StringField(_l("说明"), validators=[Length(max=200, message=_l("说明最多 200 个字。"))])

    def values(self) -> tuple[int, int, int, date, str]:
        """What the services take, in their order."""
        return (
            self.gold_threshold.data,
            self.silver_threshold.data,
            self.window_months.data,
            self.effective_on.data,
            self.note.data or "",
        )


class CategoryPointsForm(FlaskForm):
    """A category's default and maximum points."""

    default_points = _points_field(_l("默认积分"), _l("请填写默认积分（整数）。"))
    max_points = _points_field(_l("最高积分"), _l("请填写最高积分（整数）。"))


class CategoryForm(OnceForm, CategoryPointsForm):
    """A new category: code, name and its points."""

    code = StringField(_l("代码"), validators=[InputRequired(_l("请填写代码。"))])
    name = StringField(_l("名称"), validators=[InputRequired(_l("请填写名称。"))])


# -- the page -----------------------------------------------------------------------------------


@bp.get("/policy")
@district_only
def policy() -> str:
    """The tier policy's versions (the one in force and any scheduled marked) and the point
    categories with their use."""
    now = utcnow()
    versions = tiers.policy_versions(db.session, now)
    return render_template(
        "district/policy/index.html",
        versions=versions,
        in_force=next((v for v in versions if v.status == tiers.VersionStatus.IN_FORCE), None),
        scheduled=[v for v in versions if v.status == tiers.VersionStatus.SCHEDULED],
        uses=categories.category_uses(db.session),
    )


# -- a new version: form, preview, publish ------------------------------------------------------


def _policy_page(
    form: PolicyForm, preview: PolicyPreview | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "district/policy/new.html",
        form=form,
        preview=preview,
        in_force=tiers.current_policy(db.session),
        latest=tiers.latest_policy(db.session),
        today=business_date(),
        now_instant=utcnow(),
    ), status


@bp.get("/policy/new")
@district_only
def policy_new() -> tuple[str, int]:
    """The form of a new version, filled with the version in force and tomorrow's date."""
    form = PolicyForm()
    current = tiers.latest_policy(db.session)
    if current is not None:
        form.gold_threshold.data = current.gold_threshold
        form.silver_threshold.data = current.silver_threshold
        form.window_months.data = current.window_months
    else:
        form.window_months.data = 12
    first_day = business_date() + timedelta(days=1)
    if current is not None:
        first_day = max(first_day, business_date(current.effective_from))
    form.effective_on.data = first_day
    return _policy_page(form)


@bp.post("/policy/preview")
@district_only
def policy_preview() -> tuple[str, int]:
    """How many members each tier would hold per community on the first day; writes nothing."""
    form = PolicyForm()
    form.once_required = False  # the publish form it shows carries the token on
    if not form.validate():
        return _policy_page(form, status=422)
    try:
        preview = tiers.preview_policy(db.session, current_actor(), *form.values())
    except ValidationFailed as error:
        put_errors(form, error)
        return _policy_page(form, status=422)
    return _policy_page(form, preview)


@bp.post("/policy/publish")
@district_only
def policy_publish() -> Response | tuple[str, int]:
    """Publish the previewed values as a new version, checked again."""
    form = PolicyForm()
    if not form.validate():
        return _policy_page(form, status=422)
    once = consume_once(db.session, form, "district.policy")
    if once.repeat is not None:
        return once.repeat
    try:
        published = tiers.publish_policy(db.session, current_actor(), *form.values())
    except ValidationFailed as error:
        db.session.rollback()
        put_errors(form, error)
        return _policy_page(form, status=422)
    once.finish(url_for("district.policy"))
    db.session.commit()
    flash(_published_message(published), "success")
    return redirect(once.result_url, code=303)


def _published_message(policy: TierPolicy) -> str:
    if policy.effective_from <= utcnow():
        return _("已发布第 %(v)s 版积分等级标准，即日起生效。", v=policy.version)
    return _(
        "已发布第 %(v)s 版积分等级标准，%(day)s 起生效；在此之前仍按现行标准。",
        v=policy.version,
        day=business_date(policy.effective_from).isoformat(),
    )


# -- point categories ---------------------------------------------------------------------------


@bp.route("/categories/new", methods=["GET", "POST"])
@district_only
def category_new() -> Response | tuple[str, int]:
    """Create a category (enabled at once)."""
    form = CategoryForm()
    if request.method == "GET":
        return render_template("district/policy/category_new.html", form=form), 200
    if form.validate():
        once = consume_once(db.session, form, "district.category")
        if once.repeat is not None:
            return once.repeat
        try:
            category = categories.create_category(
                db.session,
                current_actor(),
                form.code.data or "",
                form.name.data or "",
                form.default_points.data,
                form.max_points.data,
            )
        except DomainError as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            once.finish(url_for("district.policy", _anchor="categories"))
            db.session.commit()
            flash(_("已新建积分类别「%(name)s」。", name=category.name), "success")
            return redirect(once.result_url, code=303)
    return render_template("district/policy/category_new.html", form=form), 422


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@district_only
def category_edit(category_id: int) -> Response | tuple[str, int]:
    """Change a category's default and maximum points for what comes next."""
    category = categories.get_category(db.session, category_id)
    form = CategoryPointsForm(obj=category if request.method == "GET" else None)
    page = "district/policy/category_edit.html"
    if request.method == "GET":
        return render_template(page, form=form, category=category), 200
    if form.validate():
        try:
            categories.change_category_points(
                db.session,
                current_actor(),
                category_id,
                form.default_points.data,
                form.max_points.data,
            )
        except ValidationFailed as error:
            db.session.rollback()
            put_errors(form, error)
        else:
            db.session.commit()
            flash(
                _(
                    "「%(name)s」改为默认 %(d)s 分、最高 %(m)s 分；已有的申报和活动保留原积分。",
                    name=category.name,
                    d=category.default_points,
                    m=category.max_points,
                ),
                "success",
            )
            return redirect(url_for("district.policy", _anchor="categories"))
    return render_template(page, form=form, category=category), 422


@bp.post("/categories/<int:category_id>/disable")
@district_only
def category_disable(category_id: int) -> Response:
    """Disable a category: no new claims or activities in it."""
    category = categories.set_category_enabled(db.session, current_actor(), category_id, False)
    db.session.commit()
    flash(
        _(
            "已停用「%(name)s」：不能再用它申报或新建活动；已有积分不变，待认定的申报仍可认定。",
            name=category.name,
        ),
        "success",
    )
    return redirect(url_for("district.policy", _anchor="categories"))


@bp.post("/categories/<int:category_id>/enable")
@district_only
def category_enable(category_id: int) -> Response:
    """Enable a disabled category again."""
    category = categories.set_category_enabled(db.session, current_actor(), category_id, True)
    db.session.commit()
    flash(_("已重新启用「%(name)s」。", name=category.name), "success")
    return redirect(url_for("district.policy", _anchor="categories"))
