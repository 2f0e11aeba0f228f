"""Backup and restore: a restored database has every row of the backup and its ledger verifies
against the checkpoints. On SQLite (the online backup API) and PostgreSQL (pg_dump/pg_restore
into a scratch database ``<test database>_restore``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from rewards import create_app
from rewards.extensions import db
from rewards.models import CheckpointKind
from rewards.services import backup as backups
from rewards.services import checkpoints
from rewards.services.audit import Actor
from tests import factories
from tests.conftest import TEST_DATABASE_URL, is_postgres

OPERATOR = Actor.operator("tests")


@pytest.fixture()
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into, of the kind this pass runs on."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    base = make_url(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_restore"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _source_url() -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _seed(session: Session) -> None:
    world = factories.build_world(session)
    factories.points(session, world.gold, 15)
    checkpoints.make_checkpoint(session, OPERATOR, CheckpointKind.DAILY)
    session.commit()


def _verify(url: str) -> checkpoints.Verification:
    engine = create_engine(url)
    try:
        with Session(engine) as other:
            return checkpoints.verify_against_latest(other)
    finally:
        engine.dispose()


def test_backup_then_restore_keeps_every_count_and_the_ledger_verifies(
    session, scratch_url, tmp_path: Path
):
    _seed(session)
    source_counts = backups.table_counts(_source_url())
    for table in ("members", "ledger_entries", "ledger_checkpoints", "ledger_checkpoint_heads"):
        assert source_counts[table] > 0, table

    made = backups.backup(_source_url(), tmp_path / "rewards.backup")
    assert made.counts == source_counts

    restored = backups.restore(scratch_url, made.path)
    assert restored == source_counts
    verification = _verify(scratch_url)
    assert verification.ok, verification.findings
    assert verification.entry_count == source_counts["ledger_entries"]

    # The copy is damaged (an entry deleted, the attack the checkpoint catches) ...
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM ledger_entries WHERE id = (SELECT max(id) FROM ledger_entries)")
        )
    engine.dispose()
    assert [f.kind for f in _verify(scratch_url).findings] == ["entries_deleted"]

    # ... a database holding data is replaced only when asked to ...
    with pytest.raises(backups.BackupError, match="--yes"):
        backups.restore(scratch_url, made.path)
    assert (
        backups.table_counts(scratch_url)["ledger_entries"] == source_counts["ledger_entries"] - 1
    )

    # ... and restoring it again brings every row back.
    assert backups.restore(scratch_url, made.path, replace=True) == source_counts
    assert _verify(scratch_url).ok


def test_the_restore_command_checks_the_counts_and_verifies_the_ledger(
    app: Flask, session, scratch_url, tmp_path: Path
):
    _seed(session)
    path = tmp_path / "rewards.backup"
    made = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert made.exit_code == 0, made.output
    kept = json.loads((tmp_path / "rewards.backup.counts.json").read_text(encoding="utf-8"))
    assert kept == backups.table_counts(_source_url())

    target = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": scratch_url,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SECRET_KEY_FALLBACKS": app.config["SECRET_KEY_FALLBACKS"],
        }
    )
    with target.app_context():  # the command runs in the current app context: the target's
        restored = target.test_cli_runner().invoke(args=["restore", str(path)])
        db.session.remove()
        db.engine.dispose()
    assert restored.exit_code == 0, restored.output
    assert "各表行数与备份时" in restored.output
    assert f"{kept['ledger_entries']} 条记录" in restored.output


def test_restore_into_a_database_with_data_is_refused_without_yes(app, session, tmp_path: Path):
    _seed(session)
    before = backups.table_counts(_source_url())
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", str(tmp_path / "b")]).exit_code == 0

    refused = runner.invoke(args=["restore", str(tmp_path / "b")])
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    assert backups.table_counts(_source_url()) == before


def test_a_file_that_is_not_a_backup_is_refused(app, session, tmp_path: Path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code == 1
    assert "不是" in result.output


def test_a_backup_never_overwrites_a_file(app, session, tmp_path: Path):
    existing = tmp_path / "b"
    existing.write_text("keep me", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["backup", str(existing)])
    assert result.exit_code == 1
    assert existing.read_text(encoding="utf-8") == "keep me"


def test_a_missing_pg_dump_is_named(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backups.BackupError, match="找不到 pg_dump"):
        backups.backup("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "b")
    assert not (tmp_path / "b").exists()
