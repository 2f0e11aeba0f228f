"""The shop's development agreements (发展协议), read-only: each version's terms."""

from __future__ import annotations

from flask import render_template

from merchant_portal import bp
from merchant_portal.shared import back_office, own_merchant_id
from rewards.clock import business_date
from rewards.extensions import db
from rewards.services import agreements


@bp.get("/agreements")
@back_office
def agreement_list() -> str:
    """The shop's development agreements (发展协议) with each version's terms."""
    today = business_date()
    found = [
        (agreement, agreements.version_in_force(db.session, agreement.id, today))
        for agreement in agreements.agreements_of_merchant(db.session, own_merchant_id())
    ]
    return render_template("merchant/agreements.html", agreements=found, today=today)
