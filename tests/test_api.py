"""The POS API under /api/v1: the contract vendors integrate against (DESIGN.md, "The POS
contract"), driven through the test client with keys made by ``create_api_key``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.models import ApiKey, AuditEvent, Redemption, RedemptionStatus, Role
from rewards.services import agreements, cards, checkout, merchants
from rewards.services.audit import Actor
from tests import factories

PREVIEW = "/api/v1/checkout/preview"
CONFIRM = "/api/v1/checkout/redemptions"
REDEMPTIONS = "/api/v1/redemptions"
_sales = itertools.count(1)
ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def new_key(session: Session, merchant_id: int, label: str = "1号收银台") -> str:
    _, key = merchants.create_api_key(session, ADMIN, merchant_id, label)
    session.commit()
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture()
def key(world: factories.World, session: Session) -> str:
    return new_key(session, world.shop.id)


def writes(session: Session) -> tuple[int, int]:
    """Rows a refused request must not add: redemptions and audit events."""
    session.rollback()
    return (
        session.scalar(select(func.count()).select_from(Redemption)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The contract's error body, exactly: {"error": {"code", "message"[, "details"]}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) in ({"code", "message"}, {"code", "message", "details"})
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def sale(
    session: Session, world: factories.World, merchant_id: int, days_ago: int = 0
) -> Redemption:
    """A committed sale of the gold card (typed number) at ``merchant_id``, ``days_ago`` back."""
    actor = Actor(label="tests-pos", role=Role.CASHIER, merchant_id=merchant_id)
    tokens = current_app.extensions["rewards.card_tokens"]
    redemption, _ = checkout.confirm(
        session,
        actor,
        tokens,
        world.gold_card.card_no,
        "100.00",
        f"sale-{merchant_id}-{days_ago}-{next(_sales)}",
        now=utcnow() - timedelta(days=days_ago),
    )
    session.commit()
    return redemption


def second_shop(session: Session, world: factories.World) -> tuple[int, str]:
    """Another alliance merchant serving the same community, with its own POS key."""
    shop = factories.merchant(session)
    agreements.sign_agreement(
        session,
        ADMIN,
        shop.id,
        world.home.id,
        gold_pay_percent=90,
        silver_pay_percent=95,
        valid_from=date(2020, 1, 1),
    )
    session.commit()
    return shop.id, new_key(session, shop.id, "对面的收银台")


# -- happy paths ------------------------------------------------------------------------------


def test_preview_shows_masked_holder_tier_terms_and_sums_and_records_nothing(
    client, world, session, tokens, key
):
    token, _ = tokens.phone_token(world.gold_card)
    before = writes(session)
    response = client.post(PREVIEW, json={"token": token, "amount": "128.50"}, headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tier"] == "gold" and body["tier_label"] == "金卡"
    assert body["masked_name"] == "张*明"
    assert body["card_tail"] == world.gold_card.card_no[-4:]
    assert body["community"] == world.home.name
    assert body["token_kind"] == "phone"
    assert body["rule"]["pay_percent"] == 88 and body["rule"]["zhe"] == "88折"
    assert body["rule"]["cap_fen"] is None and body["rule"]["min_spend_fen"] == 0
    assert body["rule"]["agreement_version"] == 1
    assert (body["amount_fen"], body["discount_fen"], body["payable_fen"]) == (12850, 1542, 11308)
    assert writes(session) == before


def test_confirm_records_the_sale_with_201_and_a_retry_returns_it_with_200(
    client,
    world,
    session,
    tokens,
    key,
    clock,
):
    token, _ = tokens.phone_token(world.gold_card)
    body = {"token": token, "amount": "128.50", "idempotency_key": "pos1-000001"}
    first = client.post(CONFIRM, json=body, headers=bearer(key))
    assert first.status_code == 201, first.get_json()
    sale_json = first.get_json()
    assert sale_json["status"] == "completed"
    assert (sale_json["amount_fen"], sale_json["discount_fen"], sale_json["payable_fen"]) == (
        12850,
        1542,
        11308,
    )
    assert sale_json["tier"] == "gold" and sale_json["pay_percent"] == 88
    assert sale_json["masked_name"] == "张*明"
    assert sale_json["card_tail"] == world.gold_card.card_no[-4:]
    assert sale_json["business_date"] == clock.today.isoformat()
    assert sale_json["created_at"].endswith("+00:00")  # ISO 8601 with its offset
    assert first.headers["Location"].endswith(f"/api/v1/redemptions/{sale_json['id']}")

    retry = client.post(CONFIRM, json=body, headers=bearer(key))
    assert retry.status_code == 200
    assert retry.get_json() == sale_json
    assert writes(session)[0] == 1


FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def test_full_width_digits_are_read_as_plain_ones_in_the_card_number_and_the_amount(
    client, world, session, key
):
    """A POS whose cashier typed in a Chinese input method's full-width mode."""
    typed_card = world.gold_card.card_no.translate(FULL_WIDTH)
    body = {"token": typed_card, "amount": "１２８．５０"}
    preview = client.post(PREVIEW, json=body, headers=bearer(key))
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["payable_fen"] == 11308
    confirmed = client.post(
        CONFIRM, json={**body, "idempotency_key": "pos1-fullwidth"}, headers=bearer(key)
    )
    assert confirmed.status_code == 201, confirmed.get_json()
    assert confirmed.get_json()["amount_fen"] == 12850
    refused = client.post(PREVIEW, json={**body, "amount": "１２８，５０"}, headers=bearer(key))
    assert_error(refused, 422, "amount_invalid")


def test_sale_by_key_records_the_key_and_no_cashier(client, world, session, tokens, key):
    token = tokens.printed_token(world.silver_card)
    body = {"token": token, "amount": "20", "idempotency_key": "pos1-000002"}
    response = client.post(CONFIRM, json=body, headers=bearer(key))
    assert response.status_code == 201
    redemption = session.get(Redemption, response.get_json()["id"])
    api_key = session.scalar(select(ApiKey))
    assert redemption.api_key_id == api_key.id and redemption.cashier_id is None
    assert redemption.merchant_id == world.shop.id
    assert (redemption.tier, redemption.pay_percent, redemption.payable_fen) == ("silver", 95, 1900)


def test_same_idempotency_key_with_a_different_amount_is_a_conflict(
    client, world, session, tokens, key
):
    token, _ = tokens.phone_token(world.gold_card)
    body = {"token": token, "amount": "128.50", "idempotency_key": "pos1-000003"}
    assert client.post(CONFIRM, json=body, headers=bearer(key)).status_code == 201
    before = writes(session)
    changed = client.post(CONFIRM, json={**body, "amount": "99.00"}, headers=bearer(key))
    assert_error(changed, 409, "conflict")
    assert writes(session) == before


def test_void_marks_todays_sale_voided_with_its_reason_and_keeps_it(
    client, world, session, tokens, key
):
    token, _ = tokens.phone_token(world.gold_card)
    body = {"token": token, "amount": "50.00", "idempotency_key": "pos1-000004"}
    sale_id = client.post(CONFIRM, json=body, headers=bearer(key)).get_json()["id"]

    response = client.post(
        f"{REDEMPTIONS}/{sale_id}/void", json={"reason": "顾客退货"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.get_json()
    voided = response.get_json()
    assert voided["id"] == sale_id and voided["status"] == "voided"
    assert voided["void_reason"] == "顾客退货" and voided["voided_at"]
    assert writes(session)[0] == 1
    assert session.get(Redemption, sale_id).status is RedemptionStatus.VOIDED

    again = client.post(
        f"{REDEMPTIONS}/{sale_id}/void", json={"reason": "再撤一次"}, headers=bearer(key)
    )
    assert_error(again, 409, "conflict")


def test_void_of_an_earlier_business_day_is_a_conflict(client, world, session, key):
    earlier = sale(session, world, world.shop.id, days_ago=2)
    response = client.post(
        f"{REDEMPTIONS}/{earlier.id}/void", json={"reason": "顾客退货"}, headers=bearer(key)
    )
    assert_error(response, 409, "conflict")
    session.rollback()
    assert session.get(Redemption, earlier.id).status is RedemptionStatus.COMPLETED


def test_get_one_sale_of_own_merchant(client, world, session, key):
    own = sale(session, world, world.shop.id)
    response = client.get(f"{REDEMPTIONS}/{own.id}", headers=bearer(key))
    assert response.status_code == 200
    assert response.get_json()["number"] == own.number


def test_list_is_newest_first_filtered_by_business_date_and_paginated(
    client, world, session, key, clock
):
    oldest = sale(session, world, world.shop.id, days_ago=2)
    middle = sale(session, world, world.shop.id, days_ago=1)
    newest = sale(session, world, world.shop.id, days_ago=0)
    today = clock.today

    everything = client.get(REDEMPTIONS, headers=bearer(key)).get_json()
    assert [r["id"] for r in everything["items"]] == [newest.id, middle.id, oldest.id]
    assert (everything["total"], everything["page"], everything["page_size"]) == (3, 1, 20)

    since_yesterday = client.get(
        REDEMPTIONS, query_string={"from": str(today - timedelta(days=1))}, headers=bearer(key)
    ).get_json()
    assert [r["id"] for r in since_yesterday["items"]] == [newest.id, middle.id]

    one_day = str(today - timedelta(days=2))
    only_oldest = client.get(
        REDEMPTIONS, query_string={"from": one_day, "to": one_day}, headers=bearer(key)
    ).get_json()
    assert [r["id"] for r in only_oldest["items"]] == [oldest.id]

    second_page = client.get(
        REDEMPTIONS, query_string={"page": 2, "page_size": 1}, headers=bearer(key)
    ).get_json()
    assert [r["id"] for r in second_page["items"]] == [middle.id]
    assert second_page["total"] == 3


# -- one merchant never reaches another's sales -----------------------------------------------


def test_a_key_lists_only_its_own_merchants_sales_whatever_the_query_says(
    client, world, session, key
):
    other_id, _ = second_shop(session, world)
    own = sale(session, world, world.shop.id)
    sale(session, world, other_id)
    # Naming a merchant is not part of the contract: refused, never obeyed.
    response = client.get(REDEMPTIONS, query_string={"merchant_id": other_id}, headers=bearer(key))
    assert_error(response, 422, "invalid")
    assert "merchant_id" in response.get_json()["error"]["details"]["fields"]
    body = client.get(REDEMPTIONS, headers=bearer(key)).get_json()
    assert [r["id"] for r in body["items"]] == [own.id] and body["total"] == 1


def test_another_merchants_sale_is_not_found_to_get_or_void(client, world, session, key):
    other_id, _ = second_shop(session, world)
    theirs = sale(session, world, other_id)
    assert_error(client.get(f"{REDEMPTIONS}/{theirs.id}", headers=bearer(key)), 404, "not_found")
    response = client.post(
        f"{REDEMPTIONS}/{theirs.id}/void", json={"reason": "不是我的"}, headers=bearer(key)
    )
    assert_error(response, 404, "not_found")
    session.rollback()
    assert session.get(Redemption, theirs.id).status is RedemptionStatus.COMPLETED


def test_the_merchant_is_the_keys_even_if_the_body_names_another(
    client, world, session, tokens, key
):
    other_id, _ = second_shop(session, world)
    token, _ = tokens.phone_token(world.gold_card)
    before = writes(session)
    body = {
        "token": token,
        "amount": "10",
        "idempotency_key": "pos1-000005",
        "merchant_id": other_id,
    }
    refused = client.post(CONFIRM, json=body, headers=bearer(key))
    error = assert_error(refused, 422, "invalid")
    assert "merchant_id" in error["details"]["fields"]
    assert writes(session) == before

    del body["merchant_id"]
    accepted = client.post(CONFIRM, json=body, headers=bearer(key))
    assert accepted.status_code == 201
    assert session.get(Redemption, accepted.get_json()["id"]).merchant_id == world.shop.id


def test_the_other_merchants_key_gets_its_own_terms(client, world, session, tokens):
    _, other_key = second_shop(session, world)
    token, _ = tokens.phone_token(world.gold_card)
    body = client.post(
        PREVIEW, json={"token": token, "amount": "100"}, headers=bearer(other_key)
    ).get_json()
    assert body["rule"]["pay_percent"] == 90 and body["payable_fen"] == 9000


# -- privacy ----------------------------------------------------------------------------------


def test_preview_and_sale_json_never_show_phone_member_number_card_number_or_name(
    client, world, session, tokens, key
):
    token, _ = tokens.phone_token(world.gold_card)
    preview = client.post(PREVIEW, json={"token": token, "amount": "88"}, headers=bearer(key))
    confirm = client.post(
        CONFIRM,
        json={"token": token, "amount": "88", "idempotency_key": "pos1-000006"},
        headers=bearer(key),
    )
    listing = client.get(REDEMPTIONS, headers=bearer(key))
    one = client.get(f"{REDEMPTIONS}/{confirm.get_json()['id']}", headers=bearer(key))
    member, card = world.gold, world.gold_card
    for response in (preview, confirm, listing, one):
        assert response.status_code in (200, 201)
        text = response.get_data(as_text=True)
        decoded = json.dumps(response.get_json(), ensure_ascii=False)
        for secret in (member.phone, member.member_no, card.card_no, member.name):
            assert secret not in text and secret not in decoded
        assert "张*明" in decoded
        assert "tier_points" not in decoded and "points" not in decoded


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer rpk_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "not-a-scheme"},
    ],
    ids=["missing", "empty", "unknown", "basic", "garbage"],
)
def test_calls_without_a_live_key_are_unauthorized(client, world, session, headers):
    before = writes(session)
    for method, path in (("post", PREVIEW), ("post", CONFIRM), ("get", REDEMPTIONS)):
        response = getattr(client, method)(path, json={}, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert writes(session) == before


def test_a_revoked_key_is_refused_at_once(client, world, session, tokens, key):
    token, _ = tokens.phone_token(world.gold_card)
    body = {"token": token, "amount": "10"}
    assert client.post(PREVIEW, json=body, headers=bearer(key)).status_code == 200
    api_key = session.scalar(select(ApiKey))
    merchants.revoke_api_key(session, world.actor(world.manager), api_key.id)
    session.commit()
    assert_error(client.post(PREVIEW, json=body, headers=bearer(key)), 401, "unauthorized")


def test_a_suspended_merchants_key_is_refused_saying_why(client, world, session, tokens, key):
    world.shop.is_enabled = False
    world.shop.suspension_reason = "未按协议给予优惠"
    session.commit()
    token, _ = tokens.phone_token(world.gold_card)
    response = client.post(PREVIEW, json={"token": token, "amount": "10"}, headers=bearer(key))
    error = assert_error(response, 403, "forbidden")
    assert "未按协议给予优惠" in error["message"]


@contextmanager
def counting_key_updates() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_key_last_used_is_written_at_most_once_a_minute(client, world, session, tokens, key, clock):
    body = {"token": tokens.printed_token(world.gold_card), "amount": "10"}
    with counting_key_updates() as updates:
        for _ in range(5):
            assert client.post(PREVIEW, json=body, headers=bearer(key)).status_code == 200
    assert len(updates) == 1
    session.rollback()
    api_key = session.scalar(select(ApiKey))
    first_use = api_key.last_used_at
    assert first_use is not None and clock.now - first_use < timedelta(seconds=30)

    api_key.last_used_at = first_use - timedelta(minutes=2)
    session.commit()
    with counting_key_updates() as updates:
        assert client.get(REDEMPTIONS, headers=bearer(key)).status_code == 200
    assert len(updates) == 1
    session.rollback()
    assert session.scalar(select(ApiKey)).last_used_at > first_use - timedelta(minutes=1)


# -- every error code, through the API --------------------------------------------------------


def _phone(world, tokens, card_attr="gold_card"):  # type: ignore[no-untyped-def]
    return tokens.phone_token(getattr(world, card_attr))[0]


def _expired(world, tokens):  # type: ignore[no-untyped-def]
    return tokens.phone_token(world.gold_card, now=utcnow() - timedelta(seconds=300))[0]


def _suspended(world, tokens, session):  # type: ignore[no-untyped-def]
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "会员申请暂停")
    session.commit()
    return world.gold_card.card_no


def _revoked(world, tokens, session):  # type: ignore[no-untyped-def]
    cards.revoke_card(session, factories.OPERATOR, world.gold_card.id, "迁出本区")
    session.commit()
    return world.gold_card.card_no


def _reissued_old_code(world, tokens, session):  # type: ignore[no-untyped-def]
    old_code = tokens.printed_token(world.gold_card)
    cards.reissue_card(session, factories.OPERATOR, world.gold_card.id, "遗失补办")
    session.commit()
    return old_code


def _outsider(world, tokens, session):  # type: ignore[no-untyped-def]
    outsider = factories.member(session, world.other, name="赵六")
    factories.points(session, outsider, 150)
    card = factories.card(session, outsider)
    session.commit()
    return card.card_no


def _minimum_spend(world, tokens, session):  # type: ignore[no-untyped-def]
    agreements.sign_agreement(
        session,
        ADMIN,
        world.shop.id,
        world.home.id,
        gold_pay_percent=88,
        silver_pay_percent=95,
        valid_from=date(2020, 1, 1),
        min_spend_fen=10000,
    )
    session.commit()
    return world.gold_card.card_no


CARD_REFUSALS = {
    "token_invalid": (lambda w, t, s: "not-a-card-code", 422),
    "token_invalid_check_digit": (lambda w, t, s: w.gold_card.card_no[:-1] + "x", 422),
    "token_expired": (lambda w, t, s: _expired(w, t), 422),
    "card_suspended": (_suspended, 422),
    "card_revoked": (_revoked, 422),
    "card_revoked_old_generation": (_reissued_old_code, 422),
    "tier_none": (lambda w, t, s: w.plain_card.card_no, 422),
    "no_agreement": (_outsider, 422),
    "below_minimum_spend": (_minimum_spend, 422),
}


@pytest.mark.parametrize("case", sorted(CARD_REFUSALS))
@pytest.mark.parametrize("path", [PREVIEW, CONFIRM])
def test_card_and_terms_refusals_have_their_code_and_write_nothing(
    client, world, session, tokens, key, case, path
):
    make_token, status = CARD_REFUSALS[case]
    token = make_token(world, tokens, session)
    code = case.removesuffix("_check_digit").removesuffix("_old_generation")
    before = writes(session)
    body = {"token": token, "amount": "50.00", "idempotency_key": f"pos1-{case}"}
    if path == PREVIEW:
        del body["idempotency_key"]
    assert_error(client.post(path, json=body, headers=bearer(key)), status, code)
    assert writes(session) == before


def test_a_phone_code_pays_once_then_is_token_used_even_at_another_merchant(
    client, world, session, tokens, key
):
    _, other_key = second_shop(session, world)
    token = _phone(world, tokens)
    body = {"token": token, "amount": "30", "idempotency_key": "pos1-000007"}
    assert client.post(CONFIRM, json=body, headers=bearer(key)).status_code == 201
    before = writes(session)
    assert_error(
        client.post(PREVIEW, json={"token": token, "amount": "30"}, headers=bearer(key)),
        409,
        "token_used",
    )
    elsewhere = {**body, "idempotency_key": "other-000001"}
    assert_error(client.post(CONFIRM, json=elsewhere, headers=bearer(other_key)), 409, "token_used")
    assert writes(session) == before


def test_unknown_paths_and_sales_are_not_found_and_wrong_methods_are_405(client, world, key):
    assert_error(client.get(f"{REDEMPTIONS}/999999", headers=bearer(key)), 404, "not_found")
    assert_error(client.get(f"{REDEMPTIONS}/99999999999", headers=bearer(key)), 404, "not_found")
    assert_error(client.get("/api/v1/no-such-thing", headers=bearer(key)), 404, "not_found")
    assert_error(client.get(PREVIEW, headers=bearer(key)), 405, "method_not_allowed")
    assert_error(client.delete(f"{REDEMPTIONS}/1", headers=bearer(key)), 405, "method_not_allowed")


def test_pages_keep_their_html_error_page_beside_the_api(client, world):
    page = client.get("/merchant/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_the_api_needs_no_csrf_token_while_pages_still_do(app, client, world, tokens, key):
    token = tokens.printed_token(world.gold_card)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "WTF_CSRF_ENABLED", True)
        page = client.post("/login", data={"username": "x", "password": "y"})
        assert page.status_code == 400  # the page refuses a form without its CSRF token
        response = client.post(PREVIEW, json={"token": token, "amount": "10"}, headers=bearer(key))
        assert response.status_code == 200


# -- bad input: a clear code, nothing written -------------------------------------------------

GOOD_CONFIRM = {"amount": "12.50", "idempotency_key": "pos1-badinput"}

BAD_BODIES: list[tuple[str, Any, int, str]] = [
    ("amount_json_number", {"amount": 12.5}, 422, "amount_invalid"),
    ("amount_json_exponent", '{"token": "TOKEN", "amount": 1e3 KEY}', 422, "amount_invalid"),
    ("amount_json_integer", {"amount": 12}, 422, "amount_invalid"),
    ("amount_negative", {"amount": "-1"}, 422, "amount_invalid"),
    ("amount_three_decimals", {"amount": "1.234"}, 422, "amount_invalid"),
    ("amount_exponent_text", {"amount": "1e3"}, 422, "amount_invalid"),
    ("amount_words", {"amount": "abc"}, 422, "amount_invalid"),
    ("amount_empty", {"amount": ""}, 422, "amount_invalid"),
    ("amount_zero", {"amount": "0"}, 422, "amount_invalid"),
    ("amount_above_maximum", {"amount": "100000.01"}, 422, "amount_invalid"),
    ("amount_null", {"amount": None}, 422, "amount_invalid"),
    ("amount_boolean", {"amount": True}, 422, "amount_invalid"),
    ("amount_missing", {"amount": ...}, 422, "amount_invalid"),
    ("token_missing", {"token": ...}, 422, "invalid"),
    ("token_number", {"token": 812345678903}, 422, "invalid"),
    ("token_too_long", {"token": "x" * 600}, 422, "invalid"),
    ("unknown_field", {"discount_fen": 0}, 422, "invalid"),
    ("everything_missing", "{}", 422, "invalid"),
    ("body_is_a_list", "[]", 422, "invalid"),
    ("body_is_a_string", '"128.50"', 422, "invalid"),
    ("body_is_null", "null", 422, "invalid"),
    ("malformed_json", '{"token": "TOKEN", "amount": KEY', 400, "invalid"),
    ("not_utf8", b'{"token": "\xff\xfe", "amount": "1"}', 400, "invalid"),
]

CONFIRM_ONLY: list[tuple[str, Any, int, str]] = [
    ("idempotency_key_missing", {"idempotency_key": ...}, 422, "invalid"),
    ("idempotency_key_short", {"idempotency_key": "abc"}, 422, "invalid"),
    ("idempotency_key_long", {"idempotency_key": "k" * 81}, 422, "invalid"),
    ("idempotency_key_number", {"idempotency_key": 12345678}, 422, "invalid"),
]


def _body(token: str, path: str, change: Any) -> dict[str, Any] | str | bytes:
    """A body that is right except for ``change`` (a dict of edits, ... removes; or raw text)."""
    if isinstance(change, bytes):
        return change
    if isinstance(change, str):
        key = f', "idempotency_key": "{GOOD_CONFIRM["idempotency_key"]}"' if path == CONFIRM else ""
        return change.replace("TOKEN", token).replace(" KEY", key)
    body: dict[str, Any] = {"token": token, **GOOD_CONFIRM}
    if path == PREVIEW:
        del body["idempotency_key"]
    for name, value in change.items():
        if value is ...:
            body.pop(name, None)
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(
    ("path", "change", "status", "code"),
    [
        pytest.param(path, change, status, code, id=f"{path.rsplit('/', 1)[-1]}-{case}")
        for path, rows in ((PREVIEW, BAD_BODIES), (CONFIRM, BAD_BODIES + CONFIRM_ONLY))
        for case, change, status, code in rows
    ],
)
def test_bad_bodies_get_a_clear_code_and_write_nothing(
    client, world, session, tokens, key, path, change, status, code
):
    token = tokens.printed_token(world.gold_card)
    body = _body(token, path, change)
    before = writes(session)
    if isinstance(body, dict):
        response = client.post(path, json=body, headers=bearer(key))
    else:
        response = client.post(
            path, data=body, content_type="application/json", headers=bearer(key)
        )
    error = assert_error(response, status, code)
    if code == "invalid" and status == 422:
        assert error["details"]["fields"]
    assert writes(session) == before


def test_a_form_encoded_body_is_told_to_send_json(client, world, session, tokens, key):
    before = writes(session)
    response = client.post(
        PREVIEW,
        data={"token": tokens.printed_token(world.gold_card), "amount": "10"},
        headers=bearer(key),
    )
    error = assert_error(response, 422, "invalid")
    assert "application/json" in error["message"]
    assert writes(session) == before


@pytest.mark.parametrize(
    "reason", [None, "", "x", "长" * 201, 42], ids=["null", "empty", "short", "long", "number"]
)
def test_void_needs_a_reason_and_otherwise_changes_nothing(client, world, session, key, reason):
    own = sale(session, world, world.shop.id)
    before = writes(session)
    response = client.post(
        f"{REDEMPTIONS}/{own.id}/void", json={"reason": reason}, headers=bearer(key)
    )
    assert_error(response, 422, "invalid")
    assert writes(session) == before
    assert session.get(Redemption, own.id).status is RedemptionStatus.COMPLETED


def test_void_with_only_spaces_is_refused_by_the_service(client, world, session, key):
    own = sale(session, world, world.shop.id)
    response = client.post(
        f"{REDEMPTIONS}/{own.id}/void", json={"reason": "      "}, headers=bearer(key)
    )
    assert_error(response, 422, "invalid")
    session.rollback()
    assert session.get(Redemption, own.id).status is RedemptionStatus.COMPLETED


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2024-13-01"},
        {"to": "yesterday"},
        {"from": "2024-05-02", "to": "2024-05-01"},
        {"page": 0},
        {"page": "two"},
        {"page": 10**12},
        {"page_size": 0},
        {"page_size": 1000},
    ],
    ids=[
        "bad-month",
        "words",
        "reversed",
        "page-0",
        "page-words",
        "page-huge",
        "size-0",
        "size-1000",
    ],
)
def test_bad_list_queries_are_invalid(client, world, key, query):
    error = assert_error(
        client.get(REDEMPTIONS, query_string=query, headers=bearer(key)), 422, "invalid"
    )
    assert error["details"]["fields"]


def test_error_messages_are_readable_utf8_json(client, key):
    response = client.post(
        "/api/v1/checkout/preview", json={"token": "x", "amount": "abc"}, headers=bearer(key)
    )
    assert_error(response, 422, "amount_invalid")
    assert "金额".encode() in response.data  # UTF-8, not \\u91d1\\u989d escapes
