"""``rewards seed-demo``: the demo district (演示数据) for an empty database."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from rewards import demo
from rewards.cli import OPERATOR, OperatorError, operator_transaction, pad, progress_file
from rewards.extensions import db
from rewards.models import ROLE_LABELS, Role
from rewards.services import cards


@click.command("seed-demo")
@click.option("--seed", type=int, default=demo.DEFAULT_SEED, show_default=True, help="随机种子。")
@click.option("--json", "as_json", is_flag=True, help="只在标准输出打印 JSON 摘要。")
@click.option("--if-empty", is_flag=True, help="数据库已有数据时安静地跳过（make run 用）。")
@click.option(
    "--members",
    type=click.IntRange(demo.MIN_MEMBERS, demo.MAX_MEMBERS),
    default=demo.DEFAULT_MEMBERS,
    hidden=True,
    help="党员人数（测试用），金银卡人数按比例缩放。",
)
@click.option(
    "--allow-production", is_flag=True, help="允许在 REWARDS_ENV=production 下写入演示数据。"
)
@with_appcontext
def seed_demo_command(
    seed: int, as_json: bool, if_empty: bool, members: int, allow_production: bool
) -> None:
    """Fill an EMPTY database with the demo district (演示数据): 21 communities, 130 merchants,
    ~5,000 members with a year of history, and one sign-in per role."""
    if not demo.database_is_empty(db.session):
        db.session.rollback()
        if not if_empty:
            raise OperatorError(
                "数据库中已有数据，拒绝写入演示数据（演示数据只能写入空数据库；"
                "make run 使用 --if-empty 跳过）。"
            )
        if as_json:
            click.echo(json.dumps({"seeded": False, "reason": "database already has data"}))
            return
        click.echo("数据库中已有数据，跳过演示数据。")
        logins = demo.working_demo_logins(db.session)
        db.session.rollback()
        if logins:
            click.echo(f"演示账号（密码均为 {demo.DEMO_PASSWORD}）：")
            for username, role_label in logins:
                click.echo(f"  {pad(role_label, 10)}{username}")
        return
    if current_app.config.get("REWARDS_ENV") == "production" and not allow_production:
        raise OperatorError(
            "这是生产环境（REWARDS_ENV=production）：演示数据带有公开的演示密码，拒绝写入。"
            "确需演示实例请加 --allow-production。"
        )
    started = time.perf_counter()
    with (
        operator_transaction() as session,
        click.progressbar(
            length=len(demo.STAGES),
            label="写入演示数据",
            file=progress_file(),
            item_show_func=lambda stage: stage,
        ) as bar,
    ):
        summary = demo.seed_demo(
            session,
            current_app.extensions["rewards.card_tokens"],
            seed=seed,
            members=members,
            on_stage=lambda stage: bar.update(1, stage),
            actor=OPERATOR,
        )
    elapsed = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps({"seeded": True, **summary}, ensure_ascii=False, indent=2))
        return
    _print_demo_summary(summary, elapsed)


def _print_demo_summary(summary: dict[str, Any], elapsed: float) -> None:
    counts = summary["counts"]
    tiers, card_counts, claims = counts["tiers"], counts["cards"], counts["claims"]
    lines = [
        f"演示数据已写入（seed {summary['seed']}，用时 {elapsed:.1f} 秒）：",
        f"  {counts['communities']} 个社区，{counts['merchants']} 家联盟商家，"
        f"{counts['agreements']} 份共建协议（{counts['agreement_versions']} 个版本）",
        f"  {counts['members']} 名党员（双报到 {counts['employer_members']} 名），"
        f"{counts['activities']} 场活动，{counts['attendances']} 人次签到",
        f"  积分申报：已认定 {claims['certified']}，待认定 {claims['pending']}，"
        f"已驳回 {claims['rejected']}；积分台账 {counts['ledger_entries']} 条"
        f"（冲正 {counts['reversals']} 条）",
        f"  当前等级：金卡 {tiers['gold']} 人，银卡 {tiers['silver']} 人，"
        f"未达等级 {tiers['none']} 人",
        f"  动力卡：正常 {card_counts['active']}，暂停 {card_counts['suspended']}，"
        f"注销 {card_counts['revoked']}，补办换新 {card_counts['replaced']}",
        f"  刷卡消费：近 {demo.SALE_DAYS} 天 {sum(counts['redemptions'].values())} 笔"
        f"（已撤销 {counts['redemptions']['voided']} 笔）",
        "",
        f"在 {summary['checkout']['merchant']['code']} {summary['checkout']['merchant']['name']}"
        " 结算时各种结果的卡号：",
    ]
    for outcome, number in summary["checkout"]["outcomes"].items():
        lines.append(f"  {pad(outcome, 16)}{cards.format_card_number(number)}")
    lines += ["", f"登录账号（密码均为 {summary['password']}）："]
    for login in summary["logins"]:
        label = ROLE_LABELS[Role(login["role"])]
        lines.append(f"  {pad(label, 10)}{pad(login['username'], 16)}{login['scope']}")
    click.echo("\n".join(lines))
