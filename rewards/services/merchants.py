"""Merchants' POS API keys: created and shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import ApiKey, Merchant, Role
from rewards.services.audit import Actor, record, require_merchant, require_role

KEY_PREFIX = "rpk_"


def _digest(key: str) -> str:
    # The key has 256 random bits, so a fast hash is safe here and keeps each POS request cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, actor: Actor, merchant_id: int, label: str, now: datetime | None = None
) -> tuple[ApiKey, str]:
    """Create a key for a merchant's POS; returns the record and the key, which is never stored."""
    now = now or utcnow()
    require_role(actor, Role.MERCHANT_MANAGER, Role.DISTRICT_ADMIN)
    require_merchant(actor, merchant_id)
    if session.get(Merchant, merchant_id) is None:
        raise NotFound("找不到该商家。")
    label = (label or "").strip()
    if not 1 <= len(label) <= 60:
        raise ValidationFailed("请给密钥起一个名字（1 到 60 个字），例如“1号收银台”。")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        merchant_id=merchant_id,
        label=label,
        prefix=key[: len(KEY_PREFIX) + 6],
        key_hash=_digest(key),
        created_at=now,
        created_by_id=actor.account_id,
    )
    session.add(api_key)
    session.flush()
    record(
        session,
        actor,
        "api_key.create",
        "api_key",
        api_key.id,
        at=now,
        merchant_id=merchant_id,
        label=label,
        prefix=api_key.prefix,
    )
    return api_key, key


@cache
def _key_statement() -> Select[tuple[ApiKey, Merchant]]:
    """A key by its hash with its merchant; built once, as every POS call runs it."""
    return (
        select(ApiKey, Merchant)
        .join(Merchant, Merchant.id == ApiKey.merchant_id)
        .where(ApiKey.key_hash == bindparam("key_hash"))
    )


def authenticate_pos_key(session: Session, key: str) -> tuple[ApiKey, Merchant] | None:
    """The live key matching ``key`` and its enabled merchant, read in one query; or None.

    Read from the database on every call: a revoked key or a disabled merchant is refused at once.
    """
    if not key or not key.startswith(KEY_PREFIX):
        return None
    row = session.execute(_key_statement(), {"key_hash": _digest(key)}).first()
    if row is None:
        return None
    api_key, merchant = row
    if api_key.revoked_at is not None or not merchant.is_enabled:
        return None
    return api_key, merchant


def authenticate_api_key(session: Session, key: str) -> ApiKey | None:
    """The live key matching ``key``, or None."""
    found = authenticate_pos_key(session, key)
    return found[0] if found is not None else None


# A POS calls many times a minute; noting each call would add a write to every checkout.
API_KEY_USE_RESOLUTION = timedelta(minutes=1)


def note_api_key_use(api_key: ApiKey, now: datetime | None = None) -> bool:
    """Set ``last_used_at`` if it is a minute old or unset; True if the caller should commit."""
    now = now or utcnow()
    if api_key.last_used_at is not None and now - api_key.last_used_at < API_KEY_USE_RESOLUTION:
        return False
    api_key.last_used_at = now
    return True


def revoke_api_key(
    session: Session, actor: Actor, api_key_id: int, now: datetime | None = None
) -> ApiKey:
    """Revoke a key at once; POS requests with it are refused from now on."""
    now = now or utcnow()
    require_role(actor, Role.MERCHANT_MANAGER, Role.DISTRICT_ADMIN)
    api_key = session.get(ApiKey, api_key_id)
    if api_key is None:
        raise NotFound("找不到该密钥。")
    require_merchant(actor, api_key.merchant_id)
    if api_key.revoked_at is not None:
        raise Conflict("该密钥已经吊销。")
    api_key.revoked_at = now
    record(session, actor, "api_key.revoke", "api_key", api_key.id, at=now)
    return api_key
