"""Members' first sign-in (首次登录): the secretary prints one-time activation codes (激活码,
valid 30 days); the member types their member number and the code and sets a password.

Only a code's SHA-256 is stored. The code itself is derived from a random salt and the app's
secret key, so the batch's sheet can be printed again while it is valid, but the database alone
does not reveal any code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import Account, ActivationCode, Member, MemberStatus, Role
from rewards.services import accounts
from rewards.services.audit import Actor, record, require_community, require_role

VALID_FOR = timedelta(days=30)
# No 0/O, 1/I/L: a code is read off paper and typed by people of every age.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
MAX_BATCH = 500
# Wrong codes for one member number within the window lock that number's activation briefly.
FAILED_ACTION = "account.activation_failed"


class ActivationCodes:
    """Derives codes from a salt with the app's secret keys (oldest to newest; newest derives)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self._keys = [k.encode() for k in secret_keys]

    def _derive(self, key: bytes, salt: str) -> str:
        digest = hmac.new(key, f"rewards.activation:{salt}".encode(), hashlib.sha256).digest()
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(CODE_LENGTH):
            number, index = divmod(number, len(ALPHABET))
            chars.append(ALPHABET[index])
        return "".join(chars)

    def new(self) -> tuple[str, str]:
        """A fresh (salt, code) pair."""
        salt = secrets.token_hex(16)
        return salt, self._derive(self._keys[-1], salt)

    def recover(self, salt: str, code_hash: str) -> str | None:
        """The code of ``salt`` whose hash is ``code_hash`` (any key that is still configured)."""
        for key in reversed(self._keys):
            code = self._derive(key, salt)
            if hash_code(code) == code_hash:
                return code
        return None


def normalise_code(text: str) -> str:
    """A typed code without spaces and dashes, upper case."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def format_code(code: str) -> str:
    """ABCDE-FGHJK: easier to read off paper and type."""
    return f"{code[:5]}-{code[5:]}"


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


@dataclass(frozen=True)
class ActivationSlip:
    """One member's slip on the printed sheet."""

    member: Member
    username: str  # the sign-in name after activation
    code: str  # formatted
    expires_at: datetime


def account_usernames(session: Session, actor: Actor, member_ids: Sequence[int]) -> dict[int, str]:
    """Sign-in names of the members among ``member_ids`` who already have an account (开通)."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if not member_ids:
        return {}
    rows = session.execute(
        select(Account.member_id, Account.username).where(Account.member_id.in_(member_ids))
    )
    return {member_id: username for member_id, username in rows}


def issue_codes(
    session: Session,
    actor: Actor,
    codes: ActivationCodes,
    member_ids: Sequence[int],
    now: datetime | None = None,
) -> str:
    """Issue a code to each member (a newer code replaces an unused older one); returns the
    batch, whose sheet ``batch_slips`` prints. All or nothing."""
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    wanted = list(dict.fromkeys(member_ids))
    if not wanted:
        raise ValidationFailed("请先勾选要生成激活码的党员。")
    if len(wanted) > MAX_BATCH:
        raise ValidationFailed(f"一次最多生成 {MAX_BATCH} 个激活码。")
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(wanted)))}
    for member_id in wanted:
        member = members.get(member_id)
        if member is None:
            raise NotFound("找不到该党员。")
        require_community(actor, member.community_id, "找不到该党员。")
        if member.status is not MemberStatus.ACTIVE:
            raise ValidationFailed(
                f"{member.name}（{member.member_no}）的登记已停用，不能开通账号。"
            )
    session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.member_id.in_(wanted),
            ActivationCode.used_at.is_(None),
            ActivationCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    batch = secrets.token_hex(8)
    try:
        with session.begin_nested():
            for member_id in wanted:
                salt, code = codes.new()
                session.add(
                    ActivationCode(
                        member_id=member_id,
                        batch=batch,
                        salt=salt,
                        code_hash=hash_code(code),
                        created_at=now,
                        created_by_id=actor.account_id,
                        expires_at=now + VALID_FOR,
                    )
                )
    except IntegrityError as exc:  # someone issued codes to the same members at this moment
        raise Conflict("刚有人为其中的党员生成了激活码，请刷新页面后重试。") from exc
    record(
        session,
        actor,
        "activation.issue",
        "activation_batch",
        None,
        at=now,
        batch=batch,
        member_ids=wanted,
    )
    return batch


def batch_slips(
    session: Session,
    actor: Actor,
    codes: ActivationCodes,
    batch: str,
    now: datetime | None = None,
) -> list[ActivationSlip]:
    """The batch's still-usable codes, to print (again), in member number order."""
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    rows = session.scalars(select(ActivationCode).where(ActivationCode.batch == batch)).all()
    if not rows:
        raise NotFound("找不到这批激活码。")
    for row in rows:
        require_community(actor, row.member.community_id, "找不到这批激活码。")
    usernames = account_usernames(session, actor, [row.member_id for row in rows])
    slips = []
    for row in rows:
        code = codes.recover(row.salt, row.code_hash) if row.usable_at(now) else None
        if code is not None:
            username = usernames.get(row.member_id, row.member.member_no)
            slips.append(ActivationSlip(row.member, username, format_code(code), row.expires_at))
    return sorted(slips, key=lambda s: s.member.member_no)


def _wait(session: Session, member_no: str, address: str, now: datetime) -> timedelta:
    """How long an activation attempt for ``member_no`` from ``address`` must still wait: the
    sign-in rule (per number and address, growing delays; a ceiling per number that never
    refuses an address without failures of its own; see accounts.failure_wait)."""
    label = f"activation:{member_no[:20]}"
    return accounts.failure_wait(session, FAILED_ACTION, label, address, now)


class ActivationRefused(ValidationFailed):
    """A wrong, used or expired code; the caller records the failure (see ``record_failure``)."""


def record_failure(
    session: Session,
    member_no: str,
    now: datetime | None = None,
    address: str | None = None,
) -> None:
    """Count a failed activation against the member number and the client address (commit it
    on its own)."""
    record(
        session,
        Actor(label=f"activation:{(member_no or '').strip().upper()[:20]}"),
        FAILED_ACTION,
        "member",
        None,
        at=now,
        ip=accounts.client_address(address),
    )


def activate(
    session: Session,
    member_no: str,
    code: str,
    password: str,
    now: datetime | None = None,
    address: str | None = None,
) -> Account:
    """Set a member's password with their activation code: creates their account (sign-in name:
    the member number) or resets the one they have. The code then is spent."""
    now = now or utcnow()
    member_no = (member_no or "").strip().upper()
    wait = _wait(session, member_no, accounts.client_address(address), now)
    if wait:  # refused before the code is looked at; not another failure
        raise accounts.AttemptsDelayed(wait, "尝试次数过多")
    accounts.check_password_rules(password)
    refused = ActivationRefused("党员编号或激活码不正确，或激活码已使用、已过期。请核对后重试。")
    row = session.scalar(
        select(ActivationCode)
        .where(ActivationCode.code_hash == hash_code(code))
        .with_for_update(of=ActivationCode)
    )
    if row is None or row.member.member_no != member_no or not row.usable_at(now):
        raise refused
    member = row.member
    if member.status is not MemberStatus.ACTIVE:
        raise refused
    account = session.scalar(select(Account).where(Account.member_id == member.id))
    if account is None:
        try:
            with session.begin_nested():
                account = Account(
                    username=member.member_no,
                    display_name=member.name,
                    password_hash=accounts.hash_password(password),
                    role=Role.MEMBER,
                    community_id=member.community_id,
                    member_id=member.id,
                    is_enabled=True,
                    created_at=now,
                )
                session.add(account)
        except IntegrityError as exc:
            raise Conflict("账号已存在，请直接登录或联系社区。") from exc
    else:
        account.password_hash = accounts.hash_password(password)
        account.is_enabled = True
    row.used_at = now
    account.last_login_at = now
    record(
        session,
        Actor.for_account(account),
        "account.activate",
        "account",
        account.id,
        at=now,
        member_id=member.id,
    )
    return account
