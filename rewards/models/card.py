"""Cards (动力卡): identity tokens for a member, never a stored tier."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.extensions import db
from rewards.models.member import Member
from rewards.models.types import UTCDateTime, str_enum


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    REPLACED = "replaced"


CARD_STATUS_LABELS = {
    CardStatus.ACTIVE: "正常",
    CardStatus.SUSPENDED: "已暂停",
    CardStatus.REVOKED: "已注销",
    CardStatus.REPLACED: "已补办换新",
}

_CURRENT = "status IN ('active', 'suspended')"


class Card(db.Model):
    """A member's card. ``generation`` counts the member's cards; a reissue kills the old codes."""

    __tablename__ = "cards"
    __table_args__ = (
        # One current (active or suspended) card per member, enforced by the database.
        Index(
            "uq_cards_one_current_per_member",
            "member_id",
            unique=True,
            sqlite_where=text(_CURRENT),
            postgresql_where=text(_CURRENT),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(16), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    status: Mapped[CardStatus] = mapped_column(
        str_enum(CardStatus, "card_status"), default=CardStatus.ACTIVE
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    # The offline phone code's TOTP secret (离线卡码密钥), encrypted at rest (services/secretbox);
    # NULL until the member's phone asks for one. A new secret kills every code of the old one.
    offline_secret: Mapped[str | None] = mapped_column(String(300))
    offline_secret_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship(lazy="joined")

    @property
    def is_current(self) -> bool:
        return self.status in (CardStatus.ACTIVE, CardStatus.SUSPENDED)

    @property
    def tail(self) -> str:
        """The last four digits, all a merchant sees of the number."""
        return self.card_no[-4:]
