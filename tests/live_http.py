"""A browser's session against a live test server over HTTP (requests): the CSRF token from a
page, and signing in through the sign-in form."""

from __future__ import annotations

import re

import requests

PASSWORD = "correct horse"  # the factories' password


def csrf_token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(url: str, username: str, timeout: float) -> requests.Session:
    """A browser session signed in through the sign-in form (CSRF token and all)."""
    browser = requests.Session()
    token = csrf_token(browser.get(f"{url}/login", timeout=timeout).text)
    signed_in = browser.post(
        f"{url}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=timeout,
    )
    assert signed_in.status_code == 302, signed_in.text
    return browser
