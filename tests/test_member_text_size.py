"""Large text on the member pages (大字模式, 适老化): the phone's choice is a cookie, read by the
server so that the page comes in that size from its first byte; the form without JavaScript
keeps the choice for a year and goes back to the page it was on, never elsewhere."""

from __future__ import annotations

import pytest

from rewards.models import Role
from tests import factories
from tests.test_auth import sign_in

LARGE_ROOT = '<html lang="zh-CN" class="large-text">'
STANDARD_ROOT = '<html lang="zh-CN">'
MEMBER_PAGES = (
    "/member/",
    "/member/notices",
    "/member/history",
    "/member/claims",
    "/member/claims/new",
    "/member/card",
    "/member/merchants",
    "/member/redemptions",
    "/member/account",
    "/member/account/password",
    "/member/account/my-data",
)


@pytest.fixture()
def member_client(client, session, world):  # type: ignore[no-untyped-def]
    """A test client signed in as the gold member."""
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    sign_in(client, account)
    return client


def choose(client, value: str) -> None:  # type: ignore[no-untyped-def]
    """The phone's cookie, as text-size.js sets it."""
    client.set_cookie("text_size", value, domain=client.application.config["SERVER_NAME"])


def pressed(html: str, size: str) -> bool:
    """Whether the switch shows ``size`` as the chosen one."""
    return f'value="{size}" aria-pressed="true"' in html


@pytest.mark.parametrize("path", MEMBER_PAGES)
def test_the_large_text_cookie_renders_every_member_page_large_from_the_first_byte(
    member_client, path: str
):
    choose(member_client, "large")
    page = member_client.get(path)
    assert page.status_code == 200
    assert LARGE_ROOT in page.text
    assert pressed(page.text, "large") and not pressed(page.text, "standard")
    assert 'action="/member/text-size"' in page.text


def test_without_the_cookie_a_member_page_is_in_standard_text(member_client):
    page = member_client.get("/member/")
    assert STANDARD_ROOT in page.text and "large-text" not in page.text.split("<head>")[0]
    assert pressed(page.text, "standard") and not pressed(page.text, "large")


@pytest.mark.parametrize("value", ["standard", "LARGE", "huge", ""])
def test_any_other_cookie_value_is_standard_text(member_client, value: str):
    choose(member_client, value)
    assert STANDARD_ROOT in member_client.get("/member/history").text


def test_the_switch_without_javascript_keeps_the_choice_for_a_year(member_client):
    answer = member_client.post(
        "/member/text-size", data={"size": "large", "next": "/member/history?year=2025"}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/member/history?year=2025"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("text_size=large;")
    assert "Max-Age=31536000" in cookie and "Path=/" in cookie and "SameSite=Lax" in cookie
    assert "HttpOnly" not in cookie  # text-size.js reads and sets it too
    assert LARGE_ROOT in member_client.get("/member/history").text

    member_client.post("/member/text-size", data={"size": "standard", "next": "/member/"})
    assert STANDARD_ROOT in member_client.get("/member/").text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/member/", "/community/", "/\\evil.example", ""],
)
def test_the_switch_goes_back_only_to_a_member_page(member_client, target: str):
    answer = member_client.post("/member/text-size", data={"size": "large", "next": target})
    assert answer.status_code == 303 and answer.headers["Location"] == "/member/"


def test_an_unknown_size_keeps_the_choice_as_it_was(member_client):
    answer = member_client.post("/member/text-size", data={"size": "huge", "next": "/member/"})
    assert answer.status_code == 303 and "Set-Cookie" not in answer.headers
    assert STANDARD_ROOT in member_client.get("/member/").text


def test_signing_out_keeps_the_phones_choice(member_client):
    member_client.post("/member/text-size", data={"size": "large", "next": "/member/"})
    answer = member_client.post("/logout")
    assert "text_size" not in answer.headers.get("Set-Cookie", "")
    domain = member_client.application.config["SERVER_NAME"]
    assert member_client.get_cookie("text_size", domain=domain).value == "large"


def test_the_card_page_kept_for_airplane_mode_has_the_text_size_script(client):
    worker = client.get("/member/sw.js").text
    assert "/member/static/text-size.js" in worker
