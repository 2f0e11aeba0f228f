"""Accounts: creation with a role and scope, password sign-in (argon2id), enabling/disabling,
one-time passwords, sign-in throttling and the district's accounts office (账号管理)."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, NotFound, TooManyAttempts, ValidationFailed
from rewards.models import Account, AuditEvent, Community, Member, Merchant, Role
from rewards.services.audit import Actor, record, require_community, require_merchant, require_role
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate

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


# -- sign-in throttling (登录限速) -------------------------------------------------------------
#
# The rule lives here so that the sign-in page, the people API's token endpoint, the member's
# password page and the district's accounts list read one rule (docs/security.md, "Sign-in
# throttling"). Failures are audit events (SIGN_IN_FAILED under the label ``sign-in:<username>``
# with the client address in ``details.ip``), so every gunicorn worker sees the same counts.
#
# - Per (username, address): FREE_FAILURES_PER_ADDRESS failures within THROTTLE_WINDOW cost
#   nothing; after that each failure from that address makes the next attempt for that username
#   from that address wait FIRST_DELAY, then twice as long each time, up to MAX_DELAY. An
#   attempt during the wait is refused (429) without looking at the password, and is not
#   another failure. A successful sign-in from an address clears that address's failures.
# - Per username (all addresses): past USERNAME_CEILING failures within the window, an address
#   the account has not signed in from within KNOWN_ADDRESS_MEMORY gets CEILING_FREE_FAILURES
#   free failure and then waits from CEILING_FIRST_DELAY, doubling. An address with no failures
#   of its own is never made to wait, so the right password always gets in from an address the
#   attacker has not used: the ceiling slows guessers, it never locks the username.
# - Failures before the account's latest unlock (解除限制), password reset, activation or
#   creation no longer count, for every address.

THROTTLE_WINDOW = timedelta(minutes=15)
FREE_FAILURES_PER_ADDRESS = 5
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
USERNAME_CEILING = 50
CEILING_FREE_FAILURES = 1
CEILING_FIRST_DELAY = timedelta(seconds=5)
KNOWN_ADDRESS_MEMORY = timedelta(days=90)
UNKNOWN_ADDRESS = "unknown"

SIGN_IN_FAILED = "account.sign_in_failed"
SIGN_IN_SUCCEEDED = ("account.sign_in", "api_token.issue")
UNLOCK = "account.unlock"
LOCK_CLEARING_ACTIONS = (UNLOCK, "account.reset_password", "account.create", "account.activate")


class AttemptsDelayed(TooManyAttempts):
    """An attempt made before its wait is over: refused unchecked, with the wait in words and
    in seconds (``retry_after``, for the ``Retry-After`` header and the API's details)."""

    def __init__(self, wait: timedelta, what: str = "登录失败次数过多") -> None:
        self.retry_after = max(1, math.ceil(wait.total_seconds()))
        super().__init__(
            f"{what}，请 {wait_in_words(self.retry_after)}后再试。", retry_after=self.retry_after
        )


def wait_in_words(seconds: int) -> str:
    """``"3 秒"`` under a minute, else whole minutes rounded up (``"2 分钟"``)."""
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


def delay_after(
    failures: int, free: int = FREE_FAILURES_PER_ADDRESS, first: timedelta = FIRST_DELAY
) -> timedelta:
    """How long the next attempt must wait after the ``failures``-th counted failure."""
    if failures < free:
        return timedelta(0)
    return min(first * 2 ** min(failures - free, 20), MAX_DELAY)


def client_address(address: str | None) -> str:
    """The address failures are counted under (``request.remote_addr``; see docs/security.md
    on proxies)."""
    return (address or "").strip()[:64] or UNKNOWN_ADDRESS


def _ip_is(address: str) -> ColumnElement[bool]:
    return AuditEvent.details["ip"].as_string() == address


def failure_wait(
    session: Session,
    action: str,
    label: str,
    address: str,
    now: datetime,
    cleared: int = 0,
    address_cleared: Callable[[], int] = lambda: 0,
    known_address: Callable[[], bool] = lambda: False,
) -> timedelta:
    """How long an attempt from ``address`` must still wait, given the failures ``action``
    recorded under ``label`` within the window after event id ``cleared`` (the rule above);
    zero when it may go ahead. The callables are asked only when they matter."""
    counted = (
        AuditEvent.action == action,
        AuditEvent.actor_label == label,
        AuditEvent.recorded_at >= now - THROTTLE_WINDOW,
        AuditEvent.id > cleared,
    )
    total = session.scalar(select(func.count(AuditEvent.id)).where(*counted)) or 0
    if total == 0:
        return timedelta(0)  # the usual case: one query on the window
    floor = max(cleared, address_cleared())
    mine, last = session.execute(
        select(func.count(AuditEvent.id), func.max(AuditEvent.recorded_at)).where(
            *counted, AuditEvent.id > floor, _ip_is(address)
        )
    ).one()
    if not mine:
        return timedelta(0)  # no failures of its own: never made to wait
    free, first = FREE_FAILURES_PER_ADDRESS, FIRST_DELAY
    if total >= USERNAME_CEILING and not known_address():
        free, first = CEILING_FREE_FAILURES, CEILING_FIRST_DELAY
    return max(last + delay_after(mine, free, first) - now, timedelta(0))


def throttle_label(username: str) -> str:
    """The audit label that failed sign-ins for ``username`` are counted under."""
    return f"sign-in:{(username or '').strip()[:40]}"


def _cleared_after(session: Session, account_id: int | None, since: datetime) -> int:
    """The id of the latest event since ``since`` that cleared the account's failures (0 when
    none; an older one cannot matter, the failures before it are out of the window anyway)."""
    if account_id is None:
        return 0
    latest = select(func.max(AuditEvent.id)).where(
        AuditEvent.recorded_at >= since,
        AuditEvent.action.in_(LOCK_CLEARING_ACTIONS),
        AuditEvent.object_type == "account",
        AuditEvent.object_id == account_id,
    )
    return int(session.scalar(latest) or 0)


def _signed_in_from(account_id: int, address: str, since: datetime) -> Select[tuple[int]]:
    return select(func.max(AuditEvent.id)).where(
        AuditEvent.actor_account_id == account_id,
        AuditEvent.recorded_at >= since,
        AuditEvent.action.in_(SIGN_IN_SUCCEEDED),
        _ip_is(address),
    )


def sign_in_wait(
    session: Session, username: str, address: str | None, now: datetime | None = None
) -> timedelta:
    """How long a sign-in for ``username`` from ``address`` must still wait (zero: go ahead);
    the same for the page and the token endpoint."""
    now = now or utcnow()
    username = (username or "").strip()
    address = client_address(address)
    since = now - THROTTLE_WINDOW
    label = throttle_label(username)
    quick = select(AuditEvent.id).where(
        AuditEvent.action == SIGN_IN_FAILED,
        AuditEvent.actor_label == label,
        AuditEvent.recorded_at >= since,
    )
    if session.scalar(quick.limit(1)) is None:
        return timedelta(0)
    account_id = session.scalar(select(Account.id).where(Account.username == username))

    def address_cleared() -> int:
        if account_id is None:
            return 0
        return int(session.scalar(_signed_in_from(account_id, address, since)) or 0)

    def known_address() -> bool:
        if account_id is None:
            return False
        recent = now - KNOWN_ADDRESS_MEMORY
        return session.scalar(_signed_in_from(account_id, address, recent)) is not None

    return failure_wait(
        session,
        SIGN_IN_FAILED,
        label,
        address,
        now,
        cleared=_cleared_after(session, account_id, since),
        address_cleared=address_cleared,
        known_address=known_address,
    )


def record_sign_in_failure(
    session: Session, username: str, address: str | None, now: datetime | None = None
) -> None:
    """Count a failed sign-in against ``username`` from ``address`` (page and API alike)."""
    actor = Actor(label=throttle_label(username))
    record(session, actor, SIGN_IN_FAILED, "account", None, at=now, ip=client_address(address))


@dataclass(frozen=True)
class SignInPressure:
    """Failed sign-ins counting against a username now, as the district sees them."""

    failures: int
    addresses: int
    last_failure: datetime

    @property
    def over_ceiling(self) -> bool:
        """Past the username's ceiling: unfamiliar addresses wait after their first failure."""
        return self.failures >= USERNAME_CEILING


def sign_in_pressures(
    session: Session, usernames: Iterable[str], now: datetime | None = None
) -> dict[str, SignInPressure]:
    """The usernames among ``usernames`` with at least FREE_FAILURES_PER_ADDRESS counted
    failures in the window (some address may be waiting), with what counts against them."""
    now = now or utcnow()
    labels = {throttle_label(name): name for name in usernames}
    if not labels:
        return {}
    failures = session.execute(
        select(
            AuditEvent.actor_label,
            AuditEvent.id,
            AuditEvent.recorded_at,
            AuditEvent.details["ip"].as_string(),
        ).where(
            AuditEvent.action == SIGN_IN_FAILED,
            AuditEvent.recorded_at >= now - THROTTLE_WINDOW,
            AuditEvent.actor_label.in_(labels),
        )
    ).all()
    by_name: dict[str, list[tuple[int, datetime, str | None]]] = {}
    for label, event_id, at, ip in failures:
        by_name.setdefault(labels[label], []).append((event_id, at, ip))
    candidates = [n for n, rows in by_name.items() if len(rows) >= FREE_FAILURES_PER_ADDRESS]
    cleared = _cleared_ids(session, candidates)
    pressures = {}
    for name in candidates:
        counted = [
            (at, ip) for event_id, at, ip in by_name[name] if event_id > cleared.get(name, 0)
        ]
        if len(counted) >= FREE_FAILURES_PER_ADDRESS:
            pressures[name] = SignInPressure(
                failures=len(counted),
                addresses=len({ip for _, ip in counted}),
                last_failure=max(at for at, _ in counted),
            )
    return pressures


def _cleared_ids(session: Session, usernames: list[str]) -> dict[str, int]:
    """For each username with an account: the id of its latest unlock, reset or creation."""
    if not usernames:
        return {}
    rows = session.execute(
        select(Account.username, func.max(AuditEvent.id))
        .join(
            AuditEvent,
            and_(AuditEvent.object_type == "account", AuditEvent.object_id == Account.id),
        )
        .where(Account.username.in_(usernames), AuditEvent.action.in_(LOCK_CLEARING_ACTIONS))
        .group_by(Account.username)
    ).all()
    return {name: int(event_id) for name, event_id in rows}


def pressured_usernames(session: Session, now: datetime | None = None) -> dict[str, SignInPressure]:
    """Every username with failed sign-ins counting against it now (see ``sign_in_pressures``)."""
    now = now or utcnow()
    crowded = session.scalars(
        select(AuditEvent.actor_label)
        .where(
            AuditEvent.action == SIGN_IN_FAILED,
            AuditEvent.recorded_at >= now - THROTTLE_WINDOW,
        )
        .group_by(AuditEvent.actor_label)
        .having(func.count(AuditEvent.id) >= FREE_FAILURES_PER_ADDRESS)
    ).all()
    names = [label.removeprefix("sign-in:") for label in crowded if label.startswith("sign-in:")]
    return sign_in_pressures(session, names, now)


def unlock(session: Session, actor: Actor, account_id: int, now: datetime | None = None) -> Account:
    """Clear the failed sign-ins counting against an account (解除登录限制), from every address:
    no address waits any more."""
    require_role(actor, Role.DISTRICT_ADMIN)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("找不到该账号。")
    record(session, actor, UNLOCK, "account", account.id, at=now, username=account.username)
    return account


# -- the district's accounts office (账号管理) ------------------------------------------------

# What the accounts list can show by state (状态).
ACCOUNT_STATES = {
    "enabled": "正常",
    "disabled": "已停用",
    "throttled": "登录受限",
    "one_time": "须修改密码",
}
# The accounts list's order of roles: the district's own people first, members last.
_ROLE_ORDER = {
    Role.DISTRICT_ADMIN: 0,
    Role.SECRETARY: 1,
    Role.MERCHANT_MANAGER: 2,
    Role.CASHIER: 3,
    Role.MEMBER: 4,
}
# Accounts the district opens with a one-time password; merchant staff are opened with their
# merchant, members with their activation code (激活码).
OPENED_BY_THE_DISTRICT = (Role.SECRETARY, Role.DISTRICT_ADMIN)
MAX_ACCOUNT_QUERY = 40


@dataclass(frozen=True)
class AccountRow:
    """An account as the district lists it: where it belongs and whether it can sign in now."""

    account: Account
    community_name: str | None
    merchant_name: str | None
    member_no: str | None
    sign_in_pressure: SignInPressure | None

    @property
    def scope(self) -> str:
        """The community or merchant the account belongs to; "" for the whole district."""
        return self.merchant_name or self.community_name or ""

    @property
    def one_time_password_pending(self) -> bool:
        """A one-time password handed out and not yet replaced (须修改密码)."""
        return self.account.must_change_password


def _account_rows() -> Select[tuple[Account, str | None, str | None, str | None]]:
    return (
        select(Account, Community.name, Merchant.name, Member.member_no)
        .outerjoin(Community, Community.id == Account.community_id)
        .outerjoin(Merchant, Merchant.id == Account.merchant_id)
        .outerjoin(Member, Member.id == Account.member_id)
    )


def search_accounts(
    session: Session,
    actor: Actor,
    query: str = "",
    *,
    role: Role | None = None,
    community_id: int | None = None,
    merchant_id: int | None = None,
    state: str = "",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: datetime | None = None,
) -> Page[AccountRow]:
    """Every sign-in account (账号), the district's people first, searched by username or
    name, filtered by role, community, merchant and state (``ACCOUNT_STATES``)."""
    require_role(actor, Role.DISTRICT_ADMIN)
    now = now or utcnow()
    statement = _account_rows().order_by(
        case(_ROLE_ORDER, value=Account.role, else_=9), Account.username
    )
    query = (query or "").strip()[:MAX_ACCOUNT_QUERY]
    if query:
        statement = statement.where(
            or_(
                Account.username.icontains(query, autoescape=True),
                Account.display_name.icontains(query, autoescape=True),
            )
        )
    if role is not None:
        statement = statement.where(Account.role == role)
    if community_id is not None:
        statement = statement.where(Account.community_id == community_id)
    if merchant_id is not None:
        statement = statement.where(Account.merchant_id == merchant_id)
    pressured: dict[str, SignInPressure] | None = None
    if state == "enabled":
        statement = statement.where(Account.is_enabled.is_(True))
    elif state == "disabled":
        statement = statement.where(Account.is_enabled.is_(False))
    elif state == "one_time":
        statement = statement.where(Account.must_change_password.is_(True))
    elif state == "throttled":
        pressured = pressured_usernames(session, now)
        statement = statement.where(Account.username.in_(list(pressured)))
    found = paginate(session, statement, page, page_size, scalars=False)
    if pressured is None:
        pressured = sign_in_pressures(session, [row[0].username for row in found.items], now)
    return found.map(lambda row: AccountRow(*row, sign_in_pressure=pressured.get(row[0].username)))


def account_row(
    session: Session, actor: Actor, account_id: int, now: datetime | None = None
) -> AccountRow:
    """One account as the district sees it (its page), or ``NotFound``."""
    require_role(actor, Role.DISTRICT_ADMIN)
    row = session.execute(_account_rows().where(Account.id == account_id)).first()
    if row is None:
        raise NotFound("找不到该账号。")
    pressures = sign_in_pressures(session, [row[0].username], now)
    return AccountRow(*row, sign_in_pressure=pressures.get(row[0].username))


def merchant_choices(session: Session) -> list[Merchant]:
    """Every merchant by code, for the accounts list's merchant filter."""
    return list(session.scalars(select(Merchant).order_by(Merchant.code)))


def open_account(
    session: Session,
    actor: Actor,
    username: str,
    display_name: str,
    role: Role,
    community_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Account, str]:
    """Open a secretary's or a district administrator's account (开通账号) with a one-time
    password to hand out (valid a week, replaced at the first sign-in); refusals name the
    form fields they concern."""
    now = now or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    problems: dict[str, list[str]] = {}
    if role not in OPENED_BY_THE_DISTRICT:
        problems["role"] = ["这里只开通社区书记和区管理员账号。"]
    if not USERNAME.match(username):
        problems["username"] = ["用户名为 3 到 40 位字母、数字、下划线、点或横线。"]
    elif session.scalar(select(Account.id).where(Account.username == username)) is not None:
        problems["username"] = [f"用户名 {username} 已被使用，请换一个。"]
    if not display_name:
        problems["display_name"] = ["请填写姓名。"]
    elif len(display_name) > 60:
        problems["display_name"] = ["姓名最多 60 个字。"]
    if role is Role.SECRETARY and (
        community_id is None or session.get(Community, community_id) is None
    ):
        problems["community"] = ["社区书记账号必须属于一个社区，请选择社区。"]
    if problems:
        first = next(iter(problems.values()))[0]
        raise ValidationFailed(first, fields=problems)
    account = create_account(
        session,
        actor,
        username,
        secrets.token_urlsafe(24),  # replaced below: only the one-time password is handed out
        role,
        display_name,
        community_id=community_id if role is Role.SECRETARY else None,
        now=now,
    )
    return account, set_one_time_password(account, now)
