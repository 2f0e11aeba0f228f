"""Bearer tokens of the people API (登录令牌): a phone app or a district platform signs in with
a username and password and gets a token; only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.models import AccessToken, Account, Role
from rewards.services.audit import Actor, record

PREFIX = "rpt_"
# A member's phone stays signed in for a month; staff tokens last a working day.
LIFETIMES = {Role.MEMBER: timedelta(days=30)}
STAFF_LIFETIME = timedelta(hours=12)
# Writing last_used_at on every call would make every read a write.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: shown to the caller once."""

    token: str
    role: Role
    expires_at: datetime


def issue_token(
    session: Session, account: Account, now: datetime | None = None, ip: str | None = None
) -> IssuedToken:
    """A new token for a signed-in account (the caller checked the password); ``ip``, the
    client's address, is kept with the audit event (sign-in throttling reads it)."""
    now = now or utcnow()
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = now + LIFETIMES.get(account.role, STAFF_LIFETIME)
    row = AccessToken(
        account_id=account.id, token_hash=_digest(token), created_at=now, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    details = {"ip": ip} if ip else {}
    actor = Actor.for_account(account)
    record(session, actor, "api_token.issue", "access_token", row.id, at=now, **details)
    return IssuedToken(token, account.role, expires_at)


def token_account(session: Session, token: str, now: datetime | None = None) -> Account | None:
    """The enabled account a live token belongs to, or None."""
    now = now or utcnow()
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.account.is_enabled:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return row.account


def revoke_token(session: Session, token: str, now: datetime | None = None) -> bool:
    """Sign a token out (its account's other tokens stay); False if unknown or already out."""
    now = now or utcnow()
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    record(
        session, Actor.for_account(row.account), "api_token.revoke", "access_token", row.id, at=now
    )
    return True
