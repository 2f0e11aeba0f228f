"""``rewards roster``: community rosters (党员名册)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from rewards.cli import OPERATOR, community_by_code, operator_transaction, progress_file
from rewards.services import roster

roster_group = AppGroup("roster", help="Community rosters (党员名册).")


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "community_code", required=True, help="社区代码，例如 C01。")
def import_roster_command(file: Path, community_code: str) -> None:
    """Import a roster, CSV or Excel .xlsx (member_no, name, phone, joined_on[, employer]), into
    a community.

    Every row is checked first; if any row is wrong, all problems are listed and nothing is
    imported. CSV files in UTF-8 (with or without BOM) and GBK are accepted; of a workbook, the
    active sheet is read.
    """
    parsed = roster.parse_roster(file.read_bytes())
    with operator_transaction() as session:
        community = community_by_code(session, community_code)
        try:
            with click.progressbar(
                length=max(1, len(parsed.rows)), label="导入名册", file=progress_file()
            ) as bar:
                result = roster.import_roster(
                    session, OPERATOR, community.id, parsed, progress=bar.update
                )
        except roster.RosterInvalid as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            raise
        done = (
            f"已导入 {community.code} {community.name} 名册：新增 {result.created} 人，"
            f"更新 {result.updated} 人，未变 {result.unchanged} 人。"
        )
    click.echo(done)
