"""The member's card (出示卡码): the offline phone code (离线卡码, DESIGN rule 4), computed by the
phone itself so that it works in airplane mode, and the online signed phone QR (联网卡码).

The page asks for the offline key (the card's TOTP secret) once per phone, keeps it in the
browser, never in a cookie or in the page's HTML, and polls whether the code on screen was used.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, jsonify, render_template, request
from flask_login import current_user
from markupsafe import Markup
from marshmallow import Schema, ValidationError, fields, validate

from member_portal import bp
from rewards.auth import card_tokens, current_actor, requires_role
from rewards.errors import DomainError, Forbidden, Unauthorized
from rewards.errors import ValidationFailed as Invalid
from rewards.extensions import csrf, db
from rewards.models import CardStatus, Role
from rewards.services.offline_codes import issue_offline_key
from rewards.services.overview import PhoneCode, member_phone_code
from rewards.services.qrcodes import qr_svg
from rewards.services.shown_codes import ShownCodes, offline_key_id, shown_code_status
from rewards.web import no_store

# The page's own checks of what it shows: the status is polled every STATUS_POLL_SECONDS.
STATUS_POLL_SECONDS = 2


def fresh_code() -> PhoneCode:
    """A new online phone code of the signed-in member's card."""
    return member_phone_code(db.session, current_actor(), current_user.member_id, card_tokens())


def qr_markup(code: PhoneCode) -> Markup:
    """The code's QR as inline SVG."""
    # segno's SVG is generated markup, not user input.
    return Markup(qr_svg(code.token))


def _json_error(error: DomainError) -> Response:
    response = no_store(jsonify(error.to_dict()))
    response.status_code = error.status
    return response


def member_json(view: Callable[..., Response]) -> Callable[..., Response]:
    """A JSON endpoint of the signed-in member's card: errors answer as JSON (401 signed out,
    403 another role, the domain's own codes), never as a page or a redirect to sign in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        if not current_user.is_authenticated:
            return _json_error(Unauthorized("请先登录。"))
        if current_user.role is not Role.MEMBER:
            return _json_error(Forbidden("卡码只能由党员本人查看。"))
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            db.session.rollback()
            return _json_error(error)

    return wrapped


@bp.get("/card")
@requires_role(Role.MEMBER)
def card() -> Response:
    """The card page: the offline code (QR, Code 128, digits) and the online QR; the service
    worker keeps this page for airplane mode, so it holds no secret."""
    shown = shown_code_status(db.session, current_actor(), card_tokens())
    code = fresh_code() if shown.card_status is CardStatus.ACTIVE else None
    page = render_template(
        "member/card.html",
        shown=shown,
        code=code,
        qr=qr_markup(code) if code else None,
        poll_seconds=STATUS_POLL_SECONDS,
    )
    return no_store(Response(page))


@bp.get("/card/code")
@member_json
def card_code() -> Response:
    """A new phone QR as JSON, fetched by the page when the shown one is about to expire."""
    code = fresh_code()
    return no_store(
        jsonify(
            svg=qr_svg(code.token),
            token=code.token,  # the page asks whether it was used (it is in the QR anyway)
            expires_at=code.expires_at.isoformat(),
            remaining_seconds=code.ttl_seconds,
        )
    )


@bp.post("/card/offline-key")
@member_json
def card_offline_key() -> Response:
    """A new offline key for this phone (离线卡码密钥); the old one, and every code made with it,
    stops working. Only for the signed-in member, never cached."""
    key = issue_offline_key(db.session, current_actor(), card_tokens().box)
    db.session.commit()
    return no_store(
        jsonify(
            card_number=key.card_number,
            secret=key.secret,
            digits=key.digits,
            period=key.period,
            algorithm=key.algorithm,
            key_id=offline_key_id(key.secret),
        )
    )


class ShownCodesQuery(Schema):
    """What the screen shows: the offline code's period, the online code."""

    period = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(0, 2**40)
    )
    token = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=400))


def _shown_codes_json(shown: ShownCodes) -> dict[str, Any]:
    offline = shown.offline
    return {
        "card_status": str(shown.card_status) if shown.card_status else None,
        "card_number": shown.card.card_no if shown.card else None,
        "server_time": shown.server_time,
        "key_id": shown.key_id,
        "offline": None
        if offline is None
        else {
            "period": offline.period,
            "used": offline.used,
            "previous_used": offline.previous_used,
        },
        "online_used": shown.online_used,
    }


@bp.post("/card/status")
@csrf.exempt  # reads only; POST keeps the online code out of URLs and logs
@member_json
def card_status() -> Response:
    """Whether the codes on the member's screen were used at a counter (已使用), the card's
    state, the server's time and the current offline key's name."""
    try:
        query = ShownCodesQuery().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        raise Invalid("卡码状态查询的参数有误。", fields=error.messages) from error
    shown = shown_code_status(
        db.session, current_actor(), card_tokens(), query["period"], query["token"]
    )
    return no_store(jsonify(_shown_codes_json(shown)))
