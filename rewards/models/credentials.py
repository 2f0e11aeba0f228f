"""Sign-in credentials besides the password: people-API tokens and members' activation codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.extensions import db
from rewards.models.account import Account
from rewards.models.member import Member
from rewards.models.types import UTCDateTime


class AccessToken(db.Model):
    """A bearer token of the people API (登录令牌). Only its SHA-256 is stored."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(lazy="joined")


_OPEN = "used_at IS NULL AND revoked_at IS NULL"


class ActivationCode(db.Model):
    """A one-time code a member uses to set their password at first sign-in (激活码).

    Codes are printed in batches; ``salt`` lets the batch's sheet be printed again (the code is
    derived from it and the secret key), while the database alone holds only the code's hash.
    """

    __tablename__ = "activation_codes"
    __table_args__ = (
        Index("ix_activation_codes_member_id_used_at", "member_id", "used_at"),
        # At most one usable code per member: a newer code replaces (revokes) the older one.
        Index(
            "uq_activation_codes_one_open_per_member",
            "member_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    batch: Mapped[str] = mapped_column(String(32), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A newer code for the same member replaces this one.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship(lazy="joined")

    def usable_at(self, at: datetime) -> bool:
        """Not used, not replaced and not expired at instant ``at``."""
        return self.used_at is None and self.revoked_at is None and at < self.expires_at
