"""Development agreements (发展协议) between a merchant and one community or all communities."""

from __future__ import annotations

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
from rewards.models.community import Community
from rewards.models.merchant import Merchant
from rewards.models.types import UTCDateTime


class Agreement(db.Model):
    """The lasting bond between a merchant and a community (``community_id`` NULL: all of them).

    Its terms live in versions; an amendment adds a version and never edits an old one.
    """

    __tablename__ = "agreements"
    __table_args__ = (
        UniqueConstraint("merchant_id", "community_id"),
        # At most one district-wide agreement per merchant (NULLs are distinct in UNIQUE).
        Index(
            "uq_agreements_one_districtwide_per_merchant",
            "merchant_id",
            unique=True,
            sqlite_where=text("community_id IS NULL"),
            postgresql_where=text("community_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    community: Mapped[Community | None] = relationship(lazy="joined")
    versions: Mapped[list[AgreementVersion]] = relationship(
        back_populates="agreement", order_by="AgreementVersion.version"
    )


class AgreementVersion(db.Model):
    """One version of an agreement's terms: pay percentage per tier (88 = 88折), cap, minimum."""

    __tablename__ = "agreement_versions"
    __table_args__ = (
        UniqueConstraint("agreement_id", "version"),
        CheckConstraint("gold_pay_percent BETWEEN 1 AND 100", name="gold_pay_percent_range"),
        CheckConstraint("silver_pay_percent BETWEEN 1 AND 100", name="silver_pay_percent_range"),
        CheckConstraint("cap_fen IS NULL OR cap_fen > 0", name="cap_positive"),
        CheckConstraint("min_spend_fen >= 0", name="min_spend_nonnegative"),
        CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from", name="valid_period_ordered"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    version: Mapped[int] = mapped_column(Integer)
    gold_pay_percent: Mapped[int] = mapped_column(Integer)
    silver_pay_percent: Mapped[int] = mapped_column(Integer)
    cap_fen: Mapped[int | None] = mapped_column(Integer)
    min_spend_fen: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    agreement: Mapped[Agreement] = relationship(back_populates="versions", lazy="joined")

    def in_effect_on(self, day: date) -> bool:
        """Whether these terms apply on business date ``day`` (from valid_from to valid_until)."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)
