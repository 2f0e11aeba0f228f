"""Claims pages (认定申报): the queue of a community's service claims, one claim's review,
certifying (认定) one or many, and rejecting (驳回) with a reason the member reads."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from community_portal import bp
from community_portal.scope import community_choice, staff
from rewards.auth import current_actor, safe_next
from rewards.clock import utcnow
from rewards.errors import Conflict, ValidationFailed
from rewards.extensions import db
from rewards.models import ClaimStatus
from rewards.services import claims, photos
from rewards.services.categories import enabled_categories
from rewards.services.paging import MAX_PAGE
from rewards.web import put_errors, send_photo

PAGE_SIZE = 30
# Where the bulk result lines wait for the queue page after the redirect (shown once).
RESULTS_KEY = "claim_results"
STATUS_CHOICES = [
    ("pending", _l("待认定")),
    ("certified", _l("已认定")),
    ("rejected", _l("已驳回")),
    ("all", _l("全部")),
]


def ago(at: datetime, now: datetime | None = None) -> str:
    """How long ago ``at`` was, in words a secretary reads at a glance (3 小时前)."""
    seconds = int(((now or utcnow()) - at).total_seconds())
    if seconds < 60:
        return _("刚刚")
    if seconds < 3600:
        return _("%(n)s 分钟前", n=seconds // 60)
    if seconds < 86400:
        return _("%(n)s 小时前", n=seconds // 3600)
    return _("%(n)s 天前", n=seconds // 86400)


def back_to(default: str) -> str:
    """Where to go after a decision: the queue the secretary came from (``next``), if local."""
    return safe_next(request.values.get("next")) or default


# -- forms --------------------------------------------------------------------------------------


class ClaimFilterForm(FlaskForm):
    """The queue's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = StringField(_l("状态"), default="pending")
    category = StringField(_l("类别"))
    start = DateField(_l("服务日期从"), validators=[Optional()], name="from")
    end = DateField(_l("至"), validators=[Optional()], name="to")
    community = StringField(_l("社区"))
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_PAGE)])

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))

    def args(self) -> dict[str, str]:
        """The filters as query arguments, for the pager and the links to a claim."""
        values = {
            "status": self.status.data if self.status.data != "pending" else "",
            "category": self.category.data or "",
            "from": self.start.data.isoformat() if self.start.data else "",
            "to": self.end.data.isoformat() if self.end.data else "",
            "community": (self.community.data or "").upper(),
        }
        return {k: v for k, v in values.items() if v}


class CertifyForm(FlaskForm):
    """Certify one claim (认定), with the points the secretary settles on."""

    points = IntegerField(
        _l("认定积分"),
        validators=[InputRequired(_l("请填写认定积分（整数）。"))],
    )
    next = HiddenField()


class RejectForm(FlaskForm):
    """Reject one claim (驳回) with a reason; the service requires it and its length."""

    reason = TextAreaField(_l("驳回原因"))
    next = HiddenField()


class BulkCertifyForm(FlaskForm):
    """Certify the ticked claims in one action (批量认定)."""

    claim_ids = SelectMultipleField(coerce=int, validate_choice=False)
    next = HiddenField()


# -- the queue ----------------------------------------------------------------------------------


def _status(value: str | None) -> ClaimStatus | None:
    """The status filter; anything unknown reads as the queue of pending claims."""
    if value == "all":
        return None
    return ClaimStatus(value) if value in set(ClaimStatus) else ClaimStatus.PENDING


def _category_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("/claims")
@staff
def claim_list() -> str:
    """The claims queue (待认定申报), oldest first, filtered; decided claims by status."""
    form = ClaimFilterForm(request.args)
    valid = form.validate()
    here = request.full_path.rstrip("?")  # where a decision returns to, filters and all
    choice = community_choice(form.community.data)
    page = claims.list_claims(
        db.session,
        current_actor(),
        status=_status(form.status.data),
        community_id=choice.chosen_id,
        category_id=_category_id(form.category.data),
        occurred_from=form.start.data if valid else None,
        occurred_to=form.end.data if valid else None,
        page=(form.page.data or 1) if valid else 1,
        page_size=PAGE_SIZE,
    )
    return render_template(
        "community/claims/list.html",
        form=form,
        statuses=STATUS_CHOICES,
        categories=enabled_categories(db.session),
        page=page,
        args=form.args(),
        choice=choice,
        here=here,
        bulk_form=BulkCertifyForm(formdata=None, next=here),
        results=session.pop(RESULTS_KEY, None),
        ago=ago,
        now=utcnow(),
    )


@bp.post("/claims/certify")
@staff
def claim_certify_many() -> Response:
    """Certify every ticked claim; one result line per claim, shown on the queue."""
    form = BulkCertifyForm()
    back = back_to(url_for("community.claim_list"))
    if not form.validate() or not form.claim_ids.data:
        flash(_("请先勾选要认定的申报。"), "error")
        return redirect(back)
    try:
        lines = claims.certify_claims(db.session, current_actor(), form.claim_ids.data)
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    # Compact, so even a long batch fits the session cookie: [id, ok, name, points, message].
    session[RESULTS_KEY] = [
        [line.claim_id, line.ok, line.member_name, line.points, "" if line.ok else line.message]
        for line in lines
    ]
    done = sum(1 for line in lines if line.ok)
    summary = _("已认定 %(done)s 条申报。", done=done)
    if done < len(lines):
        summary = _(
            "已认定 %(done)s 条，%(failed)s 条未认定，原因见下方结果。",
            done=done,
            failed=len(lines) - done,
        )
    flash(summary, "success" if done == len(lines) else "error")
    return redirect(back)


# -- one claim ------------------------------------------------------------------------------------


def _detail_page(
    claim_id: int,
    certify_form: CertifyForm | None = None,
    reject_form: RejectForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    detail = claims.get_claim(db.session, current_actor(), claim_id)
    next_url = back_to(url_for("community.claim_list"))
    certify_form = certify_form or CertifyForm(
        formdata=None, points=detail.claim.points, next=next_url
    )
    reject_form = reject_form or RejectForm(formdata=None, next=next_url)
    page = render_template(
        "community/claims/detail.html",
        detail=detail,
        claim=detail.claim,
        certify_form=certify_form,
        reject_form=reject_form,
        back=next_url,
        ago=ago,
        now=utcnow(),
    )
    return page, status


@bp.get("/claims/<int:claim_id>")
@staff
def claim_detail(claim_id: int) -> tuple[str, int]:
    """One claim to review: member, category limits, service, proposed points, decision."""
    return _detail_page(claim_id)


@bp.post("/claims/<int:claim_id>/certify")
@staff
def claim_certify(claim_id: int) -> Response | tuple[str, int]:
    """Certify one claim with the points shown (or edited, up to the category's maximum)."""
    form = CertifyForm()
    try:
        if not form.validate():
            return _detail_page(claim_id, certify_form=form, status=422)
        entry = claims.certify_claim(db.session, current_actor(), claim_id, points=form.points.data)
    except Conflict as error:
        # Decided in another tab or by a colleague: say so, and show the claim as it stands.
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("community.claim_detail", claim_id=claim_id, next=form.next.data))
    except ValidationFailed as error:
        db.session.rollback()
        put_errors(form, error, "points")
        return _detail_page(claim_id, certify_form=form, status=422)
    db.session.commit()
    flash(_("已认定，记入 %(points)s 分。", points=entry.points), "success")
    return redirect(back_to(url_for("community.claim_list")))


@bp.post("/claims/<int:claim_id>/reject")
@staff
def claim_reject(claim_id: int) -> Response | tuple[str, int]:
    """Reject one claim with a reason the member will read."""
    form = RejectForm()
    try:
        form.validate()
        claims.reject_claim(db.session, current_actor(), claim_id, form.reason.data or "")
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("community.claim_detail", claim_id=claim_id, next=form.next.data))
    except ValidationFailed as error:
        db.session.rollback()
        put_errors(form, error, "reason")
        return _detail_page(claim_id, reject_form=form, status=422)
    db.session.commit()
    flash(_("已驳回，党员会在自己的申报记录里看到驳回原因。"), "success")
    return redirect(back_to(url_for("community.claim_list")))


# The rule registered first (the lower one) is the one url_for builds without ``thumbnail``.
@bp.get("/claims/photos/<int:photo_id>/thumb", defaults={"thumbnail": True})
@bp.get("/claims/photos/<int:photo_id>", defaults={"thumbnail": False})
@staff
def claim_photo(photo_id: int, thumbnail: bool) -> Response:
    """A claim's photo (证明照片) or its thumbnail, for the member's own secretary (and the
    district); another community's is 404."""
    photo = photos.photo_in_reach(db.session, current_actor(), photo_id)
    return send_photo(photo, thumbnail)
