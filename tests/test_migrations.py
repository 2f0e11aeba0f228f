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


def test_upgrades_keep_the_data_of_a_database_made_by_the_first_release(
    empty_database_url: str, tmp_path: Path
) -> None:
    """A deployment made by the first release upgrades in place: tables that others refer to
    are altered (SQLite copies them) and the rows survive."""
    instance = tmp_path / "instance"
    first = _rewards(empty_database_url, instance, "db", "upgrade", "859c8e483e90")
    assert first.returncode == 0, first.stderr
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO communities (id, code, name, street)"
                    " VALUES (1, 'C01', '长江路社区', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO members (id, member_no, name, phone, community_id, status,"
                    " employer, joined_on, created_at) VALUES (1, 'YT0100001', '张三明',"
                    " '13800000000', 1, 'active', '', '2020-01-01', '2024-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO accounts (id, username, display_name, password_hash, role,"
                    " community_id, member_id, is_enabled, created_at) VALUES (1, 'c01-gold',"
                    " '张三明', 'x', 'member', 1, 1, true, '2024-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO point_categories (id, code, name, default_points, max_points,"
                    " is_enabled) VALUES (1, 'volunteer', '志愿服务', 2, 4, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO claims (id, member_id, community_id, category_id, points,"
                    " description, occurred_on, status, submitted_at, decided_at,"
                    " decided_by_id) VALUES (1, 1, 1, 1, 3, '扫雪', '2024-01-02', 'certified',"
                    " '2024-01-02 00:00:00', '2024-01-03 00:00:00', 1)"
                )
            )
        upgraded = _rewards(empty_database_url, instance, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        with engine.connect() as conn:
            account = conn.execute(
                text("SELECT username, must_change_password FROM accounts")
            ).one()
            assert (account[0], bool(account[1])) == ("c01-gold", False)
            # Claims certified before the workbench were certified at their proposal.
            assert conn.scalar(text("SELECT certified_points FROM claims")) == 3
            assert conn.scalar(text("SELECT count(*) FROM members")) == 1
    finally:
        engine.dispose()
