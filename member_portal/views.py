"""Member portal pages: points, tier, the card."""

from flask import render_template
from flask_login import current_user
from markupsafe import Markup

from member_portal import bp
from rewards.auth import card_tokens, current_actor, requires_role
from rewards.extensions import db
from rewards.models import CardStatus, Role
from rewards.services.overview import member_overview
from rewards.services.qrcodes import qr_svg


@bp.get("/")
@requires_role(Role.MEMBER)
def home() -> str:
    """The member's home (我的积分): tier, points, card and latest ledger entries."""
    overview = member_overview(db.session, current_actor(), current_user.member_id)
    card_qr = None
    if overview.card is not None and overview.card.status is CardStatus.ACTIVE:
        # segno's SVG is generated markup, not user input.
        card_qr = Markup(qr_svg(card_tokens().printed_token(overview.card), scale=4))
    return render_template("member/home.html", overview=overview, card_qr=card_qr)
