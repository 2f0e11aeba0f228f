"""Members' first sign-in (首次登录) in the community portal: the secretary ticks members and
prints one-time activation codes (激活码, valid 30 days), 8 slips an A4 page like the cards; the
member uses one at ``/activate`` (``rewards.auth``) to set a password."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from community_portal import bp
from community_portal.cards import (
    PAGE_SIZE,
    ListFilterForm,
    PickMembersForm,
    back,
    form_errors,
    sheets,
)
from community_portal.scope import community_choice, staff
from rewards.auth import current_actor
from rewards.errors import Conflict, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import consume_once
from rewards.services import activation, members
from rewards.services.activation import ActivationCodes
from rewards.web import no_store, page_arg


def _codes() -> ActivationCodes:
    return current_app.extensions["rewards.activation_codes"]


@bp.get("/activation")
@staff
def activation_list() -> str:
    """The community's active members, searchable, to tick for activation codes (激活码)."""
    form = ListFilterForm(request.args)
    form.validate()
    choice = community_choice(form.community.data)
    page = members.search_members(
        db.session,
        current_actor(),
        form.q.data or "",
        community_id=choice.chosen_id,
        page=page_arg(),
        page_size=PAGE_SIZE,
    )
    usernames = activation.account_usernames(
        db.session, current_actor(), [entry.member.id for entry in page.items]
    )
    args = {k: v for k, v in {"q": form.q.data, "community": form.community.data}.items() if v}
    return render_template(
        "community/cards/activation.html",
        form=form,
        page=page,
        usernames=usernames,
        args=args,
        pick=PickMembersForm(formdata=None),
        communities=choice.communities,
    )


@bp.post("/activation")
@staff
def activation_issue() -> Response:
    """One-time activation codes for the ticked members (valid 30 days), then their sheet."""
    form = PickMembersForm()
    if not form.validate():
        for message in form_errors(form):
            flash(message, "error")
        return back(url_for(".activation_list"))
    # Issued again, a batch would replace the codes of the sheet just printed: once per form.
    once = consume_once(db.session, form, "community.activation")
    if once.repeat is not None:
        return once.repeat  # type: ignore[return-value]
    try:
        batch = activation.issue_codes(
            db.session, current_actor(), _codes(), form.member_ids.data or []
        )
    except (Conflict, ValidationFailed) as error:
        db.session.rollback()
        flash(error.message, "error")
        return back(url_for(".activation_list"))
    once.finish(url_for(".activation_sheet", batch=batch))
    db.session.commit()
    count = len(dict.fromkeys(form.member_ids.data or []))
    flash(_("已生成 %(n)s 个激活码，请打印后交给党员本人。", n=count), "success")
    return redirect(once.result_url, code=303)


@bp.get("/activation/<batch>")
@staff
def activation_sheet(batch: str) -> Response:
    """A batch's activation slips (激活码), 8 an A4 page; printable again while valid."""
    slips = activation.batch_slips(db.session, current_actor(), _codes(), batch[:32])
    return no_store(
        render_template(
            "community/cards/activation_sheet.html",
            sheets=sheets(slips),
            count=len(slips),
            activate_url=url_for("auth.activate", _external=True),
        )
    )
