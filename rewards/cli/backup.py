"""``rewards backup`` / ``rewards restore``: the whole database to a file and back."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app

from rewards.cli import OperatorError, operator_transaction
from rewards.cli.ledger import ok_line, verification_lines
from rewards.extensions import db
from rewards.services import backup as backups
from rewards.services import checkpoints


def counts_file(path: Path) -> Path:
    """Where a backup's row counts are kept: next to it, ``<backup>.counts.json``."""
    return path.with_name(path.name + ".counts.json")


def _database_url() -> str:
    return str(current_app.config["SQLALCHEMY_DATABASE_URI"])


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the whole database to PATH (PostgreSQL: pg_dump custom format; SQLite: the online
    backup API) and its row counts to PATH.counts.json."""
    try:
        result = backups.backup(_database_url(), path)
    except backups.BackupError as exc:
        raise OperatorError(str(exc)) from exc
    counts_file(path).write_text(
        json.dumps(result.counts, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    total = sum(result.counts.values())
    click.echo(
        f"已备份到 {path}：{len(result.counts)} 张表共 {total} 行"
        f"（积分记录 {result.counts.get('ledger_entries', 0)} 条）；"
        f"各表行数记在 {counts_file(path)}。"
    )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="目标数据库已有数据时，确认用备份整个替换它。")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the database with the backup at PATH, then compare every table's row count with
    PATH.counts.json and verify the ledger; exit 1 on any difference."""
    # Let go of every pooled connection: the restore replaces the tables under them.
    db.session.remove()
    db.engine.dispose()
    try:
        counts = backups.restore(_database_url(), path, replace=yes)
    except backups.BackupError as exc:
        raise OperatorError(str(exc)) from exc
    db.engine.dispose()
    click.echo(f"已从 {path} 恢复：{len(counts)} 张表共 {sum(counts.values())} 行。")

    problems: list[str] = []
    kept = counts_file(path)
    if kept.exists():
        expected = json.loads(kept.read_text(encoding="utf-8"))
        for table in sorted(set(expected) | set(counts)):
            if expected.get(table) != counts.get(table):
                problems.append(
                    f"错误：表 {table} 备份时 {expected.get(table, '无')} 行，"
                    f"恢复后 {counts.get(table, '无')} 行。"
                )
        if not problems:
            click.echo(f"各表行数与备份时（{kept}）一致。")
    else:
        click.echo(f"没有找到 {kept}，无法核对各表行数。")
    with operator_transaction() as session:
        verification = checkpoints.verify_against_latest(session)
    problems += verification_lines(verification)
    if problems:
        for line in problems:
            click.echo(line, err=True)
        raise OperatorError(f"恢复后的核对未通过：{len(problems)} 处问题。")
    click.echo(ok_line(verification) + "。")
