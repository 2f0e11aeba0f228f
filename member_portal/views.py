"""Member portal pages: points, tier, the card."""

from flask import render_template

from member_portal import bp
from rewards.auth import requires_role
from rewards.models import Role


@bp.get("/")
@requires_role(Role.MEMBER)
def home() -> str:
    return render_template("member/home.html")
