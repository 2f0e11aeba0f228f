"""Cards (动力卡): issue, suspend, resume, revoke, reissue; phone and printed-card tokens."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, bindparam, exists, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import (
    CardRevoked,
    CardSuspended,
    Conflict,
    NotFound,
    TokenExpired,
    TokenInvalid,
    ValidationFailed,
)
from rewards.fullwidth import halfwidth
from rewards.models import (
    CARD_STATUS_LABELS,
    Account,
    AuditEvent,
    Card,
    CardStatus,
    Member,
    MemberStatus,
    Redemption,
    Role,
    Tier,
)
from rewards.services import notices
from rewards.services.audit import Actor, record, require_community, require_role
from rewards.services.paging import Page, check_page, paginate
from rewards.services.reports import awaiting_cards
from rewards.services.secretbox import SecretBox
from rewards.services.totp import DIGITS, PERIOD_SECONDS, period_of, totp

CARD_NUMBER_DIGITS = 12


# -- card numbers ---------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: these sit at odd positions once the check digit is added
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def is_valid_card_number(number: str) -> bool:
    """Twelve digits whose last is the Luhn check digit of the rest."""
    return (
        len(number) == CARD_NUMBER_DIGITS
        and number.isascii()  # str.isdigit() also accepts ² or ١, which int() then refuses
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_card_number() -> str:
    """A random card number: 11 digits (first not 0) and a Luhn check digit."""
    body = str(secrets.randbelow(9 * 10**10) + 10**10)
    return body + luhn_check_digit(body)


def format_card_number(number: str) -> str:
    """Group digits for people: 812345678901 → '8123 4567 8901'."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def normalise_card_number(text: str) -> str | None:
    """The card number typed in ``text`` (spaces and dashes allowed, full-width ones and full-width
    digits too), or None if it is not one."""
    digits = halfwidth(text).replace(" ", "").replace("-", "")
    is_number = digits.isascii() and digits.isdigit() and len(digits) == CARD_NUMBER_DIGITS
    return digits if is_number else None


# -- lifecycle --------------------------------------------------------------------------------


def _member_in_scope(session: Session, actor: Actor, member_id: int) -> Member:
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("找不到该党员。")
    require_community(actor, member.community_id, "找不到该党员。")
    return member


CARD_NOT_FOUND = "找不到这张卡。"


def _card_in_scope(session: Session, actor: Actor, card_id: int) -> Card:
    """The card, locked and read afresh (a page may have loaded it before the lock)."""
    card = session.scalar(
        select(Card)
        .where(Card.id == card_id)
        .with_for_update(of=Card)
        .execution_options(populate_existing=True)
    )
    if card is None:
        raise NotFound(CARD_NOT_FOUND)
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    require_community(actor, card.member.community_id, CARD_NOT_FOUND)
    return card


def card_in_reach(session: Session, actor: Actor, card_id: int) -> Card:
    """A card whose holder is registered in the actor's community (the district: any)."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound(CARD_NOT_FOUND)
    require_community(actor, card.member.community_id, CARD_NOT_FOUND)
    return card


@dataclass(frozen=True)
class CardChange:
    """One change of a card, from the audit log: when, what (the audit action), who, why."""

    at: datetime
    action: str
    by: str
    reason: str


def card_history(session: Session, actor: Actor, card_id: int) -> list[CardChange]:
    """A card's changes, oldest first (issue, suspend, resume, revoke, replace)."""
    card = card_in_reach(session, actor, card_id)
    rows = session.execute(
        select(AuditEvent, Account.display_name)
        .outerjoin(Account, Account.id == AuditEvent.actor_account_id)
        .where(AuditEvent.object_type == "card", AuditEvent.object_id == card.id)
        .order_by(AuditEvent.recorded_at, AuditEvent.id)
    ).all()
    return [
        CardChange(
            event.recorded_at,
            event.action,
            name or event.actor_label,
            str((event.details or {}).get("reason", "")),
        )
        for event, name in rows
    ]


def current_card(session: Session, member_id: int) -> Card | None:
    """The member's active or suspended card, if any."""
    return session.scalar(
        select(Card).where(
            Card.member_id == member_id,
            Card.status.in_([CardStatus.ACTIVE, CardStatus.SUSPENDED]),
        )
    )


def issue_card(session: Session, actor: Actor, member_id: int, now: datetime | None = None) -> Card:
    """Issue the member a new card (发卡). Refused while they hold an active or suspended card."""
    now = now or utcnow()
    member = _member_in_scope(session, actor, member_id)
    if member.status is not MemberStatus.ACTIVE:
        raise ValidationFailed("该党员的登记已停用，不能发卡。")
    if current_card(session, member.id) is not None:
        raise Conflict("该党员已有一张在用的卡；遗失请补办，不能重复发卡。")
    generation = (
        session.scalar(select(func.max(Card.generation)).where(Card.member_id == member.id)) or 0
    ) + 1
    card = Card(
        card_no=new_card_number(),
        member_id=member.id,
        generation=generation,
        status=CardStatus.ACTIVE,
        issued_at=now,
        issued_by_id=actor.account_id,
    )
    try:
        with session.begin_nested():
            session.add(card)
    except IntegrityError as exc:  # another issue for the same member won the race
        raise Conflict("该党员已有一张在用的卡；遗失请补办，不能重复发卡。") from exc
    record(
        session,
        actor,
        "card.issue",
        "card",
        card.id,
        at=now,
        member_id=member.id,
        generation=generation,
    )
    notices.notify(
        session,
        member.id,
        "card.issue",
        f"您的动力卡已办好（尾号 {card.tail}），可到社区领取实体卡，也可在手机上出示卡码。",
        "card",
        card.id,
        now,
    )
    return card


def _change_status(
    session: Session,
    actor: Actor,
    card_id: int,
    allowed_from: set[CardStatus],
    to: CardStatus,
    reason: str,
    action: str,
    now: datetime | None,
) -> Card:
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写原因。")
    card = _card_in_scope(session, actor, card_id)
    if card.status not in allowed_from:
        raise Conflict(f"这张卡当前状态为「{CARD_STATUS_LABELS[card.status]}」，不能执行此操作。")
    card.status = to
    card.status_changed_at = now
    card.status_reason = reason[:200]
    session.flush()
    record(session, actor, action, "card", card.id, at=now, reason=reason)
    notices.notify(
        session,
        card.member_id,
        action,
        f"您尾号 {card.tail} 的动力卡{CHANGE_WORDS[action]}。原因：{reason[:120]}",
        "card",
        card.id,
        now,
    )
    return card


# How a card change reads in the member's notice.
CHANGE_WORDS = {
    "card.suspend": "已被社区暂停使用，暂停期间商家不给优惠",
    "card.resume": "已恢复使用",
    "card.revoke": "已注销，不能再使用",
    "card.replace": "已补办换新，旧卡和它的所有卡码已作废",
}


def suspend_card(
    session: Session, actor: Actor, card_id: int, reason: str, now: datetime | None = None
) -> Card:
    """Suspend a card (暂停): merchants refuse it until it is resumed."""
    return _change_status(
        session,
        actor,
        card_id,
        {CardStatus.ACTIVE},
        CardStatus.SUSPENDED,
        reason,
        "card.suspend",
        now,
    )


def resume_card(
    session: Session, actor: Actor, card_id: int, reason: str, now: datetime | None = None
) -> Card:
    """Lift a suspension."""
    return _change_status(
        session,
        actor,
        card_id,
        {CardStatus.SUSPENDED},
        CardStatus.ACTIVE,
        reason,
        "card.resume",
        now,
    )


def revoke_card(
    session: Session, actor: Actor, card_id: int, reason: str, now: datetime | None = None
) -> Card:
    """Revoke a card for good (注销), e.g. when a member leaves the community's roster."""
    return _change_status(
        session,
        actor,
        card_id,
        {CardStatus.ACTIVE, CardStatus.SUSPENDED},
        CardStatus.REVOKED,
        reason,
        "card.revoke",
        now,
    )


def reissue_card(
    session: Session, actor: Actor, card_id: int, reason: str, now: datetime | None = None
) -> Card:
    """Replace a lost or damaged card (补办): the old card and all its codes stop working."""
    now = now or utcnow()
    old = _change_status(
        session,
        actor,
        card_id,
        {CardStatus.ACTIVE, CardStatus.SUSPENDED},
        CardStatus.REPLACED,
        reason,
        "card.replace",
        now,
    )
    return issue_card(session, actor, old.member_id, now)


# -- tokens -----------------------------------------------------------------------------------


class TokenKind(StrEnum):
    PHONE = "phone"  # short-lived, single use, rotates on the member's screen
    PRINTED = "printed"  # static, on the printed card, dies with the card's generation
    CARD_NUMBER = "card_number"  # the printed number typed by hand
    OFFLINE = "offline"  # 18 digits: the card number and a TOTP of the phone's offline secret


@dataclass(frozen=True)
class VerifiedCard:
    """A credential that checked out: the card, how it was shown, and a phone token's nonce.

    ``nonce_used`` says whether a redemption already carries the nonce, read with the card; the
    UNIQUE nonce on insert stays the guarantee, this only refuses a used code early.
    """

    card: Card
    kind: TokenKind
    nonce: str | None = None
    expires_at: datetime | None = None
    nonce_used: bool = False


class CardTokens:
    """Signs and verifies card tokens with itsdangerous; keys oldest to newest, newest signs."""

    PHONE_SALT = "rewards.card.phone"
    PRINTED_SALT = "rewards.card.printed"

    def __init__(
        self,
        secret_keys: list[str],
        phone_ttl_seconds: int = 60,
        box: SecretBox | None = None,
    ) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self.phone_ttl_seconds = phone_ttl_seconds
        # Opens the cards' offline secrets (the same keys, another derivation).
        self.box = box or SecretBox(secret_keys)
        self._phone = URLSafeSerializer(secret_keys, salt=self.PHONE_SALT, serializer=_CompactJSON)
        self._printed = URLSafeSerializer(
            secret_keys, salt=self.PRINTED_SALT, serializer=_CompactJSON
        )

    def phone_token(self, card: Card, now: datetime | None = None) -> tuple[str, datetime]:
        """A fresh single-use token for the member's phone and the instant it expires."""
        now = now or utcnow()
        expires = int(now.timestamp()) + self.phone_ttl_seconds
        token = self._phone.dumps(
            {"c": card.card_no, "g": card.generation, "n": secrets.token_hex(8), "e": expires}
        )
        return token, datetime.fromtimestamp(expires, tz=now.tzinfo)

    def printed_token(self, card: Card) -> str:
        """The static token printed on the card, valid until the card is reissued or revoked."""
        return self._printed.dumps({"c": card.card_no, "g": card.generation})

    def _read(self, text: str, now: datetime) -> _Credential:
        """What a scanned or typed credential says, checked for signature and expiry only."""
        text = (text or "").strip()
        if not text:
            raise TokenInvalid("请扫描会员的卡码，或输入实体卡上的 12 位卡号。")
        number = normalise_card_number(text)
        if number is not None:
            if not is_valid_card_number(number):
                raise TokenInvalid("卡号校验位不对，可能输错了一位，请核对后重新输入。")
            return _Credential(TokenKind.CARD_NUMBER, number)
        try:
            payload = self._phone.loads(text)
            kind = TokenKind.PHONE
        except BadSignature:
            try:
                payload = self._printed.loads(text)
                kind = TokenKind.PRINTED
            except BadSignature as exc:
                raise TokenInvalid() from exc
        try:
            card_no, generation = str(payload["c"]), int(payload["g"])
            nonce = str(payload["n"]) if kind is TokenKind.PHONE else None
            expires = int(payload["e"]) if kind is TokenKind.PHONE else None
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenInvalid() from exc
        expires_at = None
        if expires is not None:
            expires_at = datetime.fromtimestamp(expires, tz=now.tzinfo)
            if now.timestamp() >= expires:
                raise TokenExpired()
        return _Credential(kind, card_no, generation, nonce, expires_at)

    def verify(self, session: Session, text: str, now: datetime | None = None) -> VerifiedCard:
        """Resolve a scanned or typed credential to a usable card, or raise the precise error."""
        now = now or utcnow()
        text = halfwidth(text or "")  # typed with a full-width input method: plain digits
        if looks_offline(text):
            card, period = self._offline_card(session, text, now)
            _refuse_unusable(card)
            nonce = offline_nonce(card.id, period)
            used = session.scalar(select(Redemption.id).where(Redemption.token_nonce == nonce))
            expires_at = datetime.fromtimestamp((period + 2) * PERIOD_SECONDS, tz=now.tzinfo)
            return VerifiedCard(card, TokenKind.OFFLINE, nonce, expires_at, used is not None)
        credential = self._read(text, now)
        card, used = _usable(session, credential.card_no, credential.generation, credential.nonce)
        return VerifiedCard(card, credential.kind, credential.nonce, credential.expires_at, used)

    def _offline_card(self, session: Session, text: str, now: datetime) -> tuple[Card, int]:
        """The card of an offline code and the period whose code it is (now or the last one)."""
        digits = text.replace(" ", "").strip()
        number, code = digits[:CARD_NUMBER_DIGITS], digits[CARD_NUMBER_DIGITS:]
        if not is_valid_card_number(number):
            raise TokenInvalid("离线卡码的卡号部分校验位不对，请会员刷新后重新出示，或手工核对。")
        card = session.scalar(select(Card).where(Card.card_no == number))
        secret = self.box.open(card.offline_secret) if card and card.offline_secret else None
        if card is None or not card.is_current or secret is None:
            # A reissued card, a rotated or unknown secret: every code of it is dead.
            raise TokenInvalid("此离线卡码已失效，请会员联网刷新卡码，或出示实体卡。")
        now_period = period_of(now)
        for period in (now_period, now_period - 1):
            if hmac.compare_digest(totp(secret, period), code):
                return card, period
        for period in range(now_period - 2, now_period - 2 - OFFLINE_LOOKBACK_PERIODS, -1):
            if hmac.compare_digest(totp(secret, period), code):
                raise TokenExpired("离线卡码已过期，请会员看手机上最新的卡码后重新扫描。")
        raise TokenInvalid("无法识别此离线卡码，请会员刷新手机卡码，或出示实体卡。")

    def identify(self, session: Session, text: str, now: datetime | None = None) -> Card:
        """The current card a credential belongs to, to tell who its holder is (签到识别).

        Unlike ``verify`` nothing is spent and a suspended card still identifies its holder;
        a replaced or revoked card, or an old generation's code, does not.
        """
        now = now or utcnow()
        text = halfwidth(text or "")  # typed with a full-width input method: plain digits
        if looks_offline(text):
            return self._offline_card(session, text, now)[0]
        credential = self._read(text, now)
        card = session.scalar(select(Card).where(Card.card_no == credential.card_no))
        if card is None:
            raise TokenInvalid("查无此卡，请核对卡号。")
        if credential.generation is not None and credential.generation != card.generation:
            raise CardRevoked("此卡码属于已作废的旧卡，请出示新卡或手机卡码。")
        if not card.is_current:
            raise CardRevoked("此卡已作废（已注销或已补办新卡），请出示新卡或手机卡码。")
        return card


@dataclass(frozen=True)
class _Credential:
    kind: TokenKind
    card_no: str
    generation: int | None = None
    nonce: str | None = None
    expires_at: datetime | None = None


class _CompactJSON:
    """JSON without spaces, so the QR code stays small and quick to scan."""

    @staticmethod
    def dumps(obj: object, **kwargs: object) -> str:
        return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes) -> object:
        return json.loads(text)


@cache
def _card_statement(with_nonce: bool) -> Select[tuple[Card, bool]]:
    """A card by number (member and community joined eagerly), and whether a nonce is used.

    Built once per shape: the checkout runs it on every call.
    """
    used = exists().where(Redemption.token_nonce == bindparam("nonce")) if with_nonce else false()
    return select(Card, used).where(Card.card_no == bindparam("card_no"))


def _usable(
    session: Session, card_no: str, generation: int | None, nonce: str | None
) -> tuple[Card, bool]:
    """The usable card (its member and community eagerly joined) and whether ``nonce`` is used."""
    row = session.execute(
        _card_statement(nonce is not None), {"card_no": card_no, "nonce": nonce}
    ).first()
    if row is None:
        raise TokenInvalid("查无此卡，请核对卡号，或请会员出示手机卡码。")
    card, nonce_used = row
    if generation is not None and generation != card.generation:
        raise CardRevoked("此卡码属于已作废的旧卡，请会员使用新卡。")
    _refuse_unusable(card)
    return card, bool(nonce_used)


def _refuse_unusable(card: Card) -> None:
    """A suspended, replaced or revoked card gives no discount: say which."""
    if card.status is CardStatus.SUSPENDED:
        raise CardSuspended()
    if card.status is CardStatus.REPLACED:
        raise CardRevoked("此卡已挂失补办，旧卡作废，请会员出示新卡或手机卡码。")
    if card.status is CardStatus.REVOKED:
        raise CardRevoked()


# -- the offline phone code: 18 digits, the card number and a TOTP ------------------------------

# An offline code up to this many periods old is "expired" rather than "not recognised".
OFFLINE_LOOKBACK_PERIODS = 20
OFFLINE_CODE_LENGTH = CARD_NUMBER_DIGITS + DIGITS


def looks_offline(text: str) -> bool:
    """Eighteen ASCII digits (spaces allowed, as a cashier may type them): an offline code."""
    digits = text.replace(" ", "").strip()
    return len(digits) == OFFLINE_CODE_LENGTH and digits.isascii() and digits.isdigit()


def offline_nonce(card_id: int, period: int) -> str:
    """What a sale paid with this card's offline code of ``period`` carries: single use."""
    return f"otp:{card_id}:{period}"


# -- many cards at once -----------------------------------------------------------------------


def issue_cards(
    session: Session, actor: Actor, member_ids: list[int], now: datetime | None = None
) -> list[Card]:
    """Issue cards to many members in one action (批量发卡): all of them, or none.

    Refused, naming the member, if one already holds a card or is out of reach.
    """
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    wanted = list(dict.fromkeys(member_ids))
    if not wanted:
        raise ValidationFailed("请先勾选要发卡的党员。", fields={"member_ids": ["至少选择一名。"]})
    issued = []
    for member_id in wanted:
        try:
            issued.append(issue_card(session, actor, member_id, now))
        except (Conflict, ValidationFailed) as error:
            member = session.get(Member, member_id)
            who = f"{member.name}（{member.member_no}）" if member else str(member_id)
            raise type(error)(f"{who}：{error.message} 整批未发卡。") from error
    return issued


@dataclass(frozen=True)
class PrintedCard:
    """What one card of the printable sheet shows (卡片打印)."""

    card: Card
    member_name: str
    community_name: str
    token: str  # the printed-card QR's content


def printable_cards(
    session: Session, actor: Actor, tokens: CardTokens, card_ids: list[int]
) -> list[PrintedCard]:
    """The active cards to print on A4 sheets, in member number order."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    wanted = list(dict.fromkeys(card_ids))
    if not wanted:
        raise ValidationFailed("请先勾选要打印的卡。")
    found = session.scalars(select(Card).where(Card.id.in_(wanted))).all()
    printed = []
    for card in found:
        require_community(actor, card.member.community_id, "找不到这张卡。")
        if card.status is not CardStatus.ACTIVE:
            raise Conflict(f"卡 {format_card_number(card.card_no)} 不是正常状态，不能打印。")
        printed.append(
            PrintedCard(
                card, card.member.name, card.member.community.name, tokens.printed_token(card)
            )
        )
    if len(printed) != len(wanted):
        raise NotFound("找不到这张卡。")
    return sorted(printed, key=lambda p: p.card.member.member_no)


def list_cards(
    session: Session,
    actor: Actor,
    *,
    community_id: int | None = None,
    status: CardStatus | None = None,
    query: str = "",
    page: int = 1,
    page_size: int = 20,
) -> Page[Card]:
    """Cards of members registered in the actor's community, newest first; by status, and by
    card number, member number or name."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if not actor.is_district_wide:
        if community_id is not None and community_id != actor.community_id:
            raise NotFound("找不到该社区。")
        community_id = actor.community_id
    statement = select(Card).join(Member, Member.id == Card.member_id)
    if community_id is not None:
        statement = statement.where(Member.community_id == community_id)
    if status is not None:
        statement = statement.where(Card.status == status)
    query = (query or "").strip()[:40]
    if query:
        number = normalise_card_number(query)
        statement = statement.where(
            or_(
                Card.card_no == number if number else false(),
                Member.member_no.startswith(query.upper(), autoescape=True),
                Member.name.contains(query, autoescape=True),
            )
        )
    statement = statement.order_by(Card.issued_at.desc(), Card.id.desc())
    return paginate(session, statement, page, page_size)


def eligible_members(
    session: Session,
    actor: Actor,
    community_id: int | None = None,
    page: int = 1,
    page_size: int = 50,
    at: datetime | None = None,
) -> Page[tuple[Member, Tier]]:
    """Members newly eligible for a card (待发卡), with their tier: silver or better today, no
    current card."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if not actor.is_district_wide:
        if community_id is not None and community_id != actor.community_id:
            raise NotFound("找不到该社区。")
        community_id = actor.community_id
    check_page(page, page_size)
    waiting = awaiting_cards(session, community_id, at)
    start = (page - 1) * page_size
    return Page(waiting[start : start + page_size], page, page_size, len(waiting))
