"""The member's home (我的积分): tier, points, progress, the points about to leave the window,
pending claims, unread notices (消息), the card and its code; and the notices page."""

from flask import Response, render_template
from flask_login import current_user

from member_portal import bp
from member_portal.card import fresh_code, qr_markup
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import CardStatus, Role
from rewards.services import notices, tiers
from rewards.services.overview import TIER_DROP_DAYS, member_overview
from rewards.web import no_store, page_arg

NOTICES_PER_PAGE = 20


@bp.get("/")
@requires_role(Role.MEMBER)
def home() -> Response:
    """The member's home (我的积分): tier, points, what leaves the window in 30 days, pending
    claims, unread notices, the card with its phone QR, latest entries."""
    actor = current_actor()
    overview = member_overview(db.session, actor, current_user.member_id)
    # 积分到期预警: the tier in 30 days if nothing new is certified.
    outlook = tiers.outlook(db.session, [overview.member.id], days=TIER_DROP_DAYS)
    code = None
    if overview.card is not None and overview.card.status is CardStatus.ACTIVE:
        code = fresh_code()
    page = render_template(
        "member/home.html",
        overview=overview,
        outlook=outlook[overview.member.id],
        unread=notices.unread_count(db.session, actor),
        code=code,
        qr=qr_markup(code) if code else None,
    )
    return no_store(Response(page))


@bp.get("/notices")
@requires_role(Role.MEMBER)
def notice_list() -> Response:
    """The member's notices (消息), newest first; opening the page marks them all read (the new
    ones stay highlighted on this visit)."""
    actor = current_actor()
    page = notices.my_notices(db.session, actor, page=page_arg(), page_size=NOTICES_PER_PAGE)
    fresh = {notice.id for notice in page.items if notice.read_at is None}
    body = render_template("member/notices.html", page=page, fresh=fresh)
    # Reading is the point of the page: a GET that marks is enough here (nothing is lost).
    notices.mark_read(db.session, actor)
    db.session.commit()
    return no_store(Response(body))
