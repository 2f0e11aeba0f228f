"""Tiers (金卡 / 银卡), derived live from ledger points in the policy's trailing window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import Date, Interval, Select, bindparam, cast, func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, months_before, utcnow
from rewards.errors import ValidationFailed
from rewards.models import LedgerEntry, Role, Tier, TierPolicy
from rewards.services.audit import Actor, record, require_role


@dataclass(frozen=True)
class TierStanding:
    """A member's tier on a date, with the numbers that explain it."""

    tier: Tier
    points: int
    policy_version: int | None
    window_start: date
    window_end: date
    gold_threshold: int | None
    silver_threshold: int | None

    @property
    def next_tier(self) -> Tier | None:
        return {Tier.NONE: Tier.SILVER, Tier.SILVER: Tier.GOLD}.get(self.tier)

    @property
    def points_to_next(self) -> int | None:
        """Points still needed for the next tier (None at gold or with no policy)."""
        if self.tier is Tier.NONE and self.silver_threshold is not None:
            return self.silver_threshold - self.points
        if self.tier is Tier.SILVER and self.gold_threshold is not None:
            return self.gold_threshold - self.points
        return None


def current_policy(session: Session, at: datetime | None = None) -> TierPolicy | None:
    """The policy in force at instant ``at``: the newest version already effective."""
    return session.scalar(
        select(TierPolicy)
        .where(TierPolicy.effective_from <= (at or utcnow()))
        .order_by(TierPolicy.version.desc())
        .limit(1)
    )


def set_policy(
    session: Session,
    actor: Actor,
    gold_threshold: int,
    silver_threshold: int,
    window_months: int = 12,
    effective_from: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> TierPolicy:
    """Publish a new version of the tier policy (district administrators only)."""
    require_role(actor, Role.DISTRICT_ADMIN)
    if not 0 < silver_threshold < gold_threshold:
        raise ValidationFailed("金卡门槛必须高于银卡门槛，且银卡门槛必须大于 0。")
    if not 1 <= window_months <= 60:
        raise ValidationFailed("积分统计周期必须在 1 到 60 个月之间。")
    now = now or utcnow()
    latest = session.scalar(select(func.max(TierPolicy.version))) or 0
    policy = TierPolicy(
        version=latest + 1,
        gold_threshold=gold_threshold,
        silver_threshold=silver_threshold,
        window_months=window_months,
        effective_from=effective_from or now,
        note=note,
        created_by_id=actor.account_id,
        created_at=now,
    )
    session.add(policy)
    session.flush()
    record(
        session,
        actor,
        "tier_policy.publish",
        "tier_policy",
        policy.id,
        at=now,
        version=policy.version,
        gold=gold_threshold,
        silver=silver_threshold,
        window_months=window_months,
    )
    return policy


def tier_for_points(points: int, policy: TierPolicy | None) -> Tier:
    """Apply a policy's thresholds to a number of points."""
    if policy is None:
        return Tier.NONE
    return _tier(points, policy.gold_threshold, policy.silver_threshold)


def _tier(points: int, gold_threshold: int, silver_threshold: int) -> Tier:
    if points >= gold_threshold:
        return Tier.GOLD
    if points >= silver_threshold:
        return Tier.SILVER
    return Tier.NONE


def window(policy: TierPolicy | None, on: date) -> tuple[date, date]:
    """The first and last service dates that count on day ``on``: the trailing window_months."""
    months = policy.window_months if policy else 12
    return months_before(on, months) + timedelta(days=1), on


def points_in_window(
    session: Session, member_ids: Iterable[int], start: date, end: date
) -> dict[int, int]:
    """Sum of ledger points per member over service dates ``start`` … ``end``, inclusive."""
    ids = list(member_ids)
    totals: dict[int, int] = {}
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start : chunk_start + 5000]
        rows = session.execute(
            select(LedgerEntry.member_id, func.sum(LedgerEntry.points))
            .where(
                LedgerEntry.member_id.in_(chunk),
                LedgerEntry.occurred_on >= start,
                LedgerEntry.occurred_on <= end,
            )
            .group_by(LedgerEntry.member_id)
        )
        totals.update({member_id: int(total) for member_id, total in rows})
    return totals


@cache
def _standing_statement() -> Select[tuple[int, int, int, int, int]]:
    """The policy in force at ``at`` and the member's points in its window ending on ``on``.

    Built once (the checkout runs it on every call); PostgreSQL only, for ``make_interval``.
    """
    policy = (
        select(
            TierPolicy.version,
            TierPolicy.gold_threshold,
            TierPolicy.silver_threshold,
            TierPolicy.window_months,
        )
        .where(TierPolicy.effective_from <= bindparam("at"))
        .order_by(TierPolicy.version.desc())
        .limit(1)
        .subquery()
    )
    on = bindparam("on", type_=Date)
    # PostgreSQL clamps to the month's end exactly as months_before does (31 Mar - 1 month is
    # 29 Feb), so the window opens the day after this.
    opens_after = cast(on - func.make_interval(0, policy.c.window_months, type_=Interval), Date)
    points = (
        select(func.coalesce(func.sum(LedgerEntry.points), 0))
        .where(
            LedgerEntry.member_id == bindparam("member_id"),
            LedgerEntry.occurred_on > opens_after,
            LedgerEntry.occurred_on <= on,
        )
        .scalar_subquery()
    )
    return select(policy, points)


def _standing_in_one_query(session: Session, member_id: int, at: datetime) -> TierStanding | None:
    """Policy in force and the window's points in one round trip (PostgreSQL); else None.

    None also when no policy is in force: the caller then takes the general path.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    on = business_date(at)
    row = session.execute(
        _standing_statement(), {"at": at, "on": on, "member_id": member_id}
    ).first()
    if row is None:
        return None
    version, gold, silver, months, total = row
    total = int(total)
    return TierStanding(
        tier=_tier(total, gold, silver),
        points=total,
        policy_version=version,
        window_start=months_before(on, months) + timedelta(days=1),
        window_end=on,
        gold_threshold=gold,
        silver_threshold=silver,
    )


def evaluate_tier(
    session: Session, member_id: int, at: datetime | None = None, policy: TierPolicy | None = None
) -> TierStanding:
    """The member's tier at instant ``at``, from the ledger and the policy then in force."""
    at = at or utcnow()
    if policy is None:
        standing = _standing_in_one_query(session, member_id, at)
        if standing is not None:
            return standing
        policy = current_policy(session, at)
    start, end = window(policy, business_date(at))
    points = points_in_window(session, [member_id], start, end).get(member_id, 0)
    return TierStanding(
        tier=tier_for_points(points, policy),
        points=points,
        policy_version=policy.version if policy else None,
        window_start=start,
        window_end=end,
        gold_threshold=policy.gold_threshold if policy else None,
        silver_threshold=policy.silver_threshold if policy else None,
    )


def evaluate_tiers(
    session: Session, member_ids: Iterable[int], at: datetime | None = None
) -> dict[int, Tier]:
    """Tiers of many members at once (one grouped query per 5,000 members)."""
    at = at or utcnow()
    policy = current_policy(session, at)
    ids = list(member_ids)
    start, end = window(policy, business_date(at))
    totals = points_in_window(session, ids, start, end)
    return {member_id: tier_for_points(totals.get(member_id, 0), policy) for member_id in ids}


@dataclass(frozen=True)
class TierOutlook:
    """Where a member stands ``days`` from now if nothing new is certified (积分到期预警):
    points leave the trailing window as their service dates age out of it."""

    member_id: int
    tier_now: Tier
    points_now: int
    tier_then: Tier
    points_then: int
    horizon: date
    drops_on: date | None  # the first day the tier is lower than today's, if within the horizon

    @property
    def leaving(self) -> int:
        """Points that leave the window by the horizon."""
        return self.points_now - self.points_then


_RANK = {Tier.NONE: 0, Tier.SILVER: 1, Tier.GOLD: 2}


def outlook(
    session: Session, member_ids: Iterable[int], at: datetime | None = None, days: int = 30
) -> dict[int, TierOutlook]:
    """Each member's tier over the next ``days`` days with no new points, under today's policy
    (a policy version published for a later date is not taken into account)."""
    at = at or utcnow()
    ids = list(member_ids)
    policy = current_policy(session, at)
    today = business_date(at)
    horizon = today + timedelta(days=days)
    start_now, _ = window(policy, today)
    start_then, _ = window(policy, horizon)
    now_points = points_in_window(session, ids, start_now, today)
    leaving: dict[int, list[tuple[date, int]]] = {}
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start : chunk_start + 5000]
        rows = session.execute(
            select(LedgerEntry.member_id, LedgerEntry.occurred_on, func.sum(LedgerEntry.points))
            .where(
                LedgerEntry.member_id.in_(chunk),
                LedgerEntry.occurred_on >= start_now,
                LedgerEntry.occurred_on < start_then,
            )
            .group_by(LedgerEntry.member_id, LedgerEntry.occurred_on)
            .order_by(LedgerEntry.member_id, LedgerEntry.occurred_on)
        )
        for member_id, day, total in rows:
            leaving.setdefault(member_id, []).append((day, int(total)))
    result = {}
    for member_id in ids:
        points = now_points.get(member_id, 0)
        tier_now = tier_for_points(points, policy)
        drops_on = None
        remaining = points
        aged = leaving.get(member_id, [])
        for offset in range(1, days + 1):
            day = today + timedelta(days=offset)
            opens, _ = window(policy, day)
            while aged and aged[0][0] < opens:
                remaining -= aged.pop(0)[1]
            if drops_on is None and _RANK[tier_for_points(remaining, policy)] < _RANK[tier_now]:
                drops_on = day
        result[member_id] = TierOutlook(
            member_id=member_id,
            tier_now=tier_now,
            points_now=points,
            tier_then=tier_for_points(remaining, policy),
            points_then=remaining,
            horizon=horizon,
            drops_on=drops_on,
        )
    return result
