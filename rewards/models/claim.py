"""What earns points: categories, members' service claims (申报) and community activities."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.extensions import db
from rewards.models.member import Member
from rewards.models.types import UTCDateTime, str_enum


class PointCategory(db.Model):
    """A kind of service that earns points (双认领, 微心愿, 志愿服务 …) with its default points."""

    __tablename__ = "point_categories"
    __table_args__ = (
        CheckConstraint("default_points > 0", name="default_points_positive"),
        CheckConstraint("max_points >= default_points", name="max_points_at_least_default"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    default_points: Mapped[int] = mapped_column(Integer)
    max_points: Mapped[int] = mapped_column(Integer)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    CERTIFIED = "certified"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # by the member, while it was pending


CLAIM_STATUS_LABELS = {
    ClaimStatus.PENDING: "待认定",
    ClaimStatus.CERTIFIED: "已认定",
    ClaimStatus.REJECTED: "已驳回",
    ClaimStatus.WITHDRAWN: "已撤回",
}


class Claim(db.Model):
    """A member's claim of a service done, waiting for the community secretary to certify (认定)."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejection_has_reason"
        ),
        CheckConstraint(
            "certified_points IS NULL OR certified_points > 0", name="certified_points_positive"
        ),
        Index("ix_claims_community_id_status", "community_id", "status"),
        # The queue: pending claims oldest first.
        Index("ix_claims_status_submitted_at", "status", "submitted_at"),
        # The district's statistics: claims decided in a period (turnaround).
        Index("ix_claims_status_decided_at", "status", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("point_categories.id"))
    points: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ClaimStatus] = mapped_column(
        str_enum(ClaimStatus, "claim_status"), default=ClaimStatus.PENDING
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    rejection_reason: Mapped[str | None] = mapped_column(String(200))
    # The points certified: the proposal in ``points``, or what the secretary set instead (up
    # to the category's maximum). NULL until certified.
    certified_points: Mapped[int | None] = mapped_column(Integer)

    member: Mapped[Member] = relationship()
    category: Mapped[PointCategory] = relationship(lazy="joined")
    photos: Mapped[list[ClaimPhoto]] = relationship(order_by="ClaimPhoto.id")


class ClaimPhoto(db.Model):
    """A photo attached to a claim as evidence (证明照片): checked by content, location removed,
    stored under the instance folder with a thumbnail; the row says where and what."""

    __tablename__ = "claim_photos"
    __table_args__ = (CheckConstraint("byte_size > 0", name="byte_size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(24))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Activity(db.Model):
    """A community activity (活动) whose attendance earns the same points for every attendee."""

    __tablename__ = "activities"
    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("point_categories.id"))
    title: Mapped[str] = mapped_column(String(120))
    occurred_on: Mapped[date] = mapped_column(Date)
    points: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    category: Mapped[PointCategory] = relationship(lazy="joined")


class Attendance(db.Model):
    """One member's recorded attendance of one activity; recorded once, however often submitted."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("activity_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
