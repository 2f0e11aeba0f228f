"""The roster (党员名册): about 5,000 members, each planned into the band its points will reach."""

from __future__ import annotations

from datetime import date, timedelta

from rewards.models import Member, MemberStatus, Tier

from .plan import Demo, PlannedMember
from .words import EMPLOYERS

DEFAULT_MEMBERS = 5000
# The source: "125 gold cards and 514 silver cards issued" for the district's ~5,000 card members.
FULL_SIZE_GOLD, FULL_SIZE_SILVER = 125, 514


def scaled_bands(members: int) -> tuple[int, int]:
    """How many members land in gold and in silver for a demo of ``members`` members."""
    gold = max(2, round(FULL_SIZE_GOLD * members / DEFAULT_MEMBERS))
    silver = max(4, round(FULL_SIZE_SILVER * members / DEFAULT_MEMBERS))
    return gold, silver


def roster(demo: Demo) -> None:
    rng = demo.rng
    weights = [rng.uniform(0.6, 1.4) for _ in demo.communities]
    sizes = [max(6, int(demo.member_count * w / sum(weights))) for w in weights]
    sizes[0] += demo.member_count - sum(sizes)
    latest_join = demo.today - timedelta(days=400)
    span = (latest_join - date(2008, 1, 1)).days
    for index, size in enumerate(sizes):
        for serial in range(1, size + 1):
            demo.members.append(
                PlannedMember(
                    community_index=index,
                    member_no=f"YT{index + 1:02d}{serial:05d}",
                    name=demo.person_name(),
                    phone=demo.phone(),
                    employer=rng.choice(EMPLOYERS) if rng.random() < 0.22 else "",
                    joined_on=date(2008, 1, 1) + timedelta(days=rng.randint(0, span)),
                )
            )
    _assign_bands(demo)
    rows = [
        {
            "member_no": m.member_no,
            "name": m.name,
            "phone": m.phone,
            "community_id": demo.communities[m.community_index].id,
            "status": MemberStatus.ACTIVE,
            "employer": m.employer,
            "joined_on": m.joined_on,
            "created_at": demo.instant(demo.today - timedelta(days=395), 9),
        }
        for m in demo.members
    ]
    ids = demo.insert_in_order(Member, rows, ("member_no",))
    for planned, member_id in zip(demo.members, ids, strict=True):
        planned.id = member_id


def _assign_bands(demo: Demo) -> None:
    """Exactly the scaled number of gold and silver members; some are picked for the outcomes."""
    rng = demo.rng
    gold_count, silver_count = scaled_bands(demo.member_count)
    c01 = [m for m in demo.members if m.community_index == 0]
    c03 = next(m for m in demo.members if m.community_index == 2)
    picks = {
        "gold": (c01[0], Tier.GOLD, 168),
        "silver": (c01[1], Tier.SILVER, 90),
        "card_suspended": (c01[2], Tier.SILVER, 85),
        "tier_none": (c01[3], Tier.NONE, 45),
        "card_revoked": (c01[4], Tier.NONE, 20),
        "no_agreement": (c03, Tier.SILVER, 80),
        # C01's secretary has work waiting: two members newly eligible for a card, and two
        # whose oldest points leave the window within weeks (their tier drops).
        "awaiting_card_1": (c01[5], Tier.SILVER, 66),
        "awaiting_card_2": (c01[6], Tier.SILVER, 72),
        "ageing_1": (c01[7], Tier.SILVER, 68),
        "ageing_2": (c01[8], Tier.SILVER, 75),
    }
    for outcome, (member, band, target) in picks.items():
        member.band, member.target_points = band, target
        demo.designated[outcome] = member
    chosen = {id(m) for m, _, _ in picks.values()}
    pool = [m for m in demo.members if id(m) not in chosen]
    rng.shuffle(pool)
    gold_left = gold_count - 1
    silver_left = silver_count - sum(1 for _, band, _ in picks.values() if band is Tier.SILVER)
    for member in pool[:gold_left]:
        member.band, member.target_points = Tier.GOLD, int(rng.triangular(120, 230, 135))
    for member in pool[gold_left : gold_left + silver_left]:
        member.band, member.target_points = Tier.SILVER, int(rng.triangular(60, 119.99, 72))
    for member in pool[gold_left + silver_left :]:
        member.band = Tier.NONE
        member.target_points = 0 if rng.random() < 0.05 else int(rng.triangular(1, 59.99, 12))
