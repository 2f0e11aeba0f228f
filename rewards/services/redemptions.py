"""Reading a merchant's redemptions (优惠结算记录): what the POS and the counter may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rewards import clock
from rewards.errors import Forbidden, NotFound
from rewards.models import (
    Account,
    ApiKey,
    Card,
    Community,
    Member,
    Merchant,
    Redemption,
    RedemptionStatus,
    Role,
    Tier,
    mask_name,
)
from rewards.services.audit import Actor, require_role


@dataclass(frozen=True)
class RedemptionView:
    """A sale as its merchant sees it: the holder masked, the card by its last four digits."""

    id: int
    number: str
    status: RedemptionStatus
    amount_fen: int
    discount_fen: int
    payable_fen: int
    tier: Tier
    pay_percent: int
    cap_fen: int | None
    min_spend_fen: int
    masked_name: str
    card_tail: str
    business_date: date
    created_at: datetime
    voided_at: datetime | None
    void_reason: str | None


@dataclass(frozen=True)
class RedemptionPage:
    """One page of a merchant's sales, newest first."""

    items: list[RedemptionView]
    page: int
    page_size: int
    total: int


def _view(redemption: Redemption, member_name: str, card_no: str) -> RedemptionView:
    return RedemptionView(
        id=redemption.id,
        number=redemption.number,
        status=redemption.status,
        amount_fen=redemption.amount_fen,
        discount_fen=redemption.discount_fen,
        payable_fen=redemption.payable_fen,
        tier=redemption.tier,
        pay_percent=redemption.pay_percent,
        cap_fen=redemption.cap_fen,
        min_spend_fen=redemption.min_spend_fen,
        masked_name=mask_name(member_name),
        card_tail=card_no[-4:],
        business_date=redemption.business_date,
        created_at=redemption.created_at,
        voided_at=redemption.voided_at,
        void_reason=redemption.void_reason,
    )


def _own_merchant(actor: Actor) -> int:
    require_role(actor, Role.CASHIER, Role.MERCHANT_MANAGER)
    if actor.merchant_id is None:
        raise Forbidden("只有商家的收银员、店长或 POS 密钥可以查看结算记录。")
    return actor.merchant_id


def describe(
    session: Session,
    redemption: Redemption,
    member: Member | None = None,
    card: Card | None = None,
) -> RedemptionView:
    """The merchant's view of a sale just confirmed or voided (build it before committing).

    Pass the holder's ``member`` and ``card`` when the caller has them, so nothing is re-read.
    """
    if member is None or member.id != redemption.member_id:
        member = session.get(Member, redemption.member_id)
    if card is None or card.id != redemption.card_id:
        card = session.get(Card, redemption.card_id)
    if member is None or card is None:
        raise NotFound("找不到这笔结算记录。")
    return _view(redemption, member.name, card.card_no)


def _with_holder(merchant_id: int) -> Select[tuple[Redemption, str, str]]:
    return (
        select(Redemption, Member.name, Card.card_no)
        .join(Member, Member.id == Redemption.member_id)
        .join(Card, Card.id == Redemption.card_id)
        .where(Redemption.merchant_id == merchant_id)
    )


def get_redemption(session: Session, actor: Actor, redemption_id: int) -> RedemptionView:
    """One sale of the actor's merchant; another merchant's is reported as absent."""
    merchant_id = _own_merchant(actor)
    row = session.execute(_with_holder(merchant_id).where(Redemption.id == redemption_id)).first()
    if row is None:
        raise NotFound("找不到这笔结算记录。")
    return _view(*row)


def list_redemptions(
    session: Session,
    actor: Actor,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> RedemptionPage:
    """The actor's merchant's sales between two business dates (inclusive), newest first."""
    merchant_id = _own_merchant(actor)
    conditions = [Redemption.merchant_id == merchant_id]
    if date_from is not None:
        conditions.append(Redemption.business_date >= date_from)
    if date_to is not None:
        conditions.append(Redemption.business_date <= date_to)
    total = session.scalar(select(func.count()).select_from(Redemption).where(*conditions)) or 0
    rows = session.execute(
        _with_holder(merchant_id)
        .where(*conditions)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return RedemptionPage([_view(*row) for row in rows], page, page_size, total)


# A cashier's own sales go back this many business days, today included (today and yesterday):
# enough to reprint a receipt or check a sale when a customer comes back; the manager's list
# (list_redemptions) has the rest.
OWN_SALES_DAYS = 2
# More sales than a till makes in two days: the page is never unbounded.
OWN_SALES_LIMIT = 500


def own_sales_days(today: date) -> list[date]:
    """The business days of a cashier's own sales, newest first: today and yesterday."""
    return [today - timedelta(days=back) for back in range(OWN_SALES_DAYS)]


@dataclass(frozen=True)
class OwnSales:
    """A cashier's own sales of one business day, newest first."""

    day: date
    sales: list[RedemptionView]

    @property
    def completed(self) -> list[RedemptionView]:
        return [sale for sale in self.sales if sale.status is RedemptionStatus.COMPLETED]


def own_recent_sales(session: Session, actor: Actor, today: date) -> list[OwnSales]:
    """The sales this cashier (or manager) recorded at the counter today and yesterday, by day.

    Only sales recorded under the actor's own account: not the POS's (an API key's), not
    another cashier's."""
    merchant_id = _own_merchant(actor)
    if actor.account_id is None:
        raise Forbidden("只有店员账号有自己的结算记录。")
    days = own_sales_days(today)
    rows = session.execute(
        _with_holder(merchant_id)
        .where(
            Redemption.cashier_id == actor.account_id,
            Redemption.business_date.in_(days),
        )
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(OWN_SALES_LIMIT)
    ).all()
    views = [_view(*row) for row in rows]
    return [OwnSales(day, [sale for sale in views if sale.business_date == day]) for day in days]


@dataclass(frozen=True)
class Receipt:
    """A sale as the counter prints it (小票): the merchant's view plus shop, community and till."""

    sale: RedemptionView
    merchant_name: str
    community_name: str
    cashier_name: str  # the cashier's display name, or "POS：<key label>" for an API sale


def get_receipt(
    session: Session, actor: Actor, redemption_id: int, today: date | None = None
) -> Receipt:
    """The receipt of one sale of the actor's merchant; another merchant's is reported as absent.

    A cashier at the counter sees the receipts of their own sales of today and yesterday (as
    in 我的结算); the shop's other sales are the manager's to look up.
    """
    sale = get_redemption(session, actor, redemption_id)
    merchant_name, community_name, cashier_name, key_label, cashier_id = session.execute(
        select(
            Merchant.name, Community.name, Account.display_name, ApiKey.label, Redemption.cashier_id
        )
        .select_from(Redemption)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .join(Member, Member.id == Redemption.member_id)
        .join(Community, Community.id == Member.community_id)
        .outerjoin(Account, Account.id == Redemption.cashier_id)
        .outerjoin(ApiKey, ApiKey.id == Redemption.api_key_id)
        .where(Redemption.id == sale.id)
    ).one()
    if actor.role is Role.CASHIER and actor.account_id is not None:
        days = own_sales_days(today or clock.business_date())
        if cashier_id != actor.account_id or sale.business_date not in days:
            raise NotFound(
                "找不到这笔结算记录：收银员可以查看自己今天和昨天的结算，"
                "更早的或其他收银的记录请找店长查询。"
            )
    till = cashier_name or (f"POS：{key_label}" if key_label else "")
    return Receipt(sale, merchant_name, community_name, till)
