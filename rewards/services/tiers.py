"""Tiers (金卡 / 银卡), derived live from ledger points in the policy's trailing window."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Date, Interval, Select, bindparam, cast, func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, business_day_bounds, months_before, utcnow
from rewards.errors import ValidationFailed
from rewards.models import (
    Account,
    Community,
    LedgerEntry,
    Member,
    MemberStatus,
    Role,
    Tier,
    TierPolicy,
)
from rewards.services.audit import Actor, record, require_role

if TYPE_CHECKING:
    from rewards.services.reports import TierCounts

MAX_THRESHOLD = 100_000
MAX_NOTE = 200


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


def latest_policy(session: Session) -> TierPolicy | None:
    """The newest version published, in force or scheduled."""
    return session.scalar(select(TierPolicy).order_by(TierPolicy.version.desc()).limit(1))


def _check_version(
    session: Session,
    gold_threshold: int,
    silver_threshold: int,
    window_months: int,
    effective_from: datetime,
    note: str,
    now: datetime,
) -> None:
    """Refuse an incoherent version, or one that would rewrite the past (never backwards).

    Every refusal names its field (gold_threshold, silver_threshold, window_months,
    effective_on, note), all of them at once.
    """
    fields: dict[str, list[str]] = {}
    if silver_threshold <= 0:
        fields["silver_threshold"] = ["银卡门槛必须大于 0。"]
    elif gold_threshold <= silver_threshold:
        fields["gold_threshold"] = ["金卡门槛必须高于银卡门槛。"]
    for name, value in (("gold_threshold", gold_threshold), ("silver_threshold", silver_threshold)):
        if value > MAX_THRESHOLD and name not in fields:
            fields[name] = [f"门槛不能超过 {MAX_THRESHOLD} 分。"]
    if not 1 <= window_months <= 60:
        fields["window_months"] = ["积分统计周期必须在 1 到 60 个月之间。"]
    if len(note) > MAX_NOTE:
        fields["note"] = [f"说明最多 {MAX_NOTE} 个字。"]
    latest = latest_policy(session)
    # The first version may date back to the scheme's start (set up once); after it, a version
    # takes effect now or later, and not before the latest one: tiers of days gone stay as they
    # were when sales and statistics used them.
    if latest is not None:
        if effective_from < now:
            fields["effective_on"] = ["生效日期不能早于今天：已经过去的日子按当时的标准计算。"]
        elif effective_from < latest.effective_from:
            day = business_date(latest.effective_from).isoformat()
            fields["effective_on"] = [
                f"生效日期不能早于最新一版（第 {latest.version} 版）的生效日期 {day}。"
            ]
    if fields:
        message = "；".join(m.rstrip("。") for ms in fields.values() for m in ms) + "。"
        raise ValidationFailed(message, fields=fields)


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
    """Publish a new version of the tier policy (district administrators only).

    Versions are never edited, and never backwards: after the first, a version takes effect
    at ``now`` or later, and not before the latest version's effective instant.
    """
    require_role(actor, Role.DISTRICT_ADMIN)
    now = now or utcnow()
    effective_from = effective_from or now
    note = (note or "").strip()
    _check_version(
        session, gold_threshold, silver_threshold, window_months, effective_from, note, now
    )
    latest = session.scalar(select(func.max(TierPolicy.version))) or 0
    policy = TierPolicy(
        version=latest + 1,
        gold_threshold=gold_threshold,
        silver_threshold=silver_threshold,
        window_months=window_months,
        effective_from=effective_from,
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
        effective_from=effective_from.isoformat(),
        note=note,
    )
    return policy


def effective_instant(effective_on: date, now: datetime) -> datetime:
    """When a version published now for business date ``effective_on`` takes effect: the start
    of that day in Shanghai, or now when it is today; a day gone by is refused."""
    if effective_on < business_date(now):
        message = "生效日期不能早于今天：已经过去的日子按当时的标准计算。"
        raise ValidationFailed(message, fields={"effective_on": [message]})
    return max(business_day_bounds(effective_on)[0], now)


def publish_policy(
    session: Session,
    actor: Actor,
    gold_threshold: int,
    silver_threshold: int,
    window_months: int,
    effective_on: date,
    note: str = "",
    now: datetime | None = None,
) -> TierPolicy:
    """Publish a version from a business date, today or later (发布积分等级标准新版本)."""
    require_role(actor, Role.DISTRICT_ADMIN)
    now = now or utcnow()
    effective_from = effective_instant(effective_on, now)
    return set_policy(
        session,
        actor,
        gold_threshold,
        silver_threshold,
        window_months,
        effective_from=effective_from,
        note=note,
        now=now,
    )


# -- the versions and a preview -----------------------------------------------------------------


class VersionStatus(enum.StrEnum):
    """Where a version stands at an instant."""

    IN_FORCE = "in_force"  # 现行
    SCHEDULED = "scheduled"  # 待生效
    ENDED = "ended"  # 已被取代 (was in force)
    NEVER = "never"  # 未生效即被取代 (a later version took effect no later)


VERSION_STATUS_LABELS = {
    VersionStatus.IN_FORCE: "现行",
    VersionStatus.SCHEDULED: "待生效",
    VersionStatus.ENDED: "已被取代",
    VersionStatus.NEVER: "未生效即被取代",
}


@dataclass(frozen=True)
class PolicyVersion:
    """One published version with where it stands and who published it."""

    policy: TierPolicy
    status: str
    until: datetime | None  # when a later version replaced (or will replace) it
    author: str

    @property
    def status_label(self) -> str:
        return VERSION_STATUS_LABELS[self.status]


def policy_versions(session: Session, now: datetime | None = None) -> list[PolicyVersion]:
    """Every version, newest first, marked in force, scheduled, ended or never in force."""
    now = now or utcnow()
    policies = list(session.scalars(select(TierPolicy).order_by(TierPolicy.version)))
    author_ids = {p.created_by_id for p in policies if p.created_by_id is not None}
    authors = {
        account_id: name
        for account_id, name in session.execute(
            select(Account.id, Account.display_name).where(Account.id.in_(author_ids))
        )
    }
    current = current_policy(session, now)
    versions = []
    for policy in policies:
        later = [p.effective_from for p in policies if p.version > policy.version]
        never = any(when <= policy.effective_from for when in later)
        if current is not None and policy.id == current.id:
            status = VersionStatus.IN_FORCE
        elif never:
            status = VersionStatus.NEVER
        elif policy.effective_from > now:
            status = VersionStatus.SCHEDULED
        else:
            status = VersionStatus.ENDED
        until = (
            None if never else min((w for w in later if w > policy.effective_from), default=None)
        )
        author = authors.get(policy.created_by_id, "") if policy.created_by_id else "命令行（运维）"
        versions.append(PolicyVersion(policy, status, until, author))
    return versions[::-1]


@dataclass(frozen=True)
class CommunityPreview:
    """One community's (or the district's, code "ALL") active members by tier on the date,
    under the proposed version and under the one in force today."""

    code: str
    name: str
    proposed: TierCounts
    today: TierCounts

    def change(self, tier: str) -> int:
        """How many more (or fewer) members the proposed version puts in ``tier``."""
        return int(getattr(self.proposed, tier)) - int(getattr(self.today, tier))


@dataclass(frozen=True)
class PolicyPreview:
    """What a proposed version would do on its first day (预览), written nowhere."""

    gold_threshold: int
    silver_threshold: int
    window_months: int
    effective_on: date
    effective_from: datetime
    note: str
    window_start: date
    next_version: int
    in_force: TierPolicy | None  # the version in force today, the comparison
    in_force_window_start: date
    communities: list[CommunityPreview]
    district: CommunityPreview


def preview_policy(
    session: Session,
    actor: Actor,
    gold_threshold: int,
    silver_threshold: int,
    window_months: int,
    effective_on: date,
    note: str = "",
    now: datetime | None = None,
) -> PolicyPreview:
    """Active members by tier per community on ``effective_on`` under a proposed version, next
    to the same count under the version in force today; checked as publishing would be.

    Both counts take the points in each version's window ending on that date, from the ledger
    as it is now (services not yet certified are not guessed). Nothing is written.
    """
    # Imported here: reports imports this module.
    from rewards.services.reports import TierCounts

    require_role(actor, Role.DISTRICT_ADMIN)
    now = now or utcnow()
    note = (note or "").strip()
    effective_from = effective_instant(effective_on, now)
    _check_version(
        session, gold_threshold, silver_threshold, window_months, effective_from, note, now
    )
    proposed = TierPolicy(
        gold_threshold=gold_threshold,
        silver_threshold=silver_threshold,
        window_months=window_months,
    )
    in_force = current_policy(session, now)
    communities = list(session.scalars(select(Community).order_by(Community.code)))
    members = session.execute(
        select(Member.id, Member.community_id).where(Member.status == MemberStatus.ACTIVE)
    ).all()
    ids = [member_id for member_id, _ in members]
    proposed_tiers = _tiers_under(session, ids, proposed, effective_on)
    today_tiers = _tiers_under(session, ids, in_force, effective_on)

    rows = {c.id: CommunityPreview(c.code, c.name, TierCounts(), TierCounts()) for c in communities}
    district = CommunityPreview("ALL", "全区", TierCounts(), TierCounts())
    for member_id, community_id in members:
        for row in (rows[community_id], district):
            row.proposed.add(proposed_tiers[member_id])
            row.today.add(today_tiers[member_id])
    return PolicyPreview(
        gold_threshold=gold_threshold,
        silver_threshold=silver_threshold,
        window_months=window_months,
        effective_on=effective_on,
        effective_from=effective_from,
        note=note,
        window_start=window(proposed, effective_on)[0],
        next_version=(session.scalar(select(func.max(TierPolicy.version))) or 0) + 1,
        in_force=in_force,
        in_force_window_start=window(in_force, effective_on)[0],
        communities=list(rows.values()),
        district=district,
    )


def _tiers_under(
    session: Session, member_ids: list[int], policy: TierPolicy | None, on: date
) -> dict[int, Tier]:
    """Each member's tier on day ``on`` under ``policy`` (saved or not), as evaluate_tiers."""
    start, end = window(policy, on)
    totals = points_in_window(session, member_ids, start, end)
    return {
        member_id: tier_for_points(totals.get(member_id, 0), policy) for member_id in member_ids
    }


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
    return _tiers_under(session, list(member_ids), current_policy(session, at), business_date(at))


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
