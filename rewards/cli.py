"""The operator CLI: ``rewards`` (a Flask CLI group, so ``rewards db upgrade`` and ``rewards run``
work too).

Every command acts as the operator (``Actor.operator("cli")``), commits once at the end, and on
bad input changes nothing and exits with code 1 and a message saying what to fix.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards import demo
from rewards.clock import BUSINESS_TZ
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.models import (
    CARD_STATUS_LABELS,
    ROLE_LABELS,
    Card,
    CardStatus,
    Community,
    LedgerEntry,
    Member,
    Merchant,
    Role,
)
from rewards.services import accounts, cards, ledger, merchants, reports, roster
from rewards.services.audit import Actor

OPERATOR = Actor.operator("cli")


class OperatorError(click.ClickException):
    """A refusal printed as ``错误：…`` on stderr, exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


@contextmanager
def operator_transaction() -> Iterator[Session]:
    """The command's one transaction: committed at the end, rolled back on any error."""
    session = db.session
    try:
        yield session
        session.commit()
    except DomainError as exc:
        session.rollback()
        raise OperatorError(exc.message) from exc
    except BaseException:
        session.rollback()
        raise


def _stderr() -> IO[str]:
    """Progress goes to stderr, so stdout carries only results (JSON, a token, a key)."""
    return sys.stderr


def _community(session: Session, code: str) -> Community:
    community = session.scalar(select(Community).where(Community.code == code.strip().upper()))
    if community is None:
        raise NotFound(f"找不到社区 {code}（社区代码形如 C01）。")
    return community


def _merchant(session: Session, code: str) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.code == code.strip().upper()))
    if merchant is None:
        raise NotFound(f"找不到商家 {code}（商家代码形如 M001）。")
    return merchant


def _member(session: Session, member_no: str) -> Member:
    member = session.scalar(select(Member).where(Member.member_no == member_no.strip().upper()))
    if member is None:
        raise NotFound(f"找不到党员编号 {member_no}。")
    return member


def _card(session: Session, text: str) -> Card:
    number = cards.normalise_card_number(text)
    if number is None or not cards.is_valid_card_number(number):
        raise NotFound(f"「{text}」不是有效的 12 位卡号（请核对校验位）。")
    card = session.scalar(select(Card).where(Card.card_no == number))
    if card is None:
        raise NotFound(f"查无卡号 {cards.format_card_number(number)}。")
    return card


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: object, width: int, right: bool = False) -> str:
    text = str(text)
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


# -- seed-demo -------------------------------------------------------------------------------


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
                click.echo(f"  {_pad(role_label, 10)}{username}")
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
            file=_stderr(),
            item_show_func=lambda stage: stage,
        ) as bar,
    ):
        summary = demo.seed_demo(
            session,
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
        "",
        f"在 {summary['checkout']['merchant']['code']} {summary['checkout']['merchant']['name']}"
        " 结算时各种结果的卡号：",
    ]
    for outcome, number in summary["checkout"]["outcomes"].items():
        lines.append(f"  {_pad(outcome, 16)}{cards.format_card_number(number)}")
    lines += ["", f"登录账号（密码均为 {summary['password']}）："]
    for login in summary["logins"]:
        label = ROLE_LABELS[Role(login["role"])]
        lines.append(f"  {_pad(label, 10)}{_pad(login['username'], 16)}{login['scope']}")
    click.echo("\n".join(lines))


# -- users ------------------------------------------------------------------------------------

users = AppGroup("users", help="Sign-in accounts (账号).")


@users.command("create")
@click.option("--username", required=True, help="登录名：3–40 位字母、数字、_ . -")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="账号角色。"
)
@click.option("--community", "community_code", help="社区代码（社区书记账号）。")
@click.option("--merchant", "merchant_code", help="商家代码（店长、收银员账号）。")
@click.option("--member-no", help="党员编号（党员账号）。")
@click.option("--name", "display_name", default="", help="显示的姓名。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）。")
def create_user(
    username: str,
    role: str,
    community_code: str | None,
    merchant_code: str | None,
    member_no: str | None,
    display_name: str,
    password_stdin: bool,
) -> None:
    """Create a sign-in account of any role."""
    chosen = Role(role)
    scopes = {
        "--community": (community_code, {Role.SECRETARY}),
        "--merchant": (merchant_code, {Role.CASHIER, Role.MERCHANT_MANAGER}),
        "--member-no": (member_no, {Role.MEMBER}),
    }
    for option, (value, roles) in scopes.items():
        if value and chosen not in roles:
            raise OperatorError(f"{option} 不适用于 {chosen.value} 账号。")
        if not value and chosen in roles:
            raise OperatorError(f"{chosen.value} 账号需要 {option}。")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "密码", hide_input=True, confirmation_prompt="再输入一次密码", err=True
        )
    with operator_transaction() as session:
        account = accounts.create_account(
            session,
            OPERATOR,
            username=username,
            password=password,
            role=chosen,
            display_name=display_name,
            community_id=_community(session, community_code).id if community_code else None,
            merchant_id=_merchant(session, merchant_code).id if merchant_code else None,
            member_id=_member(session, member_no).id if member_no else None,
        )
        created = f"已创建账号 {account.username}（{ROLE_LABELS[chosen]}，id {account.id}）。"
    click.echo(created)


# -- roster -----------------------------------------------------------------------------------

roster_group = AppGroup("roster", help="Community rosters (党员名册).")


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "community_code", required=True, help="社区代码，例如 C01。")
def import_roster_command(file: Path, community_code: str) -> None:
    """Import a roster CSV (member_no, name, phone, joined_on[, employer]) into a community.

    Every row is checked first; if any row is wrong, all problems are listed and nothing is
    imported. UTF-8 (with or without BOM) and GBK files are accepted.
    """
    parsed = roster.parse_roster(file.read_bytes())
    with operator_transaction() as session:
        community = _community(session, community_code)
        try:
            with click.progressbar(
                length=max(1, len(parsed.rows)), label="导入名册", file=_stderr()
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


# -- cards ------------------------------------------------------------------------------------

cards_group = AppGroup("cards", help="Cards (动力卡).")


@cards_group.command("issue")
@click.option("--member-no", help="为这名党员发卡。")
@click.option("--community", "community_code", help="社区代码（与 --eligible 一起用）。")
@click.option("--eligible", is_flag=True, help="为社区内银卡及以上、尚无在用卡的党员发卡。")
def issue_cards_command(member_no: str | None, community_code: str | None, eligible: bool) -> None:
    """Issue one card (--member-no), or cards to a community's eligible members without one."""
    if member_no and (community_code or eligible):
        raise OperatorError("--member-no 不能与 --community/--eligible 同时使用。")
    if not member_no and not (community_code and eligible):
        raise OperatorError("请指定 --member-no NO，或 --community CODE --eligible。")
    issued: list[tuple[str, str, str]] = []
    with operator_transaction() as session:
        if member_no:
            member = _member(session, member_no)
            card = cards.issue_card(session, OPERATOR, member.id)
            issued.append((member.member_no, member.name, card.card_no))
        else:
            community = _community(session, community_code or "")
            waiting = reports.members_awaiting_cards(session, community.id)
            with click.progressbar(waiting, label="发卡", file=_stderr()) as bar:
                for member in bar:
                    card = cards.issue_card(session, OPERATOR, member.id)
                    issued.append((member.member_no, member.name, card.card_no))
    for number, name, card_no in issued:
        click.echo(f"{number}  {_pad(name, 10)}  {cards.format_card_number(card_no)}")
    click.echo(f"共发卡 {len(issued)} 张。")


@cards_group.command("token")
@click.argument("card_number")
@click.option("--printed", is_flag=True, help="打印实体卡上的静态卡码（默认：手机卡码）。")
def card_token_command(card_number: str, printed: bool) -> None:
    """Print a valid token for a card, alone on the last line (support and testing)."""
    tokens: cards.CardTokens = current_app.extensions["rewards.card_tokens"]
    with operator_transaction() as session:
        card = _card(session, card_number)
        if card.status is not CardStatus.ACTIVE:
            click.echo(
                f"注意：此卡状态为「{CARD_STATUS_LABELS[card.status]}」，结算时会被拒绝。",
                err=True,
            )
        if printed:
            token = tokens.printed_token(card)
            about = (
                f"卡 {cards.format_card_number(card.card_no)} 的实体卡码"
                f"（第 {card.generation} 代，补办或注销后失效）："
            )
        else:
            token, expires = tokens.phone_token(card)
            about = (
                f"卡 {cards.format_card_number(card.card_no)} 的手机卡码，"
                f"{expires.astimezone(BUSINESS_TZ):%H:%M:%S}（北京时间）前有效，只能使用一次："
            )
    click.echo(about)
    click.echo(token)


# -- merchants --------------------------------------------------------------------------------

merchants_group = AppGroup("merchants", help="Alliance merchants (联盟商家).")


@merchants_group.command("api-key")
@click.argument("merchant_code")
@click.option("--label", default="命令行创建", show_default=True, help="密钥名称，如“1号收银台”。")
def api_key_command(merchant_code: str, label: str) -> None:
    """Create a POS API key for a merchant and print it once, alone on the last line."""
    with operator_transaction() as session:
        merchant = _merchant(session, merchant_code)
        api_key, key = merchants.create_api_key(session, OPERATOR, merchant.id, label)
        about = (
            f"已为 {merchant.code} {merchant.name} 创建 POS 密钥「{api_key.label}」"
            f"（前缀 {api_key.prefix}）。密钥只显示这一次，请立即保存："
        )
    click.echo(about)
    click.echo(key)


# -- ledger -----------------------------------------------------------------------------------

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


# -- stats ------------------------------------------------------------------------------------


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
            _pad(cell, width, right=i > 0)
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


# -- wiring -----------------------------------------------------------------------------------


def register_commands(app: Flask) -> None:
    """Attach the operator commands to the app's CLI."""
    for command in (
        seed_demo_command,
        users,
        roster_group,
        cards_group,
        merchants_group,
        ledger_group,
        stats_command,
    ):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the ``rewards`` console script."""
    from rewards import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="红色动力双赢卡 operator commands.")
    cli(prog_name="rewards")
