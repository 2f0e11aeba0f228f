"""The people API for members (DESIGN.md, "The people API", "Member"), through the test client:
only a member's token opens these calls, each reaches the member's own data only, bad input is
422 ``invalid`` and writes nothing, and the offline key rotates and is never cached."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.errors import TokenInvalid
from rewards.models import Account, AuditEvent, Card, Claim, ClaimStatus, Role
from rewards.services import activities, agreements, cards, claims, ledger, member_data
from rewards.services.audit import Actor
from rewards.services.cards import TokenKind
from rewards.services.totp import period_of, totp
from tests import factories
from tests.clock import today
from tests.test_api import assert_error
from tests.test_people_api import claim_of, token_for

ME = "/api/v1/me"
LEDGER = "/api/v1/me/ledger"
MY_CLAIMS = "/api/v1/me/claims"
MERCHANTS = "/api/v1/merchants"
OFFLINE_KEY = "/api/v1/me/card/offline-key"
EXPORT = "/api/v1/me/export"

MEMBER_CALLS = [
    ("get", ME, None),
    ("get", LEDGER, None),
    (
        "post",
        MY_CLAIMS,
        {"category": "volunteer", "occurred_on": "2024-01-01", "description": "买菜"},
    ),
    ("get", MY_CLAIMS, None),
    ("get", MERCHANTS, None),
    ("post", OFFLINE_KEY, None),
    ("get", EXPORT, None),
]


def member_account(session: Session, member: Any) -> Account:
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    return account


@pytest.fixture()
def gold(session: Session, world: factories.World) -> dict[str, str]:
    """A people token of the gold member (张三明)."""
    return token_for(session, member_account(session, world.gold))


def writes(session: Session) -> dict[str, int]:
    """What a refused call must not change: claims, audit events, offline secrets."""
    session.rollback()

    def count(model: type, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return {
        "claims": count(Claim),
        "audit": count(AuditEvent),
        "offline_keys": count(Card, Card.offline_secret.is_not(None)),
    }


def offline_code(key: dict[str, Any], at: Any) -> str:
    """The 18-digit offline code a phone shows with ``key`` at instant ``at``."""
    return key["card_number"] + totp(key["secret"], period_of(at))


# -- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.SECRETARY, Role.DISTRICT_ADMIN, Role.CASHIER, Role.MERCHANT_MANAGER]
)
@pytest.mark.parametrize(("method", "path", "body"), MEMBER_CALLS)
def test_only_members_may_call_member_operations(client, world, session, role, method, path, body):
    account = {
        Role.SECRETARY: lambda: world.secretary,
        Role.DISTRICT_ADMIN: lambda: factories.account(session, Role.DISTRICT_ADMIN),
        Role.CASHIER: lambda: world.cashier,
        Role.MERCHANT_MANAGER: lambda: world.manager,
    }[role]()
    headers = token_for(session, account)
    before = writes(session)
    response = client.open(path, method=method, json=body, headers=headers)
    assert_error(response, 403, "forbidden")
    assert writes(session) == before


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_CALLS)
def test_member_operations_need_a_live_token(client, world, method, path, body):
    response = client.open(path, method=method, json=body)
    assert_error(response, 401, "unauthorized")


# -- me ---------------------------------------------------------------------------------------


def test_me_gives_points_tier_and_card(client, world, session, gold):
    body = client.get(ME, headers=gold).get_json()
    assert body == {
        "member_no": world.gold.member_no,
        "name": "张三明",
        "community": {"code": world.home.code, "name": world.home.name},
        "points_in_window": 120,
        "points_all_time": 120,
        "tier": "gold",
        "points_to_next_tier": None,
        "card": {"number": world.gold_card.card_no, "status": "active"},
    }


def test_me_says_how_far_the_next_tier_is_and_a_missing_card_is_null(client, world, session):
    silver = client.get(ME, headers=token_for(session, member_account(session, world.silver)))
    assert (silver.json["tier"], silver.json["points_to_next_tier"]) == ("silver", 40)
    cards.revoke_card(session, factories.OPERATOR, world.plain_card.id, "卡片丢失")
    session.commit()
    plain = client.get(ME, headers=token_for(session, member_account(session, world.plain)))
    assert plain.json["card"] is None
    assert (plain.json["tier"], plain.json["points_to_next_tier"]) == ("none", 40)


# -- my ledger --------------------------------------------------------------------------------


def test_ledger_is_newest_first_with_each_reason_in_words(client, world, session, gold):
    claim = claim_of(session, world, world.gold)
    claims.certify_claim(session, factories.OPERATOR, claim.id)
    activity = activities.create_activity(
        session,
        factories.OPERATOR,
        world.home.id,
        world.category.id,
        "社区环境整治",
        today() - timedelta(days=1),
        4,
    )
    activities.record_attendance(session, factories.OPERATOR, activity.id, [world.gold.member_no])
    ledger.adjust(session, factories.OPERATOR, world.gold.id, -2, "重复记分更正", today(), "k-1")
    session.commit()

    body = client.get(LEDGER, headers=gold).get_json()
    assert (body["total"], body["page"], body["page_size"]) == (4, 1, 20)
    lines = [(i["points"], i["kind"], i["reason"]) for i in body["items"]]
    assert lines[0] == (-2, "adjustment", "重复记分更正")
    assert lines[1][:2] == (4, "attendance") and "社区环境整治" in lines[1][2]
    assert lines[2][:2] == (5, "award")
    assert world.category.name in lines[2][2] and "帮助独居老人买菜" in lines[2][2]
    assert lines[3] == (120, "adjustment", "test")
    assert set(body["items"][0]) == {"occurred_on", "points", "kind", "reason"}
    assert body["items"][0]["occurred_on"] == today().isoformat()


def test_ledger_pages_and_filters_by_year(client, world, session, gold):
    # Two years back: no other entry of the world can fall in that year, whatever the day.
    last_year = today().replace(year=today().year - 2, month=6, day=1)
    ledger.adjust(session, factories.OPERATOR, world.gold.id, 3, "去年的服务", last_year, "k-y")
    session.commit()
    first = client.get(f"{LEDGER}?page=1&page_size=1", headers=gold).get_json()
    second = client.get(f"{LEDGER}?page=2&page_size=1", headers=gold).get_json()
    assert first["total"] == second["total"] == 2
    assert first["items"][0]["reason"] != second["items"][0]["reason"]
    year = client.get(f"{LEDGER}?year={last_year.year}", headers=gold).get_json()
    assert [i["reason"] for i in year["items"]] == ["去年的服务"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("year=1900", "year"), ("year=abc", "year"), ("page=0", "page"), ("member=P1", "member")],
)
def test_ledger_refuses_bad_queries_naming_the_field(client, world, gold, query, field):
    error = assert_error(client.get(f"{LEDGER}?{query}", headers=gold), 422, "invalid")
    assert field in error["details"]["fields"]


def test_a_member_never_sees_another_members_ledger(client, world, session, gold):
    ledger.adjust(session, factories.OPERATOR, world.silver.id, 7, "李四的调整", today(), "k-s")
    session.commit()
    body = client.get(LEDGER, headers=gold).get_json()
    assert [i["reason"] for i in body["items"]] == ["test"]
    assert "李四" not in client.get(ME, headers=gold).get_data(as_text=True)


# -- my claims --------------------------------------------------------------------------------


def _claim_body(world: factories.World, **changes: Any) -> dict[str, Any]:
    body = {
        "category": world.category.code,
        "occurred_on": (today() - timedelta(days=2)).isoformat(),
        "description": "帮助独居老人买菜",
    }
    return body | changes


def test_a_member_submits_a_claim_and_it_is_pending_for_the_secretary(client, world, session, gold):
    response = client.post(MY_CLAIMS, json=_claim_body(world), headers=gold)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending" and body["points"] == world.category.default_points
    assert (body["category"], body["category_name"]) == (world.category.code, world.category.name)
    assert body["certified_points"] is None and body["rejection_reason"] is None
    stored = session.get(Claim, body["id"])
    assert (stored.member_id, stored.status) == (world.gold.id, ClaimStatus.PENDING)
    queue = claims.list_claims(session, world.actor(world.secretary), status=ClaimStatus.PENDING)
    assert [c.id for c in queue.items] == [body["id"]]


def test_my_claims_show_status_and_the_rejection_reason_newest_first(
    client, world, session, gold, clock
):
    older = claim_of(session, world, world.gold)
    clock.advance(minutes=5)
    newer = claim_of(session, world, world.gold)
    claims.reject_claim(session, world.actor(world.secretary), older.id, "服务日期与活动记录不符")
    session.commit()
    body = client.get(MY_CLAIMS, headers=gold).get_json()
    assert [(c["id"], c["status"]) for c in body["items"]] == [
        (newer.id, "pending"),
        (older.id, "rejected"),
    ]
    assert body["items"][1]["rejection_reason"] == "服务日期与活动记录不符"
    rejected = client.get(f"{MY_CLAIMS}?status=rejected", headers=gold).get_json()
    assert [c["id"] for c in rejected["items"]] == [older.id] and rejected["total"] == 1


def test_a_member_never_sees_another_members_claims(client, world, session, gold):
    mine = claim_of(session, world, world.gold)
    claim_of(session, world, world.silver)
    body = client.get(f"{MY_CLAIMS}?status=all", headers=gold).get_json()
    assert [c["id"] for c in body["items"]] == [mine.id] and body["total"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "no-such-category"}, "category"),
        ({"occurred_on": "tomorrow"}, "occurred_on"),
        ({"occurred_on": "2024-02-30"}, "occurred_on"),
        ({"description": "买"}, "description"),
        ({"description": "   "}, "description"),
        ({"points": 20}, "points"),
        ({"member_no": "P0000001"}, "member_no"),
        ({"description": None}, "description"),
    ],
)
def test_a_bad_claim_is_invalid_names_the_field_and_writes_nothing(
    client, world, session, gold, changes, field
):
    if changes.get("occurred_on") == "tomorrow":
        changes = {"occurred_on": (today() + timedelta(days=1)).isoformat()}
    before = writes(session)
    response = client.post(MY_CLAIMS, json=_claim_body(world, **changes), headers=gold)
    error = assert_error(response, 422, "invalid")
    assert field in error["details"]["fields"]
    assert writes(session) == before


def test_a_claim_missing_a_field_or_not_json_writes_nothing(client, world, session, gold):
    before = writes(session)
    body = _claim_body(world)
    del body["category"]
    missing = assert_error(client.post(MY_CLAIMS, json=body, headers=gold), 422, "invalid")
    assert "category" in missing["details"]["fields"]
    broken = client.post(MY_CLAIMS, data="{", headers=gold | {"Content-Type": "application/json"})
    assert_error(broken, 400, "invalid")
    assert_error(client.post(MY_CLAIMS, data="x", headers=gold), 422, "invalid")
    assert writes(session) == before


# -- the alliance directory -------------------------------------------------------------------


def test_merchants_show_my_discount_today_and_the_gold_cards(client, world, session):
    elsewhere = factories.merchant(session, name="外区药店")
    agreements.sign_agreement(
        session,
        Actor(label="tests-admin", role=Role.DISTRICT_ADMIN),
        elsewhere.id,
        world.other.id,
        gold_pay_percent=90,
        silver_pay_percent=95,
        valid_from=today() - timedelta(days=30),
        cap_fen=2000,
        min_spend_fen=5000,
    )
    session.commit()

    def offers(member: Any) -> dict[str, Any]:
        headers = token_for(session, member_account(session, member))
        body = client.get(MERCHANTS, headers=headers).get_json()
        assert body["total"] == 2
        return {item["code"]: item for item in body["items"]}

    gold, silver, plain = offers(world.gold), offers(world.silver), offers(world.plain)
    shop = world.shop.code
    expected_gold = {"zhe": "88折", "pay_percent": 88, "cap_fen": None, "min_spend_fen": 0}
    assert gold[shop]["my_discount"] == expected_gold
    assert silver[shop]["my_discount"] == {**expected_gold, "zhe": "95折", "pay_percent": 95}
    assert plain[shop]["my_discount"] is None
    assert gold[shop]["gold_discount"] == silver[shop]["gold_discount"] == expected_gold
    # A merchant serving another community gives this member nothing, not even at gold.
    assert gold[elsewhere.code]["my_discount"] is None
    assert gold[elsewhere.code]["gold_discount"] is None
    assert set(gold[shop]) == {
        "code", "name", "category", "address", "phone", "my_discount", "gold_discount"
    }  # fmt: skip


def test_merchants_are_searched_and_filtered_by_category(client, world, session, gold):
    world.shop.category, world.shop.address = "餐饮", "幸福路 1 号"
    pharmacy = factories.merchant(session, name="仁心药店")
    pharmacy.category = "医药"
    session.commit()
    by_name = client.get(f"{MERCHANTS}?q=仁心", headers=gold).get_json()
    by_address = client.get(f"{MERCHANTS}?q=幸福路", headers=gold).get_json()
    by_category = client.get(f"{MERCHANTS}?category=餐饮", headers=gold).get_json()
    assert [m["code"] for m in by_name["items"]] == [pharmacy.code]
    assert [m["code"] for m in by_address["items"]] == [world.shop.code]
    assert [m["code"] for m in by_category["items"]] == [world.shop.code]
    error = assert_error(client.get(f"{MERCHANTS}?q={'长' * 41}", headers=gold), 422, "invalid")
    assert "q" in error["details"]["fields"]


# -- the offline card key ---------------------------------------------------------------------


def test_the_offline_key_is_the_cards_totp_secret_and_never_cached(
    client, world, session, gold, tokens, clock
):
    response = client.post(OFFLINE_KEY, headers=gold)
    assert response.status_code == 200, response.get_json()
    assert "no-store" in response.headers["Cache-Control"]
    key = response.get_json()
    assert set(key) == {"card_number", "secret", "digits", "period", "algorithm"}
    assert (key["card_number"], key["digits"], key["period"], key["algorithm"]) == (
        world.gold_card.card_no,
        6,
        30,
        "SHA1",
    )
    verified = tokens.verify(session, offline_code(key, clock.now))
    assert (verified.card.id, verified.kind) == (world.gold_card.id, TokenKind.OFFLINE)
    # Kept sealed, and the audit log says a key was issued, never the key.
    session.expire_all()
    assert key["secret"] not in (session.get(Card, world.gold_card.id).offline_secret or "")
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "card.offline_key"))
    assert all(key["secret"] not in str(vars(event)) for event in audit)


def test_calling_again_rotates_the_secret_and_the_first_keys_codes_stop_working(
    client, world, session, gold, tokens, clock
):
    first = client.post(OFFLINE_KEY, headers=gold).get_json()
    second = client.post(OFFLINE_KEY, headers=gold).get_json()
    assert first["secret"] != second["secret"]
    session.expire_all()
    with pytest.raises(TokenInvalid):
        tokens.verify(session, offline_code(first, clock.now))
    assert tokens.verify(session, offline_code(second, clock.now)).card.id == world.gold_card.id


def test_no_offline_key_without_a_card_or_for_a_suspended_one(client, world, session):
    cards.suspend_card(session, factories.OPERATOR, world.silver_card.id, "挂失")
    cards.revoke_card(session, factories.OPERATOR, world.plain_card.id, "卡片丢失")
    session.commit()
    silver = token_for(session, member_account(session, world.silver))
    plain = token_for(session, member_account(session, world.plain))
    before = writes(session)
    assert_error(client.post(OFFLINE_KEY, headers=silver), 422, "card_suspended")
    assert_error(client.post(OFFLINE_KEY, headers=plain), 404, "not_found")
    assert writes(session) == before


def test_the_offline_key_takes_no_body(client, world, session, gold):
    before = writes(session)
    response = client.post(
        OFFLINE_KEY, json={"card_number": world.silver_card.card_no}, headers=gold
    )
    # Nothing to choose: the key is always for the caller's own card.
    assert response.status_code == 200
    assert response.get_json()["card_number"] == world.gold_card.card_no
    assert writes(session)["offline_keys"] == before["offline_keys"] + 1


# -- my data ----------------------------------------------------------------------------------


def test_export_is_everything_about_me_and_no_one_else(client, world, session, gold, clock):
    claim_of(session, world, world.gold)
    claim_of(session, world, world.silver)
    response = client.get(EXPORT, headers=gold)
    assert response.status_code == 200 and response.is_json
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["member"]["member_no"] == world.gold.member_no
    text = response.get_data(as_text=True)
    for other in (world.silver, world.plain):
        assert other.name not in text and other.member_no not in text
    # Exactly what the service holds (the audit log has grown by this very export since).
    actor = Actor.for_account(
        session.scalar(select(Account).where(Account.member_id == world.gold.id))
    )
    held = member_data.export(session, actor)
    assert {k: v for k, v in body.items() if k != "audit_log"} == {
        k: v for k, v in held.items() if k != "audit_log"
    }
    assert len(held["audit_log"]) == len(body["audit_log"]) + 1
    session.rollback()


def test_each_export_is_recorded(client, world, session, gold):
    client.get(EXPORT, headers=gold)
    session.rollback()
    recorded = session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == "member.export")
    ).all()
    assert recorded == [world.gold.id]
