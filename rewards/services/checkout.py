"""Checkout at the counter: preview (no writes), confirm (one redemption), void (status change)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import (
    BelowMinimumSpend,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    TierNone,
    TokenUsed,
    ValidationFailed,
)
from rewards.models import Card, Member, Merchant, Redemption, RedemptionStatus, Role, Tier
from rewards.money import discount_fen, format_fen, parse_yuan
from rewards.services.agreements import Terms, terms_for
from rewards.services.audit import Actor, record, require_merchant, require_role
from rewards.services.cards import CardTokens, TokenKind
from rewards.services.merchants import suspension_message
from rewards.services.tiers import TierStanding, evaluate_tier

MAX_IDEMPOTENCY_KEY_LENGTH = 80

# Dialects whose INSERT has ON CONFLICT DO NOTHING, so the insert needs no SAVEPOINT.
_ON_CONFLICT_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


@dataclass(frozen=True)
class Quote:
    """What the cashier sees before confirming: who, which tier, which terms, how much."""

    card: Card
    member: Member
    standing: TierStanding
    terms: Terms
    amount_fen: int
    discount_fen: int
    payable_fen: int
    token_kind: TokenKind
    token_nonce: str | None


def _merchant_of(session: Session, actor: Actor) -> Merchant:
    """The merchant is the one the session or key belongs to, never one named in a request."""
    require_role(actor, Role.CASHIER, Role.MERCHANT_MANAGER)
    if actor.merchant_id is None:
        raise Forbidden("只有商家的收银员、店长或 POS 密钥可以结算。")
    merchant = session.get(Merchant, actor.merchant_id)
    if merchant is None:
        raise Forbidden("本店已停用联盟优惠，请联系区管理员。")
    if not merchant.is_enabled:
        raise Forbidden(suspension_message(merchant))
    return merchant


def preview(
    session: Session,
    actor: Actor,
    tokens: CardTokens,
    credential: str,
    amount: str,
    now: datetime | None = None,
) -> Quote:
    """Work out the discount for a shown card and a typed bill. Writes nothing."""
    now = now or utcnow()
    amount_fen = parse_yuan(amount)
    merchant = _merchant_of(session, actor)
    verified = tokens.verify(session, credential, now)
    if verified.nonce_used:
        raise TokenUsed()
    member = verified.card.member
    standing = evaluate_tier(session, member.id, at=now)
    if standing.tier is Tier.NONE:
        # The merchant learns only that there is no tier, never the member's points (PIPL).
        raise TierNone(
            None
            if standing.silver_threshold is not None
            else "区里尚未设置积分等级标准，暂不能享受优惠。"
        )
    terms = terms_for(session, merchant.id, member.community_id, standing.tier, business_date(now))
    if amount_fen < terms.min_spend_fen:
        raise BelowMinimumSpend(
            f"消费满 ¥{format_fen(terms.min_spend_fen)} 才能享受优惠，"
            f"本次 ¥{format_fen(amount_fen)}。",
            min_spend_fen=terms.min_spend_fen,
        )
    off = discount_fen(amount_fen, terms.pay_percent, terms.cap_fen)
    return Quote(
        card=verified.card,
        member=member,
        standing=standing,
        terms=terms,
        amount_fen=amount_fen,
        discount_fen=off,
        payable_fen=amount_fen - off,
        token_kind=verified.kind,
        token_nonce=verified.nonce,
    )


def _fingerprint(credential: str, amount_fen: int) -> str:
    return hashlib.sha256(f"{credential.strip()}|{amount_fen}".encode()).hexdigest()


@cache
def _replay_statement() -> Select[tuple[Redemption]]:
    """The redemption under a merchant's idempotency key; built once, as every confirm runs it."""
    return select(Redemption).where(
        Redemption.merchant_id == bindparam("merchant_id"),
        Redemption.idempotency_key == bindparam("idempotency_key"),
    )


def _replay(
    session: Session, merchant_id: int, idempotency_key: str, fingerprint: str
) -> Redemption | None:
    """The redemption already recorded under this key, if the request is the same one."""
    earlier = session.scalar(
        _replay_statement(), {"merchant_id": merchant_id, "idempotency_key": idempotency_key}
    )
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            "这个幂等键已用于另一笔不同的结算（卡码或金额不同）。", redemption_id=earlier.id
        )
    return earlier


def confirm(
    session: Session,
    actor: Actor,
    tokens: CardTokens,
    credential: str,
    amount: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> tuple[Redemption, bool]:
    """Record the discounted sale once. Returns (redemption, created).

    The same idempotency key with the same body returns the earlier redemption (created False);
    with a different body it is a ``conflict``. A phone token pays once, at any merchant.
    """
    redemption, created, _ = confirm_with_quote(
        session, actor, tokens, credential, amount, idempotency_key, now
    )
    return redemption, created


@cache
def _insert_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the new row; built once per dialect."""
    return _ON_CONFLICT_INSERTS[dialect](Redemption).on_conflict_do_nothing().returning(Redemption)


def _insert_once(session: Session, values: dict[str, Any]) -> Redemption | None:
    """Insert the redemption; None if a UNIQUE (idempotency key, nonce, number) already holds it.

    PostgreSQL and SQLite do it in one ``INSERT … ON CONFLICT DO NOTHING RETURNING``; other
    databases fall back to a SAVEPOINT around a plain insert.
    """
    dialect = session.get_bind().dialect.name
    if dialect in _ON_CONFLICT_INSERTS:
        return session.scalars(_insert_statement(dialect), [values]).first()
    redemption = Redemption(**values)
    try:
        with session.begin_nested():
            session.add(redemption)
    except IntegrityError:
        return None
    return redemption


def confirm_with_quote(
    session: Session,
    actor: Actor,
    tokens: CardTokens,
    credential: str,
    amount: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> tuple[Redemption, bool, Quote | None]:
    """``confirm``, also returning the quote of a new sale (None for a retry's earlier one).

    The quote holds the card and member already loaded, so the caller can describe the sale
    without reading them again.
    """
    now = now or utcnow()
    idempotency_key = (idempotency_key or "").strip()
    if not 8 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed("幂等键（idempotency_key）需要 8 到 80 个字符。")
    amount_fen = parse_yuan(amount)
    merchant = _merchant_of(session, actor)
    fingerprint = _fingerprint(credential, amount_fen)
    # The earlier sale under this key is looked for only when this one cannot be recorded, which
    # spares every first attempt a query. A retry either fails its preview (its phone code is
    # spent, or the card or terms changed since) or meets the UNIQUE key on insert; both paths
    # end in _replay, so a retry gets the earlier sale or a conflict exactly as before.
    try:
        quote = preview(session, actor, tokens, credential, amount, now)
    except DomainError:
        earlier = _replay(session, merchant.id, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False, None
        raise
    values = dict(
        number=f"{business_date(now):%y%m%d}{secrets.randbelow(10**8):08d}",
        merchant_id=merchant.id,
        card_id=quote.card.id,
        member_id=quote.member.id,
        cashier_id=actor.account_id,
        api_key_id=actor.api_key_id,
        amount_fen=quote.amount_fen,
        discount_fen=quote.discount_fen,
        payable_fen=quote.payable_fen,
        tier=quote.standing.tier,
        tier_points=quote.standing.points,
        tier_policy_version=quote.standing.policy_version or 0,
        agreement_version_id=quote.terms.version.id,
        pay_percent=quote.terms.pay_percent,
        cap_fen=quote.terms.cap_fen,
        min_spend_fen=quote.terms.min_spend_fen,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        token_nonce=quote.token_nonce,
        status=RedemptionStatus.COMPLETED,
        business_date=business_date(now),
        created_at=now,
    )
    redemption = _insert_once(session, values)
    if redemption is None:
        # The key is taken (a retry, sequential or concurrent) or the phone nonce is spent.
        earlier = _replay(session, merchant.id, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False, None
        if quote.token_nonce is not None and session.scalar(
            select(Redemption.id).where(Redemption.token_nonce == quote.token_nonce)
        ):
            raise TokenUsed()
        raise Conflict("结算时发生冲突，请重试。")
    record(
        session,
        actor,
        "redemption.create",
        "redemption",
        redemption.id,
        at=now,
        merchant_id=merchant.id,
        amount_fen=redemption.amount_fen,
        discount_fen=redemption.discount_fen,
        token_kind=str(quote.token_kind),
    )
    return redemption, True, quote


def void(
    session: Session, actor: Actor, redemption_id: int, reason: str, now: datetime | None = None
) -> Redemption:
    """Void a sale of this merchant on its business day (撤销): a status change, never a delete."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise ValidationFailed("撤销必须填写原因（2 到 200 个字）。")
    merchant = _merchant_of(session, actor)
    redemption = session.scalar(
        select(Redemption).where(Redemption.id == redemption_id).with_for_update(of=Redemption)
    )
    # Another merchant's sale is reported as absent, so ids reveal nothing.
    if redemption is None or redemption.merchant_id != merchant.id:
        raise NotFound("找不到这笔结算记录。")
    require_merchant(actor, redemption.merchant_id)
    if redemption.status is RedemptionStatus.VOIDED:
        raise Conflict("这笔结算已经撤销过了。")
    if redemption.business_date != business_date(now):
        raise Conflict("只能撤销当天的结算；往日的结算请联系区管理员处理。")
    redemption.status = RedemptionStatus.VOIDED
    redemption.voided_at = now
    redemption.voided_by_id = actor.account_id
    redemption.void_reason = reason
    session.flush()
    record(session, actor, "redemption.void", "redemption", redemption.id, at=now, reason=reason)
    return redemption
