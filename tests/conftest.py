"""Test harness: one app per test session, on SQLite by default or on PostgreSQL when
``REWARDS_TEST_DATABASE_URL`` names one; every test starts from empty tables."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from rewards import create_app
from rewards.clock import use_clock
from rewards.extensions import db
from tests import factories
from tests.clock import FIXED_NOW, FrozenClock


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (``test_gw0`` …,
    made once and kept), so workers never empty each other's tables; SQLite files are per
    worker already."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url.startswith("postgresql") or not worker:
        return url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


TEST_DATABASE_URL = _database_of_this_worker(os.environ.get("REWARDS_TEST_DATABASE_URL", ""))


def pytest_report_header(config: pytest.Config) -> str:
    database = "PostgreSQL" if is_postgres() else "SQLite"
    return f"database: {database}; clock frozen at {FIXED_NOW.isoformat()} (REWARDS_TEST_NOW)"


def is_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if is_postgres():
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: SQLite has no row locks (runs in the PG pass)"
    )
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FrozenClock]:
    """Every test runs at the same fixed instant (tests/clock.py); the app reads it too."""
    frozen = FrozenClock(FIXED_NOW)
    use_clock(frozen)
    yield frozen
    use_clock(None)


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at test strength (production strength costs ~50 ms a hash, several per test).

    A test marked ``production_hashing`` keeps the real parameters."""
    if "production_hashing" in request.keywords:
        return
    from argon2 import PasswordHasher

    from rewards.services import accounts

    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "test-secret-key-newest",
            "SECRET_KEY_FALLBACKS": ["test-secret-key-older"],
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "rewards.test",
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def empty_all_tables() -> None:
    # DELETE, children first: on tables this small it is several times faster than TRUNCATE.
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture()
def session(app: Flask) -> Iterator[Session]:
    """The app's session inside an app context; tables are emptied after each test."""
    with app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()
        empty_all_tables()


@pytest.fixture()
def client(app: Flask, session: Session):  # type: ignore[no-untyped-def]
    return FreshRequestClient(app, app.response_class, use_cookies=True)


class FreshRequestClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as in production.

    The ``session`` fixture keeps one app context open and Flask reuses it for each request, so
    without this the signed-in user, locale and CSRF token that one request caches on ``g`` would
    leak into the next (a signed-out or disabled account would still look signed in)."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture()
def tokens(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["rewards.card_tokens"]


@pytest.fixture()
def world(session: Session) -> factories.World:
    """A small, committed world: two communities, a merchant with an agreement, a policy."""
    built = factories.build_world(session)
    session.commit()
    return built


@pytest.fixture()
def shop(world, session, tokens):  # type: ignore[no-untyped-def]
    """The world, with the token signer at hand for the merchant tests' ``sale`` helper."""
    session.info["tokens"] = tokens
    yield world
    session.info.pop("tokens", None)
