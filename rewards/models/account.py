"""Accounts: people who sign in, each with one role scoped to a community or merchant."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db
from rewards.models.types import UTCDateTime, str_enum


class Role(enum.StrEnum):
    MEMBER = "member"
    SECRETARY = "secretary"
    CASHIER = "cashier"
    MERCHANT_MANAGER = "merchant_manager"
    DISTRICT_ADMIN = "district_admin"


ROLE_LABELS = {
    Role.MEMBER: "党员",
    Role.SECRETARY: "社区书记",
    Role.CASHIER: "收银员",
    Role.MERCHANT_MANAGER: "店长",
    Role.DISTRICT_ADMIN: "区管理员",
}


class Account(UserMixin, db.Model):
    """A sign-in account scoped by role: to a community, a merchant or a member."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "(role <> 'secretary' OR community_id IS NOT NULL)"
            " AND (role NOT IN ('cashier', 'merchant_manager') OR merchant_id IS NOT NULL)"
            " AND (role <> 'member' OR member_id IS NOT NULL)",
            name="role_scope",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "account_role"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A password the district handed out (a new account's or a reset's one-time password): it
    # must be replaced at the first sign-in, and it stops working at ``password_expires_at``.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account cannot sign in
        return self.is_enabled

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def __repr__(self) -> str:
        return f"<Account {self.username} {self.role}>"
