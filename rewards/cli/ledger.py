"""``rewards ledger``: the points ledger (积分台账): verify it, sign checkpoints of it."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from rewards.cli import OPERATOR, OperatorError, operator_transaction
from rewards.models import CheckpointKind
from rewards.services import checkpoints

ledger_group = AppGroup("ledger", help="The points ledger (积分台账).")


def verification_lines(verification: checkpoints.Verification) -> list[str]:
    """One line per finding, or none when the ledger is whole."""
    return [f"错误：{finding.message}" for finding in verification.findings]


def ok_line(verification: checkpoints.Verification) -> str:
    """The line that says the ledger is whole, with its counts."""
    line = (
        f"积分台账完整：{verification.entry_count} 条记录、{verification.member_count} 位党员"
        "的哈希链全部校验通过"
    )
    cp = verification.checkpoint
    if cp is None:
        return line + "；尚无检查点，无法发现被删除的最新记录（请运行 rewards ledger checkpoint）"
    return (
        line + f"；与检查点 #{cp.id}（{cp.business_date}，{cp.member_count} 位党员、"
        f"{cp.entry_count} 条记录）相比，没有记录或整条链被删除"
    )


@ledger_group.command("verify")
@click.option(
    "--checkpoint-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="对照这个保存在别处的检查点文件校验（而不是数据库里最新的检查点）。",
)
def verify_ledger_command(checkpoint_file: Path | None) -> None:
    """Recompute every hash chain and compare the chain heads with the newest signed checkpoint
    (or a kept checkpoint file); exit 1 with one line per finding, naming the member."""
    started = time.perf_counter()
    with operator_transaction() as session:
        verification = checkpoints.verify_against_latest(session, checkpoint_file)
    lines = verification_lines(verification)
    if lines:
        for line in lines:
            click.echo(line, err=True)
        raise OperatorError(
            f"积分台账校验未通过：{len(lines)} 处问题（已检查 {verification.entry_count} 条记录）。"
            "请从备份和保存的检查点文件核对。"
        )
    click.echo(f"{ok_line(verification)}（用时 {time.perf_counter() - started:.1f} 秒）。")


@ledger_group.command("checkpoint")
@click.option(
    "--daily",
    is_flag=True,
    help="每日检查点：每个业务日期只签发一次，当天再运行不做任何事（供 cron 使用）。",
)
@click.option(
    "--file",
    "file_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="检查点文件写到这里（默认 instance/checkpoints/<日期>-<编号>.json）。",
)
@click.option(
    "--override-reason",
    default="",
    help="台账校验未通过时仍要签发：写明核实过的原因（记入审计日志）。",
)
def checkpoint_command(daily: bool, file_path: Path | None, override_reason: str) -> None:
    """Sign every member's chain head now (a checkpoint) and write it to a file to keep
    elsewhere. Refused while the ledger fails verification."""
    kind = CheckpointKind.DAILY if daily else CheckpointKind.ON_DEMAND
    with operator_transaction() as session:
        result = checkpoints.make_checkpoint(
            session, OPERATOR, kind, override_reason=override_reason
        )
        checkpoint = result.checkpoint
        if not result.created:
            click.echo(
                f"业务日期 {checkpoint.business_date} 的每日检查点已经签发过（#{checkpoint.id}），"
                "这次没有再签发。"
            )
            return
        path = file_path or checkpoints.default_file(current_app.instance_path, checkpoint)
        if path.exists():
            raise OperatorError(f"{path} 已经存在；请换一个文件名。")
        try:
            checkpoints.write_file(session, checkpoint, path)
        except OSError as exc:
            raise OperatorError(f"写不了检查点文件 {path}：{exc.strerror}。") from exc
    click.echo(
        f"已签发检查点 #{checkpoint.id}（{checkpoint.business_date}，"
        f"{checkpoint.member_count} 位党员、{checkpoint.entry_count} 条记录）。"
    )
    click.echo(f"检查点文件：{path}（请复制到数据库服务器以外的地方保存）")
