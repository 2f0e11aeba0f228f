"""The alliance directory for a member (联盟商家): every merchant with the discount the member
gets there at their tier today, and what the gold card would give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import Forbidden, NoAgreement
from rewards.models import Agreement, Member, Merchant, Role, Tier
from rewards.services import tiers
from rewards.services.agreements import Terms, terms_for
from rewards.services.audit import Actor
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate

MAX_QUERY = 40


@dataclass(frozen=True)
class MerchantOffer:
    """A merchant and its terms for this member today (None: no discount there)."""

    merchant: Merchant
    mine: Terms | None  # at the member's tier today; None below silver or without an agreement
    gold: Terms | None  # at gold; None without an agreement


@dataclass(frozen=True)
class Directory:
    """A page of the directory, with the member's standing that decided "mine"."""

    offers: Page[MerchantOffer]
    standing: tiers.TierStanding
    categories: list[str]


def _terms(session: Session, merchant_id: int, community_id: int, tier: Tier, at: datetime):  # type: ignore[no-untyped-def]
    if tier is Tier.NONE:
        return None
    try:
        return terms_for(session, merchant_id, community_id, tier, business_date(at))
    except NoAgreement:
        return None


def merchant_directory(
    session: Session,
    actor: Actor,
    *,
    query: str = "",
    category: str = "",
    only_agreed: bool = False,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    at: datetime | None = None,
) -> Directory:
    """The alliance merchants (enabled), searched by name or address, filtered by category,
    each with the member's discount today and the gold card's.

    Merchants with an agreement covering the member's community (its own or district-wide)
    come first; ``only_agreed`` leaves out the others.
    """
    at = at or utcnow()
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("联盟商家的优惠按党员本人的等级显示，请用党员账号查看。")
    member = session.get(Member, actor.member_id)
    assert member is not None
    standing = tiers.evaluate_tier(session, member.id, at)
    agreed = (
        select(Agreement.id)
        .where(
            Agreement.merchant_id == Merchant.id,
            or_(Agreement.community_id == member.community_id, Agreement.community_id.is_(None)),
        )
        .exists()
    )
    statement = select(Merchant).where(Merchant.is_enabled)
    if only_agreed:
        statement = statement.where(agreed)
    statement = statement.order_by(case((agreed, 0), else_=1), Merchant.code)
    query = (query or "").strip()[:MAX_QUERY]
    if query:
        statement = statement.where(
            or_(
                Merchant.name.contains(query, autoescape=True),
                Merchant.address.contains(query, autoescape=True),
            )
        )
    if category:
        statement = statement.where(Merchant.category == category)
    found = paginate(session, statement, page, page_size)
    offers = found.map(
        lambda m: MerchantOffer(
            m,
            _terms(session, m.id, member.community_id, standing.tier, at),
            _terms(session, m.id, member.community_id, Tier.GOLD, at),
        )
    )
    categories = list(
        session.scalars(
            select(Merchant.category)
            .where(Merchant.is_enabled, Merchant.category != "")
            .distinct()
            .order_by(Merchant.category)
        )
    )
    return Directory(offers, standing, categories)
