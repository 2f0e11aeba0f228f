"""The offline phone code (离线卡码, DESIGN rule 4): 18 digits, the card number followed by a
6-digit RFC 6238 TOTP (HMAC-SHA1, 30 s) over a per-card secret that only the member's signed-in
phone receives. It works with the phone in airplane mode, like a payment code.

The server accepts the current and the previous period, each code once (its redemption carries
the nonce ``otp:<card id>:<period>``, UNIQUE); an older code is expired; a new secret or a
reissued card kills every code of the old secret.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import CardSuspended, Forbidden, NotFound
from rewards.models import CardStatus, Role
from rewards.services import cards
from rewards.services.audit import Actor, record
from rewards.services.secretbox import SecretBox
from rewards.services.totp import ALGORITHM, DIGITS, PERIOD_SECONDS

SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA1


@dataclass(frozen=True)
class OfflineKey:
    """What the member's phone needs to show offline codes (never logged, never stored plain)."""

    card_number: str
    secret: str  # base32
    digits: int = DIGITS
    period: int = PERIOD_SECONDS
    algorithm: str = ALGORITHM


def issue_offline_key(
    session: Session, actor: Actor, box: SecretBox, now: datetime | None = None
) -> OfflineKey:
    """A new secret for the member's active card, for their own phone; any older secret, and
    every code made with it, stops working (离线卡码密钥)."""
    now = now or utcnow()
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("离线卡码只能发给党员本人的手机。")
    card = cards.current_card(session, actor.member_id)
    if card is None:
        raise NotFound("您还没有动力卡，请联系所在社区办理。")
    if card.status is CardStatus.SUSPENDED:
        raise CardSuspended("此卡已被社区暂停使用，商家不会给予优惠；如有疑问请联系所在社区。")
    secret = base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()
    card.offline_secret = box.seal(secret)
    card.offline_secret_set_at = now
    # The audit log says a key was issued, never the key.
    record(session, actor, "card.offline_key", "card", card.id, at=now)
    return OfflineKey(card.card_no, secret)
