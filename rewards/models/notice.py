"""Notices to a member (消息): their claim was certified or rejected, their card changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime


class Notice(db.Model):
    """One message for a member, unread until they have seen it."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_member_id_read_at", "member_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(32))  # claim.certify, claim.reject, card.suspend …
    message: Mapped[str] = mapped_column(String(300))
    object_type: Mapped[str] = mapped_column(String(24))
    object_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
