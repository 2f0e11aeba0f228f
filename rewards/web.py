"""Web glue shared by every portal: error pages and bodies, Jinja filters, the page language."""

from __future__ import annotations

from flask import Flask, flash, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.models import CARD_STATUS_LABELS, ROLE_LABELS, TIER_LABELS
from rewards.money import format_fen, format_zhe
from rewards.services.cards import format_card_number

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


def init_app(app: Flask) -> None:
    """Register error handlers and template filters."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.debug and not app.testing:
        app.register_error_handler(Exception, handle_unexpected)

    app.add_template_filter(format_fen, "yuan")
    app.add_template_filter(format_zhe, "zhe")
    app.add_template_filter(format_card_number, "card_number")
    app.add_template_filter(lambda tier: TIER_LABELS.get(tier, tier), "tier_label")
    app.add_template_filter(lambda role: ROLE_LABELS.get(role, role), "role_label")
    app.add_template_filter(lambda s: CARD_STATUS_LABELS.get(s, s), "card_status_label")

    @app.template_filter("local_time")
    def local_time(value, fmt: str = "%Y-%m-%d %H:%M"):  # type: ignore[no-untyped-def]
        from rewards.clock import BUSINESS_TZ

        return value.astimezone(BUSINESS_TZ).strftime(fmt) if value else ""
