"""Who is acting (an ``Actor``), what they may reach, and the audit record of every write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Forbidden, NotFound
from rewards.models import (
    Account,
    ApiKey,
    AuditEvent,
    Role,
)


@dataclass(frozen=True)
class Actor:
    """The person or system behind a call, with the community or merchant it is scoped to."""

    label: str
    role: Role | None = None  # None: the operator CLI, trusted like a district administrator
    account_id: int | None = None
    community_id: int | None = None
    merchant_id: int | None = None
    member_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def for_account(cls, account: Account) -> Actor:
        return cls(
            label=f"account:{account.username}",
            role=account.role,
            account_id=account.id,
            community_id=account.community_id,
            merchant_id=account.merchant_id,
            member_id=account.member_id,
        )

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Actor:
        return cls(
            label=f"api-key:{key.prefix}",
            role=Role.CASHIER,
            merchant_id=key.merchant_id,
            api_key_id=key.id,
        )

    @classmethod
    def operator(cls, label: str = "cli") -> Actor:
        return cls(label=label)

    @property
    def is_district_wide(self) -> bool:
        return self.role in (None, Role.DISTRICT_ADMIN)


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse unless the actor has one of ``roles`` (the operator CLI passes every check)."""
    if actor.role is not None and actor.role not in roles:
        raise Forbidden()


def require_community(
    actor: Actor, community_id: int, missing: str = "找不到所请求的记录。"
) -> None:
    """A secretary reaches only their own community; district-wide actors reach all.

    Another community's object is "not found" (``missing``), never a hint that it exists; a
    role without any community scope is refused outright.
    """
    if actor.is_district_wide:
        return
    if actor.role is not Role.SECRETARY:
        raise Forbidden()
    if actor.community_id != community_id:
        raise NotFound(missing)


def require_merchant(actor: Actor, merchant_id: int) -> None:
    """Merchant staff and keys reach only their own merchant."""
    if actor.is_district_wide:
        return
    if actor.merchant_id == merchant_id and actor.role in (Role.CASHIER, Role.MERCHANT_MANAGER):
        return
    raise Forbidden("只能处理本店的记录。")


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    at: datetime | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an audit event for a write made in this transaction."""
    event = AuditEvent(
        recorded_at=at or utcnow(),
        actor_account_id=actor.account_id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
    session.add(event)
    return event
