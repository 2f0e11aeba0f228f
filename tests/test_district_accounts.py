"""The district's accounts office (账号管理): the list with its filters, opening secretaries' and
administrators' accounts with a one-time password shown once, password resets, disabling, and
clearing the failed sign-ins that slow a username (解除登录限制: every address at once)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rewards.errors import Forbidden, ValidationFailed
from rewards.models import Account, AuditEvent, Role
from rewards.services import accounts
from rewards.services.accounts import FREE_FAILURES_PER_ADDRESS
from rewards.services.audit import Actor
from tests import factories
from tests.forms import once
from tests.test_auth import sign_in

WRONG = "not the password"


@pytest.fixture()
def admin(session, world) -> Account:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


def as_admin(client, admin):  # type: ignore[no-untyped-def]
    assert sign_in(client, admin).status_code == 302
    return client


HERE = "203.0.113.7"
THERE = "198.51.100.20"


def fail_sign_ins(  # type: ignore[no-untyped-def]
    client, username: str, times: int = FREE_FAILURES_PER_ADDRESS, address: str = HERE
) -> None:
    """Wrong passwords for ``username`` from ``address``: five are enough to make it wait."""
    for _ in range(times):
        response = client.post(
            "/login",
            data={"username": username, "password": WRONG},
            environ_overrides={"REMOTE_ADDR": address},
        )
        assert response.status_code == 200  # checked, not refused: each one counts


def sign_in_from(client, account: Account, address: str = HERE):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"username": account.username, "password": "correct horse"},
        environ_overrides={"REMOTE_ADDR": address},
    )


def row_of(html: str, username: str) -> str:
    return re.search(rf'<tr data-account="{re.escape(username)}".*?</tr>', html, re.S).group(0)


def audit_count(session, action: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


# -- services ----------------------------------------------------------------------------------


def test_only_the_district_administrator_lists_opens_and_unlocks_accounts(session, world):
    secretary = world.actor(world.secretary)
    with pytest.raises(Forbidden):
        accounts.search_accounts(session, secretary)
    with pytest.raises(Forbidden):
        accounts.open_account(
            session, secretary, "c99-secretary", "某某", Role.SECRETARY, world.home.id
        )
    with pytest.raises(Forbidden):
        accounts.unlock(session, secretary, world.cashier.id)


def test_accounts_are_listed_by_role_community_merchant_and_state_and_searched(
    session, world, admin
):
    actor = Actor.for_account(admin)
    everyone = accounts.search_accounts(session, actor)
    names = [row.account.username for row in everyone.items]
    assert names[0] == admin.username  # the district's own people first
    assert {world.secretary.username, world.cashier.username, world.manager.username} <= set(names)

    secretaries = accounts.search_accounts(session, actor, role=Role.SECRETARY)
    assert [r.account.username for r in secretaries.items] == [world.secretary.username]
    assert secretaries.items[0].scope == world.home.name

    of_other = accounts.search_accounts(session, actor, community_id=world.other.id)
    assert of_other.total == 0
    of_shop = accounts.search_accounts(session, actor, merchant_id=world.shop.id)
    assert {r.account.username for r in of_shop.items} == {
        world.cashier.username,
        world.manager.username,
    }
    assert of_shop.items[0].scope == world.shop.name

    world.secretary.display_name = "王秀兰"
    session.flush()
    assert accounts.search_accounts(session, actor, "秀兰").items[0].account == world.secretary
    found = accounts.search_accounts(session, actor, world.cashier.username.upper())
    assert [r.account for r in found.items] == [world.cashier]  # username, any case
    assert accounts.search_accounts(session, actor, "100%").total == 0  # LIKE signs are text

    accounts.set_enabled(session, actor, world.cashier.id, False)
    disabled = accounts.search_accounts(session, actor, state="disabled")
    assert [r.account for r in disabled.items] == [world.cashier]
    accounts.reset_password(session, actor, world.manager.id)
    pending = accounts.search_accounts(session, actor, state="one_time")
    assert [r.account for r in pending.items] == [world.manager]
    assert pending.items[0].one_time_password_pending


def test_opening_a_secretary_gives_a_one_time_password_valid_a_week(session, world, admin, clock):
    account, password = accounts.open_account(
        session,
        Actor.for_account(admin),
        " c22-secretary ",
        " 刘书记 ",
        Role.SECRETARY,
        world.home.id,
    )
    session.commit()
    assert (account.username, account.display_name) == ("c22-secretary", "刘书记")
    assert account.community_id == world.home.id and account.role is Role.SECRETARY
    assert account.must_change_password
    assert account.password_expires_at == clock.now + timedelta(days=7)
    assert len(password) == 10
    assert password not in account.password_hash
    assert accounts.authenticate(session, "c22-secretary", password) is not None
    later = clock.now + timedelta(days=7, seconds=1)
    assert accounts.authenticate(session, "c22-secretary", password, now=later) is None
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "account.create", AuditEvent.object_id == account.id
        )
    )
    assert event.actor_account_id == admin.id
    assert password not in str(event.details)


def test_an_administrator_may_open_another_administrator_without_a_community(session, world, admin):
    account, _ = accounts.open_account(
        session,
        Actor.for_account(admin),
        "district-2",
        "区办小张",
        Role.DISTRICT_ADMIN,
        world.home.id,
    )
    assert account.role is Role.DISTRICT_ADMIN and account.community_id is None


@pytest.mark.parametrize(
    ("username", "name", "role", "community", "field"),
    [
        ("x", "刘书记", Role.SECRETARY, True, "username"),
        ("has space", "刘书记", Role.SECRETARY, True, "username"),
        ("taken", "刘书记", Role.SECRETARY, True, "username"),
        ("c22-secretary", "  ", Role.SECRETARY, True, "display_name"),
        ("c22-secretary", "刘书记", Role.SECRETARY, False, "community"),
        ("c22-cashier", "收银", Role.CASHIER, True, "role"),
        ("c22-member", "党员", Role.MEMBER, True, "role"),
    ],
)
def test_a_refused_new_account_names_the_field_and_writes_nothing(
    session, world, admin, username, name, role, community, field
):
    if username == "taken":
        username = world.secretary.username
    before = session.scalar(select(func.count(Account.id)))
    with pytest.raises(ValidationFailed) as refused:
        accounts.open_account(
            session,
            Actor.for_account(admin),
            username,
            name,
            role,
            world.home.id if community else None,
        )
    assert field in refused.value.details["fields"]
    assert session.scalar(select(func.count(Account.id))) == before


def test_an_administrators_unlock_clears_every_address(client, session, world, admin):
    username = world.secretary.username
    fail_sign_ins(client, username, address=HERE)
    fail_sign_ins(client, username, address=THERE)
    assert sign_in_from(client, world.secretary, HERE).status_code == 429
    assert sign_in_from(client, world.secretary, THERE).status_code == 429

    accounts.unlock(session, Actor.for_account(admin), world.secretary.id)
    session.commit()
    assert accounts.sign_in_pressures(session, [username]) == {}
    assert sign_in_from(client, world.secretary, HERE).status_code == 302  # at once, same second
    client.post("/logout")
    assert sign_in_from(client, world.secretary, THERE).status_code == 302
    client.post("/logout")
    # Failures after the unlock count afresh: five more from one address make it wait again.
    fail_sign_ins(client, username, address=THERE)
    assert sign_in_from(client, world.secretary, THERE).status_code == 429
    assert audit_count(session, "account.unlock") == 1


def test_the_accounts_list_shows_a_slowed_username_until_its_failures_age_out(
    session, world, admin, clock
):
    username = world.secretary.username
    for minute in range(FREE_FAILURES_PER_ADDRESS + 2):
        session.add(
            AuditEvent(
                recorded_at=clock.now - timedelta(minutes=12 - minute),
                actor_label=accounts.throttle_label(username),
                action="account.sign_in_failed",
                object_type="account",
                details={"ip": HERE if minute % 2 else THERE},
            )
        )
    session.commit()
    pressures = accounts.sign_in_pressures(session, [username, world.cashier.username])
    assert pressures == {
        username: accounts.SignInPressure(
            failures=7, addresses=2, last_failure=clock.now - timedelta(minutes=6)
        )
    }
    assert not pressures[username].over_ceiling
    assert accounts.pressured_usernames(session) == pressures
    actor = Actor.for_account(admin)
    assert [
        r.account for r in accounts.search_accounts(session, actor, state="throttled").items
    ] == [world.secretary]
    assert accounts.search_accounts(session, actor, role=Role.SECRETARY).items[0].sign_in_pressure
    # The oldest leave the window one a minute from 3 minutes on: five remain, then four.
    five = accounts.sign_in_pressures(session, [username], now=clock.now + timedelta(minutes=5))
    assert five[username].failures == 5
    later = clock.now + timedelta(minutes=5, seconds=1)
    assert accounts.sign_in_pressures(session, [username], now=later) == {}


def test_a_password_reset_also_clears_every_address(client, session, world, admin):
    fail_sign_ins(client, world.cashier.username, address=HERE)
    fail_sign_ins(client, world.cashier.username, address=THERE)
    password = accounts.reset_password(session, Actor.for_account(admin), world.cashier.id)
    session.commit()
    assert accounts.sign_in_wait(session, world.cashier.username, THERE).total_seconds() == 0
    assert sign_in(client, world.cashier, password=password).status_code == 302
    assert accounts.sign_in_wait(session, world.cashier.username, HERE).total_seconds() == 0


def test_an_unlock_of_one_account_leaves_others_slowed(client, session, world, admin):
    fail_sign_ins(client, world.cashier.username)
    fail_sign_ins(client, world.manager.username)
    accounts.unlock(session, Actor.for_account(admin), world.cashier.id)
    session.commit()
    assert accounts.sign_in_wait(session, world.cashier.username, HERE).total_seconds() == 0
    assert accounts.sign_in_wait(session, world.manager.username, HERE).total_seconds() == 1


# -- pages ---------------------------------------------------------------------------------------


def district_urls(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every district URL and method, with 1 for each number in the path."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/district/") or rule.endpoint == "district.static":
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<any\(([^,)]+)[^>]*>", r"\1", path)
        path = re.sub(r"<[^>]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_a_secretary_gets_403_on_every_district_url(app, client, world):
    sign_in(client, world.secretary)
    urls = district_urls(app)
    assert ("GET", "/district/accounts") in urls and ("GET", "/district/audit") in urls
    for method, path in urls:
        response = client.open(path, method=method)
        assert response.status_code == 403, (method, path)


@pytest.mark.parametrize("who", ["cashier", "manager"])
def test_merchant_staff_get_403_on_the_accounts_pages(client, world, who):
    sign_in(client, getattr(world, who))
    assert client.get("/district/accounts").status_code == 403
    assert client.post(f"/district/accounts/{world.secretary.id}/unlock").status_code == 403


def test_the_accounts_page_lists_role_scope_state_and_last_sign_in(client, session, world, admin):
    fail_sign_ins(client, world.cashier.username)
    as_admin(client, admin)
    accounts.reset_password(session, Actor.for_account(admin), world.manager.id)
    session.commit()
    page = client.get("/district/accounts").text
    mine = row_of(page, admin.username)
    assert "区管理员" in mine and "全区" in mine and "正常" in mine
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", mine)  # signed in just now
    secretary = row_of(page, world.secretary.username)
    assert "社区书记" in secretary and world.home.name in secretary and "从未登录" in secretary
    assert "登录受限" in row_of(page, world.cashier.username)
    assert "须修改密码" in row_of(page, world.manager.username)


def test_the_accounts_page_filters_by_role_community_merchant_state_and_search(
    client, session, world, admin
):
    as_admin(client, admin)
    by_role = client.get("/district/accounts?role=cashier").text
    assert 'data-account="' + world.cashier.username in by_role
    assert 'data-account="' + world.secretary.username not in by_role
    by_community = client.get(f"/district/accounts?community={world.home.code}").text
    assert re.findall(r'data-account="([^"]+)"', by_community) == [world.secretary.username]
    by_merchant = client.get(f"/district/accounts?merchant={world.shop.code}").text
    assert set(re.findall(r'data-account="([^"]+)"', by_merchant)) == {
        world.cashier.username,
        world.manager.username,
    }
    searched = client.get(f"/district/accounts?q={world.manager.username}").text
    assert re.findall(r'data-account="([^"]+)"', searched) == [world.manager.username]
    assert "共 0 个账号" in client.get("/district/accounts?state=disabled").text
    assert client.get("/district/accounts?community=ZZZ").status_code == 404
    assert client.get("/district/accounts?merchant=ZZZ").status_code == 404
    nonsense = client.get("/district/accounts?role=king&state=sleepy&page=-3")
    assert nonsense.status_code == 200  # unknown values are ignored


def test_creating_a_secretary_shows_the_one_time_password_once_and_it_works_once(
    client, session, world, admin
):
    as_admin(client, admin)
    form = client.get("/district/accounts/new").text
    assert "社区书记" in form and "区管理员" in form
    created = client.post(
        "/district/accounts/new",
        data={
            **once(client, "/district/accounts/new"),
            "role": "secretary",
            "username": "c22-secretary",
            "display_name": "刘书记",
            "community": world.home.code,
        },
    )
    assert created.status_code == 303 and "password" not in created.location
    created = client.get(created.location)
    assert created.headers["Cache-Control"] == "no-store"
    password = re.search(r'data-testid="one-time-password">([^<]+)<', created.text).group(1)
    assert "c22-secretary" in created.text and world.home.name in created.text
    assert "7 天内有效" in created.text
    account = session.scalar(select(Account).where(Account.username == "c22-secretary"))
    for later in (f"/district/accounts/{account.id}", "/district/accounts", "/district/audit"):
        assert password not in client.get(later).text  # shown once
    client.post("/logout")

    assert (
        client.post("/login", data={"username": "c22-secretary", "password": password}).status_code
        == 302
    )
    assert client.get("/community/").location.endswith("/password/new")
    client.post(
        "/password/new", data={"password": "my own secret", "password_again": "my own secret"}
    )
    assert client.get("/community/").status_code == 200
    client.post("/logout")
    assert (
        client.post("/login", data={"username": "c22-secretary", "password": password}).status_code
        == 200
    )  # refused: the one-time password worked once


def test_a_refused_new_account_is_shown_next_to_the_field_and_nothing_is_written(
    client, session, world, admin
):
    as_admin(client, admin)
    before = session.scalar(select(func.count(Account.id)))
    refused = client.post(
        "/district/accounts/new",
        data={
            **once(client, "/district/accounts/new"),
            "role": "secretary",
            "username": world.secretary.username,
            "display_name": "重名",
        },
    )
    assert refused.status_code == 422
    assert f"用户名 {world.secretary.username} 已被使用" in refused.text
    assert "请选择社区" in refused.text
    assert 'data-testid="one-time-password"' not in refused.text
    assert session.scalar(select(func.count(Account.id))) == before


def test_opening_an_administrator_from_the_page(client, session, world, admin):
    as_admin(client, admin)
    created = client.post(
        "/district/accounts/new",
        data={
            **once(client, "/district/accounts/new"),
            "role": "district_admin",
            "username": "district-2",
            "display_name": "区办小张",
        },
    )
    assert created.status_code == 303
    account = session.scalar(select(Account).where(Account.username == "district-2"))
    assert account.role is Role.DISTRICT_ADMIN


def test_resetting_a_password_shows_a_printable_slip_once_and_the_old_password_stops(
    client, session, world, admin
):
    as_admin(client, admin)
    page = f"/district/accounts/{world.cashier.id}"
    posted = client.post(f"{page}/reset", data=once(client, page, f"{page}/reset"))
    assert posted.status_code == 303  # POST-redirect-GET: the slip is a GET page
    reset = client.get(posted.headers["Location"])
    assert reset.headers["Cache-Control"] == "no-store"
    assert "data-print" in reset.text and 'data-testid="slip"' in reset.text
    password = re.search(r'data-testid="one-time-password">([^<]+)<', reset.text).group(1)
    assert password not in client.get(page).text and password not in posted.headers["Location"]
    client.post("/logout")
    assert sign_in(client, world.cashier).status_code == 200  # the old password
    assert sign_in(client, world.cashier, password=password).status_code == 302


def test_refreshing_or_resubmitting_a_reset_never_resets_again(client, session, world, admin):
    as_admin(client, admin)
    page = f"/district/accounts/{world.cashier.id}"
    token = once(client, page, f"{page}/reset")
    slip_url = client.post(f"{page}/reset", data=token).headers["Location"]
    slip = client.get(slip_url).text
    password = re.search(r'data-testid="one-time-password">([^<]+)<', slip).group(1)

    refreshed = client.get(slip_url)  # a refresh: no password, no new reset
    assert refreshed.status_code == 200 and password not in refreshed.text
    assert "data-print" not in refreshed.text  # nothing left to print
    again = client.post(f"{page}/reset", data=token)  # resubmitted: the first slip, no reset
    assert again.status_code == 303 and again.headers["Location"] == slip_url
    resets = session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "account.reset_password")
    )
    assert resets == 1
    client.post("/logout")
    assert sign_in(client, world.cashier, password=password).status_code == 302


def test_disabling_signs_the_account_out_at_its_next_page_and_enabling_lets_it_back(
    app, client, session, world, admin
):
    from tests.conftest import FreshRequestClient

    other = FreshRequestClient(app, app.response_class, use_cookies=True)
    sign_in(other, world.secretary)
    assert other.get("/community/").status_code == 200
    as_admin(client, admin)
    done = client.post(f"/district/accounts/{world.secretary.id}/disable", follow_redirects=True)
    assert "已停用" in done.text
    assert other.get("/community/").status_code == 302  # out at the next request
    assert sign_in(other, world.secretary).status_code == 200  # and cannot sign in
    client.post(f"/district/accounts/{world.secretary.id}/enable")
    assert sign_in(other, world.secretary).status_code == 302
    assert audit_count(session, "account.disable") == audit_count(session, "account.enable") == 1


def test_an_administrator_cannot_disable_themselves(client, session, world, admin):
    as_admin(client, admin)
    page = client.get(f"/district/accounts/{admin.id}").text
    assert 'data-testid="disable"' not in page
    refused = client.post(f"/district/accounts/{admin.id}/disable", follow_redirects=True)
    assert "不能停用自己的账号" in refused.text
    session.expire_all()
    assert session.get(Account, admin.id).is_enabled


def test_unlocking_from_the_account_page(client, session, world, admin):
    fail_sign_ins(client, world.cashier.username)
    as_admin(client, admin)
    page = client.get(f"/district/accounts/{world.cashier.id}").text
    assert "登录受限" in page and 'data-testid="unlock"' in page
    assert "15 分钟内登录失败 5 次，来自 1 个地址" in page
    done = client.post(f"/district/accounts/{world.cashier.id}/unlock", follow_redirects=True)
    assert "已解除" in done.text and 'data-testid="unlock"' not in done.text
    client.post("/logout")
    assert sign_in_from(client, world.cashier).status_code == 302


def test_an_unknown_account_is_404(client, world, admin):
    as_admin(client, admin)
    assert client.get("/district/accounts/999999").status_code == 404
    assert client.post("/district/accounts/999999/unlock").status_code == 404
    assert client.post("/district/accounts/999999/reset").status_code == 404
