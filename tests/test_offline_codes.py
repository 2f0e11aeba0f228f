"""DESIGN rule 4, the offline phone code: 18 digits (card number + RFC 6238 TOTP over a
per-card secret); the current and the previous period are accepted, each once; an older one is
expired; a new secret or a reissued card kills every code of the old secret. The secret is
stored encrypted, never in plain text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rewards.errors import CardSuspended, Forbidden, TokenExpired, TokenInvalid, TokenUsed
from rewards.models import AuditEvent, Card, Role
from rewards.services import cards, checkout, offline_codes
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens, TokenKind
from rewards.services.secretbox import SecretBox
from rewards.services.totp import period_of, totp
from tests import factories

# RFC 6238 appendix B: the ASCII secret "12345678901234567890", SHA-1, 8 digits; the last six
# digits of each 8-digit value are the 6-digit code.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = {59: "287082", 1111111109: "081804", 1234567890: "005924", 2000000000: "279037"}


@pytest.mark.parametrize(("unix_time", "code"), RFC_VECTORS.items())
def test_totp_matches_the_rfc_6238_vectors(unix_time: int, code: str) -> None:
    assert totp(RFC_SECRET, unix_time // 30) == code


def _key(session, world, box):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    key = offline_codes.issue_offline_key(session, Actor.for_account(account), box)
    session.commit()
    return account, key


def _code(key, clock, periods_ago: int = 0) -> str:  # type: ignore[no-untyped-def]
    return key.card_number + totp(key.secret, period_of(clock.now) - periods_ago)


def test_an_offline_code_checks_out_once(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    code = _code(key, clock)
    cashier = world.actor(world.cashier)
    quote = checkout.preview(session, cashier, tokens, code, "100.00")
    assert (quote.card.id, quote.standing.tier.value) == (world.gold_card.id, "gold")
    assert tokens.verify(session, code).kind is TokenKind.OFFLINE
    checkout.confirm(session, cashier, tokens, code, "100.00", "offline-sale-1")
    session.commit()
    with pytest.raises(TokenUsed):
        checkout.confirm(session, cashier, tokens, code, "50.00", "offline-sale-2")


def test_the_previous_period_is_accepted_and_older_ones_are_expired(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    assert tokens.verify(session, _code(key, clock, periods_ago=1)).card.id == world.gold_card.id
    with pytest.raises(TokenExpired):
        tokens.verify(session, _code(key, clock, periods_ago=2))
    clock.advance(seconds=60)
    with pytest.raises(TokenExpired):
        tokens.verify(session, _code(key, clock, periods_ago=3))


def test_a_wrong_code_is_invalid(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    right = totp(key.secret, period_of(clock.now))
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    with pytest.raises(TokenInvalid):
        tokens.verify(session, key.card_number + wrong)


def test_a_new_secret_kills_every_code_of_the_old_one(world, session, tokens, clock):
    account, old = _key(session, world, tokens.box)
    code = _code(old, clock)
    offline_codes.issue_offline_key(session, Actor.for_account(account), tokens.box)
    session.commit()
    with pytest.raises(TokenInvalid):
        tokens.verify(session, code)


def test_a_reissued_card_kills_every_code_of_the_old_secret(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    code = _code(key, clock)
    cards.reissue_card(session, factories.OPERATOR, world.gold_card.id, "遗失")
    session.commit()
    with pytest.raises(TokenInvalid):
        tokens.verify(session, code)


def test_a_suspended_cards_offline_code_is_refused_as_suspended(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "核查")
    session.commit()
    with pytest.raises(CardSuspended):
        tokens.verify(session, _code(key, clock))


def test_the_secret_is_stored_encrypted_and_never_logged(world, session, tokens):
    _, key = _key(session, world, tokens.box)
    stored = session.scalar(select(Card.offline_secret).where(Card.id == world.gold_card.id))
    assert key.secret not in stored and tokens.box.open(stored) == key.secret
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "card.offline_key"))
    assert all(key.secret not in str(e.details) for e in events)
    # Another deployment's keys cannot open it.
    assert SecretBox(["another-key"]).open(stored) is None


def test_only_the_member_gets_an_offline_key(world, session, tokens):
    with pytest.raises(Forbidden):
        offline_codes.issue_offline_key(session, world.actor(world.secretary), tokens.box)


def test_identifying_with_an_offline_code_spends_nothing(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    code = _code(key, clock)
    assert tokens.identify(session, code).id == world.gold_card.id
    assert tokens.verify(session, code).nonce_used is False


def test_offline_codes_keep_working_after_the_apps_keys_rotate(world, session, tokens, clock):
    _, key = _key(session, world, tokens.box)
    # SECRET_KEY="NEW,…": the keys, oldest to newest, gain a newer one; old secrets still open.
    rotated = CardTokens(["test-secret-key-older", "test-secret-key-newest", "a-newer-key"])
    assert rotated.verify(session, _code(key, clock)).card.id == world.gold_card.id
