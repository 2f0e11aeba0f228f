"""A year of certified history: activities with attendance, claims (certified, pending, rejected,
a few reversed), and the ledger they become, posted in monthly batches through the ledger."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from rewards.models import Activity, Attendance, Claim, ClaimStatus, EntryKind, PointCategory, Tier
from rewards.services import ledger
from rewards.services.audit import Actor

from .plan import Demo, PlannedMember, PlannedPosting
from .words import ACTIVITY_TITLES, CLAIM_TEXTS, REJECTION_REASONS, REVERSAL_REASONS

# Service dates stay this far inside the 12-month window, so tiers hold for the coming weeks.
HISTORY_DAYS = 340
# Points of the two "ageing" C01 members that are about to leave the window.
AGEING_POINTS = 20
ATTEND_CHANCE = {Tier.GOLD: 0.55, Tier.SILVER: 0.4, Tier.NONE: 0.12}
CLAIM_CODES = ("claim_service", "micro_wish", "volunteer", "mentoring")
# (activity id, day, points, title)
ActivityPlan = tuple[int, date, int, str]


def activities_and_claims(demo: Demo) -> None:
    by_community = _activities(demo)
    attendance_rows: list[dict[str, Any]] = []
    claim_rows: list[dict[str, Any]] = []
    # Per claim row: None (no ledger entry) or (reversal reason or "") for certified ones.
    claim_fate: list[str | None] = []
    for m in demo.members:
        total = _attendance(demo, m, by_community[m.community_index], attendance_rows)
        for fate, category, points in _claims_of(demo, m, total):
            claim_rows.append(_claim_row(demo, m, fate, category, points))
            claim_fate.append(None if fate in ("pending", "rejected") else fate)
    if attendance_rows:
        demo.session.execute(insert(Attendance), attendance_rows)
    demo.attendance_count = len(attendance_rows)
    claim_ids = demo.insert_in_order(
        Claim, claim_rows, ("member_id", "occurred_on", "points", "category_id")
    )
    _post_certified_claims(demo, claim_ids, claim_rows, claim_fate)


def _activities(demo: Demo) -> dict[int, list[ActivityPlan]]:
    """24 activities per community, a fortnight apart over the year, by community index."""
    rng = demo.rng
    activity_category = demo.categories["activity"]
    volunteer = demo.categories["volunteer"]
    rows, meta = [], []
    for index, community in enumerate(demo.communities):
        for k in range(24):
            day = min(
                demo.today - timedelta(days=HISTORY_DAYS - 5 - k * 14 - rng.randint(0, 9)),
                demo.today - timedelta(days=3),
            )
            category = volunteer if rng.random() < 0.25 else activity_category
            points = rng.randint(1, category.max_points)
            title = rng.choice(ACTIVITY_TITLES)
            rows.append(
                {
                    "community_id": community.id,
                    "category_id": category.id,
                    "title": title,
                    "occurred_on": day,
                    "points": points,
                    "created_by_id": demo.secretaries[index].id,
                    "created_at": demo.instant(day - timedelta(days=7), 9),
                }
            )
            meta.append((index, day, points, title))
    ids = demo.insert_in_order(Activity, rows, ("community_id", "occurred_on", "points"))
    by_community: dict[int, list[ActivityPlan]] = defaultdict(list)
    for activity_id, (index, day, points, title) in zip(ids, meta, strict=True):
        by_community[index].append((activity_id, day, points, title))
    demo.activity_count = len(ids)
    return by_community


def _is_ageing(demo: Demo, m: PlannedMember) -> bool:
    """The two ageing members' points all come from claims, some of them old."""
    return m is demo.designated["ageing_1"] or m is demo.designated["ageing_2"]


def _attendance(
    demo: Demo, m: PlannedMember, activities: list[ActivityPlan], rows: list[dict[str, Any]]
) -> int:
    """The member's attendance (up to their target), its postings; returns the points earned."""
    index = m.community_index
    community_id = demo.communities[index].id
    total = 0
    for activity_id, day, points, title in activities:
        attends = demo.rng.random() < ATTEND_CHANCE[m.band]
        if attends and total + points <= m.target_points and not _is_ageing(demo, m):
            total += points
            instant = demo.batch_instant(day, index)
            rows.append(
                {
                    "activity_id": activity_id,
                    "member_id": m.id,
                    "recorded_at": instant,
                    "recorded_by_id": demo.secretaries[index].id,
                }
            )
            demo.postings.append(
                PlannedPosting(
                    instant,
                    index,
                    ledger.Posting(
                        member_id=m.id,
                        points=points,
                        kind=EntryKind.ATTENDANCE,
                        source_type="activity",
                        source_id=activity_id,
                        community_id=community_id,
                        occurred_on=day,
                        idempotency_key=f"activity:{activity_id}:member:{m.id}",
                        memo=title,
                    ),
                )
            )
    return total


def _claims_of(demo: Demo, m: PlannedMember, total: int) -> list[tuple[str, PointCategory, int]]:
    """(fate, category, points) per claim: fate "" certified, a reason certified then reversed,
    "pending" or "rejected" without a ledger entry. Only "" counts towards the target."""
    rng = demo.rng
    codes = [*CLAIM_CODES, *(["dual_report", "dual_report"] if m.employer else [])]
    claims: list[tuple[str, PointCategory, int]] = []
    remaining = m.target_points - total
    while remaining > 0:
        category = demo.categories[rng.choice(codes)]
        low = max(1, category.default_points - 1)
        points = min(remaining, category.max_points, rng.randint(low, low + 2))
        claims.append(("", category, points))
        remaining -= points
    for fate, chance in (
        (rng.choice(REVERSAL_REASONS), 0.012),
        ("pending", 0.05),
        ("rejected", 0.02),
    ):
        if rng.random() < chance:
            category = demo.categories[rng.choice(codes)]
            claims.append((fate, category, rng.randint(1, category.default_points)))
    if m is demo.designated["silver"]:
        # c01-silver's own claims wait in C01's queue: certifying them is the tour.
        for code in ("micro_wish", "mentoring"):
            category = demo.categories[code]
            claims.append(("pending", category, category.max_points))
    return claims


def _claim_row(
    demo: Demo, m: PlannedMember, fate: str, category: PointCategory, points: int
) -> dict[str, Any]:
    rng = demo.rng
    index = m.community_index
    if _is_ageing(demo, m) and fate == "" and m.aged_points < AGEING_POINTS:
        # Served 337–350 days ago: these points leave the 12-month window soon.
        day = demo.days_ago(HISTORY_DAYS - 3, HISTORY_DAYS + 10)
        decided = demo.batch_instant(day, index)
        submitted = min(demo.instant(day, 20, rng.randint(0, 59)), decided)
        m.aged_points += points
    elif fate == "pending":
        day = demo.days_ago(1, 20)
        decided = None
        submitted = demo.instant(day, 20, rng.randint(0, 59))
    else:
        day = demo.days_ago(3, HISTORY_DAYS)
        decided = demo.batch_instant(day, index)
        submitted = min(demo.instant(day, 20, rng.randint(0, 59)), decided)
    status = {"pending": ClaimStatus.PENDING, "rejected": ClaimStatus.REJECTED}.get(
        fate, ClaimStatus.CERTIFIED
    )
    secretary_id = demo.secretaries[index].id
    return {
        "member_id": m.id,
        "community_id": demo.communities[index].id,
        "category_id": category.id,
        "points": points,
        "description": rng.choice(CLAIM_TEXTS[category.code]),
        "occurred_on": day,
        "status": status,
        "submitted_at": submitted,
        "decided_at": decided,
        "decided_by_id": secretary_id if decided else None,
        "rejection_reason": rng.choice(REJECTION_REASONS) if fate == "rejected" else None,
        "certified_points": points if status is ClaimStatus.CERTIFIED else None,
    }


def _post_certified_claims(
    demo: Demo,
    claim_ids: list[int],
    claim_rows: list[dict[str, Any]],
    claim_fate: list[str | None],
) -> None:
    """Each certified claim's award waits for its batch; a reversed one's reversal a week on."""
    by_member = {m.id: m for m in demo.members}
    names = {c.id: c.name for c in demo.categories.values()}
    for claim_id, row, fate in zip(claim_ids, claim_rows, claim_fate, strict=True):
        if fate is None:
            continue
        index = by_member[row["member_id"]].community_index
        key = f"claim:{claim_id}"
        demo.postings.append(
            PlannedPosting(
                row["decided_at"],
                index,
                ledger.Posting(
                    member_id=row["member_id"],
                    points=row["points"],
                    kind=EntryKind.AWARD,
                    source_type="claim",
                    source_id=claim_id,
                    community_id=row["community_id"],
                    occurred_on=row["occurred_on"],
                    idempotency_key=key,
                    memo=names[row["category_id"]],
                ),
            )
        )
        if fate:
            later = min(row["decided_at"] + timedelta(days=7), demo.now)
            demo.reversals.append((later, index, key, fate))


def post_ledger(demo: Demo) -> None:
    """Post the history in monthly batches per community, in time order, through the ledger."""
    batches: dict[tuple[datetime, int], list[ledger.Posting]] = defaultdict(list)
    for item in demo.postings:
        batches[(item.instant, item.community_index)].append(item.posting)
    # Events: (instant, 0 = batch / 1 = reversal, community index, payload)
    events: list[tuple[datetime, int, int, Any]] = [
        (instant, 0, index, postings) for (instant, index), postings in batches.items()
    ]
    events += [(instant, 1, index, (key, reason)) for instant, index, key, reason in demo.reversals]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    reversal_keys = {key for _, _, key, _ in demo.reversals}
    entry_ids: dict[str, int] = {}
    posted, analysed_at = 0, 0
    for instant, kind, index, payload in events:
        secretary = demo.secretaries[index]
        if kind == 0:
            if posted >= 2 * analysed_at + 1000:
                _refresh_statistics(demo)
                analysed_at = posted
            postings = sorted(
                payload, key=lambda p: (p.member_id, p.occurred_on, p.idempotency_key)
            )
            entries = ledger.post_many(demo.session, postings, secretary.id, now=instant)
            posted += len(entries)
            for entry in entries:
                if entry.idempotency_key in reversal_keys:
                    entry_ids[entry.idempotency_key] = entry.id
        else:
            key, reason = payload
            ledger.reverse(
                demo.session, Actor.for_account(secretary), entry_ids[key], reason, now=instant
            )
    demo.postings = []


def _refresh_statistics(demo: Demo) -> None:
    """Let PostgreSQL's planner see the rows this transaction has written so far.

    A fresh table has no statistics, so the planner expects it to be tiny and the ledger's
    chain-head lookup scans the whole growing table for every batch (quadratic). ANALYZE
    inside the transaction counts the transaction's own rows.
    """
    if demo.session.get_bind().dialect.name == "postgresql":
        demo.session.execute(text("ANALYZE members, ledger_entries"))
