"""``rewards stats``: members and active cards by live tier (统计)."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from rewards.cli import operator_transaction, pad
from rewards.services import reports


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@with_appcontext
def stats_command(as_json: bool) -> None:
    """Members and active cards by live tier, per community and for the district."""
    with operator_transaction() as session:
        statistics = reports.community_statistics(session)
    if as_json:
        click.echo(json.dumps(statistics.to_dict(), ensure_ascii=False, indent=2))
        return
    widths = (20, 7, 8, 8, 7, 11, 6, 6)

    def row(cells: tuple[object, ...]) -> str:
        return "".join(
            pad(cell, width, right=i > 0)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [row(("社区", "党员", "金卡级", "银卡级", "未达", "在用卡:金", "银", "未达"))]
    for figures in [*statistics.communities, statistics.district]:
        tiers, active = figures.members_by_tier, figures.active_cards
        lines.append(
            row(
                (
                    f"{figures.code} {figures.name}",
                    figures.members,
                    tiers.gold,
                    tiers.silver,
                    tiers.none,
                    active.gold,
                    active.silver,
                    active.none,
                )
            )
        )
    version = statistics.policy_version
    lines.append(
        f"等级按积分标准第 {version} 版实时计算。" if version else "尚未设置积分等级标准。"
    )
    click.echo("\n".join(lines))
