"""The alliance directory for the member (联盟商家): my discount at my tier today, gold's,
searched by name or address and filtered by category."""

from flask import render_template, request

from member_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import Role
from rewards.services.directory import MAX_QUERY, merchant_directory
from rewards.web import page_arg


@bp.get("/merchants")
@requires_role(Role.MEMBER)
def merchant_list() -> str:
    """The alliance merchants, each with my discount today and what gold would give."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    category = request.args.get("category", "").strip()
    only_agreed = request.args.get("agreed") == "1"
    directory = merchant_directory(
        db.session,
        current_actor(),
        query=query,
        category=category,
        only_agreed=only_agreed,
        page=page_arg(),
    )
    return render_template(
        "member/merchants.html",
        directory=directory,
        query=query,
        category=category,
        only_agreed=only_agreed,
    )
