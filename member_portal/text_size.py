"""The member pages' text size (大字模式, 适老化): a choice kept on this phone in a cookie, across
visits and sign-outs, and read here so that a page renders in it from the first paint.
text-size.js switches without a reload and sets the same cookie; the form's POST below is the
path without JavaScript."""

from __future__ import annotations

from flask import Response, current_app, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf

from member_portal import bp
from rewards.auth import safe_next

COOKIE = "text_size"
LARGE = "large"
STANDARD = "standard"
COOKIE_MAX_AGE = 365 * 24 * 3600  # a year: the choice belongs to the phone, not to a session


class TextSizeForm(FlaskForm):
    """The size the member chose (大字 or 标准字), and the page to go back to."""

    size = StringField(validators=[AnyOf((LARGE, STANDARD))])
    next = HiddenField()


def large_text() -> bool:
    """Whether this phone asked for large text (大字)."""
    return request.cookies.get(COOKIE) == LARGE


@bp.context_processor
def _text_size() -> dict[str, object]:
    return {"large_text": large_text()}


def _back_to(target: str | None) -> str:
    """The member page the form was on; never another site or another portal."""
    home = url_for("member.home")
    target = safe_next(target)
    return target if target and target.startswith(home) else home


@bp.post("/text-size")
def text_size() -> Response:
    """Keep the chosen text size on this phone and show the page again in it."""
    form = TextSizeForm()
    response = redirect(_back_to(form.next.data), code=303)
    if form.validate_on_submit():
        response.set_cookie(
            COOKIE,
            form.size.data,
            max_age=COOKIE_MAX_AGE,
            path="/",
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=False,  # text-size.js reads and sets it too
        )
    return response
