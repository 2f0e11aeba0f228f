"""Community portal pages: secretaries and district administrators."""

from flask import render_template

from community_portal import bp
from rewards.auth import requires_role
from rewards.models import Role


@bp.get("/")
@requires_role(Role.SECRETARY, Role.DISTRICT_ADMIN)
def home() -> str:
    return render_template("community/home.html")
