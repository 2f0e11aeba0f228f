"""The points ledger (积分台账): append-only, hash-chained per member."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.extensions import db
from rewards.models.types import UTCDateTime, str_enum


class EntryKind(enum.StrEnum):
    AWARD = "award"  # a certified claim
    ATTENDANCE = "attendance"  # an activity attended
    ADJUSTMENT = "adjustment"  # a secretary's or administrator's correction with a reason
    REVERSAL = "reversal"  # cancels one earlier entry


class LedgerEntry(db.Model):
    """One signed points movement. Never updated or deleted: a correction is a reversal entry.

    Each member's entries form a chain: ``seq`` counts 1, 2, 3 … and ``entry_hash`` covers the
    entry's fields and ``prev_hash``, the hash of the member's previous entry.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("points <> 0", name="points_nonzero"),
        CheckConstraint("seq > 0", name="seq_positive"),
        CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_has_target"
        ),
        UniqueConstraint("member_id", "seq"),
        Index("ix_ledger_entries_member_id_occurred_on", "member_id", "occurred_on"),
        Index("ix_ledger_entries_community_id_recorded_at", "community_id", "recorded_at"),
        # The district's statistics: points by month of service date, per community.
        Index("ix_ledger_entries_occurred_on_community_id", "occurred_on", "community_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    seq: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, "entry_kind"))
    source_type: Mapped[str] = mapped_column(String(24))  # claim / activity / adjustment / entry
    source_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    memo: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.id} member={self.member_id} {self.points:+d} {self.kind}>"


class CheckpointKind(enum.StrEnum):
    DAILY = "daily"  # at most one per business date (cron)
    ON_DEMAND = "on_demand"  # whenever the operator asks


class LedgerCheckpoint(db.Model):
    """A signed snapshot of every member's chain head (检查点), so that deleting a member's newest
    entries, or a whole chain, is noticed. Only ever inserted (``services/checkpoints.py``).

    ``digest`` is SHA-256 over the sorted ``(member_id, seq, entry_hash)`` heads; ``signature``
    is an HMAC (itsdangerous, keyed by ``SECRET_KEY``) over the checkpoint's fields and the
    digest, so whoever can write to the database but does not hold the key cannot forge one.
    """

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (
        CheckConstraint("member_count >= 0", name="member_count_not_negative"),
        CheckConstraint("entry_count >= 0", name="entry_count_not_negative"),
        # One daily checkpoint per business date (on-demand ones are not limited).
        Index(
            "uq_ledger_checkpoints_daily_business_date",
            "business_date",
            unique=True,
            sqlite_where=text("kind = 'daily'"),
            postgresql_where=text("kind = 'daily'"),
        ),
        Index("ix_ledger_checkpoints_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    kind: Mapped[CheckpointKind] = mapped_column(str_enum(CheckpointKind, "checkpoint_kind"))
    business_date: Mapped[date] = mapped_column(Date)
    member_count: Mapped[int] = mapped_column(Integer)
    entry_count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

    heads: Mapped[list[LedgerCheckpointHead]] = relationship(
        order_by="LedgerCheckpointHead.member_id", lazy="raise"
    )

    def __repr__(self) -> str:
        return f"<LedgerCheckpoint {self.id} {self.kind} {self.business_date}>"


class LedgerCheckpointHead(db.Model):
    """One member's chain head (last ``seq`` and its ``entry_hash``) in a checkpoint."""

    __tablename__ = "ledger_checkpoint_heads"

    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_checkpoints.id"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))
