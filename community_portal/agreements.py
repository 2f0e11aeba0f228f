"""The community's development agreements (发展协议), read-only for the secretary: the merchants
whose agreements cover the community's members (its own and the district-wide ones), with the
terms in force today and the versions still to come. The district office signs and amends them."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from community_portal import bp
from community_portal.scope import is_district, staff
from rewards.auth import current_actor
from rewards.extensions import db
from rewards.services import agreements
from rewards.web import page_arg

PAGE_SIZE = 50


@bp.get("/agreements")
@staff
def agreement_list() -> Response | str:
    """The agreements covering the secretary's community; the district has its own pages."""
    if is_district():
        community = request.args.get("community", "").strip()
        args = {"community": community} if community else {}
        return redirect(url_for("district.agreement_list", **args))
    page = agreements.list_agreements(
        db.session, current_actor(), page=page_arg(), page_size=PAGE_SIZE
    )
    return render_template("community/agreements/list.html", page=page)
