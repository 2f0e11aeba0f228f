"""The audit log: one row for every write, who did it and to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime


class AuditEvent(db.Model):
    """Who (an account, an API key or the operator CLI) did what to which record, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        # The audit log's filters (and the sign-in throttle: failures per label in 15 minutes).
        Index("ix_audit_events_actor_label_recorded_at", "actor_label", "recorded_at"),
        Index("ix_audit_events_actor_account_id_recorded_at", "actor_account_id", "recorded_at"),
        Index("ix_audit_events_action_recorded_at", "action", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(24))
    object_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
