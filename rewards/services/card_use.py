"""Where a member's card was used (我的优惠记录): their discounted sales at alliance merchants,
and the discount saved per month and this year. Voided sales are listed but save nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import Forbidden, ValidationFailed
from rewards.models import Merchant, Redemption, RedemptionStatus, Role
from rewards.services.audit import Actor
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate


def _own_member(actor: Actor) -> int:
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("只有党员本人可以查看自己的优惠记录。")
    return actor.member_id


@dataclass(frozen=True)
class CardUse:
    """One sale with the member's card: where, when, how much was saved."""

    redemption: Redemption
    merchant_name: str
    merchant_address: str


def my_card_use(
    session: Session, actor: Actor, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> Page[CardUse]:
    """The member's sales, newest first."""
    member_id = _own_member(actor)
    statement = (
        select(Redemption, Merchant.name, Merchant.address)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .where(Redemption.member_id == member_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
    )
    return paginate(session, statement, page, page_size, scalars=False).map(
        lambda row: CardUse(row[0], row[1], row[2])
    )


@dataclass(frozen=True)
class MonthSavings:
    """One month of a year: how many sales and the discount they saved."""

    month: date  # the 1st of the month
    sales: int
    discount_fen: int


@dataclass(frozen=True)
class Savings:
    """A year's savings, month by month (months without sales included), and the total."""

    year: int
    months: list[MonthSavings]

    @property
    def discount_fen(self) -> int:
        return sum(m.discount_fen for m in self.months)

    @property
    def sales(self) -> int:
        return sum(m.sales for m in self.months)


def my_savings(
    session: Session, actor: Actor, year: int | None = None, at: datetime | None = None
) -> Savings:
    """The discount the member saved in ``year`` (default: this year), per month."""
    member_id = _own_member(actor)
    today = business_date(at or utcnow())
    year = year or today.year
    if not 2000 <= year <= today.year:
        raise ValidationFailed("年份不正确。", fields={"year": ["年份不正确。"]})
    month = extract("month", Redemption.business_date)
    rows = session.execute(
        select(month, func.count(Redemption.id), func.sum(Redemption.discount_fen))
        .where(
            Redemption.member_id == member_id,
            Redemption.status == RedemptionStatus.COMPLETED,
            Redemption.business_date >= date(year, 1, 1),
            Redemption.business_date <= date(year, 12, 31),
        )
        .group_by(month)
    ).all()
    by_month = {int(m): (int(count), int(total or 0)) for m, count, total in rows}
    last = today.month if year == today.year else 12
    months = [MonthSavings(date(year, m, 1), *by_month.get(m, (0, 0))) for m in range(1, last + 1)]
    return Savings(year, months)
