"""The member's home (我的积分): tier, points in the window, progress, the card and its code."""

from flask import Response, render_template
from flask_login import current_user

from member_portal import bp
from member_portal.card import fresh_code, no_store, qr_markup
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import CardStatus, Role
from rewards.services.overview import member_overview


@bp.get("/")
@requires_role(Role.MEMBER)
def home() -> Response:
    """The member's home (我的积分): tier, points, card with its phone QR, latest entries."""
    overview = member_overview(db.session, current_actor(), current_user.member_id)
    code = None
    if overview.card is not None and overview.card.status is CardStatus.ACTIVE:
        code = fresh_code()
    page = render_template(
        "member/home.html", overview=overview, code=code, qr=qr_markup(code) if code else None
    )
    return no_store(Response(page))
