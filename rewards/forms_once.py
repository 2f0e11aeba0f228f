"""No double writes from a browser: a one-time token in every form that creates something.

Each creating form carries a hidden ``form_once`` nonce, minted when the form page is shown.
The POST records the nonce (a UNIQUE row in ``form_tokens``) in the same transaction as the
write it causes; a second POST with the same nonce (refreshing the result of a POST, the back
button and 提交 again, a double click) finds it taken and writes nothing: it is sent to the
result of the first submission instead. Every creating POST answers with a redirect
(POST-redirect-GET), so refreshing a result page repeats only a GET.

A secret that may be shown only once (a POS key, a one-time password) is sealed into the
token's row and shown by the GET page the POST redirects to; the first view empties it, so a
refresh shows no secret and creates nothing.

Usage in a view::

    form = ApiKeyForm()                       # a OnceForm
    if form.validate_on_submit():
        once = consume_once(db.session, form, "merchant.api_key")
        if once.repeat is not None:
            return once.repeat                # already submitted: nothing written
        key, secret = merchants.create_api_key(...)
        once.finish(url_for(".key_created", key_id=key.id), secret=secret)
        db.session.commit()
        return redirect(once.result_url)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, flash, redirect, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import Field, HiddenField
from wtforms.validators import ValidationError

from rewards.clock import utcnow
from rewards.models import FormToken

FIELD_NAME = "form_once"
# A form page older than this is refused (and shown again with a fresh token); the tokens of
# older submissions are purged, since no valid form can carry them any more.
LIFETIME = timedelta(days=1)
MAX_NONCE_LENGTH = 200

ALREADY_SUBMITTED = _l("此表单已提交过，没有重复创建。")
EXPIRED = _l("表单已过期（打开超过一天或页面不完整），请核对后重新提交。")


class _Signer(TimestampSigner):
    """Timestamps from the app's clock (frozen in tests, like every other reading of now)."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _signer() -> _Signer:
    config = current_app.config
    keys = [*reversed(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]
    return _Signer(keys, salt="rewards.form_once")


def new_nonce() -> str:
    """A fresh token for a form page: random, signed and timestamped."""
    return _signer().sign(secrets.token_urlsafe(18)).decode()


def _digest(nonce: str) -> str:
    # Only a digest is stored: the table never holds a token a form could carry.
    return hashlib.sha256(nonce.encode()).hexdigest()


class OnceField(HiddenField):
    """The hidden ``form_once`` field: a new nonce on every fresh form; on a POST, the one
    the page carried (checked by ``OnceForm``)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(default=new_nonce, **kwargs)  # type: ignore[arg-type]


class OnceForm(FlaskForm):
    """A form that creates something: it carries a one-time token (``form_once``)."""

    form_once = OnceField()
    # False on a step that writes nothing (a preview): a missing or stale token is replaced by
    # a fresh one, silently, for the step that writes.
    once_required = True

    def validate_form_once(self, field: Field) -> None:
        sent = field.raw_data[0] if field.raw_data else ""
        try:
            if not sent or len(sent) > MAX_NONCE_LENGTH:
                raise BadSignature("missing")
            _signer().unsign(sent, max_age=int(LIFETIME.total_seconds()))
        except (BadSignature, SignatureExpired):
            if not self.once_required:
                field.data = new_nonce()
                return
            # Shown again with a fresh token and the reason; the person's input is kept.
            field.data = new_nonce()
            flash(str(EXPIRED), "error")
            raise ValidationError(EXPIRED) from None


class TokenOnlyForm(OnceForm):
    """A button that makes something shown once (a new one-time password): only its token.
    The page renders the token with ``form_once_token()``, one per form."""


@dataclass
class Once:
    """The outcome of ``consume_once``: either the token is now taken by this submission
    (``repeat`` is None: go on, write, then ``finish``), or it was taken before (``repeat``
    is the answer to give: the first submission's result, nothing written)."""

    session: Session
    token: FormToken | None = None
    repeat: Response | tuple[str, int] | None = None
    result_url: str = field(default="")

    def finish(self, result_url: str, secret: str | None = None) -> None:
        """Remember where this submission led (and a secret its result page shows once)."""
        assert self.token is not None, "finish() after a repeat"
        self.result_url = result_url
        self.token.result_url = result_url
        if secret is not None:
            self.token.sealed_secret = current_app.extensions["rewards.secret_box"].seal(secret)
        self.session.flush()


def _repeat(token: FormToken | None) -> Response | tuple[str, int]:
    if token is not None and token.account_id == current_user.id and token.result_url:
        flash(str(ALREADY_SUBMITTED), "info")
        return redirect(token.result_url, code=303)
    return render_template("form_once/repeat.html"), 409


def consume_once(session: Session, form: OnceForm, form_name: str) -> Once:
    """Take the form's one-time token, in the current transaction (before the write).

    Call after the form validated. A token taken before — by a commit of this account's
    earlier submission, or of a concurrent one (the UNIQUE nonce) — gives ``repeat``."""
    digest = _digest(form.form_once.data or "")
    found = session.scalar(select(FormToken).where(FormToken.nonce == digest))
    if found is not None:
        return Once(session, repeat=_repeat(found))
    now = utcnow()
    token = FormToken(nonce=digest, form=form_name, account_id=current_user.id, created_at=now)
    try:
        with session.begin_nested():
            session.add(token)
    except IntegrityError:
        # A concurrent submission of the same form committed first: it did the write.
        found = session.scalar(select(FormToken).where(FormToken.nonce == digest))
        return Once(session, repeat=_repeat(found))
    session.execute(
        delete(FormToken).where(
            FormToken.account_id == current_user.id,
            FormToken.created_at < now - LIFETIME,
            FormToken.id != token.id,
        )
    )
    return Once(session, token=token)


def take_secret(session: Session, token_id: int | None) -> str | None:
    """The secret sealed by a submission of the signed-in account, once: it is emptied here
    (the caller commits), so a refresh of the page that shows it gets None."""
    if token_id is None:
        return None
    token = session.scalar(
        select(FormToken)
        .where(FormToken.id == token_id, FormToken.account_id == current_user.id)
        .with_for_update()
    )
    if token is None or token.sealed_secret is None:
        return None
    secret = current_app.extensions["rewards.secret_box"].open(token.sealed_secret)
    token.sealed_secret = None
    session.flush()
    return secret


def already_shown_message() -> str:
    return _("这一内容只显示一次，已经显示过了；刷新不会再次创建。")
