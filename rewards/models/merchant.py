"""Alliance merchants (红色联盟商家) and their POS API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime


class Merchant(db.Model):
    """A shop in the Red Alliance that grants card discounts under its agreements."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)  # M001..M130
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(24), default="")
    address: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why and since when the district suspended the merchant (暂停联盟资格); NULL while enabled.
    suspension_reason: Mapped[str | None] = mapped_column(String(200))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(db.Model):
    """A POS API key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    label: Mapped[str] = mapped_column(String(60))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
