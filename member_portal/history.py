"""The member's points history (积分明细): the whole ledger, paged, newest first, each entry
with its reason in words; filtered by the year of the service date."""

from flask import Response, render_template, request
from flask_login import current_user

from member_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import Role
from rewards.services.history import ledger_years, member_ledger
from rewards.web import page_arg

ENTRIES_PER_PAGE = 20


@bp.get("/history")
@requires_role(Role.MEMBER)
def history() -> Response:
    """Every ledger entry of the member, newest first, 20 a page; ``?year=2025`` keeps one year
    of service dates (a year without entries, or nonsense, shows every year)."""
    actor = current_actor()
    years = ledger_years(db.session, actor, current_user.member_id)
    year = request.args.get("year", type=int)
    if year not in years:
        year = None
    page = member_ledger(
        db.session,
        actor,
        current_user.member_id,
        year=year,
        page=page_arg(),
        page_size=ENTRIES_PER_PAGE,
    )
    body = render_template("member/history.html", page=page, years=years, year=year)
    return Response(body, headers={"Cache-Control": "private, no-store"})
