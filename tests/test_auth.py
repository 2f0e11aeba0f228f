"""Sign-in, sign-out, CSRF, session cookies, throttling and each role's portal."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from rewards import create_app
from rewards.auth import FAILED_SIGN_IN_ACTION, safe_next
from rewards.config import load_settings
from rewards.extensions import db
from rewards.models import Account, AuditEvent, Role
from rewards.services import accounts
from tests import factories
from tests.conftest import FreshRequestClient

PASSWORD = "correct horse"
WRONG_LOGIN = "用户名或密码不正确"


def sign_in(client: FlaskClient, account: Account, password: str = PASSWORD, next_url: str = ""):  # type: ignore[no-untyped-def]
    """POST the sign-in form as ``account``; returns the (unfollowed) response."""
    query = {"next": next_url} if next_url else {}
    return client.post(
        "/login", query_string=query, data={"username": account.username, "password": password}
    )


def account_for(session, world: factories.World, role: Role) -> Account:  # type: ignore[no-untyped-def]
    """An account of ``role`` in the world: the member one is the gold member's."""
    made = {
        Role.MEMBER: lambda: factories.account(session, Role.MEMBER, member=world.gold),
        Role.SECRETARY: lambda: world.secretary,
        Role.DISTRICT_ADMIN: lambda: factories.account(session, Role.DISTRICT_ADMIN),
        Role.CASHIER: lambda: world.cashier,
        Role.MERCHANT_MANAGER: lambda: world.manager,
    }[role]()
    session.commit()
    return made


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.MEMBER, "/member/"),
        (Role.SECRETARY, "/community/"),
        (Role.DISTRICT_ADMIN, "/community/"),
        (Role.CASHIER, "/merchant/"),
        (Role.MERCHANT_MANAGER, "/merchant/"),
    ],
)
def test_each_role_lands_on_its_own_portal_home(client, session, world, role, home):
    account = account_for(session, world, role)
    response = sign_in(client, account)
    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert client.get("/").headers["Location"] == home


@pytest.mark.parametrize("role", [Role.MEMBER, Role.SECRETARY, Role.DISTRICT_ADMIN])
def test_member_and_community_homes_open_after_sign_in(client, session, world, role):
    account = account_for(session, world, role)
    page = client.get(sign_in(client, account).headers["Location"])
    assert page.status_code == 200
    assert account.display_name in page.text
    assert 'action="/logout"' in page.text


def test_sign_in_page_is_chinese_and_fits_a_phone(client, session):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
    assert "用户名" in page.text and "密码" in page.text and "登录" in page.text


def test_empty_sign_in_form_names_the_missing_fields(client, session):
    page = client.post("/login", data={"username": "", "password": ""})
    assert page.status_code == 200
    assert "请输入用户名。" in page.text and "请输入密码。" in page.text


def test_wrong_password_and_unknown_user_get_the_same_message(client, session, world):
    wrong_password = sign_in(client, world.secretary, password="not the password")
    unknown_user = client.post("/login", data={"username": "nobody", "password": PASSWORD})
    for page in (wrong_password, unknown_user):
        assert page.status_code == 200
        assert WRONG_LOGIN in page.text
        assert "用户不存在" not in page.text and "密码错误" not in page.text
    assert client.get("/community/").status_code == 302  # still signed out


def test_username_is_kept_and_password_is_not_echoed_after_a_failure(client, session, world):
    page = sign_in(client, world.secretary, password="not the password")
    assert f'value="{world.secretary.username}"' in page.text
    assert "not the password" not in page.text


def test_disabled_account_cannot_sign_in(client, session, world):
    accounts.set_enabled(session, factories.OPERATOR, world.secretary.id, False)
    session.commit()
    page = sign_in(client, world.secretary)
    assert page.status_code == 200
    assert WRONG_LOGIN in page.text
    assert client.get("/community/").status_code == 302


def test_disabling_an_account_drops_its_open_session(client, session, world):
    sign_in(client, world.secretary)
    assert client.get("/community/").status_code == 200
    accounts.set_enabled(session, factories.OPERATOR, world.secretary.id, False)
    session.commit()
    response = client.get("/community/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_sign_out_ends_the_session(client, session, world):
    sign_in(client, world.secretary)
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "已退出登录" in client.get("/login").text
    assert client.get("/community/").status_code == 302


def test_sign_out_is_post_only(client, session, world):
    sign_in(client, world.secretary)
    assert client.get("/logout").status_code == 405
    assert client.get("/community/").status_code == 200


def test_signed_in_visit_to_sign_in_page_goes_home(client, session, world):
    sign_in(client, world.secretary)
    assert client.get("/login").headers["Location"] == "/community/"


def test_portal_visit_when_signed_out_asks_to_sign_in_then_returns(client, session, world):
    response = client.get("/community/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fcommunity%2F"
    assert "请先登录" in client.get(response.headers["Location"]).text
    assert sign_in(client, world.secretary, next_url="/community/").headers["Location"] == (
        "/community/"
    )


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "//evil.com/community/",
        "https://evil.com/",
        "http:evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "javascript:alert(1)",
        "community/",
    ],
)
def test_next_never_leaves_the_site(client, session, world, target):
    response = sign_in(client, world.secretary, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/community/"


def test_next_keeps_a_same_site_path_with_query():
    assert safe_next("/community/T01?page=2") == "/community/T01?page=2"
    assert safe_next("/%2F%2Fevil.com") == "/%2F%2Fevil.com"  # a path here, not a host


@pytest.mark.parametrize(
    ("role", "forbidden_paths"),
    [
        (Role.MEMBER, ["/community/", "/merchant/"]),
        (Role.SECRETARY, ["/member/", "/merchant/"]),
        (Role.DISTRICT_ADMIN, ["/member/", "/merchant/"]),
        (Role.CASHIER, ["/member/", "/community/"]),
        (Role.MERCHANT_MANAGER, ["/member/", "/community/"]),
    ],
)
def test_wrong_role_gets_a_chinese_403_page(client, session, world, role, forbidden_paths):
    sign_in(client, account_for(session, world, role))
    for path in forbidden_paths:
        page = client.get(path)
        assert page.status_code == 403, path
        assert "没有权限" in page.text


def test_navigation_links_only_to_the_roles_own_pages(client, session, world):
    member = account_for(session, world, Role.MEMBER)
    sign_in(client, member)
    page = client.get("/member/").text
    nav = re.search(r'<nav class="topnav".*?</nav>', page, re.S).group(0)
    assert 'href="/member/"' in nav
    assert "/community/" not in nav and "/merchant/" not in nav


def test_session_cookie_is_http_only_and_same_site_lax(client, session, world):
    response = sign_in(client, world.secretary)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_settings_mark_cookies_secure(tmp_path):
    settings = load_settings(tmp_path, {"REWARDS_ENV": "production", "SECRET_KEY": "k" * 40})
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_sign_ins_are_audited_success_and_failure(client, session, world):
    sign_in(client, world.secretary, password="not the password")
    sign_in(client, world.secretary)
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["account.sign_in_failed", "account.sign_in"]


# -- sign-in throttling (docs/security.md) ------------------------------------------------------

HERE = "203.0.113.7"
THERE = "198.51.100.20"
WRONG = "not the password"


def sign_in_from(client: FlaskClient, address: str, account: Account, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """POST the sign-in form as ``account`` from the client address ``address``."""
    return client.post(
        "/login",
        data={"username": account.username, "password": password},
        environ_overrides={"REMOTE_ADDR": address},
    )


def failures(session, username: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == FAILED_SIGN_IN_ACTION,
            AuditEvent.actor_label == accounts.throttle_label(username),
        )
    )


def fail_from(session, username: str, addresses: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Record one failed sign-in for ``username`` from each of ``addresses`` (an attacker's)."""
    for address in addresses:
        accounts.record_sign_in_failure(session, username, address)
    session.commit()


def test_failures_are_recorded_with_the_client_address(client, session, world):
    assert sign_in_from(client, HERE, world.secretary, WRONG).status_code == 200
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == FAILED_SIGN_IN_ACTION))
    assert event.details == {"ip": HERE}
    assert sign_in_from(client, HERE, world.secretary).status_code == 302
    success = session.scalar(select(AuditEvent).where(AuditEvent.action == "account.sign_in"))
    assert success.details == {"ip": HERE}


def test_delays_grow_per_username_and_address(client, session, world, clock):
    for _ in range(accounts.FREE_FAILURES_PER_ADDRESS):  # the first five are only checked
        assert WRONG_LOGIN in sign_in_from(client, HERE, world.secretary, WRONG).text
    for seconds in (1, 2, 4, 8):
        refused = sign_in_from(client, HERE, world.secretary, WRONG)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == str(seconds)
        assert f"请 {seconds} 秒后再试" in refused.text
        clock.advance(seconds=seconds - 0.5)
        assert sign_in_from(client, HERE, world.secretary, WRONG).status_code == 429
        clock.advance(seconds=0.5)  # the wait is over: checked, and one more failure
        assert WRONG_LOGIN in sign_in_from(client, HERE, world.secretary, WRONG).text
    # Another username from the same address, and this one from another, are not slowed.
    assert sign_in_from(client, HERE, world.manager).headers["Location"] == "/merchant/"
    client.post("/logout")
    assert sign_in_from(client, THERE, world.secretary).headers["Location"] == "/community/"


def test_delays_are_capped_at_fifteen_minutes_and_the_failures_then_age_out(
    client, session, world, clock
):
    fail_from(session, world.secretary.username, [HERE] * 30)
    refused = sign_in_from(client, HERE, world.secretary)
    assert refused.headers["Retry-After"] == "900"
    assert "请 15 分钟后再试" in refused.text
    clock.advance(minutes=15, seconds=1)  # out of the window: nothing counts any more
    assert sign_in_from(client, HERE, world.secretary).status_code == 302


def test_an_attempt_during_the_delay_is_refused_unchecked(client, session, world, clock):
    fail_from(session, world.secretary.username, [HERE] * accounts.FREE_FAILURES_PER_ADDRESS)
    before = failures(session, world.secretary.username)
    refused = sign_in_from(client, HERE, world.secretary)  # the right password, too soon
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.text
    assert client.get("/community/").status_code == 302  # not signed in
    assert sign_in_from(client, HERE, world.secretary, WRONG).status_code == 429
    assert failures(session, world.secretary.username) == before  # not another failure
    clock.advance(seconds=1)
    assert sign_in_from(client, HERE, world.secretary).status_code == 302


def test_wrong_passwords_from_one_address_never_lock_out_the_right_password_from_another(
    client, session, world
):
    fail_from(session, world.cashier.username, [HERE] * 200)
    assert sign_in_from(client, HERE, world.cashier).status_code == 429
    assert sign_in_from(client, THERE, world.cashier).headers["Location"] == "/merchant/"


def test_the_username_ceiling_slows_unfamiliar_addresses_and_never_refuses_a_clean_one(
    client, session, world, clock
):
    botnet = [f"192.0.2.{n}" for n in range(accounts.USERNAME_CEILING)]
    fail_from(session, world.cashier.username, botnet)  # one failure each: none waits yet
    # The real person, from an address without failures of its own, signs in.
    assert sign_in_from(client, THERE, world.cashier).status_code == 302
    client.post("/logout")
    # Past the ceiling an unfamiliar address waits after its first failure (5 s, 10 s …) …
    assert WRONG_LOGIN in sign_in_from(client, HERE, world.cashier, WRONG).text
    refused = sign_in_from(client, HERE, world.cashier, WRONG)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    clock.advance(seconds=5)
    assert WRONG_LOGIN in sign_in_from(client, HERE, world.cashier, WRONG).text
    assert sign_in_from(client, HERE, world.cashier).headers["Retry-After"] == "10"
    # … while an address the account signed in from keeps its five free failures.
    for _ in range(accounts.FREE_FAILURES_PER_ADDRESS):
        assert WRONG_LOGIN in sign_in_from(client, THERE, world.cashier, WRONG).text
    assert sign_in_from(client, THERE, world.cashier).status_code == 429


def test_a_sign_in_from_an_address_clears_that_addresses_failures(client, session, world):
    fail_from(session, world.secretary.username, [HERE] * (accounts.FREE_FAILURES_PER_ADDRESS - 1))
    assert sign_in_from(client, HERE, world.secretary).status_code == 302
    client.post("/logout")
    for _ in range(accounts.FREE_FAILURES_PER_ADDRESS):
        assert WRONG_LOGIN in sign_in_from(client, HERE, world.secretary, WRONG).text
    assert sign_in_from(client, HERE, world.secretary).status_code == 429


@pytest.mark.parametrize(("proxies", "counted_as"), [(None, "127.0.0.1"), (1, HERE)])
def test_x_forwarded_for_is_trusted_only_when_the_proxies_are_configured(
    app, session, world, proxies, counted_as
):
    settings = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY")}
    other = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False, "REWARDS_TRUSTED_PROXIES": proxies, **settings}
    )
    client = SecondAppClient(other, other.response_class, use_cookies=True)
    client.post(
        "/login",
        data={"username": world.secretary.username, "password": WRONG},
        headers={"X-Forwarded-For": HERE},
        environ_overrides={"REMOTE_ADDR": "127.0.0.1"},
    )
    db.session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == FAILED_SIGN_IN_ACTION))
    assert event.details == {"ip": counted_as}
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_delay_after_doubles_from_the_first_delay_up_to_the_cap():
    assert [accounts.delay_after(n).total_seconds() for n in range(4, 9)] == [0, 1, 2, 4, 8]
    assert accounts.delay_after(10_000) == accounts.MAX_DELAY
    assert accounts.wait_in_words(59) == "59 秒" and accounts.wait_in_words(61) == "2 分钟"


# -- CSRF, on an app where it is enabled (the shared test app turns it off) -----------------


@pytest.fixture()
def csrf_client(app: Flask, session) -> Iterator[FlaskClient]:  # type: ignore[no-untyped-def]
    strict = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "WTF_CSRF_ENABLED": True,
            "SERVER_NAME": app.config["SERVER_NAME"],
        }
    )
    assert strict.config["WTF_CSRF_ENABLED"] is True
    yield SecondAppClient(strict, strict.response_class, use_cookies=True)
    with strict.app_context():
        db.session.remove()
        db.engine.dispose()


class SecondAppClient(FreshRequestClient):
    """A client of another app on the same database. It ends the test's own transaction before
    each request, as separate requests would: on SQLite the second app's writes need the lock."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        db.session.commit()
        return super().open(*args, **kwargs)


def _csrf_token(html: str) -> str:
    """The token every page carries in its ``csrf-token`` meta tag (forms carry the same)."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def test_forms_without_a_csrf_token_are_refused(csrf_client, session, world):
    username = world.secretary.username
    refused = csrf_client.post("/login", data={"username": username, "password": PASSWORD})
    assert refused.status_code == 400
    assert "页面已过期" in refused.text
    assert csrf_client.get("/community/").status_code == 302  # not signed in

    token = _csrf_token(csrf_client.get("/login").text)
    accepted = csrf_client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/community/"

    home = csrf_client.get("/community/").text
    assert csrf_client.post("/logout").status_code == 400  # sign-out is a form too
    assert csrf_client.get("/community/").status_code == 200
    signed_out = csrf_client.post("/logout", data={"csrf_token": _csrf_token(home)})
    assert signed_out.status_code == 302
    assert csrf_client.get("/community/").status_code == 302


def test_a_wrong_csrf_token_is_refused(csrf_client, session, world):
    csrf_client.get("/login")
    refused = csrf_client.post(
        "/login",
        data={"username": world.secretary.username, "password": PASSWORD, "csrf_token": "forged"},
    )
    assert refused.status_code == 400
    signed_in = select(func.count(AuditEvent.id)).where(AuditEvent.action == "account.sign_in")
    assert session.scalar(signed_in) == 0
