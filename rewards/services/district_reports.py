"""District statistics (全区统计) for the district administrator: tier distribution, points
certified per month, claim turnaround (认定时效) and card use at merchants (刷卡消费), per
community and per merchant, with the columns and rows of their downloads (CSV and .xlsx, written
by ``rewards.spreadsheets``).

Read-only. Every figure is grouped in SQL (one grouped query per figure, no per-member loop),
except the median turnaround: SQLite has no percentile function, so the decision durations of
the period are fetched (bounded by the period) and their median taken in Python.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, extract, func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, business_day_bounds, utcnow
from rewards.errors import ValidationFailed
from rewards.models import (
    Claim,
    ClaimStatus,
    Community,
    EntryKind,
    LedgerEntry,
    Member,
    Merchant,
    Redemption,
    RedemptionStatus,
    Role,
)
from rewards.services import reports
from rewards.services.audit import Actor, require_role
from rewards.services.merchant_reports import MAX_EXPORT_DAYS
from rewards.spreadsheets import Column, Kind

MONTHS = tuple(range(1, 13))
SECONDS_PER_DAY = 86_400
# The district's own row in every table, after the communities.
DISTRICT_CODE, DISTRICT_NAME = "ALL", "全区合计"
# The points chart's stacking order: what earns first, the corrections after.
ENTRY_KIND_ORDER = (
    EntryKind.AWARD,
    EntryKind.ATTENDANCE,
    EntryKind.ADJUSTMENT,
    EntryKind.REVERSAL,
)
ENTRY_KIND_LABELS = {
    EntryKind.AWARD: "认定申报",
    EntryKind.ATTENDANCE: "活动签到",
    EntryKind.ADJUSTMENT: "积分调整",
    EntryKind.REVERSAL: "冲正",
}


def _scope(actor: Actor) -> None:
    require_role(actor, Role.DISTRICT_ADMIN)


def _communities(session: Session) -> list[Community]:
    return list(session.scalars(select(Community).order_by(Community.code)))


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _days(seconds: float) -> float:
    return seconds / SECONDS_PER_DAY


def _days_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """Days from ``start`` to ``end`` worked out by the database, not per row in Python (a
    year's claims read as timestamps cost a second at the demo's size): SQLite by julianday,
    PostgreSQL by the interval's seconds."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return extract("epoch", end - start) / SECONDS_PER_DAY


# -- 1. tier distribution -----------------------------------------------------------------------

# The code (an identifier, "ALL" for the district) and name of a community, first in its rows.
COMMUNITY = (Column("社区代码", Kind.IDENTIFIER), Column("社区", Kind.TEXT, width=20))

TIER_COLUMNS = (
    *COMMUNITY,
    Column("在册党员", Kind.COUNT),
    Column("金卡等级", Kind.COUNT),
    Column("银卡等级", Kind.COUNT),
    Column("未达银卡", Kind.COUNT),
)


def tier_distribution(
    session: Session, actor: Actor, at: datetime | None = None
) -> reports.DistrictStatistics:
    """Active members per community by live tier at ``at`` (default now): gold, silver, below."""
    _scope(actor)
    return reports.community_statistics(session, at)


def tier_rows(figures: reports.DistrictStatistics) -> Iterator[tuple[Any, ...]]:
    """The tier table's rows (TIER_COLUMNS), the district's total last."""
    for row in [*figures.communities, figures.district]:
        name = DISTRICT_NAME if row.code == "ALL" else row.name
        tiers = row.members_by_tier
        yield (row.code, name, row.members, tiers.gold, tiers.silver, tiers.none)


# -- 2. points certified per month --------------------------------------------------------------


@dataclass
class MonthlyPoints:
    """Net points of one community (or the district) per month of service date (1 … 12)."""

    code: str
    name: str
    months: list[int] = field(default_factory=lambda: [0] * 12)

    @property
    def total(self) -> int:
        return sum(self.months)


@dataclass(frozen=True)
class PointsByMonth:
    """A year's points per community and month, and the district's months by entry kind."""

    year: int
    communities: list[MonthlyPoints]
    district: MonthlyPoints
    by_kind: dict[EntryKind, list[int]]


def points_by_month(session: Session, actor: Actor, year: int) -> PointsByMonth:
    """Net ledger points by month of service date (occurred_on) in ``year``, per community.

    Every entry counts: certified claims, activity attendance and adjustments, net of reversals
    (a reversal carries its original's service date, so it cancels in the same month). The
    community is the one that recorded the entry (the member's community at the time).
    """
    _scope(actor)
    first, last = _year_bounds(year)
    month_of = extract("month", LedgerEntry.occurred_on)
    rows = session.execute(
        select(LedgerEntry.community_id, LedgerEntry.kind, month_of, func.sum(LedgerEntry.points))
        .where(LedgerEntry.occurred_on >= first, LedgerEntry.occurred_on <= last)
        .group_by(LedgerEntry.community_id, LedgerEntry.kind, month_of)
    ).all()
    communities = {c.id: MonthlyPoints(c.code, c.name) for c in _communities(session)}
    district = MonthlyPoints(DISTRICT_CODE, DISTRICT_NAME)
    by_kind = {kind: [0] * 12 for kind in ENTRY_KIND_ORDER}
    for community_id, kind, month, points in rows:
        index, points = int(month) - 1, int(points or 0)
        communities[community_id].months[index] += points
        district.months[index] += points
        by_kind[EntryKind(kind)][index] += points
    return PointsByMonth(year, list(communities.values()), district, by_kind)


# Points per month and the year's total (whole numbers, negative for a net loss).
POINTS_MONTHS = (*(Column(f"{m}月", Kind.COUNT) for m in MONTHS), Column("全年合计", Kind.COUNT))
POINTS_COLUMNS = (*COMMUNITY, *POINTS_MONTHS)


def points_rows(figures: PointsByMonth) -> Iterator[tuple[Any, ...]]:
    """The community × month table's rows (POINTS_COLUMNS), the district's total last."""
    for row in [*figures.communities, figures.district]:
        yield (row.code, row.name, *row.months, row.total)


POINTS_KINDS_COLUMNS = (Column("类型", Kind.TEXT), *POINTS_MONTHS)


def points_kind_rows(figures: PointsByMonth) -> Iterator[tuple[Any, ...]]:
    """The district's months by entry kind (the chart's table), then the net: one row each."""
    for kind in ENTRY_KIND_ORDER:
        months = figures.by_kind[kind]
        yield (ENTRY_KIND_LABELS[kind], *months, sum(months))
    net = figures.district
    yield ("净积分", *net.months, net.total)


# -- 3. claim turnaround ------------------------------------------------------------------------


@dataclass
class Turnaround:
    """How fast one community (or the district) decides claims (认定时效)."""

    code: str
    name: str
    durations: list[float] = field(default_factory=list, repr=False)  # days, decided in period
    certified: int = 0
    rejected: int = 0
    pending: int = 0
    oldest_pending_days: float | None = None

    @property
    def decided(self) -> int:
        return self.certified + self.rejected

    @property
    def median_days(self) -> float | None:
        """The median days from submission to decision (the mean of the middle two if even)."""
        return statistics.median(self.durations) if self.durations else None


@dataclass(frozen=True)
class TurnaroundReport:
    """Claims decided between two business dates, and those pending at ``at``."""

    first: date
    last: date
    at: datetime
    communities: list[Turnaround]
    district: Turnaround


def check_period(first: date, last: date) -> None:
    """Refuse a reversed period or one longer than a year (the durations are fetched)."""
    if first > last:
        message = "开始日期不能晚于结束日期。"
        raise ValidationFailed(message, fields={"end": [message]})
    if (last - first).days + 1 > MAX_EXPORT_DAYS:
        message = f"一次最多统计 {MAX_EXPORT_DAYS} 天，请缩小日期范围。"
        raise ValidationFailed(message, fields={"start": [message]})


def claim_turnaround(
    session: Session, actor: Actor, first: date, last: date, at: datetime | None = None
) -> TurnaroundReport:
    """Per community: claims certified or rejected between ``first`` and ``last`` (business
    dates of the decision), their median days from submission to decision, and the claims
    pending at ``at`` with the oldest one's age. The community is the one the claim was filed in.
    """
    _scope(actor)
    check_period(first, last)
    at = at or utcnow()
    start, _ = business_day_bounds(first)
    _, end = business_day_bounds(last)
    waited = _days_between(session, Claim.submitted_at, Claim.decided_at)
    decided = session.execute(
        select(Claim.community_id, Claim.status, waited).where(
            Claim.status.in_((ClaimStatus.CERTIFIED, ClaimStatus.REJECTED)),
            Claim.decided_at >= start,
            Claim.decided_at < end,
        )
    ).all()
    pending = session.execute(
        select(Claim.community_id, func.count(Claim.id), func.min(Claim.submitted_at))
        .where(Claim.status == ClaimStatus.PENDING)
        .group_by(Claim.community_id)
    ).all()
    rows = {c.id: Turnaround(c.code, c.name) for c in _communities(session)}
    district = Turnaround(DISTRICT_CODE, DISTRICT_NAME)
    for community_id, status, days in decided:
        for target in (rows[community_id], district):
            target.durations.append(float(days))
            if ClaimStatus(status) is ClaimStatus.CERTIFIED:
                target.certified += 1
            else:
                target.rejected += 1
    for community_id, count, oldest in pending:
        age = _days((at - oldest).total_seconds())
        for target in (rows[community_id], district):
            target.pending += int(count)
            target.oldest_pending_days = max(target.oldest_pending_days or 0.0, age)
    return TurnaroundReport(first, last, at, list(rows.values()), district)


TURNAROUND_COLUMNS = (
    *COMMUNITY,
    Column("已处理", Kind.COUNT),
    Column("已认定", Kind.COUNT),
    Column("已驳回", Kind.COUNT),
    Column("处理天数中位数", Kind.DECIMAL),  # days to one decimal, empty when none decided
    Column("待认定", Kind.COUNT),
    Column("最久待认定天数", Kind.DECIMAL),
)


def turnaround_rows(report: TurnaroundReport) -> Iterator[tuple[Any, ...]]:
    """The turnaround table's rows (TURNAROUND_COLUMNS), the district's last."""
    for row in [*report.communities, report.district]:
        yield (
            row.code,
            row.name,
            row.decided,
            row.certified,
            row.rejected,
            row.median_days,
            row.pending,
            row.oldest_pending_days,
        )


# -- 4. card use at merchants -------------------------------------------------------------------


@dataclass
class SalesFigures:
    """Completed card sales: how many, the bills and the discount granted, in fen."""

    count: int = 0
    amount_fen: int = 0
    discount_fen: int = 0

    def add(self, count: int, amount_fen: int, discount_fen: int) -> None:
        self.count += count
        self.amount_fen += amount_fen
        self.discount_fen += discount_fen


@dataclass
class MonthlySales:
    """One community's, merchant's or the district's card sales per month (1 … 12)."""

    code: str
    name: str
    months: list[SalesFigures] = field(default_factory=lambda: [SalesFigures() for _ in MONTHS])

    @property
    def total(self) -> SalesFigures:
        total = SalesFigures()
        for month in self.months:
            total.add(month.count, month.amount_fen, month.discount_fen)
        return total


@dataclass(frozen=True)
class CardUseReport:
    """A year's completed card sales by month: the district's, per community, per merchant."""

    year: int
    district: MonthlySales
    communities: list[MonthlySales]
    merchants: list[MonthlySales]  # every merchant, most discount granted first

    def top_merchants(self, count: int = 10) -> list[MonthlySales]:
        """The merchants that granted the most discount (only those with sales)."""
        return [m for m in self.merchants if m.total.count][:count]


def _sales_aggregates() -> tuple[ColumnElement[int], ...]:
    return (
        func.count(Redemption.id),
        func.coalesce(func.sum(Redemption.amount_fen), 0),
        func.coalesce(func.sum(Redemption.discount_fen), 0),
    )


def card_use(session: Session, actor: Actor, year: int) -> CardUseReport:
    """Completed card sales in ``year`` (voided ones excluded) by month of business date, per
    community (the member's community now: sales keep no community of their own) and per
    merchant."""
    _scope(actor)
    first, last = _year_bounds(year)
    month_of = extract("month", Redemption.business_date)
    completed = (
        Redemption.status == RedemptionStatus.COMPLETED,
        Redemption.business_date >= first,
        Redemption.business_date <= last,
    )
    by_community = session.execute(
        select(Member.community_id, month_of, *_sales_aggregates())
        .join(Member, Member.id == Redemption.member_id)
        .where(*completed)
        .group_by(Member.community_id, month_of)
    ).all()
    by_merchant = session.execute(
        select(Redemption.merchant_id, month_of, *_sales_aggregates())
        .where(*completed)
        .group_by(Redemption.merchant_id, month_of)
    ).all()
    communities = {c.id: MonthlySales(c.code, c.name) for c in _communities(session)}
    merchants = {
        m.id: MonthlySales(m.code, m.name)
        for m in session.scalars(select(Merchant).order_by(Merchant.code))
    }
    district = MonthlySales(DISTRICT_CODE, DISTRICT_NAME)
    for community_id, month, *sums in by_community:
        figures = [int(v) for v in sums]
        communities[community_id].months[int(month) - 1].add(*figures)
        district.months[int(month) - 1].add(*figures)
    for merchant_id, month, *sums in by_merchant:
        merchants[merchant_id].months[int(month) - 1].add(*(int(v) for v in sums))
    ranked = sorted(merchants.values(), key=lambda m: (-m.total.discount_fen, -m.total.count))
    return CardUseReport(year, district, list(communities.values()), ranked)


_CARD_USE_FIGURES = (
    Column("年", Kind.COUNT),
    Column("月", Kind.COUNT),
    Column("笔数", Kind.COUNT),
    Column("消费金额(元)", Kind.AMOUNT_FEN),
    Column("优惠金额(元)", Kind.AMOUNT_FEN),
)
CARD_USE_COLUMNS = {
    "community": (*COMMUNITY, *_CARD_USE_FIGURES),
    "district": (
        Column("范围", Kind.IDENTIFIER),
        Column("名称", Kind.TEXT, width=20),
        *_CARD_USE_FIGURES,
    ),
    "merchant": (
        Column("商家代码", Kind.IDENTIFIER),
        Column("商家", Kind.TEXT, width=24),
        *_CARD_USE_FIGURES,
    ),
}


def card_use_rows(year: int, rows: Sequence[MonthlySales]) -> Iterator[tuple[Any, ...]]:
    """One row per community (or merchant) and month of ``year``, months without sales as 0,
    amounts in fen (CARD_USE_COLUMNS).

    Year and month are separate numbers: Excel would turn a "2026-01" cell into a date."""
    for row in rows:
        for month, figures in zip(MONTHS, row.months, strict=True):
            yield (
                row.code,
                row.name,
                year,
                month,
                figures.count,
                figures.amount_fen,
                figures.discount_fen,
            )


def statistics_years(today: date | None = None, back: int = 9) -> list[int]:
    """The years a statistics page offers: this year and the ``back`` before it, newest first."""
    year = (today or business_date()).year
    return list(range(year, year - back - 1, -1))
