"""The member's account pages (我的): the sign-in name, changing the password (the current one
checked, a refusal next to its field and nothing written), and my data (个人信息, PIPL) as a
page and as a JSON download, holding my data and never another member's."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from rewards.models import Account, AuditEvent, Role
from rewards.services import accounts, checkout, claims
from rewards.services.accounts import FREE_FAILURES_PER_ADDRESS
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.test_auth import PASSWORD, sign_in

MEMBER_PAGES = (
    "/member/account",
    "/member/account/password",
    "/member/account/my-data",
    "/member/account/my-data.json",
)
NEW_PASSWORD = "a new long secret"


@pytest.fixture()
def me(session, world) -> Account:  # type: ignore[no-untyped-def]
    """The gold member's account."""
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    return account


def audited(session, action: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    return found.group(1) if found else None


def change(client, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/member/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
    )


@pytest.mark.parametrize("who", ["secretary", "cashier"])
@pytest.mark.parametrize("path", MEMBER_PAGES)
def test_only_members_reach_the_account_pages(client, world, who, path):
    sign_in(client, getattr(world, who))
    assert client.get(path).status_code == 403


def test_account_page_shows_my_sign_in_name_and_the_ways_on(client, world, me):
    sign_in(client, me)
    page = client.get("/member/account").text
    assert re.search(rf'data-testid="username">{me.username}<', page)
    assert world.gold.name in page and world.gold.member_no in page
    for link in ("/member/account/password", "/member/account/my-data", "my-data.json"):
        assert link in page
    assert "/logout" in page


# -- change password ---------------------------------------------------------------------------


def test_password_change_with_the_right_current_password_takes_effect(client, session, me):
    sign_in(client, me)
    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/member/account")
    assert "密码已修改" in client.get("/member/account").text
    assert accounts.authenticate(session, me.username, NEW_PASSWORD) is not None
    assert accounts.authenticate(session, me.username, PASSWORD) is None
    assert audited(session, "account.password") == 1


def test_wrong_current_password_is_refused_next_to_its_field_and_nothing_changes(
    client, session, me
):
    sign_in(client, me)
    before = me.password_hash
    response = change(client, "not my password", NEW_PASSWORD)
    assert response.status_code == 422
    assert field_error(response.text, "current_password") == "当前密码不正确。"
    session.expire_all()
    assert session.get(Account, me.id).password_hash == before
    assert audited(session, "account.password") == 0
    assert accounts.authenticate(session, me.username, PASSWORD) is not None


def test_a_short_new_password_is_refused_and_nothing_changes(client, session, me):
    sign_in(client, me)
    before = me.password_hash
    response = change(client, PASSWORD, "short")
    assert response.status_code == 422
    assert field_error(response.text, "new_password") == "新密码至少 8 位。"
    session.expire_all()
    assert session.get(Account, me.id).password_hash == before
    assert audited(session, "account.password") == 0


def test_the_new_password_typed_twice_differently_is_refused(client, session, me):
    sign_in(client, me)
    response = change(client, PASSWORD, NEW_PASSWORD, again="a new long secreT")
    assert response.status_code == 422
    assert field_error(response.text, "new_password_again") == "两次输入的新密码不一致。"
    assert audited(session, "account.password") == 0


def test_the_new_password_must_differ_from_the_current_one(client, session, me):
    sign_in(client, me)
    response = change(client, PASSWORD, PASSWORD)
    assert field_error(response.text, "new_password") == "新密码不能与当前密码相同。"
    assert audited(session, "account.password") == 0


def test_guessing_the_current_password_is_throttled_like_sign_in(client, session, me):
    sign_in(client, me)
    for n in range(FREE_FAILURES_PER_ADDRESS):
        assert change(client, f"guess number {n}", NEW_PASSWORD).status_code == 422
    response = change(client, PASSWORD, NEW_PASSWORD)  # even the right one, until the wait ends
    assert response.status_code == 429
    assert "过多，请 1 秒后再试" in field_error(response.text, "current_password")
    assert audited(session, "account.password") == 0


# -- my data -----------------------------------------------------------------------------------


def populate(session, world, tokens) -> None:  # type: ignore[no-untyped-def]
    """A claim and a sale for the gold member; the same for the silver one (never shown)."""
    for member, card, text in (
        (world.gold, world.gold_card, "帮助独居老人打扫卫生"),
        (world.silver, world.silver_card, "李四的私人申报内容"),
    ):
        claims.submit_claim(
            session, Actor.operator("tests"), member.id, world.category.id, text, today()
        )
        checkout.confirm(
            session,
            world.actor(world.cashier),
            tokens,
            card.card_no,
            "100.00",
            f"my-data-{member.member_no}",
        )
    session.commit()


def test_my_data_page_holds_my_data_and_never_another_members(client, session, world, tokens, me):
    populate(session, world, tokens)
    sign_in(client, me)
    response = client.get("/member/account/my-data")
    assert response.status_code == 200
    page = response.text
    assert world.gold.name in page and world.gold.member_no in page and world.gold.phone in page
    assert "帮助独居老人打扫卫生" in page and world.shop.name in page
    assert me.username in page
    for section in ("profile", "account", "cards", "ledger", "claims", "card-use", "audit-log"):
        assert f'data-section="{section}"' in page
    assert world.silver.name not in page and "李四的私人申报内容" not in page
    assert world.plain.name not in page


def test_viewing_my_data_is_audited_and_not_cached(client, session, me):
    sign_in(client, me)
    response = client.get("/member/account/my-data")
    assert response.headers["Cache-Control"] == "no-store"
    session.expire_all()
    assert audited(session, "member.export") == 1


def test_my_data_download_is_utf8_json_with_the_right_headers(client, session, world, tokens, me):
    populate(session, world, tokens)
    sign_in(client, me)
    response = client.get("/member/account/my-data.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="my-data-{world.gold.member_no}.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert world.gold.name.encode("utf-8") in response.data  # readable, not \\u escapes
    data = json.loads(response.data.decode("utf-8"))
    assert data["member"]["member_no"] == world.gold.member_no
    assert data["account"]["username"] == me.username
    assert [c["card_no"] for c in data["cards"]] == [world.gold_card.card_no]
    assert [s["discount_fen"] for s in data["card_use"]] == [1200]
    assert world.silver.name not in response.data.decode("utf-8")
    assert audited(session, "member.export") == 1
