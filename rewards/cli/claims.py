"""``rewards claims``: service claims (积分申报), as a named account: list, certify (认定),
reject (驳回)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rewards.cli import (
    OperatorError,
    acting_actor,
    as_account_option,
    community_by_code,
    operator_transaction,
    pad,
)
from rewards.clock import BUSINESS_TZ
from rewards.models import Claim, ClaimStatus
from rewards.services import claims
from rewards.services.categories import category_by_code

claims_group = AppGroup("claims", help="Service claims (积分申报): list, certify, reject.")

STATUS_LABELS = {
    ClaimStatus.PENDING: "待认定",
    ClaimStatus.CERTIFIED: "已认定",
    ClaimStatus.REJECTED: "已驳回",
}
STATUS_CHOICES = [*(status.value for status in ClaimStatus), "all"]
# id, member number, name, category, service date, points, submitted (and status for "all"):
# (heading, width in terminal columns, right-aligned).
COLUMNS = (
    ("编号", 6, True),
    ("党员编号", 12, False),
    ("姓名", 10, False),
    ("类别", 18, False),
    ("服务日期", 10, False),
    ("积分", 4, True),
    ("提交时间", 16, False),
)
STATUS_COLUMN = ("状态", 6, False)


def _row(cells: tuple[object, ...], columns: tuple[tuple[str, int, bool], ...]) -> str:
    return "  ".join(
        pad(cell, width, right) for cell, (_, width, right) in zip(cells, columns, strict=True)
    ).rstrip()


def _cells(claim: Claim, with_status: bool) -> tuple[object, ...]:
    submitted = claim.submitted_at.astimezone(BUSINESS_TZ)
    cells: tuple[object, ...] = (
        f"#{claim.id}",
        claim.member.member_no,
        claim.member.name,
        claim.category.name,
        claim.occurred_on.isoformat(),
        claim.certified_points or claim.points,
        f"{submitted:%Y-%m-%d %H:%M}",
    )
    return (*cells, STATUS_LABELS[claim.status]) if with_status else cells


@claims_group.command("list")
@click.option("--community", "community_code", help="社区代码（区管理员用；默认全部社区）。")
@click.option(
    "--status",
    type=click.Choice(STATUS_CHOICES),
    default=ClaimStatus.PENDING.value,
    show_default=True,
    help="按状态筛选。",
)
@click.option("--category", "category_code", help="积分类别代码，如 volunteer。")
@click.option("--page", type=int, default=1, show_default=True, help="页码（每页 20 条）。")
@as_account_option
def list_claims_command(
    community_code: str | None,
    status: str,
    category_code: str | None,
    page: int,
    as_username: str | None,
) -> None:
    """List claims (pending oldest first; decided newest first), one page at a time."""
    chosen = None if status == "all" else ClaimStatus(status)
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        listed = claims.list_claims(
            session,
            actor,
            status=chosen,
            community_id=community_by_code(session, community_code).id if community_code else None,
            category_id=(
                category_by_code(session, category_code, include_disabled=True).id
                if category_code
                else None
            ),
            page=page,
        )
        columns = (*COLUMNS, STATUS_COLUMN) if chosen is None else COLUMNS
        rows = [_cells(claim, chosen is None) for claim in listed.items]
    if not rows:
        click.echo("没有符合条件的申报。" if page == 1 else f"第 {page} 页没有申报。")
        return
    click.echo(_row(tuple(heading for heading, _, _ in columns), columns))
    for cells in rows:
        click.echo(_row(cells, columns))
    about = "全部" if chosen is None else STATUS_LABELS[chosen]
    footer = f"{about}申报共 {listed.total} 条，第 {listed.page}/{listed.pages} 页。"
    if listed.page < listed.pages:
        footer += f"下一页：--page {listed.page + 1}"
    click.echo(footer)


@claims_group.command("certify")
@click.argument("claim_ids", type=int, nargs=-1, required=True)
@click.option("--points", type=int, help="改按这个分数认定（1 到类别上限；只能与一条申报同用）。")
@as_account_option
def certify_claims_command(
    claim_ids: tuple[int, ...], points: int | None, as_username: str | None
) -> None:
    """Certify claims (认定): one ledger entry each, however often it is attempted.

    Several ids are certified each on its own, one result line per claim (批量认定); exit code
    1 if any could not be certified (the others are saved).
    """
    if points is not None and len(set(claim_ids)) > 1:
        raise OperatorError("--points 只能与一条申报同用；批量认定按各条申报的分数记分。")
    if len(set(claim_ids)) == 1:
        _certify_one(claim_ids[0], points, as_username)
        return
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        lines = claims.certify_claims(session, actor, claim_ids)
    id_width = max(len(f"#{line.claim_id}") for line in lines)
    for line in lines:
        name = pad(line.member_name or "—", 10)
        click.echo(f"{pad(f'#{line.claim_id}', id_width)}  {name}  {line.message}")
    failed = sum(not line.ok for line in lines)
    certified = len(lines) - failed
    if failed:
        raise OperatorError(f"{failed} 条申报未能认定（见上）；其余 {certified} 条已认定。")
    click.echo(f"共认定 {certified} 条申报。")


def _certify_one(claim_id: int, points: int | None, as_username: str | None) -> None:
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        entry = claims.certify_claim(session, actor, claim_id, points=points)
        claim = session.get(Claim, claim_id)
        assert claim is not None
        done = (
            f"已认定申报 #{claim.id}：{claim.member.name}（{claim.member.member_no}）"
            f"{claim.category.name}，记入 {entry.points} 分。"
        )
    click.echo(done)


@claims_group.command("reject")
@click.argument("claim_id", type=int)
@click.option("--reason", default="", help="驳回原因（必填，党员会看到）。")
@as_account_option
def reject_claim_command(claim_id: int, reason: str, as_username: str | None) -> None:
    """Reject a pending claim (驳回) with a reason the member will read."""
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        claim = claims.reject_claim(session, actor, claim_id, reason)
        done = (
            f"已驳回申报 #{claim.id}：{claim.member.name}（{claim.member.member_no}）"
            f"{claim.category.name}。原因：{claim.rejection_reason}"
        )
    click.echo(done)
