"""``rewards tiers``: the tier policy's versions (积分等级标准): publish one, list them."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rewards.cli import OPERATOR, OperatorError, operator_transaction, pad, parse_date
from rewards.clock import BUSINESS_TZ, business_date, utcnow
from rewards.models import TierPolicy
from rewards.services import tiers

tiers_group = AppGroup("tiers", help="Tier policy versions (积分等级标准).")


def _whole_number(text: str | None, option: str, meaning: str) -> int:
    """An integer typed for ``option``, or a refusal that names it."""
    if text is None or not text.strip():
        raise OperatorError(f"请用 {option} 指定{meaning}。")
    try:
        return int(text.strip())
    except ValueError:
        raise OperatorError(
            f"{option} 应为整数分数，例如 {option} 60；填写的是「{text}」。"
        ) from None


def describe(policy: TierPolicy) -> str:
    """A version in one line: its thresholds, window and first day."""
    first_day = business_date(policy.effective_from).isoformat()
    when = "即日起生效" if policy.effective_from == policy.created_at else f"{first_day} 起生效"
    return (
        f"第 {policy.version} 版：金卡 {policy.gold_threshold} 分、"
        f"银卡 {policy.silver_threshold} 分"
        f"（近 {policy.window_months} 个月积分），{when}"
    )


@tiers_group.command("set")
@click.option("--gold", metavar="N", help="必填：金卡门槛（统计周期内积分达到这个数）。")
@click.option("--silver", metavar="N", help="必填：银卡门槛（低于金卡门槛）。")
@click.option(
    "--window", metavar="MONTHS", default="12", show_default=True, help="统计周期（月）。"
)
@click.option("--from", "effective", metavar="YYYY-MM-DD", help="必填：生效日期，今天或以后。")
@click.option("--note", default="", help="说明，例如调整的原因。")
@click.option("--preview", is_flag=True, help="只预览各社区在生效日的金卡、银卡人数，不发布。")
def set_command(
    gold: str | None,
    silver: str | None,
    window: str,
    effective: str | None,
    note: str,
    preview: bool,
) -> None:
    """Publish a new version of the tier policy from a date (never backwards, never edited)."""
    gold_threshold = _whole_number(gold, "--gold", "金卡门槛")
    silver_threshold = _whole_number(silver, "--silver", "银卡门槛")
    window_months = _whole_number(window, "--window", "统计周期（月）")
    if not effective:
        raise OperatorError("请用 --from 指定生效日期（今天或以后），例如 --from 2027-01-01。")
    effective_on = parse_date(effective, "--from")
    values = (gold_threshold, silver_threshold, window_months, effective_on, note)
    with operator_transaction() as session:
        if preview:
            result = tiers.preview_policy(session, OPERATOR, *values)
            lines = _preview_lines(result)
        else:
            policy = tiers.publish_policy(session, OPERATOR, *values)
            lines = [f"已发布积分等级标准{describe(policy)}。"]
    click.echo("\n".join(lines))


def _preview_lines(result: tiers.PolicyPreview) -> list[str]:
    """The preview as a table: members by tier per community, proposed and in force today."""
    widths = (20, 8, 8, 8, 10, 8, 8)

    def row(cells: tuple[object, ...]) -> str:
        return "".join(
            pad(cell, width, right=i > 0)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [
        f"预览（未发布）：第 {result.next_version} 版，{result.effective_on.isoformat()} 当天，"
        f"金卡 {result.gold_threshold} 分、银卡 {result.silver_threshold} 分、"
        f"近 {result.window_months} 个月积分。",
        row(("社区", "新:金卡", "银卡", "未达", "现行:金卡", "银卡", "未达")),
    ]
    for figures in [*result.communities, result.district]:
        new, old = figures.proposed, figures.today
        lines.append(
            row(
                (
                    f"{figures.code} {figures.name}",
                    new.gold,
                    new.silver,
                    new.none,
                    old.gold,
                    old.silver,
                    old.none,
                )
            )
        )
    if result.in_force is None:
        lines.append("目前没有生效的积分等级标准。")
    return lines


@tiers_group.command("list")
def list_command() -> None:
    """Every version, newest first, with the one in force now and any scheduled one marked."""
    with operator_transaction() as session:
        versions = tiers.policy_versions(session, utcnow())
        widths = (6, 8, 8, 8, 20, 16, 22)

        def row(cells: tuple[object, ...], note: str) -> str:
            return (
                "".join(
                    pad(cell, width, right=0 < i < 4)
                    for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
                )
                + note
            )

        lines = [row(("版本", "金卡", "银卡", "周期", "  生效时间", "状态", "发布人"), "说明")]
        for version in versions:
            policy = version.policy
            lines.append(
                row(
                    (
                        f"  {policy.version}",
                        policy.gold_threshold,
                        policy.silver_threshold,
                        f"{policy.window_months}个月",
                        f"  {policy.effective_from.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}",
                        version.status_label,
                        version.author,
                    ),
                    policy.note,
                )
            )
    if not versions:
        lines = ["尚未发布积分等级标准。用 rewards tiers set 发布第一版。"]
    click.echo("\n".join(lines))
