"""Merchant portal pages: the cashier's counter and the manager's back office."""

from flask import render_template

from merchant_portal import bp
from rewards.auth import requires_role
from rewards.models import Role


@bp.get("/")
@requires_role(Role.CASHIER, Role.MERCHANT_MANAGER)
def home() -> str:
    return render_template("merchant/home.html")
