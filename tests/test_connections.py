"""Connections: no request fails because PostgreSQL ended the app's pooled connections between
requests (a restart, a failover, ``pg_terminate_backend``).

The app is served for real on 127.0.0.1 with the engine options of production
(``rewards.config``: the default ``QueuePool``, no ``NullPool``), so its pool keeps connections
from one request to the next, as it does in production.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from rewards import create_app
from rewards.config import load_settings
from rewards.extensions import db
from rewards.models import Card
from rewards.services import api_tokens, merchants
from rewards.services.cards import CardTokens
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.live_http import csrf_token, serving, sign_in

# Needs PostgreSQL: SQLite has no server that could end a connection.
pytestmark = pytest.mark.postgres_only

DEADLINE_SECONDS = 10
_keys = itertools.count(1)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def terminate_every_other_connection() -> int:
    """What a PostgreSQL restart does to the app: end every session on the database but this
    one; returns how many were ended, once they are gone."""
    with psycopg.connect(libpq_url(TEST_DATABASE_URL), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        pids = [pid for (pid, signalled) in ended if signalled]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone()[0]:
            assert time.monotonic() < deadline, f"sessions {pids} outlived pg_terminate_backend"
            time.sleep(0.02)
    return len(pids)


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture()
def live_server(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """The app as production configures it, on the test database, served on a real socket."""
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    live = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
            # The shared test app's keys, so its card tokens are the live app's too.
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SECRET_KEY_FALLBACKS": app.config["SECRET_KEY_FALLBACKS"],
        }
    )
    try:
        with serving(live) as url:
            yield LiveServer(url, live)
    finally:
        with live.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_app_pools_connections_as_production_does(live_server: LiveServer) -> None:
    """The test below is only worth something if the live app keeps connections between
    requests, with production's pool options."""
    production = load_settings(Path("/nonexistent"), env={"REWARDS_ENV": "development"})
    options = live_server.app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == production["SQLALCHEMY_ENGINE_OPTIONS"]
    with live_server.app.app_context():
        assert isinstance(db.engine.pool, QueuePool)


def test_no_request_fails_after_postgres_terminates_the_connections(
    live_server: LiveServer, world: factories.World, session: Session, tokens: CardTokens
) -> None:
    url = live_server.url
    pos_key = merchants.create_api_key(session, factories.OPERATOR, world.shop.id, "1号收银台")[1]
    people_token = api_tokens.issue_token(session, world.secretary).token
    gold, cashier_name = world.gold_card, world.cashier.username
    card = Card(card_no=gold.card_no, generation=gold.generation)  # signs codes, no database
    # Committed last: the test's own session holds no transaction while connections are ended.
    session.commit()
    cashier = sign_in(url, cashier_name, DEADLINE_SECONDS)

    def phone_code() -> str:
        return tokens.phone_token(card)[0]

    def page_get() -> requests.Response:
        return cashier.get(f"{url}/merchant/", timeout=DEADLINE_SECONDS)

    def form_post() -> requests.Response:
        form = cashier.get(f"{url}/merchant/checkout", timeout=DEADLINE_SECONDS)
        return cashier.post(
            f"{url}/merchant/checkout/confirm",
            data={
                "code": phone_code(),
                "amount": "20.00",
                "idempotency_key": f"counter-{next(_keys):06d}",
                "csrf_token": csrf_token(form.text),
            },
            allow_redirects=False,
            timeout=DEADLINE_SECONDS,
        )

    def pos_preview() -> requests.Response:
        return requests.post(
            f"{url}/api/v1/checkout/preview",
            json={"token": phone_code(), "amount": "128.50"},
            headers={"Authorization": f"Bearer {pos_key}"},
            timeout=DEADLINE_SECONDS,
        )

    def pos_confirm() -> requests.Response:
        return requests.post(
            f"{url}/api/v1/checkout/redemptions",
            json={
                "token": phone_code(),
                "amount": "128.50",
                "idempotency_key": f"pos-{next(_keys):06d}",
            },
            headers={"Authorization": f"Bearer {pos_key}"},
            timeout=DEADLINE_SECONDS,
        )

    def people_api() -> requests.Response:
        return requests.get(
            f"{url}/api/v1/members",
            headers={"Authorization": f"Bearer {people_token}"},
            timeout=DEADLINE_SECONDS,
        )

    kinds = {
        "page GET (signed-in session)": (page_get, 200),
        "form POST (counter checkout confirm)": (form_post, 302),
        "POS API preview": (pos_preview, 200),
        "POS API confirm": (pos_confirm, 201),
        "people API (token)": (people_api, 200),
    }
    for name, (send, expected) in kinds.items():  # the pool now holds live connections
        assert send().status_code == expected, name

    for name, (send, expected) in kinds.items():
        assert terminate_every_other_connection() >= 1
        response = send()
        assert response.status_code == expected, f"{name}: {response.status_code}"

    # All at once after one termination, several pooled connections dead at the same time.
    assert terminate_every_other_connection() >= 1
    for name, (send, expected) in kinds.items():
        response = send()
        assert response.status_code == expected, f"{name}: {response.status_code}"


def test_a_connection_ended_while_a_request_holds_a_transaction_does_not_fail_its_answer(
    live_server: LiveServer, world: factories.World, session: Session
) -> None:
    """PostgreSQL restarting while a request runs: the request's closing ROLLBACK meets a dead
    connection. The server rolled back already, so the request ends quietly and the next one
    gets a fresh connection."""
    session.commit()
    with live_server.app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))  # a transaction is now open
        assert terminate_every_other_connection() >= 1
        with psycopg.connect(libpq_url(TEST_DATABASE_URL)) as admin:
            assert (
                admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()[0]
                == 0
            )
    # Leaving the app context above ran the request's teardown without raising.
    with live_server.app.app_context():
        assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid
