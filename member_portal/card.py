"""The member's card (出示卡码): the rotating online phone QR, full screen."""

from flask import Response, jsonify, render_template
from flask_login import current_user
from markupsafe import Markup

from member_portal import bp
from rewards.auth import card_tokens, current_actor, requires_role
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.models import Role
from rewards.services.overview import PhoneCode, member_phone_code
from rewards.services.qrcodes import qr_svg


def fresh_code() -> PhoneCode:
    """A new online phone code of the signed-in member's card."""
    return member_phone_code(db.session, current_actor(), current_user.member_id, card_tokens())


def qr_markup(code: PhoneCode) -> Markup:
    """The code's QR as inline SVG."""
    # segno's SVG is generated markup, not user input.
    return Markup(qr_svg(code.token))


def no_store(response: Response) -> Response:
    """A phone code must never be cached: by the browser, a proxy or the back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/card")
@requires_role(Role.MEMBER)
def card() -> Response:
    """The phone QR full screen, for showing at the counter; it renews itself before expiry."""
    code = fresh_code()
    return no_store(Response(render_template("member/card.html", code=code, qr=qr_markup(code))))


@bp.get("/card/code")
@requires_role(Role.MEMBER)
def card_code() -> Response:
    """A new phone QR as JSON, fetched by the page when the shown one is about to expire."""
    try:
        code = fresh_code()
    except DomainError as error:
        return no_store(jsonify(error.to_dict())), error.status
    return no_store(
        jsonify(
            svg=qr_svg(code.token),
            expires_at=code.expires_at.isoformat(),
            remaining_seconds=code.ttl_seconds,
        )
    )
