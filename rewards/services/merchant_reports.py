"""A merchant's back office, read-only (商家后台): staff, POS keys, sales summaries, the rows
of the sales export (CSV and .xlsx, written by ``rewards.spreadsheets``).

Every function is scoped to one merchant; voided sales never count in a summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, extract, func, select
from sqlalchemy.orm import Session, aliased

from rewards.errors import Forbidden, ValidationFailed
from rewards.models import (
    TIER_LABELS,
    Account,
    ApiKey,
    Card,
    Community,
    Member,
    Merchant,
    Redemption,
    RedemptionStatus,
    Role,
    mask_name,
)
from rewards.money import format_zhe
from rewards.services.audit import Actor, require_merchant, require_role
from rewards.spreadsheets import Column, Kind

# A year and a day: a full year's export, whatever the leap years.
MAX_EXPORT_DAYS = 366

STATUS_LABELS = {RedemptionStatus.COMPLETED: "已完成", RedemptionStatus.VOIDED: "已撤销"}

# The sales export's columns, for both its CSV and its .xlsx (see ``export_rows``).
EXPORT_COLUMNS = (
    Column("结算单号", Kind.IDENTIFIER, width=18),
    Column("营业日期", Kind.DATE),
    Column("结算时间", Kind.DATETIME),
    Column("收银", Kind.TEXT, width=16),
    Column("卡号尾号", Kind.IDENTIFIER),
    Column("持卡人", Kind.TEXT),
    Column("所在社区", Kind.TEXT, width=20),
    Column("等级", Kind.TEXT, width=8),
    Column("折扣", Kind.TEXT, width=8),
    Column("消费金额(元)", Kind.AMOUNT_FEN),
    Column("优惠金额(元)", Kind.AMOUNT_FEN),
    Column("实收金额(元)", Kind.AMOUNT_FEN),
    Column("状态", Kind.TEXT, width=8),
    Column("撤销原因", Kind.TEXT, width=30),
)


@dataclass(frozen=True)
class SalesSummary:
    """Card sales of one period (a day or a month): totals in fen, count, distinct card holders."""

    period: date
    sales_fen: int = 0
    discount_fen: int = 0
    payable_fen: int = 0
    sales_count: int = 0
    card_holders: int = 0


def _scope(actor: Actor, merchant_id: int) -> None:
    require_role(actor, Role.MERCHANT_MANAGER, Role.DISTRICT_ADMIN)
    require_merchant(actor, merchant_id)


def _aggregates() -> tuple[ColumnElement[int], ...]:
    return (
        func.coalesce(func.sum(Redemption.amount_fen), 0),
        func.coalesce(func.sum(Redemption.discount_fen), 0),
        func.coalesce(func.sum(Redemption.payable_fen), 0),
        func.count(Redemption.id),
        func.count(func.distinct(Redemption.member_id)),
    )


def _completed_between(merchant_id: int, first: date, last: date) -> list[ColumnElement[bool]]:
    return [
        Redemption.merchant_id == merchant_id,
        Redemption.status == RedemptionStatus.COMPLETED,
        Redemption.business_date >= first,
        Redemption.business_date <= last,
    ]


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of the month containing ``month``."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def period_summary(
    session: Session, actor: Actor, merchant_id: int, first: date, last: date
) -> SalesSummary:
    """Totals over ``first``..``last`` inclusive; card holders counted once over the whole span."""
    _scope(actor, merchant_id)
    row = session.execute(
        select(*_aggregates()).where(*_completed_between(merchant_id, first, last))
    ).one()
    return SalesSummary(first, *(int(value) for value in row))


def daily_summary(
    session: Session, actor: Actor, merchant_id: int, month: date
) -> list[SalesSummary]:
    """One summary per day of the month containing ``month`` (days without sales included)."""
    _scope(actor, merchant_id)
    first, last = month_bounds(month)
    rows = session.execute(
        select(Redemption.business_date, *_aggregates())
        .where(*_completed_between(merchant_id, first, last))
        .group_by(Redemption.business_date)
    ).all()
    found = {row[0]: SalesSummary(row[0], *(int(v) for v in row[1:])) for row in rows}
    days = (last - first).days + 1
    return [
        found.get(day, SalesSummary(day))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]


def monthly_summary(
    session: Session, actor: Actor, merchant_id: int, year: int
) -> list[SalesSummary]:
    """One summary per month of ``year`` (months without sales included)."""
    _scope(actor, merchant_id)
    month_of = extract("month", Redemption.business_date)
    rows = session.execute(
        select(month_of, *_aggregates())
        .where(*_completed_between(merchant_id, date(year, 1, 1), date(year, 12, 31)))
        .group_by(month_of)
    ).all()
    found = {int(row[0]): [int(v) for v in row[1:]] for row in rows}
    return [SalesSummary(date(year, month, 1), *found.get(month, [])) for month in range(1, 13)]


def cashier_sales_count(
    session: Session, actor: Actor, merchant_id: int, cashier_id: int, day: date
) -> int:
    """How many sales (not voided) a cashier recorded on a business day."""
    require_merchant(actor, merchant_id)
    return int(
        session.scalar(
            select(func.count(Redemption.id)).where(
                *_completed_between(merchant_id, day, day), Redemption.cashier_id == cashier_id
            )
        )
        or 0
    )


def merchant_of(session: Session, actor: Actor) -> Merchant:
    """The merchant the actor works for (its staff and keys reach only this one)."""
    merchant = session.get(Merchant, actor.merchant_id) if actor.merchant_id is not None else None
    if merchant is None:
        raise Forbidden("只有商家的收银员和店长可以使用商家页面。")
    return merchant


def staff_of_merchant(session: Session, actor: Actor, merchant_id: int) -> list[Account]:
    """The merchant's sign-in accounts (店员): managers first, then cashiers by name."""
    _scope(actor, merchant_id)
    return list(
        session.scalars(
            select(Account)
            .where(Account.merchant_id == merchant_id)
            .order_by(Account.role != Role.MERCHANT_MANAGER, Account.display_name, Account.id)
        )
    )


def api_keys_of_merchant(session: Session, actor: Actor, merchant_id: int) -> list[ApiKey]:
    """The merchant's POS API keys, live ones first, newest first."""
    _scope(actor, merchant_id)
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.merchant_id == merchant_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def check_export_range(first: date, last: date) -> None:
    """Refuse a reversed range or one longer than a year."""
    if first > last:
        raise ValidationFailed("开始日期不能晚于结束日期。")
    if (last - first).days + 1 > MAX_EXPORT_DAYS:
        raise ValidationFailed(f"一次最多导出 {MAX_EXPORT_DAYS} 天的记录，请缩小日期范围。")


def export_rows(
    session: Session, actor: Actor, merchant_id: int, first: date, last: date
) -> Iterator[tuple[Any, ...]]:
    """The export's rows, oldest first, voided sales included and marked: typed values in the
    order of EXPORT_COLUMNS (amounts in fen, the sale's instant as stored)."""
    _scope(actor, merchant_id)
    check_export_range(first, last)
    cashier = aliased(Account)
    query = (
        select(
            Redemption,
            Card.card_no,
            cashier.display_name,
            ApiKey.label,
            Member.name,
            Community.name,
        )
        .join(Card, Card.id == Redemption.card_id)
        .join(Member, Member.id == Redemption.member_id)
        .join(Community, Community.id == Member.community_id)
        .outerjoin(cashier, cashier.id == Redemption.cashier_id)
        .outerjoin(ApiKey, ApiKey.id == Redemption.api_key_id)
        .where(
            Redemption.merchant_id == merchant_id,
            Redemption.business_date >= first,
            Redemption.business_date <= last,
        )
        .order_by(Redemption.created_at, Redemption.id)
    )
    for r, card_no, cashier_name, key_label, member_name, community_name in session.execute(
        query.execution_options(yield_per=500)
    ):
        till = cashier_name or (f"POS：{key_label}" if key_label else "")
        yield (
            r.number,
            r.business_date,
            r.created_at,
            till,
            card_no[-4:],
            mask_name(member_name),
            community_name,
            TIER_LABELS[r.tier],
            format_zhe(r.pay_percent),
            r.amount_fen,
            r.discount_fen,
            r.payable_fen,
            STATUS_LABELS[r.status],
            r.void_reason or "",
        )
