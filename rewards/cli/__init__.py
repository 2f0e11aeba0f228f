"""The operator CLI: ``rewards`` (a Flask CLI group, so ``rewards db upgrade`` and ``rewards run``
work too). One module per command group; this module holds what they share.

The set-up commands (seed-demo, users, roster, cards issue/token, merchants, ledger, stats,
backup, restore) act as the operator (``Actor.operator("cli")``). The workbench commands (claims,
activities, the card lifecycle) act as a named account given with ``--as USERNAME``, an enabled
secretary or district administrator, so that account's scope applies and the audit log names the
person.

Every command commits once at the end; on bad input it changes nothing and exits with code 1 and
a message saying what to fix.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import IO, Any, TypeVar

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.models import ROLE_LABELS, Account, Card, Community, Member, Merchant, Role
from rewards.services import communities
from rewards.services.audit import Actor, require_community
from rewards.services.cards import (
    format_card_number,
    is_valid_card_number,
    normalise_card_number,
)

OPERATOR = Actor.operator("cli")
# The accounts a workbench command may act as (--as): those who certify and keep cards.
WORKBENCH_ROLES = (Role.SECRETARY, Role.DISTRICT_ADMIN)

F = TypeVar("F", bound=Callable[..., Any])


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


def progress_file() -> IO[str]:
    """Progress goes to stderr, so stdout carries only results (JSON, a token, a key)."""
    return sys.stderr


# -- acting as a named account (--as) ---------------------------------------------------------


def as_account_option(command: F) -> F:
    """The ``--as USERNAME`` option of a workbench command (checked by ``acting_actor``)."""
    return click.option(
        "--as",
        "as_username",
        metavar="USERNAME",
        help="必填：以这个社区书记或区管理员账号的身份操作（按其权限范围，审计日志记下此人）。",
    )(command)


def acting_actor(session: Session, username: str | None) -> Actor:
    """The actor behind ``--as``: an enabled secretary or district administrator account."""
    username = (username or "").strip()
    if not username:
        raise OperatorError(
            "请用 --as 用户名 指明以哪个社区书记或区管理员账号操作（审计日志会记下此人）。"
        )
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise OperatorError(f"找不到账号「{username}」。")
    if not account.is_enabled:
        raise OperatorError(f"账号「{username}」已停用，不能用它操作。")
    if account.role not in WORKBENCH_ROLES:
        raise OperatorError(
            f"账号「{username}」是{ROLE_LABELS[account.role]}账号；"
            "只有社区书记或区管理员账号能执行此操作。"
        )
    return Actor.for_account(account)


# -- lookups by the codes people type ---------------------------------------------------------


def community_by_code(session: Session, code: str) -> Community:
    """The community with this code (C01), or a refusal."""
    return communities.community_by_code(session, code, f"找不到社区 {code}（社区代码形如 C01）。")


def merchant_by_code(session: Session, code: str) -> Merchant:
    """The merchant with this code (M001), or a refusal."""
    merchant = session.scalar(select(Merchant).where(Merchant.code == code.strip().upper()))
    if merchant is None:
        raise NotFound(f"找不到商家 {code}（商家代码形如 M001）。")
    return merchant


def member_by_number(session: Session, member_no: str) -> Member:
    """The member with this member number, or a refusal."""
    member = session.scalar(select(Member).where(Member.member_no == member_no.strip().upper()))
    if member is None:
        raise NotFound(f"找不到党员编号 {member_no}。")
    return member


def card_by_number(session: Session, text: str) -> Card:
    """The card with this 12-digit number (spaces allowed), or a refusal."""
    number = normalise_card_number(text)
    if number is None or not is_valid_card_number(number):
        raise NotFound(f"「{text}」不是有效的 12 位卡号（请核对校验位）。")
    card = session.scalar(select(Card).where(Card.card_no == number))
    if card is None:
        raise NotFound(f"查无卡号 {format_card_number(number)}。")
    return card


def card_in_reach(session: Session, actor: Actor, text: str) -> Card:
    """A card the actor may act on; another community's card reads exactly like an unknown one."""
    card = card_by_number(session, text)
    missing = f"查无卡号 {format_card_number(card.card_no)}。"
    require_community(actor, card.member.community_id, missing)
    return card


def parse_date(text: str, option: str) -> date:
    """A YYYY-MM-DD date typed for ``option``, or a refusal naming the option."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise OperatorError(f"{option} 应为 YYYY-MM-DD 格式的日期，例如 2026-02-28。") from None


# -- tables in a terminal ---------------------------------------------------------------------


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: object, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns, left- or right-aligned."""
    text = str(text)
    fill = " " * max(0, width - text_width(text))
    return fill + text if right else text + fill


# -- wiring -----------------------------------------------------------------------------------


def register_commands(app: Flask) -> None:
    """Attach the operator commands to the app's CLI."""
    # Imported here: each command module imports the helpers above from this package.
    from rewards.cli import (
        activities,
        agreements,
        backup,
        cards,
        claims,
        demo,
        ledger,
        merchants,
        roster,
        stats,
        tiers,
        users,
    )

    for command in (
        demo.seed_demo_command,
        users.users_group,
        roster.roster_group,
        cards.cards_group,
        merchants.merchants_group,
        ledger.ledger_group,
        stats.stats_command,
        claims.claims_group,
        activities.activities_group,
        agreements.agreements_group,
        tiers.tiers_group,
        backup.backup_command,
        backup.restore_command,
    ):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the ``rewards`` console script."""
    from rewards import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="红色动力双赢卡 operator commands.")
    cli(prog_name="rewards")
