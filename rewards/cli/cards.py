"""``rewards cards``: cards (动力卡): issue, tokens, and the lifecycle as a named account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from rewards.cli import (
    OPERATOR,
    OperatorError,
    acting_actor,
    as_account_option,
    card_by_number,
    card_in_reach,
    community_by_code,
    member_by_number,
    operator_transaction,
    pad,
    progress_file,
)
from rewards.clock import BUSINESS_TZ
from rewards.models import CARD_STATUS_LABELS, Card, CardStatus
from rewards.services import cards, reports
from rewards.services.audit import Actor

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
            member = member_by_number(session, member_no)
            card = cards.issue_card(session, OPERATOR, member.id)
            issued.append((member.member_no, member.name, card.card_no))
        else:
            community = community_by_code(session, community_code or "")
            waiting = reports.members_awaiting_cards(session, community.id)
            with click.progressbar(waiting, label="发卡", file=progress_file()) as bar:
                for member in bar:
                    card = cards.issue_card(session, OPERATOR, member.id)
                    issued.append((member.member_no, member.name, card.card_no))
    for number, name, card_no in issued:
        click.echo(f"{number}  {pad(name, 10)}  {cards.format_card_number(card_no)}")
    click.echo(f"共发卡 {len(issued)} 张。")


@cards_group.command("token")
@click.argument("card_number")
@click.option("--printed", is_flag=True, help="打印实体卡上的静态卡码（默认：手机卡码）。")
def card_token_command(card_number: str, printed: bool) -> None:
    """Print a valid token for a card, alone on the last line (support and testing)."""
    tokens: cards.CardTokens = current_app.extensions["rewards.card_tokens"]
    with operator_transaction() as session:
        card = card_by_number(session, card_number)
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


# -- the lifecycle, as a named account (--as) -------------------------------------------------

CardChange = Callable[[Session, Actor, int, str, datetime | None], Card]


@dataclass(frozen=True)
class Lifecycle:
    """One lifecycle command: the service it calls and what it says when done."""

    name: str
    change: CardChange
    verb: str  # 暂停, 恢复 …: the word in the reason prompt and the result line
    after: str  # what the operator should know once it is done
    help: str


LIFECYCLE = (
    Lifecycle(
        "suspend",
        cards.suspend_card,
        "暂停",
        "商家结算时会拒绝此卡，直到恢复（rewards cards resume）。",
        "Suspend a card (暂停): merchants refuse it until it is resumed.",
    ),
    Lifecycle(
        "resume",
        cards.resume_card,
        "恢复",
        "此卡可以重新使用。",
        "Lift a card's suspension (恢复).",
    ),
    Lifecycle(
        "revoke",
        cards.revoke_card,
        "注销",
        "此卡及其所有卡码永久作废，不能恢复；需要时可为党员重新发卡。",
        "Revoke a card for good (注销).",
    ),
    Lifecycle(
        "reissue",
        cards.reissue_card,
        "补办",
        "旧卡及其所有卡码已作废。",
        "Replace a lost or damaged card (补办) and print the new number, alone on the last line.",
    ),
)


def _lifecycle_command(step: Lifecycle) -> None:
    @cards_group.command(step.name, help=step.help)
    @click.argument("card_number")
    @click.option("--reason", default="", help=f"{step.verb}的原因（必填，记入审计日志）。")
    @as_account_option
    def command(card_number: str, reason: str, as_username: str | None) -> None:
        with operator_transaction() as session:
            actor = acting_actor(session, as_username)
            if not reason.strip():
                raise OperatorError(f"请用 --reason 写明{step.verb}的原因（记入审计日志）。")
            card = card_in_reach(session, actor, card_number)
            old_number = cards.format_card_number(card.card_no)
            member = card.member
            result = step.change(session, actor, card.id, reason, None)
            done = (
                f"已{step.verb}卡 {old_number}（{member.name}，{member.member_no}）。{step.after}"
            )
            new_number = result.card_no if result.id != card.id else None
        if new_number is None:
            click.echo(done)
            return
        click.echo(f"{done}新卡号 {cards.format_card_number(new_number)}：")
        click.echo(new_number)


for _step in LIFECYCLE:
    _lifecycle_command(_step)
