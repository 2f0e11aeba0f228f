"""Statistics (统计): members and active cards by live tier, per community and for the district.

Read-only queries shared by the CLI and the portals. Tiers are derived from the ledger at the
moment asked (``evaluate_tiers``: one grouped query per 5,000 members), never from the cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.models import Card, CardStatus, Community, Member, MemberStatus, Tier
from rewards.services.tiers import current_policy, evaluate_tiers

_CURRENT_CARD = (CardStatus.ACTIVE, CardStatus.SUSPENDED)


@dataclass
class TierCounts:
    """How many people are gold, silver, or below silver."""

    gold: int = 0
    silver: int = 0
    none: int = 0

    def add(self, tier: Tier) -> None:
        setattr(self, tier.value, getattr(self, tier.value) + 1)

    @property
    def total(self) -> int:
        return self.gold + self.silver + self.none

    def to_dict(self) -> dict[str, int]:
        return {"gold": self.gold, "silver": self.silver, "none": self.none, "total": self.total}


@dataclass
class CommunityFigures:
    """One community's figures (or the district's, with ``code`` "ALL")."""

    code: str
    name: str
    community_id: int | None = None
    members: int = 0
    members_by_tier: TierCounts = field(default_factory=TierCounts)
    active_cards: TierCounts = field(default_factory=TierCounts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "members": self.members,
            "members_by_tier": self.members_by_tier.to_dict(),
            "active_cards": self.active_cards.to_dict(),
        }


@dataclass(frozen=True)
class DistrictStatistics:
    """Per-community figures and the district's totals at one instant."""

    at: datetime
    policy_version: int | None
    communities: list[CommunityFigures]
    district: CommunityFigures

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "policy_version": self.policy_version,
            "communities": [c.to_dict() for c in self.communities],
            "district": self.district.to_dict(),
        }


def community_statistics(
    session: Session, at: datetime | None = None, community_id: int | None = None
) -> DistrictStatistics:
    """Active members and active cards by live tier, per community (or for one community).

    Members are those registered as active; a card counts where its holder is registered now,
    by the holder's tier at ``at`` (card statuses are as they are now).
    """
    at = at or utcnow()
    communities = select(Community).order_by(Community.code)
    members = select(Member.id, Member.community_id).where(Member.status == MemberStatus.ACTIVE)
    cards = (
        select(Card.member_id, Member.community_id)
        .join(Member, Member.id == Card.member_id)
        .where(Card.status == CardStatus.ACTIVE)
    )
    if community_id is not None:
        communities = communities.where(Community.id == community_id)
        members = members.where(Member.community_id == community_id)
        cards = cards.where(Member.community_id == community_id)

    figures = {
        c.id: CommunityFigures(code=c.code, name=c.name, community_id=c.id)
        for c in session.scalars(communities)
    }
    member_rows = session.execute(members).all()
    card_rows = session.execute(cards).all()
    ids = list(dict.fromkeys([m for m, _ in member_rows] + [m for m, _ in card_rows]))
    tiers = evaluate_tiers(session, ids, at=at)

    district = CommunityFigures(code="ALL", name="全区")
    for member_id, home in member_rows:
        for target in (figures[home], district):
            target.members += 1
            target.members_by_tier.add(tiers[member_id])
    for member_id, home in card_rows:
        for target in (figures[home], district):
            target.active_cards.add(tiers[member_id])
    policy = current_policy(session, at)
    return DistrictStatistics(
        at=at,
        policy_version=policy.version if policy else None,
        communities=list(figures.values()),
        district=district,
    )


def members_awaiting_cards(
    session: Session, community_id: int | None, at: datetime | None = None
) -> list[Member]:
    """Active members of a community (None: every community) at silver or above who hold no
    current card (待发卡), by member number."""
    return [member for member, _ in awaiting_cards(session, community_id, at)]


def awaiting_cards(
    session: Session, community_id: int | None, at: datetime | None = None
) -> list[tuple[Member, Tier]]:
    """``members_awaiting_cards`` with each member's tier today."""
    without_card = (
        select(Member)
        .where(
            Member.community_id == community_id if community_id is not None else true(),
            Member.status == MemberStatus.ACTIVE,
            ~select(Card.id)
            .where(Card.member_id == Member.id, Card.status.in_(_CURRENT_CARD))
            .exists(),
        )
        .order_by(Member.member_no)
    )
    candidates = list(session.scalars(without_card))
    tiers = evaluate_tiers(session, [m.id for m in candidates], at=at)
    return [(m, tiers[m.id]) for m in candidates if tiers[m.id] is not Tier.NONE]
