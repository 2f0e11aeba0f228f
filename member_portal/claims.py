"""The member's service claims (服务申报): submit one with up to three photos (证明照片), follow
its status (待认定, 已认定, 已驳回 with the reason, 已撤回), withdraw (撤回) a pending one; the
photos are served only to the member (and, through the community portal, their secretary)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from member_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.clock import business_date
from rewards.errors import Conflict, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import ClaimStatus, PointCategory, Role
from rewards.services import claims, photos
from rewards.services.categories import MAX_SERVICE_AGE_DAYS, enabled_categories
from rewards.web import handle_http_error, page_arg, photo_store, put_errors, send_photo

CLAIMS_PER_PAGE = 20
STATUS_FILTERS = [
    ("", _l("全部")),
    ("pending", _l("待认定")),
    ("certified", _l("已认定")),
    ("rejected", _l("已驳回")),
    ("withdrawn", _l("已撤回")),
]


# -- the photo files ----------------------------------------------------------------------------


# -- forms --------------------------------------------------------------------------------------


def _category_id(value: object) -> int | None:
    """The select's value as an id; anything else is None (the service names the problem)."""
    text = str(value or "")
    return int(text) if text.isdigit() else None


class ClaimForm(OnceForm):
    """A service claim (申报): category, service date, what was done, up to three photos. The
    member does not set points: the category's default is proposed to the secretary."""

    category = SelectField(
        _l("服务类别"),
        coerce=_category_id,
        validate_choice=False,
        validators=[InputRequired(_l("请选择服务类别。"))],
    )
    occurred_on = DateField(
        _l("服务日期"),
        validators=[InputRequired(_l("请填写做服务的日期。"))],
        invalid_value_message=_l("请按“年-月-日”填写日期，例如 2026-03-01。"),
    )
    description = TextAreaField(
        _l("服务内容"),
        validators=[
            InputRequired(_l("请写一写做了什么服务。")),
            Length(
                min=claims.MIN_DESCRIPTION,
                max=claims.MAX_DESCRIPTION,
                message=_l(
                    "请用 %(min)s 到 %(max)s 个字说明做了什么服务。",
                    min=claims.MIN_DESCRIPTION,
                    max=claims.MAX_DESCRIPTION,
                ),
            ),
        ],
    )
    photos = MultipleFileField(_l("证明照片（可选，最多 3 张）"))

    def chosen_files(self) -> list[FileStorage]:
        """The files actually chosen (an empty file input still sends one nameless part)."""
        return [f for f in self.photos.data or [] if isinstance(f, FileStorage) and f.filename]


def _claim_form(categories: list[PointCategory], formdata: bool = True) -> ClaimForm:
    form = ClaimForm() if formdata else ClaimForm(formdata=None)
    form.category.choices = [
        ("", _("请选择服务类别")),
        *(
            (
                c.id,
                _(
                    "%(name)s（默认 %(d)s 分，最多 %(m)s 分）",
                    name=c.name,
                    d=c.default_points,
                    m=c.max_points,
                ),
            )
            for c in categories
        ),
    ]
    return form


def service_date_bounds(today: date) -> tuple[date, date]:
    """The service dates a claim may have: up to a year back, not in the future."""
    return today - timedelta(days=MAX_SERVICE_AGE_DAYS), today


def _form_page(
    form: ClaimForm, categories: list[PointCategory], status: int = 200
) -> tuple[str, int]:
    earliest, latest = service_date_bounds(business_date())
    return render_template(
        "member/claims/new.html",
        form=form,
        categories=categories,
        earliest=earliest,
        latest=latest,
        max_photos=photos.MAX_PHOTOS,
        max_photo_mb=photos.MAX_PHOTO_BYTES // 1024 // 1024,
    ), status


def _read_photos(form: ClaimForm) -> list[photos.CheckedPhoto] | None:
    """Every chosen photo checked (type by content, size, EXIF removed) before anything is
    written; None, with the refusal next to the photo field, when one is refused."""
    # One byte over the limit is enough to refuse: a huge file is never held whole.
    files = [f.read(photos.MAX_PHOTO_BYTES + 1) for f in form.chosen_files()]
    try:
        return photos.check_photos(files)
    except ValidationFailed as error:
        put_errors(form, error)
        return None


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A claim over the request limit (a huge photo) gets its form back with a clear message,
    not a bare 413 page; the request body is not read."""
    # Raised before the view's role check (the CSRF check reads the form first).
    is_member = current_user.is_authenticated and current_user.role is Role.MEMBER
    if request.endpoint != "member.claim_new" or not is_member:
        return handle_http_error(error)
    categories = enabled_categories(db.session)
    form = _claim_form(categories, formdata=False)
    form.occurred_on.data = business_date()
    form.photos.errors = [
        _(
            "照片太大，申报没有提交。每张照片不能超过 %(mb)s MB，请换一张或压缩后，"
            "重新填写并提交。",
            mb=photos.MAX_PHOTO_BYTES // 1024 // 1024,
        )
    ]
    return _form_page(form, categories, 413)


# -- pages --------------------------------------------------------------------------------------


@bp.get("/claims")
@requires_role(Role.MEMBER)
def claim_list() -> str:
    """The member's claims, newest first, with their status; ``?status=pending`` and alike."""
    wanted = request.args.get("status", "")
    status = ClaimStatus(wanted) if wanted in set(ClaimStatus) else None
    page = claims.my_claims(
        db.session, current_actor(), status=status, page=page_arg(), page_size=CLAIMS_PER_PAGE
    )
    return render_template(
        "member/claims/list.html",
        page=page,
        status=status.value if status else "",
        filters=STATUS_FILTERS,
    )


@bp.route("/claims/new", methods=["GET", "POST"])
@requires_role(Role.MEMBER)
def claim_new() -> Response | tuple[str, int]:
    """Submit a claim: the photos are all checked first; the claim and its photos are kept in
    one transaction, or nothing is (no claim, no file)."""
    categories = enabled_categories(db.session)
    form = _claim_form(categories, formdata=request.method == "POST")
    if request.method == "GET":
        form.occurred_on.data = business_date()
        return _form_page(form, categories)
    valid = form.validate()
    checked = _read_photos(form)
    if not valid or checked is None:
        return _form_page(form, categories, 422)
    once = consume_once(db.session, form, "member.claim")
    if once.repeat is not None:
        return once.repeat
    actor = current_actor()
    try:
        claim = claims.submit_claim(
            db.session,
            actor,
            current_user.member_id,
            form.category.data,
            form.description.data or "",
            form.occurred_on.data,
        )
        photos.attach_photos(db.session, actor, claim, checked, photo_store())
    except ValidationFailed as error:
        db.session.rollback()
        put_errors(form, error)
        return _form_page(form, categories, 422)
    once.finish(url_for("member.claim_detail", claim_id=claim.id))
    db.session.commit()
    flash(_("申报已提交。"), "success")
    return redirect(once.result_url, code=303)


@bp.get("/claims/<int:claim_id>")
@requires_role(Role.MEMBER)
def claim_detail(claim_id: int) -> Response:
    """One of the member's claims: status, points, rejection reason, photos, withdrawal."""
    claim = claims.my_claim(db.session, current_actor(), claim_id)
    body = render_template("member/claims/detail.html", claim=claim)
    return Response(body, headers={"Cache-Control": "private, no-store"})


@bp.post("/claims/<int:claim_id>/withdraw")
@requires_role(Role.MEMBER)
def claim_withdraw(claim_id: int) -> Response:
    """Withdraw a pending claim (撤回); a decided one cannot be, and the page says why."""
    try:
        claims.withdraw_claim(db.session, current_actor(), claim_id)
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("member.claim_detail", claim_id=claim_id))
    db.session.commit()
    flash(_("申报已撤回。如有需要，可以重新申报。"), "success")
    return redirect(url_for("member.claim_detail", claim_id=claim_id))


# The rule registered first (the lower one) is the one url_for builds without ``thumbnail``.
@bp.get("/claims/photos/<int:photo_id>/thumb", defaults={"thumbnail": True})
@bp.get("/claims/photos/<int:photo_id>", defaults={"thumbnail": False})
@requires_role(Role.MEMBER)
def claim_photo(photo_id: int, thumbnail: bool) -> Response:
    """A photo of the member's own claim, or its thumbnail; anybody else's is 404."""
    photo = photos.photo_in_reach(db.session, current_actor(), photo_id)
    return send_photo(photo, thumbnail)
