"""Alliance merchants (联盟商家): the district's register (sign up with a manager account,
suspend and resume with a reason) and the merchants' POS API keys (shown once, stored as
SHA-256, revocable)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import ScalarSelect, Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import Account, Agreement, ApiKey, AuditEvent, Merchant, Role
from rewards.services import accounts
from rewards.services.accounts import USERNAME
from rewards.services.audit import Actor, record, require_merchant, require_role
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate

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


# -- the district's register of alliance merchants (联盟商家) ----------------------------------

MERCHANT_CODE = re.compile(r"^M\d{3,7}$")
PHONE = re.compile(r"^[0-9][0-9-]{5,18}[0-9]$")
REASON_LENGTH = (2, 200)
# A staff member of a suspended merchant reads this at sign-in, on their next page, at the POS.
SUSPENDED_MESSAGE = "本店已暂停联盟资格：{reason}，请联系区里"
STATUS_ACTIONS = ("merchant.create", "merchant.suspend", "merchant.resume")
STAFF_ROLES = (Role.CASHIER, Role.MERCHANT_MANAGER)


class MerchantSuspended(Forbidden):
    """A suspended merchant's staff or POS key is refused (403 ``forbidden``), saying why."""


def suspension_message(merchant: Merchant) -> str:
    """Why ``merchant``'s staff and keys are refused, in the words they read."""
    reason = (merchant.suspension_reason or "").rstrip("。.，,；;！!") or "未注明原因"
    return SUSPENDED_MESSAGE.format(reason=reason)


def staff_refusal(session: Session, account: Account) -> str | None:
    """The refusal for a cashier or manager of a suspended merchant; None for anyone else."""
    if account.role not in STAFF_ROLES or account.merchant_id is None:
        return None
    merchant = session.get(Merchant, account.merchant_id)
    if merchant is None or merchant.is_enabled:
        return None
    return suspension_message(merchant)


def pos_key_refusal(session: Session, key: str) -> MerchantSuspended | None:
    """For a live key that ``authenticate_pos_key`` refused: the reason its merchant is
    suspended; None for a missing, unknown or revoked key (those stay 401)."""
    if not key or not key.startswith(KEY_PREFIX):
        return None
    row = session.execute(_key_statement(), {"key_hash": _digest(key)}).first()
    if row is None or row[0].revoked_at is not None or row[1].is_enabled:
        return None
    return MerchantSuspended(suspension_message(row[1]))


@dataclass(frozen=True)
class MerchantRow:
    """A merchant in the district's list, with its agreements and staff counted."""

    merchant: Merchant
    agreements: int
    staff: int


def _agreement_count() -> ScalarSelect[int]:
    return (
        select(func.count(Agreement.id))
        .where(Agreement.merchant_id == Merchant.id)
        .correlate(Merchant)
        .scalar_subquery()
    )


def _staff_count() -> ScalarSelect[int]:
    return (
        select(func.count(Account.id))
        .where(Account.merchant_id == Merchant.id, Account.role.in_(STAFF_ROLES))
        .correlate(Merchant)
        .scalar_subquery()
    )


def search_merchants(
    session: Session,
    actor: Actor,
    query: str = "",
    status: str = "",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[MerchantRow]:
    """Merchants by code, matched on name, code, category or address; ``status`` is
    "active", "suspended" or "" for all."""
    require_role(actor, Role.DISTRICT_ADMIN)
    statement = select(Merchant, _agreement_count(), _staff_count()).order_by(Merchant.code)
    query = (query or "").strip()[:60]
    if query:
        statement = statement.where(
            or_(
                Merchant.name.contains(query, autoescape=True),
                Merchant.code.startswith(query.upper(), autoescape=True),
                Merchant.category.contains(query, autoescape=True),
                Merchant.address.contains(query, autoescape=True),
            )
        )
    if status in ("active", "suspended"):
        statement = statement.where(Merchant.is_enabled.is_(status == "active"))
    found = paginate(session, statement, page, page_size, scalars=False)
    return found.map(lambda row: MerchantRow(row[0], int(row[1]), int(row[2])))


def next_merchant_code(session: Session) -> str:
    """The next free code after the highest M-number in use (M131 after M130)."""
    codes = session.scalars(select(Merchant.code).where(Merchant.code.startswith("M")))
    numbers = [int(code[1:]) for code in codes if MERCHANT_CODE.match(code)]
    return f"M{max(numbers, default=0) + 1:03d}"


def manager_username_for(code: str) -> str:
    """The proposed manager username of a merchant code (M131 -> m131-manager)."""
    return f"{code.strip().lower()}-manager"


def merchant_categories(session: Session) -> list[str]:
    """The merchant categories in use (餐饮, 超市 …), to pick from or add to."""
    statement = select(Merchant.category).where(Merchant.category != "").distinct()
    return sorted(session.scalars(statement))


def merchant_by_code(session: Session, actor: Actor, code: str) -> Merchant:
    """The merchant with ``code`` (any case), for the district administrator."""
    require_role(actor, Role.DISTRICT_ADMIN)
    code = (code or "").strip().upper()
    merchant = session.scalar(select(Merchant).where(Merchant.code == code)) if code else None
    if merchant is None:
        raise NotFound("找不到该商家。")
    return merchant


@dataclass(frozen=True)
class NewMerchant:
    """A merchant just created, its manager and the manager's one-time password (shown once)."""

    merchant: Merchant
    manager: Account
    password: str


def _check_new_merchant(session: Session, fields: dict[str, str]) -> dict[str, list[str]]:
    """What is wrong with a new merchant's fields, by field name (empty: all good)."""
    limits = {"name": (2, 80), "category": (1, 24), "address": (2, 120), "manager_name": (1, 60)}
    labels = {"name": "店名", "category": "类别", "address": "地址", "manager_name": "店长姓名"}
    errors: dict[str, list[str]] = {}
    if not MERCHANT_CODE.match(fields["code"]):
        errors["code"] = ["商家代码为 M 加 3 到 7 位数字，例如 M131。"]
    elif session.scalar(select(Merchant.id).where(Merchant.code == fields["code"])):
        errors["code"] = [f"商家代码 {fields['code']} 已被使用，请换一个。"]
    for name, (low, high) in limits.items():
        if not low <= len(fields[name]) <= high:
            errors[name] = [f"请填写{labels[name]}（{low} 到 {high} 个字）。"]
    if not PHONE.match(fields["phone"]):
        errors["phone"] = ["请填写联系电话：手机号或带区号的座机，例如 0535-6123456。"]
    username = fields["manager_username"]
    if not USERNAME.match(username):
        errors["manager_username"] = ["用户名为 3 到 40 位字母、数字、下划线、点或横线。"]
    elif session.scalar(select(Account.id).where(Account.username == username)):
        errors["manager_username"] = [f"用户名 {username} 已被使用，请换一个。"]
    return errors


def create_merchant(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    category: str,
    address: str,
    phone: str,
    manager_username: str,
    manager_name: str,
    now: datetime | None = None,
) -> NewMerchant:
    """Sign up a merchant (加入联盟) with its manager (店长) account and a one-time password.

    All or nothing: a refusal names each wrong field and writes nothing.
    """
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    fields = {
        "code": (code or "").strip().upper(),
        "name": (name or "").strip(),
        "category": (category or "").strip(),
        "address": (address or "").strip(),
        "phone": (phone or "").strip(),
        "manager_username": (manager_username or "").strip(),
        "manager_name": (manager_name or "").strip(),
    }
    errors = _check_new_merchant(session, fields)
    if errors:
        raise ValidationFailed(" ".join(m for ms in errors.values() for m in ms), fields=errors)
    merchant = Merchant(
        code=fields["code"],
        name=fields["name"],
        category=fields["category"],
        address=fields["address"],
        phone=fields["phone"],
        is_enabled=True,
        created_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent sign-up of the same code
            session.add(merchant)
    except IntegrityError as exc:
        raise Conflict(f"商家代码 {fields['code']} 已被使用，请换一个。") from exc
    manager = accounts.create_account(
        session,
        actor,
        fields["manager_username"],
        accounts.new_one_time_password(),
        Role.MERCHANT_MANAGER,
        fields["manager_name"],
        merchant_id=merchant.id,
        now=now,
    )
    password = accounts.set_one_time_password(manager, now)
    record(
        session,
        actor,
        "merchant.create",
        "merchant",
        merchant.id,
        at=now,
        code=merchant.code,
        name=merchant.name,
        manager=manager.username,
    )
    return NewMerchant(merchant, manager, password)


def _reason(reason: str, what: str) -> str:
    reason = " ".join((reason or "").split())
    low, high = REASON_LENGTH
    if not low <= len(reason) <= high:
        raise ValidationFailed(
            f"请填写{what}原因（{low} 到 {high} 个字）。",
            fields={"reason": [f"请填写{what}原因。"]},
        )
    return reason


def suspend_merchant(
    session: Session, actor: Actor, merchant_id: int, reason: str, now: datetime | None = None
) -> Merchant:
    """Suspend a merchant (暂停联盟资格): its staff and POS keys are refused at once, with
    ``reason``; its records stay."""
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    reason = _reason(reason, "暂停")
    merchant = session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None:
        raise NotFound("找不到该商家。")
    if not merchant.is_enabled:
        raise Conflict(f"{merchant.code} {merchant.name} 已经暂停。")
    merchant.is_enabled = False
    merchant.suspension_reason = reason
    merchant.suspended_at = now
    record(session, actor, "merchant.suspend", "merchant", merchant.id, at=now, reason=reason)
    return merchant


def resume_merchant(
    session: Session, actor: Actor, merchant_id: int, reason: str, now: datetime | None = None
) -> Merchant:
    """Resume a suspended merchant (恢复联盟资格): its staff and keys work again."""
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    reason = _reason(reason, "恢复")
    merchant = session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None:
        raise NotFound("找不到该商家。")
    if merchant.is_enabled:
        raise Conflict(f"{merchant.code} {merchant.name} 没有暂停，无需恢复。")
    merchant.is_enabled = True
    merchant.suspension_reason = None
    merchant.suspended_at = None
    record(session, actor, "merchant.resume", "merchant", merchant.id, at=now, reason=reason)
    return merchant


def reset_manager_password(
    session: Session, actor: Actor, merchant_id: int, account_id: int, now: datetime | None = None
) -> tuple[Account, str]:
    """A new one-time password for one of the merchant's managers (a lost welcome sheet)."""
    require_role(actor, Role.DISTRICT_ADMIN)
    account = session.get(Account, account_id)
    if (
        account is None
        or account.merchant_id != merchant_id
        or account.role is not Role.MERCHANT_MANAGER
    ):
        raise NotFound("找不到该店长账号。")
    return account, accounts.reset_password(session, actor, account.id, now)


# -- a merchant's page -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    """One line of a merchant's status history (加入, 暂停, 恢复), from the audit log."""

    action: str
    at: datetime
    who: str
    reason: str


@dataclass(frozen=True)
class KeySummary:
    """A merchant's POS keys at a glance."""

    live: int
    revoked: int
    last_used_at: datetime | None


@dataclass(frozen=True)
class MerchantFile:
    """Everything the district's page of one merchant shows."""

    merchant: Merchant
    history: list[StatusChange]
    staff: list[Account]
    agreements: int
    keys: KeySummary


def merchant_file(session: Session, actor: Actor, code: str) -> MerchantFile:
    """One merchant with its status history, staff, agreements and POS keys."""
    merchant = merchant_by_code(session, actor, code)
    events = session.execute(
        select(AuditEvent, Account.display_name)
        .outerjoin(Account, Account.id == AuditEvent.actor_account_id)
        .where(
            AuditEvent.object_type == "merchant",
            AuditEvent.object_id == merchant.id,
            AuditEvent.action.in_(STATUS_ACTIONS),
        )
        .order_by(AuditEvent.recorded_at.desc(), AuditEvent.id.desc())
    ).all()
    history = [
        StatusChange(
            event.action,
            event.recorded_at,
            name or event.actor_label,
            str((event.details or {}).get("reason", "")),
        )
        for event, name in events
    ]
    staff = list(
        session.scalars(
            select(Account)
            .where(Account.merchant_id == merchant.id, Account.role.in_(STAFF_ROLES))
            .order_by(Account.role.desc(), Account.username)
        )
    )
    agreements = session.scalar(
        select(func.count(Agreement.id)).where(Agreement.merchant_id == merchant.id)
    )
    live, revoked, last_used = session.execute(
        select(
            func.count(ApiKey.id).filter(ApiKey.revoked_at.is_(None)),
            func.count(ApiKey.id).filter(ApiKey.revoked_at.is_not(None)),
            func.max(ApiKey.last_used_at),
        ).where(ApiKey.merchant_id == merchant.id)
    ).one()
    return MerchantFile(
        merchant, history, staff, int(agreements or 0), KeySummary(live, revoked, last_used)
    )
