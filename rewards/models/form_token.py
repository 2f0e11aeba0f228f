"""One-time form tokens (表单一次性令牌): a creating form may be submitted once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime


class FormToken(db.Model):
    """A form's nonce, recorded in the transaction of the write it caused.

    The UNIQUE nonce is the guard: a refreshed POST, a resubmit after the back button or a
    double click carries the same nonce and finds it taken, so nothing is written twice.
    ``result_url`` is where the first submission led; ``sealed_secret`` holds a secret the
    result page shows once (encrypted, emptied when shown)."""

    __tablename__ = "form_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    form: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    result_url: Mapped[str | None] = mapped_column(String(300))
    sealed_secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
