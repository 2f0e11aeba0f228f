"""Read-only overviews (概览) for the portals' home pages: a member's points and card, a
community's members, cards by live tier and pending claims, and the district's table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from rewards.clock import utcnow
from rewards.errors import CardSuspended, Forbidden, NotFound
from rewards.models import (
    Card,
    CardStatus,
    Claim,
    ClaimStatus,
    Community,
    LedgerEntry,
    Member,
    MemberStatus,
    Role,
    Tier,
)
from rewards.services import cards, communities, ledger, reports, tiers
from rewards.services.audit import Actor, require_community, require_role
from rewards.services.members import member_in_reach

RECENT_ENTRIES = 10
OLDEST_PENDING_CLAIMS = 10
TIER_DROP_DAYS = 30


# -- a member ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberOverview:
    """What a member sees first: tier standing, all-time points, card, recent entries."""

    member: Member
    standing: tiers.TierStanding
    all_time_points: int
    card: Card | None
    recent_entries: Sequence[LedgerEntry]
    pending_claims: int

    @property
    def progress_percent(self) -> int:
        """How far the window's points have come towards the next tier's threshold (0 … 100)."""
        s = self.standing
        if s.tier is Tier.GOLD:
            return 100
        target = s.silver_threshold if s.tier is Tier.NONE else s.gold_threshold
        if not target:
            return 0
        return max(0, min(100, s.points * 100 // target))


def member_overview(
    session: Session, actor: Actor, member_id: int, at: datetime | None = None
) -> MemberOverview:
    """A member's home page: live tier, points in the window and all-time, card, last entries."""
    at = at or utcnow()
    member = member_in_reach(session, actor, member_id)
    recent = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.member_id == member.id)
        .order_by(LedgerEntry.seq.desc())
        .limit(RECENT_ENTRIES)
    ).all()
    pending = session.scalar(
        select(func.count(Claim.id)).where(
            Claim.member_id == member.id, Claim.status == ClaimStatus.PENDING
        )
    )
    return MemberOverview(
        member=member,
        standing=tiers.evaluate_tier(session, member.id, at),
        all_time_points=ledger.balance(session, member.id),
        card=cards.current_card(session, member.id),
        recent_entries=recent,
        pending_claims=pending or 0,
    )


@dataclass(frozen=True)
class PhoneCode:
    """A fresh phone QR token (手机卡码) of the member's active card, and when it expires."""

    card: Card
    token: str
    expires_at: datetime
    ttl_seconds: int


def member_phone_code(
    session: Session,
    actor: Actor,
    member_id: int,
    tokens: cards.CardTokens,
    at: datetime | None = None,
) -> PhoneCode:
    """Sign a new short-lived, single-use code for the member's active card (nothing is written).

    Refused with the cashier's own errors when there is no active card: the member sees the
    same reason the counter would give.
    """
    member = member_in_reach(session, actor, member_id)
    if actor.role is not Role.MEMBER:
        raise Forbidden("手机卡码只能由党员本人出示。")
    card = cards.current_card(session, member.id)
    if card is None:
        raise NotFound("您还没有动力卡，请联系所在社区办理。")
    if card.status is CardStatus.SUSPENDED:
        raise CardSuspended("此卡已被社区暂停使用，商家不会给予优惠；如有疑问请联系所在社区。")
    token, expires_at = tokens.phone_token(card, at)
    return PhoneCode(card, token, expires_at, tokens.phone_ttl_seconds)


# -- communities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityCounts:
    """Counts for one community, or summed over many."""

    members: int = 0  # active registrations (在册党员)
    gold_cards: int = 0  # active cards whose holder is gold today
    silver_cards: int = 0
    untiered_cards: int = 0  # active cards whose holder is below silver today
    suspended_cards: int = 0
    pending_claims: int = 0

    @property
    def active_cards(self) -> int:
        return self.gold_cards + self.silver_cards + self.untiered_cards

    def __add__(self, other: CommunityCounts) -> CommunityCounts:
        return CommunityCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@dataclass(frozen=True)
class CommunitySummary:
    """One community and its counts."""

    community: Community
    counts: CommunityCounts


@dataclass(frozen=True)
class TierDrop:
    """A member whose tier falls within the horizon if nothing new is certified."""

    member: Member
    outlook: tiers.TierOutlook


@dataclass(frozen=True)
class CommunityOverview:
    """A secretary's home, saying what to do next: the claims waiting (and how long the oldest
    has waited), the cards to issue, the members about to drop a tier."""

    summary: CommunitySummary
    oldest_pending: Sequence[Claim]
    tier_policy_version: int | None
    cards_to_issue: int
    tier_drops: Sequence[TierDrop]
    at: datetime

    @property
    def oldest_pending_days(self) -> int | None:
        """Whole days the oldest pending claim has waited (None when nothing waits)."""
        if not self.oldest_pending:
            return None
        return (self.at - self.oldest_pending[0].submitted_at).days


@dataclass(frozen=True)
class DistrictOverview:
    """The district administrator's home: every community's counts and the district's total."""

    communities: Sequence[CommunitySummary]
    totals: CommunityCounts
    tier_policy_version: int | None


def _grouped_counts(session: Session, statement) -> dict[int, int]:  # type: ignore[no-untyped-def]
    return {community_id: int(count) for community_id, count in session.execute(statement)}


def _counts_by_community(
    session: Session, community_ids: Sequence[int], at: datetime
) -> dict[int, CommunityCounts]:
    """Counts for each of ``community_ids`` in a handful of grouped queries."""
    suspended = _grouped_counts(
        session,
        select(Member.community_id, func.count(Card.id))
        .join(Member, Member.id == Card.member_id)
        .where(Member.community_id.in_(community_ids), Card.status == CardStatus.SUSPENDED)
        .group_by(Member.community_id),
    )
    # Scoped by where the member is registered now: that secretary is the one who certifies.
    pending = _grouped_counts(
        session,
        select(Member.community_id, func.count(Claim.id))
        .join(Member, Member.id == Claim.member_id)
        .where(Member.community_id.in_(community_ids), Claim.status == ClaimStatus.PENDING)
        .group_by(Member.community_id),
    )
    # Members and active cards by live tier: the same figures as `rewards stats`.
    single = community_ids[0] if len(community_ids) == 1 else None
    figures = {
        f.community_id: f
        for f in reports.community_statistics(session, at, community_id=single).communities
    }
    return {
        cid: CommunityCounts(
            members=figures[cid].members,
            gold_cards=figures[cid].active_cards.gold,
            silver_cards=figures[cid].active_cards.silver,
            untiered_cards=figures[cid].active_cards.none,
            suspended_cards=suspended.get(cid, 0),
            pending_claims=pending.get(cid, 0),
        )
        for cid in community_ids
    }


def _community_in_reach(session: Session, actor: Actor, community_id: int) -> Community:
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound("找不到该社区。")
    require_community(actor, community.id, "找不到该社区。")
    return community


def community_overview(
    session: Session,
    actor: Actor,
    community_id: int | None = None,
    *,
    code: str | None = None,
    at: datetime | None = None,
) -> CommunityOverview:
    """One community's page, by id or by code (C01 …): counts and the oldest pending claims."""
    at = at or utcnow()
    if code is not None:
        require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
        community_id = communities.community_by_code(session, code).id
    if community_id is None:
        raise NotFound("找不到该社区。")
    community = _community_in_reach(session, actor, community_id)
    counts = _counts_by_community(session, [community.id], at)[community.id]
    oldest = session.scalars(
        select(Claim)
        .join(Member, Member.id == Claim.member_id)
        .options(joinedload(Claim.member))
        .where(Member.community_id == community.id, Claim.status == ClaimStatus.PENDING)
        .order_by(Claim.submitted_at, Claim.id)
        .limit(OLDEST_PENDING_CLAIMS)
    ).all()
    policy = tiers.current_policy(session, at)
    return CommunityOverview(
        summary=CommunitySummary(community, counts),
        oldest_pending=oldest,
        tier_policy_version=policy.version if policy else None,
        cards_to_issue=len(reports.members_awaiting_cards(session, community.id, at)),
        tier_drops=tier_drops(session, community.id, at),
        at=at,
    )


def tier_drops(
    session: Session, community_id: int, at: datetime, days: int = TIER_DROP_DAYS
) -> list[TierDrop]:
    """Members of a community whose tier falls within ``days`` days if nothing new is
    certified, soonest first."""
    members = session.scalars(
        select(Member).where(
            Member.community_id == community_id, Member.status == MemberStatus.ACTIVE
        )
    ).all()
    standing = tiers.evaluate_tiers(session, [m.id for m in members], at)
    tiered = {m.id: m for m in members if standing[m.id] is not Tier.NONE}
    outlooks = tiers.outlook(session, tiered, at, days)
    drops = [TierDrop(tiered[mid], o) for mid, o in outlooks.items() if o.drops_on is not None]
    return sorted(drops, key=lambda d: (d.outlook.drops_on, d.member.member_no))


def district_overview(
    session: Session, actor: Actor, at: datetime | None = None
) -> DistrictOverview:
    """Every community's counts, by community code, and the district's totals."""
    at = at or utcnow()
    require_role(actor, Role.DISTRICT_ADMIN)
    communities = session.scalars(select(Community).order_by(Community.code)).all()
    counts = _counts_by_community(session, [c.id for c in communities], at)
    summaries = [CommunitySummary(c, counts[c.id]) for c in communities]
    totals = sum((s.counts for s in summaries), CommunityCounts())
    policy = tiers.current_policy(session, at)
    return DistrictOverview(
        communities=summaries,
        totals=totals,
        tier_policy_version=policy.version if policy else None,
    )
