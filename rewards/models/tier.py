"""Tier policies (积分等级标准): versioned thresholds set by the district."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime


class Tier(enum.StrEnum):
    GOLD = "gold"
    SILVER = "silver"
    NONE = "none"


TIER_LABELS = {Tier.GOLD: "金卡", Tier.SILVER: "银卡", Tier.NONE: "未达等级"}


class TierPolicy(db.Model):
    """Gold and silver thresholds over a trailing window of months; a new version supersedes."""

    __tablename__ = "tier_policies"
    __table_args__ = (
        CheckConstraint("silver_threshold > 0", name="silver_positive"),
        CheckConstraint("gold_threshold > silver_threshold", name="gold_above_silver"),
        CheckConstraint("window_months BETWEEN 1 AND 60", name="window_months_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    gold_threshold: Mapped[int] = mapped_column(Integer)
    silver_threshold: Mapped[int] = mapped_column(Integer)
    window_months: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
