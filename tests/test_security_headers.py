"""Security headers and cookies (docs/security.md "Headers and cookies"): a CSP without inline
script or style and without framing, the referrer policy, the session cookie's flags, and no
template that would need an inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from rewards import PROJECT_ROOT, create_app
from rewards.extensions import db
from rewards.models import Role
from tests import factories
from tests.test_auth import sign_in


def directives(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The response's Content-Security-Policy as {directive: [sources]}."""
    policy = response.headers["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize(
    "path", ["/login", "/api/v1/openapi.json", "/static/app.css", "/no-such-page"]
)
def test_csp_forbids_inline_scripts_and_framing(client, path):
    response = client.get(path)
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # zxing-wasm, nothing inline
    assert csp["style-src"] == ["'self'"]
    for sources in csp.values():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
        assert "*" not in sources and "http:" not in sources and "https:" not in sources
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_referrer_policy(client, world):
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"
    assert sign_in(client, world.cashier).status_code == 302
    assert client.get("/merchant/checkout").headers["Referrer-Policy"] == "same-origin"


def set_cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def cookie_flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_session_cookie_flags(client, world, session):
    """Always HttpOnly and SameSite=Lax; Secure in production (below); no remember-me cookie."""
    response = sign_in(client, world.secretary)
    assert response.status_code == 302
    flags = cookie_flags(set_cookie(response, "session"))
    assert {"httponly", "samesite=lax"} <= flags
    assert "secure" not in flags  # development and tests run on plain http://127.0.0.1
    assert not any(h.startswith("remember_token=") for h in response.headers.getlist("Set-Cookie"))


def test_session_cookie_is_secure_in_production(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("REWARDS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    app: Flask = create_app({"SERVER_NAME": "rewards.test"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    with app.app_context():
        db.create_all()
        home = factories.community(db.session)
        account = factories.account(db.session, Role.SECRETARY, community=home)
        db.session.commit()
        client = app.test_client()
        page = client.get("/login")  # the CSRF token goes into the session
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert token, "the production sign-in form carries a CSRF token"
        response = client.post(
            "/login",
            data={
                "username": account.username,
                "password": "correct horse",
                "csrf_token": token.group(1),
            },
        )
        assert response.status_code == 302
        flags = cookie_flags(set_cookie(response, "session"))
        assert {"secure", "httponly", "samesite=lax"} <= flags
        db.session.remove()
        db.engine.dispose()


TEMPLATE_DIRS = [
    path
    for path in PROJECT_ROOT.glob("*/templates")
    if path.is_dir() and "node_modules" not in path.parts
]

# A <script> that is executed (no src, and not a JSON data block), any <style> element, any
# style="…" attribute, any inline event handler (onclick="…") and any javascript: URL.
INLINE = {
    "inline script": re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/(?:ld\+)?json\")[^>]*>", re.I
    ),
    "style element": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_has_an_inline_script_or_style():
    """The CSP has no 'unsafe-inline': an inline script or style would simply not run."""
    templates = [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]
    assert len(templates) > 50, TEMPLATE_DIRS  # the scan really covers the portals
    found = []
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for kind, pattern in INLINE.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {kind}")
    assert not found, "\n".join(found)


def test_the_template_scan_catches_each_kind_of_inline_code():
    """The scan itself bites: each pattern finds its kind and lets the allowed forms pass."""
    bad = {
        "inline script": "<script>alert(1)</script>",
        "style element": "<svg><style>rect{fill:red}</style></svg>",
        "style attribute": '<span style="width: 40%">',
        "event handler attribute": '<button onclick="go()">',
        "javascript: URL": '<a href="javascript:go()">',
    }
    for kind, snippet in bad.items():
        assert INLINE[kind].search(snippet), kind
    allowed = (
        '<script src="/static/pages.js" defer></script>'
        '<script type="application/json" id="d">{}</script>'
        '<rect data-style="x" width="40"/><link rel="stylesheet" href="/static/app.css">'
    )
    assert not any(pattern.search(allowed) for pattern in INLINE.values())
