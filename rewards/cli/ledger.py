"""``rewards ledger``: the points ledger (积分台账)."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from rewards.cli import OperatorError, operator_transaction
from rewards.models import LedgerEntry
from rewards.services import ledger

ledger_group = AppGroup("ledger", help="The points ledger (积分台账).")


@ledger_group.command("verify")
def verify_ledger_command() -> None:
    """Recompute every hash chain; exit 1 naming the first entry that does not fit."""
    started = time.perf_counter()
    with operator_transaction() as session:
        report = ledger.verify_chain(session)
        broken = session.get(LedgerEntry, report.broken_entry_id) if not report.ok else None
        if broken is not None:
            raise OperatorError(
                f"积分台账哈希链断裂：第一条不符的记录是 entry {broken.id}"
                f"（党员 id {broken.member_id}，第 {broken.seq} 条）：{report.problem}。"
                f"已检查 {report.entry_count} 条。请从备份核对这条记录。"
            )
    click.echo(
        f"积分台账完整：{report.entry_count} 条记录的哈希链全部校验通过"
        f"（用时 {time.perf_counter() - started:.1f} 秒）。"
    )
