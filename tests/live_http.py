"""A live test server over HTTP: an app served on a real socket on 127.0.0.1, and a browser's
session against it (requests): the CSRF token from a page, and signing in through the sign-in
form."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from flask import Flask
from werkzeug.serving import make_server

PASSWORD = "correct horse"  # the factories' password


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port (threaded, as in production, so each request
    has its own thread); yields its base URL, ``http://127.0.0.1:<port>``."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


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
