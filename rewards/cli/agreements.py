"""``rewards agreements``: development agreements (发展协议), signed, amended and ended as the
operator (district-wide; the audit log records ``cli``). Versions are never edited."""

from __future__ import annotations

from datetime import date, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from rewards.cli import (
    OPERATOR,
    OperatorError,
    community_by_code,
    merchant_by_code,
    operator_transaction,
    pad,
    parse_date,
)
from rewards.errors import DomainError
from rewards.models import Agreement, AgreementVersion, Merchant
from rewards.money import format_fen, format_zhe, parse_yuan
from rewards.services import agreements
from rewards.services.agreements import EXPIRING_WITHIN_DAYS, TermsInput
from rewards.services.paging import MAX_PAGE_SIZE

agreements_group = AppGroup("agreements", help="Development agreements (发展协议).")

NONE_WORDS = ("none", "no", "0", "不限", "长期")


# -- reading the options ------------------------------------------------------------------------


def _yuan(text: str | None, option: str) -> int | None:
    """An amount in yuan typed for ``option`` (50 or 50.00) in fen; "none" or 0 is none."""
    if text is None or text.strip().lower() in NONE_WORDS or text.strip() in ("0.00", "0.0"):
        return None
    try:
        return parse_yuan(text)
    except DomainError as exc:
        raise OperatorError(f"{option}：{exc.message}") from None


def _zhe(text: str | None, option: str) -> int | None:
    """A discount typed for ``option`` as the share paid (88 is 88折), or None if not given."""
    if text is None:
        return None
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise OperatorError(f"{option} 应为 1 到 100 的整数：88 表示 88折，9折请写 90。")
    return int(text.strip())


def _until(text: str | None) -> date | None:
    if text is None or text.strip().lower() in NONE_WORDS:
        return None
    return parse_date(text, "--until")


def _targets(session: Session, codes: tuple[str, ...], everyone: bool) -> list[int] | None:
    """The communities named with --community (several, or comma-separated), or None for --all."""
    names = [code for text in codes for code in text.replace("，", ",").split(",") if code.strip()]
    if everyone == bool(names):
        raise OperatorError(
            "请用 --community C01（可重复）指定社区，或用 --all 表示全部社区，二者选一。"
        )
    return None if everyone else [community_by_code(session, code).id for code in names]


def _agreement(session: Session, merchant: Merchant, code: str | None, everyone: bool) -> Agreement:
    """The agreement to change: the merchant's with one community (--community) or all (--all)."""
    if everyone == bool(code):
        raise OperatorError("请用 --community C01 指定社区，或用 --all 表示区级协议，二者选一。")
    community_id = None if everyone else community_by_code(session, code or "").id
    return agreements.agreement_between(session, merchant.id, community_id)


def _describe(version: AgreementVersion) -> str:
    """A version in one line: its number, 折 per tier, cap, minimum and validity."""
    cap = f"¥{format_fen(version.cap_fen)}" if version.cap_fen else "不限"
    minimum = f"¥{format_fen(version.min_spend_fen)}" if version.min_spend_fen else "不限"
    until = version.valid_until.isoformat() if version.valid_until else "长期"
    return (
        f"第 {version.version} 版：金卡 {format_zhe(version.gold_pay_percent)}，"
        f"银卡 {format_zhe(version.silver_pay_percent)}，单笔上限 {cap}，最低消费 {minimum}，"
        f"{version.valid_from.isoformat()} 至 {until}"
    )


def _scope(agreement: Agreement) -> str:
    community = agreement.community
    return f"{community.code} {community.name}" if community else "全部社区"


def _merchant_option(command):  # type: ignore[no-untyped-def]
    return click.option("--merchant", "merchant_code", required=True, help="商家代码，如 M001。")(
        command
    )


# -- the commands ---------------------------------------------------------------------------


@agreements_group.command("sign")
@_merchant_option
@click.option(
    "--community", "community_codes", multiple=True, help="社区代码，可重复或用逗号分隔。"
)
@click.option("--all", "everyone", is_flag=True, help="区级协议：适用于全部社区（一份）。")
@click.option("--gold", required=True, help="金卡折扣：实收百分比，88 表示 88折。")
@click.option("--silver", required=True, help="银卡折扣：实收百分比，95 表示 95折。")
@click.option("--cap", help="单笔优惠上限（元），如 50.00；不填为不限。")
@click.option("--min-spend", "min_spend", help="最低消费（元），如 10.00；不填为不限。")
@click.option("--from", "valid_from", required=True, metavar="YYYY-MM-DD", help="生效日期。")
@click.option(
    "--until", "valid_until", metavar="YYYY-MM-DD", help="截止日期（含当天）；不填为长期。"
)
@click.option("--note", default="", help="备注。")
def sign_command(
    merchant_code: str,
    community_codes: tuple[str, ...],
    everyone: bool,
    gold: str,
    silver: str,
    cap: str | None,
    min_spend: str | None,
    valid_from: str,
    valid_until: str | None,
    note: str,
) -> None:
    """Sign a merchant's new agreements: one per --community, or one for --all communities."""
    terms = TermsInput(
        _zhe(gold, "--gold") or 0,
        _zhe(silver, "--silver") or 0,
        parse_date(valid_from, "--from"),
        _until(valid_until),
        _yuan(cap, "--cap"),
        _yuan(min_spend, "--min-spend") or 0,
        note.strip(),
    )
    with operator_transaction() as session:
        merchant = merchant_by_code(session, merchant_code)
        targets = _targets(session, community_codes, everyone)
        versions = agreements.sign_agreements(session, OPERATOR, merchant.id, targets, terms)
        lines = [f"已签订 {_scope(v.agreement)}：{_describe(v)}" for v in versions]
        about = f"{merchant.code} {merchant.name}：共签订 {len(versions)} 份协议。"
    click.echo(about)
    for line in lines:
        click.echo(line)


@agreements_group.command("amend")
@_merchant_option
@click.option("--community", "community_code", help="社区代码，如 C01。")
@click.option("--all", "everyone", is_flag=True, help="修订区级协议（全部社区）。")
@click.option("--gold", help="金卡折扣（不填：沿用最新版本）。")
@click.option("--silver", help="银卡折扣（不填：沿用最新版本）。")
@click.option("--cap", help="单笔优惠上限（元）；none 表示不限；不填：沿用。")
@click.option("--min-spend", "min_spend", help="最低消费（元）；0 表示不限；不填：沿用。")
@click.option("--from", "valid_from", required=True, metavar="YYYY-MM-DD", help="新版本生效日期。")
@click.option(
    "--until", "valid_until", metavar="YYYY-MM-DD", help="截止日期；none 表示长期；不填：沿用。"
)
@click.option("--note", default="", help="备注，如“续签”。")
def amend_command(
    merchant_code: str,
    community_code: str | None,
    everyone: bool,
    gold: str | None,
    silver: str | None,
    cap: str | None,
    min_spend: str | None,
    valid_from: str,
    valid_until: str | None,
    note: str,
) -> None:
    """Amend an agreement: a new version from --from (today or later); terms not given are kept
    from the newest version. Sales already made keep their terms."""
    start = parse_date(valid_from, "--from")
    gold_percent, silver_percent = _zhe(gold, "--gold"), _zhe(silver, "--silver")
    with operator_transaction() as session:
        merchant = merchant_by_code(session, merchant_code)
        agreement = _agreement(session, merchant, community_code, everyone)
        newest = agreement.versions[-1]
        kept_until = (
            newest.valid_until if newest.valid_until and newest.valid_until >= start else None
        )
        terms = TermsInput(
            newest.gold_pay_percent if gold_percent is None else gold_percent,
            newest.silver_pay_percent if silver_percent is None else silver_percent,
            start,
            _until(valid_until) if valid_until is not None else kept_until,
            _yuan(cap, "--cap") if cap is not None else newest.cap_fen,
            (_yuan(min_spend, "--min-spend") or 0)
            if min_spend is not None
            else newest.min_spend_fen,
            note.strip(),
        )
        version = agreements.amend_agreement(session, OPERATOR, agreement.id, terms)
        done = (
            f"已修订 {merchant.code} {merchant.name} · {_scope(agreement)}：{_describe(version)}。"
        )
    click.echo(done)
    click.echo("此前的结算保留原来的条款。")


@agreements_group.command("end")
@_merchant_option
@click.option("--community", "community_code", help="社区代码，如 C01。")
@click.option("--all", "everyone", is_flag=True, help="终止区级协议（全部社区）。")
@click.option(
    "--on", "last_day", required=True, metavar="YYYY-MM-DD", help="最后有效日（当天仍优惠）。"
)
@click.option("--note", default="", help="备注，如终止的原因。")
def end_command(
    merchant_code: str, community_code: str | None, everyone: bool, last_day: str, note: str
) -> None:
    """End an agreement on a date: a new version whose cover stops that day."""
    day = parse_date(last_day, "--on")
    with operator_transaction() as session:
        merchant = merchant_by_code(session, merchant_code)
        agreement = _agreement(session, merchant, community_code, everyone)
        version = agreements.end_agreement(session, OPERATOR, agreement.id, day, note)
        done = (
            f"{merchant.code} {merchant.name} · {_scope(agreement)} 的协议将于 {day.isoformat()} "
            f"终止（当天仍优惠，{(day + timedelta(days=1)).isoformat()} 起不再优惠），"
            f"记为第 {version.version} 版。"
        )
    click.echo(done)


@agreements_group.command("list")
@click.option("--merchant", "merchant_code", help="只列这个商家的协议。")
@click.option("--community", "community_code", help="只列覆盖这个社区的协议（含区级协议）。")
@click.option(
    "--expiring",
    type=int,
    metavar="DAYS",
    help=f"只列这些天内到期的协议（如 {EXPIRING_WITHIN_DAYS}）。",
)
def list_command(
    merchant_code: str | None, community_code: str | None, expiring: int | None
) -> None:
    """Agreements with the terms in force today (or those about to run out)."""
    with operator_transaction() as session:
        if expiring is not None:
            if merchant_code or community_code:
                raise OperatorError("--expiring 不能与 --merchant/--community 同时使用。")
            standings = _all_pages(
                lambda page: agreements.expiring_agreements(
                    session, OPERATOR, within_days=expiring, page=page, page_size=MAX_PAGE_SIZE
                )
            )
        else:
            merchant = merchant_by_code(session, merchant_code) if merchant_code else None
            community = community_by_code(session, community_code) if community_code else None
            standings = _all_pages(
                lambda page: agreements.list_agreements(
                    session,
                    OPERATOR,
                    merchant_id=merchant.id if merchant else None,
                    community_id=community.id if community else None,
                    page=page,
                    page_size=MAX_PAGE_SIZE,
                )
            )
        lines = [_line(s) for s in standings]
    for line in lines:
        click.echo(line)
    click.echo(f"共 {len(lines)} 份协议。")


def _all_pages(fetch):  # type: ignore[no-untyped-def]
    """Every item of a paged list, page after page."""
    page, items = 1, []
    while True:
        found = fetch(page)
        items.extend(found.items)
        if page >= found.pages:
            return items
        page += 1


def _line(standing: agreements.AgreementStanding) -> str:
    agreement = standing.agreement
    merchant = agreement.merchant
    head = pad(f"{merchant.code} {merchant.name}", 24) + pad(_scope(agreement), 16)
    if standing.current is None:
        state = "未生效" if standing.status == "upcoming" else "已终止"
        return f"{head}{state}（最新{_describe(standing.versions[-1])}）"
    until = f"，{standing.ends_on.isoformat()} 到期" if standing.ends_on else ""
    return f"{head}{_describe(standing.current)}{until}"
