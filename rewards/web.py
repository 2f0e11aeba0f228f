"""Web glue shared by every portal: error pages and bodies, Jinja filters, the page language,
and small helpers of views (page numbers, refusals next to form fields, uncached answers, claim
photos as responses)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.models import CARD_STATUS_LABELS, ROLE_LABELS, TIER_LABELS, ClaimPhoto
from rewards.money import format_fen, format_zhe
from rewards.services.cards import format_card_number
from rewards.services.paging import MAX_PAGE
from rewards.services.photos import PhotoStore

LOCALES = ("zh_Hans_CN",)
API_PREFIX = "/api/"

_HTTP_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_attempts",
}


def select_locale() -> str:
    """Simplified Chinese, the source language of every page (no other catalog ships yet)."""
    return LOCALES[0]


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def handle_domain_error(error: DomainError) -> Response | tuple[Response, int]:
    """One mapping of domain errors: the API's JSON body, or a flashed message on pages."""
    db.session.rollback()
    if _wants_json():
        return jsonify(error.to_dict()), error.status
    # A refused form goes back where it came from with the message; an object out of reach is
    # a 404 page whatever the method (never a hint that it exists).
    if request.method == "POST" and not isinstance(error, NotFound):
        flash(error.message, "error")
        return redirect(request.referrer or request.url)
    return render_template("errors/error.html", message=error.message, code=error.status), (
        error.status
    )


def handle_http_error(error: HTTPException) -> Response | tuple[Response, int]:
    """HTTP errors (404, 405 …) in the same two shapes."""
    status = error.code or 500
    if _wants_json():
        code = _HTTP_CODES.get(status, "error")
        return jsonify({"error": {"code": code, "message": error.description}}), status
    messages = {
        403: _("没有权限访问这个页面。"),
        404: _("页面不存在，请检查地址。"),
        405: _("不支持这种请求方式。"),
        413: _("提交的内容太大（例如上传的文件超过大小限制），没有保存任何内容。"),
    }
    message = messages.get(status, error.description or "")
    return render_template("errors/error.html", message=message, code=status), status


def handle_unexpected(error: Exception) -> tuple[Response, int]:
    """A bug: roll back, log, and show a calm page (never a traceback)."""
    db.session.rollback()
    from flask import current_app

    current_app.logger.exception("unhandled error")
    if _wants_json():
        body = {"error": {"code": "internal", "message": "服务器内部错误，请稍后重试。"}}
        return jsonify(body), 500
    return render_template(
        "errors/error.html", message=_("系统出了点问题，请稍后重试。"), code=500
    ), 500


def page_arg(name: str = "page") -> int:
    """A page number from the query string, within range (1 when absent or nonsense)."""
    return max(1, min(request.args.get(name, 1, type=int) or 1, MAX_PAGE))


def put_errors(form: FlaskForm, error: DomainError, fallback: str | None = None) -> None:
    """Show a service's refusal next to the fields it names; else next to ``fallback``, or
    above the form."""
    placed = False
    for name, messages in (error.details.get("fields") or {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if placed:
        return
    if fallback is not None:
        field = getattr(form, fallback)
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def no_store(response: Response | str) -> Response:
    """A page that must never be kept by a browser or a proxy (codes, keys, personal data)."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def photo_store() -> PhotoStore:
    """Where claim photos are kept: ``<instance>/claim-photos``."""
    return PhotoStore(Path(current_app.instance_path) / "claim-photos")


def send_photo(photo: ClaimPhoto, thumbnail: bool = False) -> Response:
    """A claim photo (or its thumbnail) for the one who may see it; never kept in a cache."""
    path = photo_store().path(photo, thumbnail=thumbnail)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype="image/jpeg" if thumbnail else photo.content_type,
        conditional=False,
        etag=False,
        last_modified=None,
    )
    # Sensitive (a member's face, their home): not in a shared cache nor the browser's.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    """Register error handlers and template filters."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.debug and not app.testing:
        app.register_error_handler(Exception, handle_unexpected)

    # Browsers ask for /favicon.ico whatever the page links; the pages link the SVG too.
    # Both are the brand's red square with a white star (rewards/static/favicon.*).
    @app.get("/favicon.ico")
    def favicon() -> Response:
        return send_from_directory(
            app.static_folder or "",
            "favicon.ico",
            mimetype="image/vnd.microsoft.icon",
            max_age=86400,
        )

    from rewards.forms_once import new_nonce

    # A one-time token for a form built in a template (one per form where a page has several).
    app.add_template_global(new_nonce, "form_once_token")
    app.add_template_filter(format_fen, "yuan")
    app.add_template_filter(format_zhe, "zhe")
    app.add_template_filter(format_card_number, "card_number")
    app.add_template_filter(lambda tier: TIER_LABELS.get(tier, tier), "tier_label")
    app.add_template_filter(lambda role: ROLE_LABELS.get(role, role), "role_label")
    app.add_template_filter(lambda s: CARD_STATUS_LABELS.get(s, s), "card_status_label")

    @app.template_filter("data_time")
    def data_time(value: str | None) -> str:
        """An exported ISO instant in Beijing time, to the minute; a date stays as it is."""
        from rewards.clock import BUSINESS_TZ

        if not value:
            return ""
        if "T" not in value:
            return value
        return datetime.fromisoformat(value).astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")

    @app.template_filter("local_time")
    def local_time(value, fmt: str = "%Y-%m-%d %H:%M"):  # type: ignore[no-untyped-def]
        from rewards.clock import BUSINESS_TZ

        return value.astimezone(BUSINESS_TZ).strftime(fmt) if value else ""
