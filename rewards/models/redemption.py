"""Redemptions: discounted sales at a merchant, with a snapshot of the terms applied."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.tier import Tier
from rewards.models.types import UTCDateTime, str_enum


class RedemptionStatus(enum.StrEnum):
    COMPLETED = "completed"
    VOIDED = "voided"


class Redemption(db.Model):
    """One discounted sale, recorded once per idempotency key; a void changes status only."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("discount_fen >= 0", name="discount_nonnegative"),
        CheckConstraint("discount_fen <= amount_fen", name="discount_within_amount"),
        CheckConstraint("payable_fen = amount_fen - discount_fen", name="payable_is_difference"),
        CheckConstraint(
            "status <> 'voided' OR (void_reason IS NOT NULL AND voided_at IS NOT NULL)",
            name="void_has_reason",
        ),
        Index("ix_redemptions_merchant_id_business_date", "merchant_id", "business_date"),
        # The district's statistics: card use by month across merchants.
        Index("ix_redemptions_business_date", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer)
    payable_fen: Mapped[int] = mapped_column(Integer)
    # Snapshot of what decided the discount, so later amendments never rewrite history.
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, "redemption_tier"))
    tier_points: Mapped[int] = mapped_column(Integer)
    tier_policy_version: Mapped[int] = mapped_column(Integer)
    agreement_version_id: Mapped[int] = mapped_column(ForeignKey("agreement_versions.id"))
    pay_percent: Mapped[int] = mapped_column(Integer)
    cap_fen: Mapped[int | None] = mapped_column(Integer)
    min_spend_fen: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(80))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # The phone token's nonce: UNIQUE, so a phone code pays once, at any merchant.
    token_nonce: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[RedemptionStatus] = mapped_column(
        str_enum(RedemptionStatus, "redemption_status"), default=RedemptionStatus.COMPLETED
    )
    business_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    void_reason: Mapped[str | None] = mapped_column(String(200))
