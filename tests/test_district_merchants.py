"""The district's register of alliance merchants (联盟商家): sign one up with its manager and a
one-time password, suspend and resume it with a reason (its staff and POS keys stop at once and
are told why), the list, a merchant's page, and the operator CLI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import Account, ApiKey, AuditEvent, Merchant, Role
from rewards.services import accounts, checkout, merchants
from rewards.services.accounts import ONE_TIME_PASSWORD_VALID
from rewards.services.audit import Actor
from tests import factories
from tests.forms import minted, once
from tests.test_auth import sign_in

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
REASON = "顾客投诉核查中"
REFUSAL = f"本店已暂停联盟资格：{REASON}，请联系区里"
PREVIEW = "/api/v1/checkout/preview"
NEW_PAGE = "/district/merchants/new"
NEW = {
    "code": "M131",
    "name": "红星便民超市",
    "category": "超市",
    "address": "烟台开发区长江路 88 号",
    "phone": "0535-6123456",
    "manager_username": "m131-manager",
    "manager_name": "刘店长",
}


def create(session: Session, actor: Actor = ADMIN, **changes: str) -> merchants.NewMerchant:
    return merchants.create_merchant(session, actor, **{**NEW, **changes})


def counts(session: Session) -> tuple[int, int, int]:
    """Merchants, accounts and audit events: what a refused write must leave as it was."""
    session.rollback()
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model))
        for model in (Merchant, Account, AuditEvent)
    )


def admin(session: Session) -> Account:
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


def signed_in_admin(client, session) -> Account:  # type: ignore[no-untyped-def]
    account = admin(session)
    sign_in(client, account)
    return account


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


# -- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["secretary", "manager", "cashier"])
def test_only_the_district_administrator_manages_merchants(session, world, who):
    actor = world.actor(getattr(world, who))
    for call in (
        lambda: merchants.search_merchants(session, actor),
        lambda: create(session, actor),
        lambda: merchants.suspend_merchant(session, actor, world.shop.id, REASON),
        lambda: merchants.resume_merchant(session, actor, world.shop.id, REASON),
        lambda: merchants.merchant_file(session, actor, world.shop.code),
    ):
        with pytest.raises(Forbidden):
            call()


@pytest.mark.parametrize("who", ["secretary", "manager"])
def test_merchant_pages_are_refused_to_anyone_but_the_administrator(client, session, world, who):
    sign_in(client, getattr(world, who))
    for url in (
        "/district/merchants",
        "/district/merchants/new",
        f"/district/merchants/{world.shop.code}",
    ):
        assert client.get(url).status_code == 403
    assert client.post("/district/merchants/new", data=NEW).status_code == 403
    assert (
        client.post(
            f"/district/merchants/{world.shop.code}/suspend", data={"reason": REASON}
        ).status_code
        == 403
    )
    assert session.scalar(select(Merchant).where(Merchant.code == "M131")) is None
    assert session.get(Merchant, world.shop.id).is_enabled


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    assert "/login" in client.get("/district/merchants").location


# -- signing up a merchant --------------------------------------------------------------------


def test_create_writes_the_merchant_and_its_manager_with_audit_records(session, world, clock):
    created = create(session)
    session.commit()
    shop, manager = created.merchant, created.manager
    assert (shop.code, shop.name, shop.category, shop.is_enabled) == (
        "M131",
        "红星便民超市",
        "超市",
        True,
    )
    assert (manager.role, manager.merchant_id, manager.display_name) == (
        Role.MERCHANT_MANAGER,
        shop.id,
        "刘店长",
    )
    assert manager.must_change_password
    assert manager.password_expires_at == clock.now + ONE_TIME_PASSWORD_VALID
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.actor_label == "tests-admin"))
    )
    assert {"merchant.create", "account.create"} <= actions
    assert created.password not in str(session.scalars(select(AuditEvent.details)).all())


def test_the_one_time_password_signs_in_once_then_must_be_changed(session, world):
    created = create(session)
    session.commit()
    assert accounts.authenticate(session, "m131-manager", created.password) is not None
    session.commit()
    accounts.change_password(
        session, Actor.for_account(created.manager), created.manager.id, "my own secret"
    )
    session.commit()
    assert accounts.authenticate(session, "m131-manager", created.password) is None
    assert accounts.authenticate(session, "m131-manager", "my own secret") is not None


def test_the_one_time_password_expires_after_a_week(session, world, clock):
    created = create(session)
    session.commit()
    clock.advance(days=ONE_TIME_PASSWORD_VALID.days, minutes=1)
    assert accounts.authenticate(session, "m131-manager", created.password) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "131"}, "code"),
        ({"code": "MX31"}, "code"),
        ({"name": ""}, "name"),
        ({"category": ""}, "category"),
        ({"address": " "}, "address"),
        ({"phone": "abc"}, "phone"),
        ({"manager_username": "刘店长"}, "manager_username"),
        ({"manager_name": ""}, "manager_name"),
    ],
)
def test_bad_input_is_refused_by_field_and_writes_nothing(session, world, changes, field):
    before = counts(session)
    with pytest.raises(ValidationFailed) as refused:
        create(session, **changes)
    assert set(refused.value.details["fields"]) == {field}
    assert counts(session) == before


def test_a_duplicate_code_or_username_writes_nothing(session, world):
    create(session)
    session.commit()
    before = counts(session)
    with pytest.raises(ValidationFailed) as same_code:
        create(session, manager_username="someone-else")
    assert "M131 已被使用" in same_code.value.details["fields"]["code"][0]
    session.rollback()
    with pytest.raises(ValidationFailed) as same_name:
        create(session, code="M132", manager_username=world.cashier.username)
    assert "已被使用" in same_name.value.details["fields"]["manager_username"][0]
    assert counts(session) == before


def test_the_next_free_code_and_its_manager_username_are_proposed(session, world):
    assert merchants.next_merchant_code(session) == "M001"  # the world's shop is X…
    factories.merchant(session, code="M130")
    factories.merchant(session, code="M007")
    assert merchants.next_merchant_code(session) == "M131"
    assert merchants.manager_username_for("M131") == "m131-manager"


def test_the_form_proposes_the_next_code_and_the_categories_in_use(client, session, world):
    factories.merchant(session, code="M130").category = "餐饮"
    session.commit()
    signed_in_admin(client, session)
    page = client.get("/district/merchants/new").text
    assert 'value="M131"' in page and 'value="m131-manager"' in page
    assert '<option value="餐饮">' in page


def test_the_welcome_sheet_shows_the_password_once_and_is_never_cached(client, session, world):
    signed_in_admin(client, session)
    posted = client.post("/district/merchants/new", data={**once(client, NEW_PAGE), **NEW})
    assert posted.status_code == 303 and "password" not in posted.location
    response = client.get(posted.location)
    assert response.headers["Cache-Control"] == "no-store"
    page = text_of(response)
    password = re.search(r'data-testid="password">([a-z0-9]+)<', page).group(1)
    assert "首次登录后请立即修改密码" in page and "m131-manager" in page
    assert "http://rewards.test/login" in page
    manager = session.scalar(select(Account).where(Account.username == "m131-manager"))
    assert accounts.authenticate(session, "m131-manager", password).id == manager.id
    session.rollback()
    # Nowhere else: the merchant's page never shows it.
    assert password not in client.get("/district/merchants/M131").text


def test_a_refused_form_keeps_the_input_and_says_what_to_fix(client, session, world):
    create(session)
    session.commit()
    signed_in_admin(client, session)
    before = counts(session)
    response = client.post(
        "/district/merchants/new", data={**once(client, NEW_PAGE), **NEW, "phone": "12"}
    )
    assert response.status_code == 422
    page = response.text
    assert 'data-error-for="code"' in page and "M131 已被使用" in page
    assert 'data-error-for="manager_username"' in page and 'data-error-for="phone"' in page
    assert 'value="红星便民超市"' in page
    assert counts(session) == before


def test_the_new_manager_signs_in_with_the_sheet_then_sets_a_password(client, session, world):
    created = create(session)
    session.commit()
    response = client.post(
        "/login", data={"username": "m131-manager", "password": created.password}
    )
    assert response.location.endswith("/merchant/")
    assert client.get("/merchant/").location.endswith("/password/new")
    client.post(
        "/password/new", data={"password": "my own secret", "password_again": "my own secret"}
    )
    assert client.get("/merchant/").status_code == 200
    client.post("/logout")
    again = client.post("/login", data={"username": "m131-manager", "password": created.password})
    assert "用户名或密码不正确" in again.text


def test_resetting_the_managers_password_gives_a_new_sheet(client, session, world):
    old = create(session)
    session.commit()
    signed_in_admin(client, session)
    url = f"/district/merchants/M131/managers/{old.manager.id}/password"
    token = once(client, "/district/merchants/M131", url)
    response = client.post(url, data=token)
    assert response.status_code == 303  # POST-redirect-GET: the sheet is a GET page
    sheet = client.get(response.headers["Location"])
    assert sheet.headers["Cache-Control"] == "no-store"
    password = re.search(r'data-testid="password">([a-z0-9]+)<', sheet.text).group(1)
    assert "店长密码重置通知" in sheet.text and password not in response.headers["Location"]
    assert accounts.authenticate(session, "m131-manager", old.password) is None
    assert accounts.authenticate(session, "m131-manager", password) is not None


def test_refreshing_or_resubmitting_a_managers_reset_never_resets_again(client, session, world):
    old = create(session)
    session.commit()
    signed_in_admin(client, session)
    url = f"/district/merchants/M131/managers/{old.manager.id}/password"
    token = once(client, "/district/merchants/M131", url)
    sheet_url = client.post(url, data=token).headers["Location"]
    password = re.search(r'data-testid="password">([a-z0-9]+)<', client.get(sheet_url).text)[1]

    refreshed = client.get(sheet_url)  # a refresh: no password, no new reset
    assert password not in refreshed.text and 'data-testid="already-shown"' in refreshed.text
    assert "data-print" not in refreshed.text  # nothing left to print
    again = client.post(url, data=token)  # the back button and 重置 again: the same token
    assert again.status_code == 303 and again.headers["Location"] == sheet_url
    assert accounts.authenticate(session, "m131-manager", password) is not None
    resets = session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "account.reset_password")
    )
    assert resets == 1


def test_a_reset_without_its_token_resets_nothing(client, session, world):
    old = create(session)
    session.commit()
    signed_in_admin(client, session)
    response = client.post(f"/district/merchants/M131/managers/{old.manager.id}/password")
    assert response.status_code == 302 and response.headers["Location"].endswith("/M131")
    assert "表单已过期" in client.get("/district/merchants/M131").text
    assert accounts.authenticate(session, "m131-manager", old.password) is not None


def test_only_a_managers_password_of_that_merchant_is_reset_here(client, session, world):
    create(session)
    session.commit()
    signed_in_admin(client, session)
    for account in (world.cashier, world.manager):  # a cashier; another shop's manager
        url = f"/district/merchants/M131/managers/{account.id}/password"
        assert client.post(url, data=minted()).status_code == 404
        assert client.get(f"{url}-reset?shown=1").status_code == 404


# -- suspending and resuming ------------------------------------------------------------------


def suspend(session: Session, world: factories.World, reason: str = REASON) -> None:
    merchants.suspend_merchant(session, ADMIN, world.shop.id, reason)
    session.commit()


def test_suspension_keeps_the_reason_and_an_audit_record(session, world, clock):
    suspend(session, world)
    shop = session.get(Merchant, world.shop.id)
    assert (shop.is_enabled, shop.suspension_reason, shop.suspended_at) == (
        False,
        REASON,
        clock.now,
    )
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "merchant.suspend"))
    assert (event.object_id, event.details) == (shop.id, {"reason": REASON})


@pytest.mark.parametrize("reason", ["", " ", "x", "长" * 201])
def test_suspend_and_resume_need_a_reason(session, world, reason):
    with pytest.raises(ValidationFailed):
        merchants.suspend_merchant(session, ADMIN, world.shop.id, reason)
    suspend(session, world)
    with pytest.raises(ValidationFailed):
        merchants.resume_merchant(session, ADMIN, world.shop.id, reason)
    assert not session.get(Merchant, world.shop.id).is_enabled


def test_suspending_twice_or_resuming_an_active_merchant_is_a_conflict(session, world):
    with pytest.raises(Conflict):
        merchants.resume_merchant(session, ADMIN, world.shop.id, "无需恢复")
    suspend(session, world)
    with pytest.raises(Conflict):
        merchants.suspend_merchant(session, ADMIN, world.shop.id, REASON)
    with pytest.raises(NotFound):
        merchants.suspend_merchant(session, ADMIN, 999_999, REASON)


def test_a_cashier_of_a_suspended_merchant_cannot_sign_in_and_is_told_why(client, session, world):
    suspend(session, world)
    response = sign_in(client, world.cashier)
    assert response.status_code == 403
    assert REFUSAL in response.text
    assert "/login" in client.get("/merchant/").location  # not signed in
    assert session.get(Account, world.cashier.id).last_login_at is None


def test_a_signed_in_cashier_is_stopped_at_the_next_page_with_the_reason(client, session, world):
    sign_in(client, world.cashier)
    assert client.get("/merchant/").status_code == 200
    suspend(session, world)
    stopped = client.get("/merchant/checkout")
    assert stopped.location.endswith("/login")
    assert REFUSAL in client.get(stopped.location).text
    assert "/login" in client.get("/merchant/").location  # signed out, not only redirected


def test_a_suspended_merchants_pos_key_gets_403_with_the_reason(client, session, world, tokens):
    _, key = merchants.create_api_key(session, ADMIN, world.shop.id, "1号收银台")
    session.commit()
    suspend(session, world)
    token, _ = tokens.phone_token(world.gold_card)
    headers = {"Authorization": f"Bearer {key}"}
    for response in (
        client.post(PREVIEW, json={"token": token, "amount": "10"}, headers=headers),
        client.get("/api/v1/redemptions", headers=headers),
    ):
        assert response.status_code == 403
        assert response.get_json() == {"error": {"code": "forbidden", "message": REFUSAL}}
    # An unknown or revoked key is still 401: the suspension says nothing about other keys.
    wrong = client.get("/api/v1/redemptions", headers={"Authorization": "Bearer rpk_nope"})
    assert wrong.status_code == 401


def test_a_suspended_merchants_checkout_is_refused_with_the_reason(session, world, tokens):
    suspend(session, world)
    with pytest.raises(Forbidden) as refused:
        checkout.preview(session, world.actor(world.cashier), tokens, world.gold_card.card_no, "10")
    assert refused.value.message == REFUSAL


def test_resume_restores_sign_in_and_pos_keys(client, session, world, tokens):
    _, key = merchants.create_api_key(session, ADMIN, world.shop.id, "1号收银台")
    session.commit()
    suspend(session, world)
    merchants.resume_merchant(session, ADMIN, world.shop.id, "核查完毕")
    session.commit()
    shop = session.get(Merchant, world.shop.id)
    assert (shop.is_enabled, shop.suspension_reason, shop.suspended_at) == (True, None, None)
    assert sign_in(client, world.cashier).location.endswith("/merchant/")
    token, _ = tokens.phone_token(world.gold_card)
    headers = {"Authorization": f"Bearer {key}"}
    assert (
        client.post(PREVIEW, json={"token": token, "amount": "10"}, headers=headers).status_code
        == 200
    )


def test_suspend_and_resume_through_the_merchants_page(client, session, world):
    signed_in_admin(client, session)
    url = f"/district/merchants/{world.shop.code}"
    refused = client.post(f"{url}/suspend", data={"reason": ""})
    assert refused.status_code == 422 and 'data-error-for="reason"' in refused.text
    assert session.get(Merchant, world.shop.id).is_enabled
    done = client.post(f"{url}/suspend", data={"reason": REASON})
    assert done.location.endswith(url)
    page = text_of(client.get(url))
    assert "已暂停" in page and REASON in page and "恢复联盟资格" in page
    session.rollback()
    assert not session.get(Merchant, world.shop.id).is_enabled
    client.post(f"{url}/resume", data={"reason": "核查完毕"})
    session.rollback()
    assert session.get(Merchant, world.shop.id).is_enabled
    history = text_of(client.get(url))
    assert "核查完毕" in history and "暂停联盟资格" in history


# -- the list and a merchant's page ------------------------------------------------------------


def test_the_list_searches_name_code_category_and_address(client, session, world):
    signed_in_admin(client, session)
    create(session)
    create(
        session,
        code="M132",
        name="福满楼饺子馆",
        category="餐饮",
        address="烟台开发区黄河路 1 号",
        manager_username="m132-manager",
    )
    session.commit()

    def found(**query: str) -> set[str]:
        page = client.get("/district/merchants", query_string=query).text
        return set(re.findall(r'data-merchant="([^"]+)"', page))

    assert found(q="饺子") == {"M132"}
    assert found(q="m131") == {"M131"}
    assert found(q="超市") == {"M131"}
    assert found(q="黄河路") == {"M132"}
    assert found(q="100%") == set()
    assert found() == {"M131", "M132", world.shop.code}
    merchants.suspend_merchant(session, ADMIN, world.shop.id, REASON)
    session.commit()
    assert found(status="suspended") == {world.shop.code}
    assert found(status="active") == {"M131", "M132"}


def test_the_list_shows_status_with_reason_and_counts(client, session, world):
    suspend(session, world)
    signed_in_admin(client, session)
    page = text_of(client.get("/district/merchants"))
    row = re.search(rf'<tr data-merchant="{world.shop.code}".*?</tr>', page).group(0)
    assert "已暂停" in row and REASON in row
    # One agreement (home) and two staff (cashier, manager).
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["1", "2"]


def test_the_list_is_paged(client, session, world):
    for n in range(25):
        factories.merchant(session, code=f"M{n + 1:03d}")
    session.commit()
    signed_in_admin(client, session)
    first = client.get("/district/merchants").text
    assert first.count("data-merchant=") == 20 and "第 1 / 2 页" in first
    second = client.get("/district/merchants?page=2").text
    assert second.count("data-merchant=") == 6


def test_the_merchants_page_shows_details_history_staff_and_keys(client, session, world, clock):
    created = create(session)
    merchants.create_api_key(session, ADMIN, created.merchant.id, "1号收银台")
    session.commit()
    clock.advance(hours=1)
    merchants.suspend_merchant(session, ADMIN, created.merchant.id, REASON)
    session.commit()
    signed_in_admin(client, session)
    page = text_of(client.get("/district/merchants/m131"))
    for shown in (
        "红星便民超市",
        "烟台开发区长江路 88 号",
        "0535-6123456",
        "刘店长",
        "m131-manager",
        "待首次登录",
        "重置店长密码",
        "在用 1 个",
        "从未使用",
        "0 份",
    ):
        assert shown in page, shown
    actions = re.findall(r'<tr data-action="([^"]+)"', page)
    assert actions == ["merchant.suspend", "merchant.create"]
    assert client.get("/district/merchants/M999").status_code == 404


def test_the_merchants_page_links_its_agreements_when_that_page_exists(client, session, world, app):
    signed_in_admin(client, session)
    page = client.get(f"/district/merchants/{world.shop.code}").text
    assert "1 份" in page
    if "district.agreement_list" in app.view_functions:
        assert f"merchant={world.shop.code}" in page


# -- the operator CLI -------------------------------------------------------------------------


@pytest.fixture()
def runner(app, session) -> FlaskCliRunner:  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


def cli_create(runner: FlaskCliRunner, **changes: str):  # type: ignore[no-untyped-def]
    options = {**NEW, **changes}
    args = ["merchants", "create"]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    return runner.invoke(args=args)


def test_cli_create_prints_the_one_time_password_alone_on_the_last_line(session, world, runner):
    result = cli_create(runner)
    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[a-z0-9]{10}", password)
    manager = accounts.authenticate(session, "m131-manager", password)
    assert manager.must_change_password and manager.role is Role.MERCHANT_MANAGER
    assert session.scalar(select(Merchant).where(Merchant.code == "M131")).id == manager.merchant_id


def test_cli_create_proposes_code_and_username_when_left_out(session, world, runner):
    factories.merchant(session, code="M130")
    session.commit()
    args = ["merchants", "create"]
    for name in ("name", "category", "address", "phone", "manager_name"):
        args += [f"--{name.replace('_', '-')}", NEW[name]]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Account).where(Account.username == "m131-manager")) is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"phone": "x"}, "联系电话"), ({"code": "X999"}, "商家代码"), ({"name": ""}, "店名")],
)
def test_cli_create_refuses_bad_input_and_writes_nothing(session, world, runner, changes, message):
    before = counts(session)
    result = cli_create(runner, **changes)
    assert result.exit_code == 1
    assert result.stderr.startswith("错误：") and message in result.stderr
    assert counts(session) == before


def test_cli_create_refuses_a_duplicate_code(session, world, runner):
    assert cli_create(runner).exit_code == 0
    before = counts(session)
    again = cli_create(runner, manager_username="another")
    assert again.exit_code == 1 and "M131 已被使用" in again.stderr
    assert counts(session) == before


def test_cli_suspend_and_resume_with_a_reason(session, world, runner, client):
    refused = runner.invoke(args=["merchants", "suspend", world.shop.code])
    assert refused.exit_code == 1 and refused.stderr.startswith("错误：请填写暂停原因")
    result = runner.invoke(
        args=["merchants", "suspend", world.shop.code.lower(), "--reason", REASON]
    )
    assert result.exit_code == 0, result.output
    session.rollback()
    assert session.get(Merchant, world.shop.id).suspension_reason == REASON
    assert REFUSAL in sign_in(client, world.cashier).text
    again = runner.invoke(args=["merchants", "suspend", world.shop.code, "--reason", REASON])
    assert again.exit_code == 1 and "已经暂停" in again.stderr
    resumed = runner.invoke(args=["merchants", "resume", world.shop.code, "--reason", "核查完毕"])
    assert resumed.exit_code == 0, resumed.output
    session.rollback()
    assert session.get(Merchant, world.shop.id).is_enabled
    unknown = runner.invoke(args=["merchants", "resume", "M999", "--reason", "核查完毕"])
    assert unknown.exit_code == 1 and "找不到商家 M999" in unknown.stderr


def test_the_api_documents_403_for_a_suspended_merchant(client):
    document = client.get("/api/v1/openapi.json").get_json()
    preview = document["paths"]["/api/v1/checkout/preview"]["post"]["responses"]
    assert "暂停" in preview["403"]["description"]


def test_only_live_keys_of_suspended_merchants_get_the_reason(session, world):
    api_key, key = merchants.create_api_key(session, ADMIN, world.shop.id, "前台")
    session.commit()
    assert merchants.pos_key_refusal(session, key) is None  # active merchant: not a refusal
    suspend(session, world)
    assert merchants.pos_key_refusal(session, key).message == REFUSAL
    api_key = session.get(ApiKey, api_key.id)
    api_key.revoked_at = utcnow()
    session.commit()
    assert merchants.pos_key_refusal(session, key) is None  # revoked: 401 as before
