"""Rule 4: signed card tokens — short-lived phone codes, static printed codes, rotating keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from itsdangerous import BadSignature, URLSafeSerializer

from rewards.errors import CardRevoked, TokenExpired, TokenInvalid
from rewards.services.cards import CardTokens, TokenKind, luhn_check_digit

NEWEST, OLDER = "test-secret-key-newest", "test-secret-key-older"  # as in conftest
NOW = datetime(2025, 6, 1, 4, 0, 0, tzinfo=UTC)


def test_tokens_use_the_configured_ttl(app, tokens):
    assert tokens.phone_ttl_seconds == app.config["REWARDS_QR_TTL"] == 60


def test_phone_token_expires_after_the_ttl(world, session, tokens):
    token, expires_at = tokens.phone_token(world.gold_card, now=NOW)
    ttl = tokens.phone_ttl_seconds
    assert expires_at == NOW + timedelta(seconds=ttl)

    fresh = tokens.verify(session, token, now=NOW + timedelta(seconds=ttl - 1))
    assert fresh.kind is TokenKind.PHONE
    assert fresh.card.id == world.gold_card.id
    assert fresh.expires_at == expires_at

    with pytest.raises(TokenExpired) as caught:
        tokens.verify(session, token, now=NOW + timedelta(seconds=ttl))
    assert caught.value.code == "token_expired"
    assert "刷新" in caught.value.message


def test_a_shorter_ttl_is_honoured(world, session):
    short = CardTokens([OLDER, NEWEST], phone_ttl_seconds=15)
    token, _ = short.phone_token(world.gold_card, now=NOW)
    assert short.verify(session, token, now=NOW + timedelta(seconds=14)).kind is TokenKind.PHONE
    with pytest.raises(TokenExpired):
        short.verify(session, token, now=NOW + timedelta(seconds=15))


def test_every_phone_token_is_different(world, tokens):
    first, _ = tokens.phone_token(world.gold_card, now=NOW)
    second, _ = tokens.phone_token(world.gold_card, now=NOW)
    assert first != second


def test_phone_token_carries_a_single_use_nonce(world, session, tokens):
    a = tokens.verify(session, tokens.phone_token(world.gold_card)[0])
    b = tokens.verify(session, tokens.phone_token(world.gold_card)[0])
    assert a.nonce and b.nonce and a.nonce != b.nonce


def test_printed_token_is_static_and_does_not_expire(world, session, tokens, clock):
    printed = tokens.printed_token(world.gold_card)
    assert printed == tokens.printed_token(world.gold_card)
    years_later = clock.now + timedelta(days=3650)
    verified = tokens.verify(session, printed, now=years_later)
    assert (verified.kind, verified.nonce, verified.expires_at) == (TokenKind.PRINTED, None, None)


@pytest.mark.parametrize("garbage", ["hello", "a.b", "{}", "x" * 500, "¥¥¥", "eyJjIjoiMSJ9.abc"])
def test_garbage_is_token_invalid(world, session, tokens, garbage):
    with pytest.raises(TokenInvalid) as caught:
        tokens.verify(session, garbage)
    assert caught.value.code == "token_invalid"


def test_empty_input_asks_for_a_code(world, session, tokens):
    with pytest.raises(TokenInvalid) as caught:
        tokens.verify(session, "   ")
    assert "12 位卡号" in caught.value.message


def test_tampered_token_is_token_invalid(world, session, tokens):
    token, _ = tokens.phone_token(world.gold_card, now=NOW)
    payload, signature = token.rsplit(".", 1)
    # Change the first character: the last one of base64 partly holds padding bits.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    edited = ("x" if payload[0] != "x" else "y") + payload[1:]
    for forged in (f"{payload}.{flipped}", f"{edited}.{signature}", token[:-5]):
        with pytest.raises(TokenInvalid):
            tokens.verify(session, forged, now=NOW)


def test_a_token_for_another_card_number_cannot_be_forged(world, session, tokens):
    printed = tokens.printed_token(world.gold_card)
    other = tokens.printed_token(world.plain_card)
    spliced = other.rsplit(".", 1)[0] + "." + printed.rsplit(".", 1)[1]
    with pytest.raises(TokenInvalid):
        tokens.verify(session, spliced)


def test_phone_and_printed_tokens_are_signed_with_different_salts(world, tokens):
    phone, _ = tokens.phone_token(world.gold_card)
    printed = tokens.printed_token(world.gold_card)
    as_printed = URLSafeSerializer(NEWEST, salt=CardTokens.PRINTED_SALT)
    as_phone = URLSafeSerializer(NEWEST, salt=CardTokens.PHONE_SALT)
    with pytest.raises(BadSignature):
        as_printed.loads(phone)
    with pytest.raises(BadSignature):
        as_phone.loads(printed)
    assert as_phone.loads(phone)["c"] == as_printed.loads(printed)["c"] == world.gold_card.card_no


def test_each_token_is_recognised_as_its_own_kind(world, session, tokens):
    phone, _ = tokens.phone_token(world.gold_card)
    assert tokens.verify(session, phone).kind is TokenKind.PHONE
    assert tokens.verify(session, tokens.printed_token(world.gold_card)).kind is TokenKind.PRINTED
    assert tokens.verify(session, world.gold_card.card_no).kind is TokenKind.CARD_NUMBER


def test_a_printed_payload_signed_as_a_phone_token_is_refused(world, session):
    # Without an expiry and nonce a "phone" token would be a reusable, never-expiring code.
    forged = URLSafeSerializer(NEWEST, salt=CardTokens.PHONE_SALT).dumps(
        {"c": world.gold_card.card_no, "g": world.gold_card.generation}
    )
    with pytest.raises(TokenInvalid):
        CardTokens([NEWEST]).verify(session, forged)


def test_the_same_key_with_another_salt_cannot_mint_card_tokens(world, session, tokens):
    # e.g. something else in the app signing with SECRET_KEY (sessions, CSRF) under its own salt
    for salt in ("itsdangerous", "cookie-session", "wtf-csrf-token"):
        forged = URLSafeSerializer(NEWEST, salt=salt).dumps(
            {"c": world.gold_card.card_no, "g": world.gold_card.generation}
        )
        with pytest.raises(TokenInvalid):
            tokens.verify(session, forged)


def test_token_signed_with_an_older_key_still_verifies(world, session, tokens):
    older_only = CardTokens([OLDER])
    phone, _ = older_only.phone_token(world.gold_card)
    assert tokens.verify(session, phone).card.id == world.gold_card.id
    assert tokens.verify(session, older_only.printed_token(world.gold_card)).kind is (
        TokenKind.PRINTED
    )


def test_the_newest_key_signs(world, session, tokens):
    printed = tokens.printed_token(world.gold_card)
    assert CardTokens([NEWEST]).verify(session, printed).card.id == world.gold_card.id
    with pytest.raises(TokenInvalid):
        CardTokens([OLDER]).verify(session, printed)


def test_a_brand_new_key_alone_rejects_old_tokens(world, session, tokens):
    phone, _ = tokens.phone_token(world.gold_card)
    printed = tokens.printed_token(world.gold_card)
    rotated = CardTokens(["brand-new-key-after-a-leak"])
    for old_token in (phone, printed):
        with pytest.raises(TokenInvalid):
            rotated.verify(session, old_token)


def test_at_least_one_key_is_needed():
    with pytest.raises(ValueError):
        CardTokens([])


def test_typed_number_with_a_wrong_check_digit_is_token_invalid(world, session, tokens):
    number = world.gold_card.card_no
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(TokenInvalid) as caught:
        tokens.verify(session, wrong)
    assert "校验位" in caught.value.message


def test_typed_number_is_accepted_with_spaces(world, session, tokens):
    n = world.gold_card.card_no
    verified = tokens.verify(session, f" {n[:4]} {n[4:8]}-{n[8:]} ")
    assert (verified.kind, verified.card.id) == (TokenKind.CARD_NUMBER, world.gold_card.id)


def test_unknown_but_well_formed_number_is_token_invalid(world, session, tokens):
    body = "99999999999"
    with pytest.raises(TokenInvalid) as caught:
        tokens.verify(session, body + luhn_check_digit(body))
    assert "查无此卡" in caught.value.message


def test_non_ascii_digits_are_token_invalid_not_a_crash(world, session, tokens):
    for text in ("²" * 12, "١٢٣٤٥٦٧٨٩٠١٢"):
        with pytest.raises(TokenInvalid):
            tokens.verify(session, text)


def test_a_printed_token_of_another_generation_is_card_revoked(world, session, tokens):
    card = world.gold_card
    stale = tokens.printed_token(SimpleNamespace(card_no=card.card_no, generation=0))
    with pytest.raises(CardRevoked):
        tokens.verify(session, stale)
