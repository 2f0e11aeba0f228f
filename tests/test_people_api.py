"""The people API for secretaries (DESIGN.md, "The people API"): token sign-in and sign-out,
categories, and the secretary's calls with the pages' role and scope rules, through the test
client. Another community's object is 404 with the body of one that does not exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.auth import FAILED_SIGN_IN_ACTION
from rewards.models import (
    AccessToken,
    Account,
    Activity,
    Attendance,
    AuditEvent,
    Claim,
    ClaimStatus,
    EntryKind,
    LedgerEntry,
    Member,
    Role,
)
from rewards.services import accounts, activities, api_tokens, cards, claims
from rewards.services.accounts import FREE_FAILURES_PER_ADDRESS
from tests import factories
from tests.clock import today
from tests.test_api import assert_error, bearer, new_key

TOKEN = "/api/v1/auth/token"
CATEGORIES = "/api/v1/categories"
CLAIMS = "/api/v1/claims"
MEMBERS = "/api/v1/members"
ACTIVITIES = "/api/v1/activities"
PASSWORD = "correct horse"  # the factories' password


def token_for(session: Session, account: Account) -> dict[str, str]:
    """Authorization headers with a fresh people token of ``account``."""
    issued = api_tokens.issue_token(session, account)
    session.commit()
    return bearer(issued.token)


def admin_account(session: Session) -> Account:
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


def claim_of(session: Session, world: factories.World, member: Member, points: int = 5) -> Claim:
    claim = claims.submit_claim(
        session,
        factories.OPERATOR,
        member.id,
        world.category.id,
        "帮助独居老人买菜",
        today() - timedelta(days=3),
        points=points,
    )
    session.commit()
    return claim


def activity_of(session: Session, world: factories.World, community_id: int) -> Activity:
    activity = activities.create_activity(
        session,
        factories.OPERATOR,
        community_id,
        world.category.id,
        "社区环境整治",
        today() - timedelta(days=1),
        4,
    )
    session.commit()
    return activity


def writes(session: Session) -> dict[str, int]:
    """What a refused request must not change: entries, decisions, activities, attendance,
    audit events."""
    session.rollback()

    def count(model: type, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return {
        "entries": count(LedgerEntry),
        "decided": count(Claim, Claim.status != ClaimStatus.PENDING),
        "activities": count(Activity),
        "attendances": count(Attendance),
        "audit": count(AuditEvent),
    }


@pytest.fixture()
def secretary(session: Session, world: factories.World) -> dict[str, str]:
    return token_for(session, world.secretary)


@pytest.fixture()
def foreigner(session: Session, world: factories.World) -> Member:
    """A member registered in the other community."""
    member = factories.member(session, world.other, name="赵六")
    session.commit()
    return member


# -- sign-in and sign-out ---------------------------------------------------------------------


def test_sign_in_gives_a_token_with_the_role_and_its_expiry(client, world, session, clock):
    response = client.post(TOKEN, json={"username": world.secretary.username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "role", "expires_at"}
    assert body["token"].startswith("rpt_")
    assert body["role"] == "secretary"
    expires = clock.now + api_tokens.STAFF_LIFETIME
    assert body["expires_at"] == expires.isoformat()
    assert client.get(CATEGORIES, headers=bearer(body["token"])).status_code == 200
    # Only the token's hash is kept.
    stored = session.scalars(select(AccessToken.token_hash)).all()
    assert body["token"] not in stored and len(stored) == 1


def test_a_members_token_lasts_a_month(client, world, session, clock):
    member = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    body = client.post(TOKEN, json={"username": member.username, "password": PASSWORD}).json
    assert body["role"] == "member"
    assert body["expires_at"] == (clock.now + timedelta(days=30)).isoformat()


def test_wrong_password_and_unknown_user_are_the_same_401_and_count_as_failures(
    client, world, session
):
    wrong = client.post(TOKEN, json={"username": world.secretary.username, "password": "nope"})
    unknown = client.post(TOKEN, json={"username": "nobody-here", "password": "nope"})
    assert assert_error(wrong, 401, "unauthorized") == assert_error(unknown, 401, "unauthorized")
    failures = session.scalars(
        select(AuditEvent.actor_label).where(AuditEvent.action == FAILED_SIGN_IN_ACTION)
    ).all()
    assert sorted(failures) == sorted(
        [f"sign-in:{world.secretary.username}", "sign-in:nobody-here"]
    )
    assert session.scalar(select(func.count()).select_from(AccessToken)) == 0


HERE = {"REMOTE_ADDR": "203.0.113.7"}
THERE = {"REMOTE_ADDR": "198.51.100.20"}


def test_the_token_endpoint_shares_the_limits_with_429_too_many_attempts(
    client, world, session, clock
):
    username = world.secretary.username
    wrong = {"username": username, "password": "nope"}
    right = {"username": username, "password": PASSWORD}
    for _ in range(3):  # the page and the API count together, per address
        client.post("/login", data=wrong, environ_overrides=HERE)
    for _ in range(FREE_FAILURES_PER_ADDRESS - 3):
        assert client.post(TOKEN, json=wrong, environ_overrides=HERE).status_code == 401
    refused = client.post(TOKEN, json=right, environ_overrides=HERE)  # unchecked during the wait
    body = assert_error(refused, 429, "too_many_attempts")
    assert refused.headers["Retry-After"] == "1"
    assert body["details"] == {"retry_after": 1}
    assert "请 1 秒后再试" in body["message"]
    assert session.scalar(select(func.count()).select_from(AccessToken)) == 0
    # The page refuses the same address too; another address gets its token.
    assert client.post("/login", data=right, environ_overrides=HERE).status_code == 429
    assert client.post(TOKEN, json=right, environ_overrides=THERE).status_code == 200
    clock.advance(seconds=1)
    assert client.post(TOKEN, json=right, environ_overrides=HERE).status_code == 200
    issued = session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "api_token.issue")
    ).all()
    assert [d["ip"] for d in issued] == ["198.51.100.20", "203.0.113.7"]


def test_disabled_account_cannot_sign_in_and_its_tokens_stop_working(client, world, session):
    headers = token_for(session, world.secretary)
    accounts.set_enabled(session, factories.OPERATOR, world.secretary.id, False)
    session.commit()
    signing_in = {"username": world.secretary.username, "password": PASSWORD}
    assert_error(client.post(TOKEN, json=signing_in), 401, "unauthorized")
    assert_error(client.get(CATEGORIES, headers=headers), 401, "unauthorized")


def test_sign_out_kills_that_token_only(client, world, session, secretary):
    other_device = token_for(session, world.secretary)
    response = client.delete(TOKEN, headers=secretary)
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(client.get(CATEGORIES, headers=secretary), 401, "unauthorized")
    assert_error(client.delete(TOKEN, headers=secretary), 401, "unauthorized")
    assert client.get(CATEGORIES, headers=other_device).status_code == 200


def test_expired_token_is_unauthorized(client, world, session, secretary, clock):
    clock.advance(hours=11, minutes=59)
    assert client.get(CATEGORIES, headers=secretary).status_code == 200
    clock.advance(minutes=1)
    assert_error(client.get(CATEGORIES, headers=secretary), 401, "unauthorized")


def test_a_tokens_last_use_is_kept_to_the_minute(client, world, session, secretary, clock):
    def last_used() -> Any:
        session.rollback()
        return session.scalar(select(AccessToken.last_used_at))

    start = clock.now
    client.get(CATEGORIES, headers=secretary)
    assert last_used() == start
    clock.advance(seconds=30)
    client.get(CATEGORIES, headers=secretary)
    assert last_used() == start
    later = clock.advance(seconds=31)
    client.get(CLAIMS, headers=secretary)
    assert last_used() == later


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer rpt_not-a-real-token", "rpt_x"],
)
def test_calls_without_a_live_token_are_unauthorized(client, world, authorization):
    response = client.get(CATEGORIES, headers={"Authorization": authorization})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get(CLAIMS, headers={"Authorization": authorization}), 401, "unauthorized")


def test_a_merchants_pos_key_is_not_a_people_token(client, world, session):
    pos = bearer(new_key(session, world.shop.id))
    assert client.get("/api/v1/redemptions", headers=pos).status_code == 200
    for path in (CATEGORIES, CLAIMS, MEMBERS):
        assert_error(client.get(path, headers=pos), 401, "unauthorized")
    assert_error(client.delete(TOKEN, headers=pos), 401, "unauthorized")


def test_a_people_token_does_not_open_the_pos_api(client, world, session):
    for account in (world.cashier, world.manager, world.secretary):
        headers = token_for(session, account)
        assert_error(client.get("/api/v1/redemptions", headers=headers), 401, "unauthorized")
        preview = {"token": world.gold_card.card_no, "amount": "10.00"}
        response = client.post("/api/v1/checkout/preview", json=preview, headers=headers)
        assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "c01-secretary"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": "a", "password": "x", "role": "district_admin"}, "role"),
        ({"username": 5, "password": "x"}, "username"),
    ],
)
def test_sign_in_with_a_bad_body_is_invalid_and_names_the_field(client, world, body, field):
    error = assert_error(client.post(TOKEN, json=body), 422, "invalid")
    assert field in error["details"]["fields"]


def test_sign_in_body_must_be_json(client, world):
    assert_error(client.post(TOKEN, data="username=a"), 422, "invalid")
    bad = client.post(TOKEN, data="{not json", content_type="application/json")
    assert_error(bad, 400, "invalid")


# -- categories -------------------------------------------------------------------------------


def test_any_signed_in_person_sees_the_enabled_categories(client, world, session):
    retired = factories.category(session, default_points=2, max_points=4)
    retired.is_enabled = False
    member = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    for account in (member, world.secretary, world.cashier):
        response = client.get(CATEGORIES, headers=token_for(session, account))
        assert response.status_code == 200
        assert response.get_json() == [
            {
                "code": world.category.code,
                "name": world.category.name,
                "default_points": 5,
                "max_points": 20,
            }
        ]


# -- roles ------------------------------------------------------------------------------------

SECRETARY_CALLS = [
    ("get", CLAIMS, None),
    ("post", f"{CLAIMS}/1/certify", {}),
    ("post", f"{CLAIMS}/1/reject", {"reason": "不符合"}),
    ("get", MEMBERS, None),
    ("post", f"{MEMBERS}/P0000001/adjustments", {"points": 5, "reason": "补记"}),
    (
        "post",
        ACTIVITIES,
        {"title": "活动", "category": "x", "occurred_on": "2024-01-01", "points": 1},
    ),
    ("post", f"{ACTIVITIES}/1/attendance", {"member_nos": ["P0000001"]}),
]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.CASHIER, Role.MERCHANT_MANAGER])
@pytest.mark.parametrize(("method", "path", "body"), SECRETARY_CALLS)
def test_only_secretaries_and_the_district_may_call_secretary_operations(
    client, world, session, role, method, path, body
):
    account = {
        Role.MEMBER: lambda: factories.account(session, Role.MEMBER, member=world.gold),
        Role.CASHIER: lambda: world.cashier,
        Role.MERCHANT_MANAGER: lambda: world.manager,
    }[role]()
    headers = token_for(session, account)
    before = writes(session)
    response = client.open(path, method=method, json=body, headers=headers)
    assert_error(response, 403, "forbidden")
    assert writes(session) == before


# -- the claims queue -------------------------------------------------------------------------


def test_claims_queue_lists_the_own_communitys_pending_claims_oldest_first(
    client, world, session, secretary, foreigner, clock
):
    first = claim_of(session, world, world.plain)
    clock.advance(minutes=5)
    second = claim_of(session, world, world.silver, points=7)
    claim_of(session, world, foreigner)
    decided = claim_of(session, world, world.gold)
    claims.reject_claim(session, factories.OPERATOR, decided.id, "重复申报")
    session.commit()

    response = client.get(CLAIMS, headers=secretary)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["page_size"]) == (2, 1, 20)
    assert [item["id"] for item in body["items"]] == [first.id, second.id]
    item = body["items"][1]
    assert item == {
        "id": second.id,
        "member_no": world.silver.member_no,
        "member_name": "李四",
        "category": world.category.code,
        "category_name": world.category.name,
        "occurred_on": (clock.today - timedelta(days=3)).isoformat(),
        "description": "帮助独居老人买菜",
        "points": 7,
        "certified_points": None,
        "status": "pending",
        "submitted_at": item["submitted_at"],
        "decided_at": None,
        "rejection_reason": None,
    }


def test_claims_queue_filters_by_status_and_pages(client, world, session, secretary):
    pending = [claim_of(session, world, world.plain) for _ in range(3)]
    claims.reject_claim(session, factories.OPERATOR, pending[0].id, "重复申报")
    session.commit()
    rejected = client.get(CLAIMS, query_string={"status": "rejected"}, headers=secretary).json
    assert [i["id"] for i in rejected["items"]] == [pending[0].id]
    assert rejected["items"][0]["rejection_reason"] == "重复申报"
    every = client.get(
        CLAIMS, query_string={"status": "all", "page": 2, "page_size": 2}, headers=secretary
    ).json
    assert (every["total"], len(every["items"]), every["page"]) == (3, 1, 2)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "waiting"}, "status"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"page": "x"}, "page"),
    ],
)
def test_claims_queue_refuses_bad_filters_naming_the_field(client, world, secretary, query, field):
    error = assert_error(client.get(CLAIMS, query_string=query, headers=secretary), 422, "invalid")
    assert field in error["details"]["fields"]


def test_another_communitys_filter_is_not_found_like_an_unknown_one(client, world, secretary):
    foreign = client.get(CLAIMS, query_string={"community": world.other.code}, headers=secretary)
    unknown = client.get(CLAIMS, query_string={"community": "Z99"}, headers=secretary)
    assert assert_error(foreign, 404, "not_found") == assert_error(unknown, 404, "not_found")
    own = client.get(CLAIMS, query_string={"community": world.home.code}, headers=secretary)
    assert own.status_code == 200


def test_the_district_lists_every_community_or_one(client, world, session, foreigner):
    admin = token_for(session, admin_account(session))
    home, away = claim_of(session, world, world.plain), claim_of(session, world, foreigner)
    every = client.get(CLAIMS, headers=admin).json
    assert {i["id"] for i in every["items"]} == {home.id, away.id}
    one = client.get(CLAIMS, query_string={"community": world.other.code}, headers=admin).json
    assert [i["id"] for i in one["items"]] == [away.id]


# -- certify and reject -----------------------------------------------------------------------


def test_certify_credits_the_claim_once_and_returns_it(client, world, session, secretary):
    claim = claim_of(session, world, world.plain, points=6)
    response = client.post(f"{CLAIMS}/{claim.id}/certify", json={}, headers=secretary)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["status"], body["certified_points"]) == (claim.id, "certified", 6)
    assert body["decided_at"] is not None
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == f"claim:{claim.id}")
    ).all()
    assert [(e.points, e.kind) for e in entries] == [(6, EntryKind.AWARD)]


def test_certify_without_a_body_and_with_changed_points(client, world, session, secretary):
    plain, changed = claim_of(session, world, world.plain), claim_of(session, world, world.silver)
    assert (
        client.post(f"{CLAIMS}/{plain.id}/certify", headers=secretary).json["certified_points"] == 5
    )
    body = client.post(f"{CLAIMS}/{changed.id}/certify", json={"points": 20}, headers=secretary)
    assert body.json["certified_points"] == 20 and body.json["points"] == 5


def test_certifying_a_decided_claim_is_a_conflict_and_credits_nothing(
    client, world, session, secretary
):
    claim = claim_of(session, world, world.plain)
    assert client.post(f"{CLAIMS}/{claim.id}/certify", headers=secretary).status_code == 200
    before = writes(session)
    assert_error(client.post(f"{CLAIMS}/{claim.id}/certify", headers=secretary), 409, "conflict")
    reject = client.post(f"{CLAIMS}/{claim.id}/reject", json={"reason": "晚了"}, headers=secretary)
    assert_error(reject, 409, "conflict")
    assert writes(session) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 21}, "points"),
        ({"points": 0}, "points"),
        ({"points": "5"}, "points"),
        ({"note": "x"}, "note"),
    ],
)
def test_certify_with_bad_points_is_invalid_and_writes_nothing(
    client, world, session, secretary, body, field
):
    claim = claim_of(session, world, world.plain)
    before = writes(session)
    response = client.post(f"{CLAIMS}/{claim.id}/certify", json=body, headers=secretary)
    error = assert_error(response, 422, "invalid")
    assert field in error["details"]["fields"]
    assert writes(session) == before


def test_reject_keeps_the_reason_for_the_member(client, world, session, secretary):
    claim = claim_of(session, world, world.plain)
    response = client.post(
        f"{CLAIMS}/{claim.id}/reject", json={"reason": "服务日期不符"}, headers=secretary
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["rejection_reason"]) == ("rejected", "服务日期不符")
    assert body["certified_points"] is None


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "字" * 201}])
def test_reject_needs_a_reason_and_writes_nothing_without_one(
    client, world, session, secretary, body
):
    claim = claim_of(session, world, world.plain)
    before = writes(session)
    response = client.post(f"{CLAIMS}/{claim.id}/reject", json=body, headers=secretary)
    assert "reason" in assert_error(response, 422, "invalid")["details"]["fields"]
    assert writes(session) == before


@pytest.mark.parametrize("action", ["certify", "reject"])
def test_another_communitys_claim_is_not_found_like_a_missing_one(
    client, world, session, secretary, foreigner, action
):
    foreign = claim_of(session, world, foreigner)
    body = {"reason": "不符合"} if action == "reject" else {}
    before = writes(session)
    out_of_scope = client.post(f"{CLAIMS}/{foreign.id}/{action}", json=body, headers=secretary)
    missing = client.post(f"{CLAIMS}/{foreign.id + 1000}/{action}", json=body, headers=secretary)
    huge = client.post(f"{CLAIMS}/{2**40}/{action}", json=body, headers=secretary)
    assert assert_error(out_of_scope, 404, "not_found") == assert_error(missing, 404, "not_found")
    assert_error(huge, 404, "not_found")
    assert writes(session) == before


# -- the roster -------------------------------------------------------------------------------


def test_roster_lists_the_own_community_with_tier_and_card_status(
    client, world, session, secretary, foreigner
):
    cards.suspend_card(session, factories.OPERATOR, world.silver_card.id, "挂失中")
    cardless = factories.member(session, world.home, name="孙八")
    session.commit()
    body = client.get(MEMBERS, headers=secretary).json
    assert body["total"] == 4
    rows = {item["member_no"]: item for item in body["items"]}
    assert foreigner.member_no not in rows
    assert rows[world.gold.member_no] == {
        "member_no": world.gold.member_no,
        "name": "张三明",
        "community": world.home.code,
        "tier": "gold",
        "card_status": "active",
    }
    assert (rows[world.silver.member_no]["tier"], rows[world.silver.member_no]["card_status"]) == (
        "silver",
        "suspended",
    )
    assert rows[world.plain.member_no]["tier"] == "none"
    assert rows[cardless.member_no]["card_status"] is None
    found = client.get(MEMBERS, query_string={"q": "李"}, headers=secretary).json
    assert [i["member_no"] for i in found["items"]] == [world.silver.member_no]


def test_the_district_searches_every_community(client, world, session, foreigner):
    admin = token_for(session, admin_account(session))
    assert client.get(MEMBERS, headers=admin).json["total"] == 4
    one = client.get(MEMBERS, query_string={"community": world.other.code}, headers=admin).json
    assert [i["member_no"] for i in one["items"]] == [foreigner.member_no]


def test_roster_refuses_a_query_too_long_and_another_community(client, world, secretary):
    long = client.get(MEMBERS, query_string={"q": "字" * 41}, headers=secretary)
    assert "q" in assert_error(long, 422, "invalid")["details"]["fields"]
    foreign = client.get(MEMBERS, query_string={"community": world.other.code}, headers=secretary)
    assert_error(foreign, 404, "not_found")


# -- adjustments ------------------------------------------------------------------------------


def adjustments_of(member: Member) -> str:
    return f"{MEMBERS}/{member.member_no}/adjustments"


def test_adjustment_records_a_ledger_entry(client, world, session, secretary, clock):
    body = {"points": -3, "reason": "重复记分更正", "occurred_on": "2025-12-01"}
    response = client.post(adjustments_of(world.plain), json=body, headers=secretary)
    assert response.status_code == 201, response.get_json()
    entry = response.get_json()
    assert entry == {
        "id": entry["id"],
        "member_no": world.plain.member_no,
        "points": -3,
        "kind": "adjustment",
        "occurred_on": "2025-12-01",
        "reason": "重复记分更正",
        "recorded_at": clock.now.isoformat(),
    }
    stored = session.get(LedgerEntry, entry["id"])
    assert (stored.member_id, stored.author_id) == (world.plain.id, world.secretary.id)


def test_each_adjustment_without_a_key_is_a_new_entry_and_a_key_makes_retries_safe(
    client, world, session, secretary, clock
):
    url = adjustments_of(world.plain)
    plain = {"points": 2, "reason": "补记"}
    first, second = (client.post(url, json=plain, headers=secretary).json for _ in range(2))
    assert first["id"] != second["id"]
    assert first["occurred_on"] == clock.today.isoformat()
    keyed = plain | {"idempotency_key": "adj-00000001"}
    once, again = (client.post(url, json=keyed, headers=secretary) for _ in range(2))
    assert once.status_code == again.status_code == 201
    assert once.json["id"] == again.json["id"]
    assert (
        session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.member_id == world.plain.id, LedgerEntry.kind == EntryKind.ADJUSTMENT
            )
        )
        == 4
    )  # the world's starting points, two plain adjustments and the keyed one


def test_an_adjustment_key_reused_for_another_adjustment_is_a_conflict(
    client, world, session, secretary
):
    key = {"idempotency_key": "adj-00000002", "reason": "补记"}
    client.post(adjustments_of(world.plain), json=key | {"points": 2}, headers=secretary)
    before = writes(session)
    for url, points in ((adjustments_of(world.plain), 3), (adjustments_of(world.silver), 2)):
        response = client.post(url, json=key | {"points": points}, headers=secretary)
        assert_error(response, 409, "conflict")
    assert writes(session) == before


def test_keys_are_each_callers_own(client, world, session, secretary):
    """The same key from another account is a different adjustment, never the other's entry."""
    admin = token_for(session, admin_account(session))
    body = {"points": 2, "reason": "补记", "idempotency_key": "adj-00000003"}
    mine = client.post(adjustments_of(world.plain), json=body, headers=secretary).json
    theirs = client.post(adjustments_of(world.plain), json=body, headers=admin).json
    assert mine["id"] != theirs["id"]


def test_adjusting_another_communitys_member_is_not_found_like_an_unknown_one(
    client, world, session, secretary, foreigner
):
    body = {"points": 5, "reason": "补记"}
    before = writes(session)
    foreign = client.post(adjustments_of(foreigner), json=body, headers=secretary)
    unknown = client.post(f"{MEMBERS}/P9999999/adjustments", json=body, headers=secretary)
    odd = client.post(f"{MEMBERS}/not%00a-number/adjustments", json=body, headers=secretary)
    assert assert_error(foreign, 404, "not_found") == assert_error(unknown, 404, "not_found")
    assert assert_error(odd, 404, "not_found") == assert_error(unknown, 404, "not_found")
    assert writes(session) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0, "reason": "补记"}, "points"),
        ({"points": 1001, "reason": "补记"}, "points"),
        ({"points": 1.5, "reason": "补记"}, "points"),
        ({"points": 5}, "reason"),
        ({"points": 5, "reason": "  "}, "reason"),
        ({"points": 5, "reason": "补记", "occurred_on": "2999-01-01"}, "occurred_on"),
        ({"points": 5, "reason": "补记", "occurred_on": "01/05/2024"}, "occurred_on"),
        ({"points": 5, "reason": "补记", "idempotency_key": "short"}, "idempotency_key"),
        ({"points": 5, "reason": "补\x00记"}, "reason"),
        ({"points": 5, "reason": "补记", "member_id": 1}, "member_id"),
    ],
)
def test_a_bad_adjustment_is_invalid_names_the_field_and_writes_nothing(
    client, world, session, secretary, body, field
):
    before = writes(session)
    response = client.post(adjustments_of(world.plain), json=body, headers=secretary)
    assert field in assert_error(response, 422, "invalid")["details"]["fields"]
    assert writes(session) == before


# -- activities and attendance ----------------------------------------------------------------


def new_activity(world: factories.World, **changes: Any) -> dict[str, Any]:
    return {
        "title": "重阳节敬老志愿服务",
        "category": world.category.code,
        "occurred_on": (today() - timedelta(days=2)).isoformat(),
        "points": 6,
    } | changes


def test_secretary_creates_an_activity_of_the_own_community(client, world, session, secretary):
    response = client.post(ACTIVITIES, json=new_activity(world), headers=secretary)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["community"] == world.home.code
    assert (body["title"], body["category"], body["points"]) == (
        "重阳节敬老志愿服务",
        world.category.code,
        6,
    )
    assert body["category_name"] == world.category.name
    assert session.get(Activity, body["id"]).community_id == world.home.id


def test_the_district_names_the_community_of_an_activity(client, world, session):
    admin = token_for(session, admin_account(session))
    before = writes(session)
    missing = client.post(ACTIVITIES, json=new_activity(world), headers=admin)
    assert "community" in assert_error(missing, 422, "invalid")["details"]["fields"]
    assert writes(session) == before
    body = new_activity(world, community=world.other.code.lower())
    created = client.post(ACTIVITIES, json=body, headers=admin)
    assert created.status_code == 201 and created.json["community"] == world.other.code


def test_a_secretary_cannot_create_an_activity_elsewhere(client, world, session, secretary):
    before = writes(session)
    foreign = client.post(
        ACTIVITIES, json=new_activity(world, community=world.other.code), headers=secretary
    )
    unknown = client.post(ACTIVITIES, json=new_activity(world, community="Z99"), headers=secretary)
    assert assert_error(foreign, 404, "not_found") == assert_error(unknown, 404, "not_found")
    assert writes(session) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "no-such-category"}, "category"),
        ({"points": 21}, "points"),
        ({"points": 0}, "points"),
        ({"title": "x"}, "title"),
        ({"occurred_on": "2999-01-01"}, "occurred_on"),
        ({"occurred_on": "2001-01-01"}, "occurred_on"),
        ({"occurred_on": None}, "occurred_on"),
        ({"where": "社区广场"}, "where"),
    ],
)
def test_a_bad_activity_is_invalid_names_the_field_and_writes_nothing(
    client, world, session, secretary, changes, field
):
    before = writes(session)
    response = client.post(ACTIVITIES, json=new_activity(world, **changes), headers=secretary)
    assert field in assert_error(response, 422, "invalid")["details"]["fields"]
    assert writes(session) == before


def attendance_of(activity: Activity) -> str:
    return f"{ACTIVITIES}/{activity.id}/attendance"


def test_attendance_credits_each_member_once_and_a_resubmission_credits_nobody(
    client, world, session, secretary
):
    activity = activity_of(session, world, world.home.id)
    batch = {"member_nos": [world.gold.member_no, world.plain.member_no.lower()]}
    first = client.post(attendance_of(activity), json=batch, headers=secretary)
    assert first.status_code == 200 and first.get_json() == {"recorded": 2, "already": 0}
    before = writes(session)
    again = client.post(attendance_of(activity), json=batch, headers=secretary)
    assert again.get_json() == {"recorded": 0, "already": 2}
    after = writes(session)
    assert (after["entries"], after["attendances"]) == (before["entries"], before["attendances"])
    more = {"member_nos": [world.gold.member_no, world.silver.member_no]}
    assert client.post(attendance_of(activity), json=more, headers=secretary).get_json() == {
        "recorded": 1,
        "already": 1,
    }


def test_attendance_naming_unknown_or_foreign_members_records_nobody(
    client, world, session, secretary, foreigner
):
    activity = activity_of(session, world, world.home.id)
    before = writes(session)
    batch = {"member_nos": [world.gold.member_no, "P9999999", foreigner.member_no]}
    response = client.post(attendance_of(activity), json=batch, headers=secretary)
    error = assert_error(response, 422, "invalid")
    assert "P9999999" in error["message"] and foreigner.member_no in error["message"]
    assert world.gold.member_no not in error["message"]
    named = error["details"]["fields"]["member_nos"]
    assert len(named) == 2 and "P9999999" in named[0] and foreigner.member_no in named[1]
    assert writes(session) == before


@pytest.mark.parametrize(
    "body", [{"member_nos": []}, {"member_nos": "P0000001"}, {"member_nos": [1]}, {}]
)
def test_a_bad_attendance_batch_is_invalid_and_writes_nothing(
    client, world, session, secretary, body
):
    activity = activity_of(session, world, world.home.id)
    before = writes(session)
    response = client.post(attendance_of(activity), json=body, headers=secretary)
    assert "member_nos" in assert_error(response, 422, "invalid")["details"]["fields"]
    assert writes(session) == before


def test_another_communitys_activity_is_not_found_like_a_missing_one(
    client, world, session, secretary, foreigner
):
    foreign = activity_of(session, world, world.other.id)
    batch = {"member_nos": [foreigner.member_no]}
    before = writes(session)
    out_of_scope = client.post(attendance_of(foreign), json=batch, headers=secretary)
    missing = client.post(
        f"{ACTIVITIES}/{foreign.id + 1000}/attendance", json=batch, headers=secretary
    )
    assert assert_error(out_of_scope, 404, "not_found") == assert_error(missing, 404, "not_found")
    assert writes(session) == before


def test_the_district_acts_on_any_community(client, world, session, foreigner):
    account = admin_account(session)
    admin = token_for(session, account)
    claim = claim_of(session, world, foreigner)
    certified = client.post(f"{CLAIMS}/{claim.id}/certify", json={"points": 8}, headers=admin)
    assert certified.status_code == 200 and certified.json["certified_points"] == 8
    adjusted = client.post(
        adjustments_of(foreigner), json={"points": 4, "reason": "补记"}, headers=admin
    )
    assert adjusted.status_code == 201
    activity = activity_of(session, world, world.other.id)
    batch = {"member_nos": [foreigner.member_no]}
    attended = client.post(attendance_of(activity), json=batch, headers=admin)
    assert attended.get_json() == {"recorded": 1, "already": 0}
    # Attendance stays within the activity's community, even for the district.
    home_activity = activity_of(session, world, world.home.id)
    mixed = client.post(attendance_of(home_activity), json=batch, headers=admin)
    assert_error(mixed, 422, "invalid")
    actors = session.scalars(
        select(AuditEvent.actor_account_id).where(AuditEvent.action == "claim.certify")
    ).all()
    assert actors == [account.id]


def test_a_body_that_is_not_json_is_refused_in_the_contracts_shape(
    client, world, session, secretary
):
    activity = activity_of(session, world, world.home.id)
    bad = client.post(
        attendance_of(activity), data="{oops", content_type="application/json", headers=secretary
    )
    assert_error(bad, 400, "invalid")
    form = client.post(attendance_of(activity), data="member_nos=P1", headers=secretary)
    assert_error(form, 422, "invalid")
