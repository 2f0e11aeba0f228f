"""Member portal pages: points, tier, and the card's rotating phone QR."""

from flask import Response, jsonify, render_template
from flask_login import current_user
from markupsafe import Markup

from member_portal import bp
from rewards.auth import card_tokens, current_actor, requires_role
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.models import CardStatus, Role
from rewards.services.overview import PhoneCode, member_overview, member_phone_code
from rewards.services.qrcodes import qr_svg


def _fresh_code() -> PhoneCode:
    return member_phone_code(db.session, current_actor(), current_user.member_id, card_tokens())


def _qr(code: PhoneCode) -> Markup:
    # segno's SVG is generated markup, not user input.
    return Markup(qr_svg(code.token))


def _no_store(response: Response) -> Response:
    """A phone code must never be cached: by the browser, a proxy or the back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@requires_role(Role.MEMBER)
def home() -> Response:
    """The member's home (我的积分): tier, points, card with its phone QR, latest entries."""
    overview = member_overview(db.session, current_actor(), current_user.member_id)
    code = None
    if overview.card is not None and overview.card.status is CardStatus.ACTIVE:
        code = _fresh_code()
    page = render_template(
        "member/home.html", overview=overview, code=code, qr=_qr(code) if code else None
    )
    return _no_store(Response(page))


@bp.get("/card")
@requires_role(Role.MEMBER)
def card() -> Response:
    """The phone QR full screen, for showing at the counter; it renews itself before expiry."""
    code = _fresh_code()
    return _no_store(Response(render_template("member/card.html", code=code, qr=_qr(code))))


@bp.get("/card/code")
@requires_role(Role.MEMBER)
def card_code() -> Response:
    """A new phone QR as JSON, fetched by the page when the shown one is about to expire."""
    try:
        code = _fresh_code()
    except DomainError as error:
        return _no_store(jsonify(error.to_dict())), error.status
    return _no_store(
        jsonify(
            svg=qr_svg(code.token),
            expires_at=code.expires_at.isoformat(),
            remaining_seconds=code.ttl_seconds,
        )
    )
