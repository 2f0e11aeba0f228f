"""Backup and restore (备份与恢复) of the whole database.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner`` (in one
transaction), found on ``PATH``. SQLite: the ``sqlite3`` module's online backup API, which copies
a consistent snapshot while the app keeps running, and copies it back the same way.

Files kept outside the database (claim photos in the instance folder) are not in these backups;
docs/operations.md says how to copy them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    counts: dict[str, int]


def _url(database_url: str | URL) -> URL:
    url = make_url(database_url)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持备份这种数据库：{url.get_backend_name()}。")
    return url


def _sqlite_copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Copy one SQLite database into another with the online backup API, then close both."""
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复。")
    return Path(url.database)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"找不到 {name}：请安装与服务器版本一致的 PostgreSQL 客户端工具"
            f"（Debian/Ubuntu：apt install postgresql-client），并确保它在 PATH 中。"
        )
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq connection string (without the password) and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(
            f"{Path(args[0]).name} 失败：{' / '.join(detail[-3:]) or done.returncode}"
        )


def table_counts(database_url: str | URL) -> dict[str, int]:
    """Rows in every table of the database (Alembic's version table included)."""
    engine = create_engine(_url(database_url))
    try:
        return _counts(engine)
    finally:
        engine.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return _counts_on(conn)


def _counts_on(conn: Connection) -> dict[str, int]:
    quote = conn.dialect.identifier_preparer.quote
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.scalar(text(f"SELECT count(*) FROM {quote(name)}")) for name in names}


def _is_empty(database_url: str | URL) -> bool:
    """No rows in any table other than Alembic's version table (a fresh or upgraded database)."""
    counts = table_counts(database_url)
    return all(n == 0 for name, n in counts.items() if name != "alembic_version")


def backup(database_url: str | URL, path: Path) -> BackupResult:
    """Write a backup of the whole database to ``path`` (not overwriting a file there)."""
    url = _url(database_url)
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} 已经存在；请换一个文件名（备份不会覆盖已有文件）。")
    if not path.parent.is_dir():
        raise BackupError(f"目录 {path.parent} 不存在。")
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(sqlite3.connect(_sqlite_file(url)), sqlite3.connect(path))
            # Counted in the copy itself: exactly what a restore brings back.
            counts = table_counts(URL.create("sqlite", database=str(path)))
        else:
            counts = _pg_dump(url, path)
    except BaseException:
        path.unlink(missing_ok=True)  # never leave half a backup that looks like one
        raise
    return BackupResult(path, counts)


def _pg_dump(url: URL, path: Path) -> dict[str, int]:
    """Dump in the snapshot the rows are counted in (``pg_export_snapshot``), so the counts are
    exactly those of the dump even while the app keeps writing."""
    dump = _pg_tool("pg_dump")
    dsn, env = _libpq(url)
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
            counts = _counts_on(conn)
            _run(
                [
                    dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={path}",
                    f"--dbname={dsn}",
                ],
                env,
            )
            conn.rollback()
    finally:
        engine.dispose()
    return counts


def _check_file(url: URL, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise BackupError(f"读不了备份文件 {path}：{exc.strerror}。") from exc
    if url.get_backend_name() == "sqlite" and not head.startswith(SQLITE_HEADER):
        raise BackupError(f"{path} 不是 SQLite 数据库备份（rewards backup 在 SQLite 上的产物）。")
    if url.get_backend_name() == "postgresql" and not head.startswith(PG_CUSTOM_HEADER):
        raise BackupError(
            f"{path} 不是 pg_dump 自定义格式的备份（rewards backup 在 PostgreSQL 上的产物）。"
        )


def restore(database_url: str | URL, path: Path, replace: bool = False) -> dict[str, int]:
    """Replace the database's contents with the backup at ``path``; return the new row counts.

    A database that holds any row is refused unless ``replace`` is given (``--yes``).
    """
    url = _url(database_url)
    path = Path(path)
    _check_file(url, path)
    if not replace and not _is_empty(url):
        raise BackupError("目标数据库里已有数据，恢复会用备份整个替换它；确认要替换请加 --yes。")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True),
            sqlite3.connect(_sqlite_file(url)),
        )
    else:
        dsn, env = _libpq(url)
        _run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={dsn}",
                str(path),
            ],
            env,
        )
    return table_counts(url)
