"""The shop's POS API keys: create (the key shown once), list, revoke."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from merchant_portal import bp
from merchant_portal.forms import ApiKeyForm
from merchant_portal.shared import back_office, own_merchant_id
from rewards.auth import current_actor
from rewards.extensions import db
from rewards.forms_once import consume_once, take_secret
from rewards.services import merchant_reports, merchants


@bp.route("/keys", methods=["GET", "POST"])
@back_office
def api_keys() -> str | tuple[str, int] | Response:
    """The shop's POS API keys; create one (shown once, on the result page)."""
    form = ApiKeyForm()
    status = 200
    if form.validate_on_submit():
        once = consume_once(db.session, form, "merchant.api_key")
        if once.repeat is not None:
            return once.repeat
        api_key, secret = merchants.create_api_key(
            db.session, current_actor(), own_merchant_id(), form.label.data
        )
        # PRG: the key is shown once, by the page this redirects to (a refresh creates nothing).
        once.finish(url_for(".key_created", key_id=api_key.id, shown=once.token.id), secret=secret)
        db.session.commit()
        return redirect(once.result_url, code=303)
    if request.method == "POST":
        status = 422
    keys = merchant_reports.api_keys_of_merchant(db.session, current_actor(), own_merchant_id())
    return render_template("merchant/keys.html", form=form, keys=keys), status


@bp.get("/keys/<int:key_id>/created")
@back_office
def key_created(key_id: int) -> Response:
    """The new key, shown once: a refresh (or the history) shows that it was shown already."""
    keys = merchant_reports.api_keys_of_merchant(db.session, current_actor(), own_merchant_id())
    api_key = next((key for key in keys if key.id == key_id), None)
    if api_key is None:
        abort(404)
    secret = take_secret(db.session, request.args.get("shown", type=int))
    db.session.commit()
    page = render_template("merchant/key_created.html", api_key=api_key, secret=secret)
    # The key exists only in this response: keep it out of caches and the history.
    return Response(page, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@bp.post("/keys/<int:key_id>/revoke")
@back_office
def revoke_key(key_id: int) -> Response:
    """Revoke a POS key at once."""
    merchants.revoke_api_key(db.session, current_actor(), key_id)
    db.session.commit()
    flash(_("已吊销该密钥，使用它的收银系统将无法再结算。"), "success")
    return redirect(url_for(".api_keys"))
