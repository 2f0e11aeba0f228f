"""Party members (党员) on a community roster, and their transfers between communities."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.extensions import db
from rewards.models.community import Community
from rewards.models.types import UTCDateTime, str_enum


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


def mask_name(name: str) -> str:
    """Mask a personal name for merchants: 张三明 → 张*明, 李四 → 李*, 欧阳小明 → 欧**明."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


class Member(db.Model):
    """A Party member registered (报到) in one community."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_community_id_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_no: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(20))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    status: Mapped[MemberStatus] = mapped_column(
        str_enum(MemberStatus, "member_status"), default=MemberStatus.ACTIVE
    )
    employer: Mapped[str] = mapped_column(String(120), default="")
    joined_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    community: Mapped[Community] = relationship(lazy="joined")

    @property
    def masked_name(self) -> str:
        """The name as a merchant may see it (张*明)."""
        return mask_name(self.name)

    def __repr__(self) -> str:
        return f"<Member {self.member_no}>"


class MemberTransfer(db.Model):
    """A member's move from one community's roster to another's; history is kept."""

    __tablename__ = "member_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    from_community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    to_community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    transferred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
