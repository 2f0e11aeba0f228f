"""What the member's card screen (出示卡码) needs while it shows codes: the card's state, whether
the shown offline or online code has been used at a counter (已使用), the server's time (to warn
of a phone whose clock is off) and which offline key is current (to tell a phone whose key was
replaced by another sign-in). Read-only; the member's own card only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import DomainError, Forbidden
from rewards.models import Card, CardStatus, Redemption, Role
from rewards.services import cards
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens, offline_nonce


def offline_key_id(secret: str) -> str:
    """A short name of an offline secret that says nothing about it (a one-way hash)."""
    return hashlib.sha256(b"rewards.offline-key-id\x00" + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OfflineUse:
    """Whether the offline code of ``period`` (and of the period before it) paid a sale."""

    period: int
    used: bool
    previous_used: bool


@dataclass(frozen=True)
class ShownCodes:
    """The member's card as their screen needs it, and the use of the codes it shows."""

    card: Card | None  # the active or suspended card; None: no card
    server_time: int  # Unix seconds
    key_id: str | None  # the current offline key's name; None: no key issued
    offline: OfflineUse | None = None  # when the screen said which period it shows
    online_used: bool | None = None  # when the screen said which online code it shows

    @property
    def card_status(self) -> CardStatus | None:
        return self.card.status if self.card is not None else None


def shown_code_status(
    session: Session,
    actor: Actor,
    tokens: CardTokens,
    period: int | None = None,
    online_token: str | None = None,
    now: datetime | None = None,
) -> ShownCodes:
    """The member's card and whether the codes on their screen were used (卡码状态)."""
    now = now or utcnow()
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("只有党员本人可以查看自己的卡码。")
    card = cards.current_card(session, actor.member_id)
    if card is None:
        return ShownCodes(None, int(now.timestamp()), None)
    secret = tokens.box.open(card.offline_secret) if card.offline_secret else None
    return ShownCodes(
        card,
        int(now.timestamp()),
        offline_key_id(secret) if secret else None,
        _offline_use(session, card, period) if period is not None else None,
        _online_used(session, card, tokens, online_token, now) if online_token else None,
    )


def _nonce_used(session: Session, card: Card, nonce: str) -> bool:
    found = session.scalar(
        select(Redemption.id).where(Redemption.token_nonce == nonce, Redemption.card_id == card.id)
    )
    return found is not None


def _offline_use(session: Session, card: Card, period: int) -> OfflineUse:
    return OfflineUse(
        period,
        _nonce_used(session, card, offline_nonce(card.id, period)),
        _nonce_used(session, card, offline_nonce(card.id, period - 1)),
    )


def _online_used(
    session: Session, card: Card, tokens: CardTokens, token: str, now: datetime
) -> bool:
    """Whether a phone token of this card paid a sale; another card's token is never "used"."""
    try:
        verified = tokens.verify(session, token, now)
    except DomainError:
        # Expired, unreadable, or a card that can no longer pay: the screen renews it anyway.
        return False
    return verified.card.id == card.id and verified.nonce_used
