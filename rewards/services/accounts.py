"""Accounts: creation with a role and scope, password sign-in (argon2id), enabling/disabling."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import Account, Community, Member, Merchant, Role
from rewards.services.audit import Actor, record, require_community, require_merchant, require_role

# argon2id at OWASP's floor: 19 MiB, 2 passes, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this when the username is unknown keeps sign-in timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to protect Party members' personal information."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少 {MIN_PASSWORD_LENGTH} 位。")


def create_account(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    community_id: int | None = None,
    merchant_id: int | None = None,
    member_id: int | None = None,
    now: datetime | None = None,
) -> Account:
    """Create a sign-in account. Managers add cashiers of their shop; admins add anyone."""
    now = now or utcnow()
    if actor.role is Role.MERCHANT_MANAGER:
        if role is not Role.CASHIER:
            raise ValidationFailed("店长只能添加收银员账号。")
        require_merchant(actor, merchant_id or -1)
    elif actor.role is Role.SECRETARY:
        if role is not Role.MEMBER:
            raise ValidationFailed("社区书记只能为本社区党员开通账号。")
    else:
        require_role(actor, Role.DISTRICT_ADMIN)
    username = (username or "").strip()
    if not USERNAME.match(username):
        raise ValidationFailed("用户名为 3 到 40 位字母、数字、下划线、点或横线。")
    check_password_rules(password)
    display_name = (display_name or "").strip() or username
    if role is Role.SECRETARY and (
        community_id is None or session.get(Community, community_id) is None
    ):
        raise ValidationFailed("社区书记账号必须属于一个社区。")
    if role in (Role.CASHIER, Role.MERCHANT_MANAGER) and (
        merchant_id is None or session.get(Merchant, merchant_id) is None
    ):
        raise ValidationFailed("收银员和店长账号必须属于一家商家。")
    if role is Role.MEMBER:
        member = session.get(Member, member_id) if member_id is not None else None
        if member is None:
            raise ValidationFailed("党员账号必须对应一名在册党员。")
        if actor.role is Role.SECRETARY:
            require_community(actor, member.community_id, "找不到该党员。")
        community_id = member.community_id
    account = Account(
        username=username,
        display_name=display_name[:60],
        password_hash=hash_password(password),
        role=role,
        community_id=community_id if role in (Role.SECRETARY, Role.MEMBER) else None,
        merchant_id=merchant_id if role in (Role.CASHIER, Role.MERCHANT_MANAGER) else None,
        member_id=member_id if role is Role.MEMBER else None,
        is_enabled=True,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:
        raise Conflict("用户名已被使用，或该党员已有账号。") from exc
    record(
        session,
        actor,
        "account.create",
        "account",
        account.id,
        at=now,
        username=username,
        role=str(role),
    )
    return account


def authenticate(
    session: Session, username: str, password: str, now: datetime | None = None
) -> Account | None:
    """The enabled account with this username and password, or None (same timing either way)."""
    account = session.scalar(select(Account).where(Account.username == (username or "").strip()))
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if account is None or not account.is_enabled:
        return None
    now = now or utcnow()
    expires = account.password_expires_at if account.must_change_password else None
    if expires is not None and now >= expires:
        return None  # a one-time password not used in time is no password
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = now
    return account


def set_enabled(
    session: Session, actor: Actor, account_id: int, enabled: bool, now: datetime | None = None
) -> Account:
    """Disable (or re-enable) an account; a disabled account cannot sign in."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("找不到该账号。")
    if actor.role is Role.MERCHANT_MANAGER:
        if account.role is not Role.CASHIER:
            raise ValidationFailed("店长只能停用或启用收银员账号。")
        require_merchant(actor, account.merchant_id or -1)
    else:
        require_role(actor, Role.DISTRICT_ADMIN)
    if actor.account_id == account.id and not enabled:
        raise ValidationFailed("不能停用自己的账号。")
    account.is_enabled = enabled
    record(
        session,
        actor,
        "account.enable" if enabled else "account.disable",
        "account",
        account.id,
        at=now,
    )
    return account


def change_password(
    session: Session, actor: Actor, account_id: int, new_password: str, now: datetime | None = None
) -> None:
    """Set a new password for one's own account (or any, for an administrator)."""
    if actor.account_id != account_id:
        require_role(actor, Role.DISTRICT_ADMIN)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("找不到该账号。")
    check_password_rules(new_password)
    account.password_hash = hash_password(new_password)
    account.must_change_password = False
    account.password_expires_at = None
    record(session, actor, "account.password", "account", account.id, at=now)


# How long a one-time password handed out by the district stays valid.
ONE_TIME_PASSWORD_VALID = timedelta(days=7)
# No 0/O, 1/I/L: read off paper or a phone call and typed.
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_one_time_password() -> str:
    """Ten characters, easy to read out and to type (e.g. ``k7m2-q9xh-pt``)."""
    return "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(10))


def set_one_time_password(account: Account, now: datetime) -> str:
    """Give ``account`` a one-time password (to hand out), replaced at the first sign-in."""
    password = new_one_time_password()
    account.password_hash = hash_password(password)
    account.must_change_password = True
    account.password_expires_at = now + ONE_TIME_PASSWORD_VALID
    return password


def reset_password(
    session: Session, actor: Actor, account_id: int, now: datetime | None = None
) -> str:
    """A new one-time password for an account (重置密码), shown once to the administrator; the
    old password stops working, and the new one must be replaced at the first sign-in."""
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("找不到该账号。")
    password = set_one_time_password(account, now)
    record(session, actor, "account.reset_password", "account", account.id, at=now)
    return password
