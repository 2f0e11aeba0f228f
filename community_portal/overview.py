"""The community portal's home pages: a secretary's overview (what to do next) and the
district table."""

from flask import render_template

from community_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import Role
from rewards.services.overview import community_overview, district_overview


@bp.get("/")
@requires_role(Role.SECRETARY, Role.DISTRICT_ADMIN)
def home() -> str:
    """A secretary's community (社区概览), or the district table for the administrator."""
    actor = current_actor()
    if actor.role is Role.SECRETARY:
        overview = community_overview(db.session, actor, actor.community_id)
        return render_template("community/home.html", overview=overview)
    return render_template("community/district.html", district=district_overview(db.session, actor))


@bp.get("/<code>")
@requires_role(Role.SECRETARY, Role.DISTRICT_ADMIN)
def community(code: str) -> str:
    """One community's overview by its code (C01 …); a secretary may open only their own."""
    overview = community_overview(db.session, current_actor(), code=code)
    return render_template("community/home.html", overview=overview)
