"""Migrations build the whole schema on an empty database and agree with the models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from rewards.extensions import db
from tests.conftest import TEST_DATABASE_URL, is_postgres

REWARDS = str(Path(sys.executable).with_name("rewards"))


@pytest.fixture()
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database of the kind this pass runs on."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"rewards_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rewards(url: str, instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "REWARDS_INSTANCE_PATH": str(instance)}
    return subprocess.run(
        [REWARDS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_db_upgrade_builds_the_full_schema_and_matches_the_models(
    empty_database_url: str, tmp_path: Path
) -> None:
    result = _rewards(empty_database_url, tmp_path / "instance", "db", "upgrade")
    assert result.returncode == 0, result.stderr

    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(db.metadata.tables) <= tables
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_db_upgrade_twice_is_harmless(empty_database_url: str, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    assert _rewards(empty_database_url, instance, "db", "upgrade").returncode == 0
    again = _rewards(empty_database_url, instance, "db", "upgrade")
    assert again.returncode == 0, again.stderr
