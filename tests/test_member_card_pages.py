"""The member's card page and its endpoints (出示卡码, DESIGN rule 4, issue 7 point 4): the offline
key goes only to the signed-in member's own phone, is never cached and rotates when asked again;
the status endpoint says whether the code on screen was used; the service worker and the
manifest make the member pages an installable app that keeps no secret."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from rewards.errors import TokenInvalid
from rewards.models import AuditEvent, Card, Role
from rewards.services import cards, checkout
from rewards.services.cards import TokenKind
from rewards.services.totp import period_of, totp
from tests import factories
from tests.test_auth import sign_in

KEY = "/member/card/offline-key"
STATUS = "/member/card/status"


def signed_in(client, session, member):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    return account


def offline_code(key: dict, period: int) -> str:
    return key["card_number"] + totp(key["secret"], period)


def pay(session, world, tokens, code: str, sale: str) -> None:  # type: ignore[no-untyped-def]
    checkout.confirm(session, world.actor(world.cashier), tokens, code, "100.00", sale)
    session.commit()


# -- the offline key ------------------------------------------------------------------------


def test_the_offline_key_goes_to_the_signed_in_member_for_their_card_and_is_never_cached(
    client, session, world, tokens, clock
):
    signed_in(client, session, world.gold)
    response = client.post(KEY)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key = response.json
    assert key["card_number"] == world.gold_card.card_no
    assert (key["digits"], key["period"], key["algorithm"]) == (6, 30, "SHA1")
    assert len(key["secret"]) == 32 and len(key["key_id"]) == 16
    verified = tokens.verify(session, offline_code(key, period_of(clock.now)))
    assert verified.kind is TokenKind.OFFLINE and verified.card.id == world.gold_card.id
    session.expire_all()
    stored = session.get(Card, world.gold_card.id).offline_secret
    assert stored and key["secret"] not in stored  # kept encrypted


def test_the_offline_key_is_refused_signed_out_and_to_every_other_role(client, session, world):
    signed_out = client.post(KEY)
    assert signed_out.status_code == 401 and signed_out.json["error"]["code"] == "unauthorized"
    sign_in(client, world.secretary)
    refused = client.post(KEY)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert refused.headers["Cache-Control"] == "no-store"
    session.expire_all()
    assert session.get(Card, world.gold_card.id).offline_secret is None


def test_asking_again_rotates_the_key_and_kills_the_old_keys_codes(
    client, session, world, tokens, clock
):
    signed_in(client, session, world.gold)
    first, second = client.post(KEY).json, client.post(KEY).json
    assert first["secret"] != second["secret"] and first["key_id"] != second["key_id"]
    with pytest.raises(TokenInvalid):
        tokens.verify(session, offline_code(first, period_of(clock.now)))
    assert tokens.verify(session, offline_code(second, period_of(clock.now))).card.card_no == (
        world.gold_card.card_no
    )


def test_issuing_a_key_is_audited_without_the_key(client, session, world):
    signed_in(client, session, world.gold)
    secret = client.post(KEY).json["secret"]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "card.offline_key"))
    rows = list(events)
    assert len(rows) == 1
    assert secret not in json.dumps(rows[0].details or {}, ensure_ascii=False)


def test_a_suspended_card_gets_no_key_and_its_page_says_so(client, session, world):
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "会员申请暂停")
    session.commit()
    signed_in(client, session, world.gold)
    refused = client.post(KEY)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "card_suspended"
    page = client.get("/member/card")
    assert page.status_code == 200
    assert 'data-testid="card-suspended"' in page.text and "此卡已被社区暂停使用" in page.text
    assert "商家不会给予优惠" in page.text
    assert 'data-card-status="suspended"' in page.text
    assert "<svg" not in page.text and 'role="tablist"' not in page.text


def test_a_member_without_a_card_is_told_where_to_get_one_and_gets_no_key(client, session, world):
    newcomer = factories.member(session, world.home, name="赵六")
    signed_in(client, session, newcomer)
    page = client.get("/member/card")
    assert page.status_code == 200 and 'data-testid="no-card"' in page.text
    assert "您还没有动力卡，请联系所在社区办理" in page.text
    refused = client.post(KEY)
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"


def test_the_card_page_holds_no_secret_and_makes_the_member_pages_an_app(client, session, world):
    signed_in(client, session, world.gold)
    secret = client.post(KEY).json["secret"]
    page = client.get("/member/card")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert secret not in page.text
    assert 'rel="manifest" href="/member/manifest.webmanifest"' in page.text
    assert 'data-worker="/member/sw.js"' in page.text and 'data-scope="/member/"' in page.text
    assert 'data-key-url="/member/card/offline-key"' in page.text
    assert 'id="tab-offline"' in page.text and 'id="tab-online"' in page.text
    assert 'data-testid="phone-code"' in page.text  # the online signed code keeps working


# -- was the shown code used? ----------------------------------------------------------------


def test_status_says_when_the_shown_offline_code_was_used(client, session, world, tokens, clock):
    signed_in(client, session, world.gold)
    key = client.post(KEY).json
    period = period_of(clock.now)
    before = client.post(STATUS, json={"period": period})
    assert before.status_code == 200 and before.headers["Cache-Control"] == "no-store"
    assert before.json["offline"] == {"period": period, "used": False, "previous_used": False}
    assert before.json["card_status"] == "active" and before.json["key_id"] == key["key_id"]
    assert before.json["server_time"] == int(clock.now.timestamp())
    pay(session, world, tokens, offline_code(key, period), "offline-1")
    after = client.post(STATUS, json={"period": period}).json
    assert after["offline"]["used"] is True
    clock.advance(seconds=30)
    following = client.post(STATUS, json={"period": period + 1}).json
    assert following["offline"] == {"period": period + 1, "used": False, "previous_used": True}


def test_status_says_when_the_shown_online_code_was_used(client, session, world, tokens):
    signed_in(client, session, world.gold)
    code = client.get("/member/card/code").json
    assert client.post(STATUS, json={"token": code["token"]}).json["online_used"] is False
    pay(session, world, tokens, code["token"], "online-1")
    assert client.post(STATUS, json={"token": code["token"]}).json["online_used"] is True


def test_status_tells_a_member_nothing_of_another_members_card(
    client, session, world, tokens, clock
):
    signed_in(client, session, world.gold)
    gold_key = client.post(KEY).json
    gold_token = client.get("/member/card/code").json["token"]
    period = period_of(clock.now)
    pay(session, world, tokens, offline_code(gold_key, period), "gold-offline")
    pay(session, world, tokens, gold_token, "gold-online")
    client.post("/logout")
    signed_in(client, session, world.silver)
    theirs = client.post(STATUS, json={"period": period, "token": gold_token}).json
    assert theirs["card_number"] == world.silver_card.card_no
    assert theirs["offline"]["used"] is False and theirs["online_used"] is False
    assert theirs["key_id"] is None


def test_status_shows_a_rotated_key_and_a_suspension(client, session, world):
    signed_in(client, session, world.gold)
    first = client.post(KEY).json
    assert client.post(STATUS, json={}).json["key_id"] == first["key_id"]
    second = client.post(KEY).json
    assert client.post(STATUS, json={}).json["key_id"] == second["key_id"] != first["key_id"]
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "会员申请暂停")
    session.commit()
    assert client.post(STATUS, json={}).json["card_status"] == "suspended"


@pytest.mark.parametrize(
    "body", [{"period": "soon"}, {"period": -1}, {"token": "x" * 401}, {"card": 1}, [1, 2]]
)
def test_status_refuses_bad_input_with_invalid(client, session, world, body):
    signed_in(client, session, world.gold)
    response = client.post(STATUS, json=body)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid"


def test_status_is_member_only(client, session, world):
    assert client.post(STATUS, json={}).status_code == 401
    sign_in(client, world.cashier)
    assert client.post(STATUS, json={}).status_code == 403


# -- the installable app ----------------------------------------------------------------------


def test_the_service_worker_is_served_from_member_with_a_javascript_type(client, session, world):
    response = client.get("/member/sw.js")  # no sign-in: it holds nothing personal
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Service-Worker-Allowed" not in response.headers  # its own folder: scope /member/
    script = response.text
    assert 'const CARD_PAGE = "/member/card";' in script
    shell = json.loads(script.split("const SHELL = ", 1)[1].split(";\n", 1)[0])
    assert "/member/static/card.js" in shell and "/static/vendor/qrcode-generator.js" in shell
    assert "/static/vendor/jsbarcode.code128.min.js" in shell
    for url in shell:
        assert client.get(url).status_code == 200, url
    assert "offline-key" not in script and "/card/status" not in script


def test_the_manifest_names_the_app_its_icons_and_starts_at_the_member_home(client, session):
    response = client.get("/member/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = response.json
    assert manifest["name"] == "红色动力双赢卡"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/member/",
        "/member/",
        "standalone",
    )
    kinds = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200 and served.mimetype == icon["type"]
        kinds.add(icon["type"])
    assert kinds == {"image/svg+xml", "image/png"}
