"""Earning points: members claim services (申报), secretaries certify (认定) or reject them, and
record activity attendance (活动签到) for many members at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import (
    Activity,
    Attendance,
    Claim,
    ClaimStatus,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    PointCategory,
    Role,
)
from rewards.services import ledger
from rewards.services.audit import Actor, record, require_community, require_role

# Services older than this cannot be claimed: the window for tiers is a year.
CLAIM_MAX_AGE_DAYS = 366


def _category(session: Session, category_id: int) -> PointCategory:
    category = session.get(PointCategory, category_id)
    if category is None or not category.is_enabled:
        raise ValidationFailed("积分类别不存在或已停用。")
    return category


def _check_service_date(occurred_on: date, today: date) -> None:
    if occurred_on > today:
        raise ValidationFailed("服务日期不能晚于今天。")
    if occurred_on < today - timedelta(days=CLAIM_MAX_AGE_DAYS):
        raise ValidationFailed("只能申报一年以内的服务。")


def _check_points(points: int, category: PointCategory) -> None:
    if not 1 <= points <= category.max_points:
        raise ValidationFailed(
            f"「{category.name}」每次可得 1 到 {category.max_points} 分，填写的是 {points} 分。"
        )


def submit_claim(
    session: Session,
    actor: Actor,
    member_id: int,
    category_id: int,
    description: str,
    occurred_on: date,
    points: int | None = None,
    now: datetime | None = None,
) -> Claim:
    """A member (or their secretary on their behalf) claims a service for points."""
    now = now or utcnow()
    member = session.get(Member, member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise NotFound("找不到该党员，或其党员登记已停用。")
    if actor.role is Role.MEMBER:
        if actor.member_id != member.id:
            raise Forbidden("只能为自己申报积分。")
    else:
        require_community(actor, member.community_id)
    category = _category(session, category_id)
    points = category.default_points if points is None else points
    _check_points(points, category)
    _check_service_date(occurred_on, business_date(now))
    description = (description or "").strip()
    if not 2 <= len(description) <= 500:
        raise ValidationFailed("请用 2 到 500 个字说明做了什么服务。")
    claim = Claim(
        member_id=member.id,
        community_id=member.community_id,
        category_id=category.id,
        points=points,
        description=description,
        occurred_on=occurred_on,
        status=ClaimStatus.PENDING,
        submitted_at=now,
    )
    session.add(claim)
    session.flush()
    record(
        session,
        actor,
        "claim.submit",
        "claim",
        claim.id,
        at=now,
        member_id=member.id,
        points=points,
        category=category.code,
    )
    return claim


def _locked_claim(session: Session, actor: Actor, claim_id: int) -> Claim:
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim))
    if claim is None:
        raise NotFound("找不到这条积分申报。")
    member = session.get(Member, claim.member_id)
    assert member is not None
    # Scope by where the member is registered now, not where the claim was filed.
    require_community(actor, member.community_id)
    return claim


def certify_claim(
    session: Session, actor: Actor, claim_id: int, now: datetime | None = None
) -> LedgerEntry:
    """Certify a pending claim: one ledger entry. Certifying it again returns that same entry."""
    now = now or utcnow()
    claim = _locked_claim(session, actor, claim_id)
    key = f"claim:{claim.id}"
    if claim.status is ClaimStatus.CERTIFIED:
        entry = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
        assert entry is not None, "a certified claim always has its ledger entry"
        return entry
    if claim.status is ClaimStatus.REJECTED:
        raise Conflict("这条申报已被驳回，不能再认定。")
    member = session.get(Member, claim.member_id)
    assert member is not None
    entry = ledger.post(
        session,
        ledger.Posting(
            member_id=claim.member_id,
            points=claim.points,
            kind=EntryKind.AWARD,
            source_type="claim",
            source_id=claim.id,
            community_id=member.community_id,
            occurred_on=claim.occurred_on,
            idempotency_key=key,
            memo=claim.category.name,
        ),
        actor.account_id,
        now,
    )
    claim.status = ClaimStatus.CERTIFIED
    claim.decided_at = now
    claim.decided_by_id = actor.account_id
    record(
        session,
        actor,
        "claim.certify",
        "claim",
        claim.id,
        at=now,
        ledger_entry_id=entry.id,
        points=claim.points,
    )
    return entry


def reject_claim(
    session: Session, actor: Actor, claim_id: int, reason: str, now: datetime | None = None
) -> Claim:
    """Reject a pending claim with a reason the member will read."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("驳回必须填写原因，党员会看到这条原因。")
    claim = _locked_claim(session, actor, claim_id)
    if claim.status is ClaimStatus.REJECTED:
        return claim
    if claim.status is ClaimStatus.CERTIFIED:
        raise Conflict("这条申报已经认定；如需撤销请冲正对应的积分记录。")
    claim.status = ClaimStatus.REJECTED
    claim.rejection_reason = reason[:200]
    claim.decided_at = now
    claim.decided_by_id = actor.account_id
    record(session, actor, "claim.reject", "claim", claim.id, at=now, reason=reason)
    return claim


def create_activity(
    session: Session,
    actor: Actor,
    community_id: int,
    category_id: int,
    title: str,
    occurred_on: date,
    points: int,
    now: datetime | None = None,
) -> Activity:
    """Announce a community activity whose attendees each earn ``points``."""
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    require_community(actor, community_id)
    category = _category(session, category_id)
    _check_points(points, category)
    _check_service_date(occurred_on, business_date(now))
    title = (title or "").strip()
    if not 2 <= len(title) <= 120:
        raise ValidationFailed("活动名称需要 2 到 120 个字。")
    activity = Activity(
        community_id=community_id,
        category_id=category.id,
        title=title,
        occurred_on=occurred_on,
        points=points,
        created_by_id=actor.account_id,
        created_at=now,
    )
    session.add(activity)
    session.flush()
    record(
        session,
        actor,
        "activity.create",
        "activity",
        activity.id,
        at=now,
        title=title,
        points=points,
    )
    return activity


@dataclass(frozen=True)
class AttendanceResult:
    """What a batch of attendance did: who was newly credited and who already had been."""

    credited: list[int]
    already_recorded: list[int]


def record_attendance(
    session: Session,
    actor: Actor,
    activity_id: int,
    member_ids: Sequence[int],
    now: datetime | None = None,
) -> AttendanceResult:
    """Credit every listed member once for attending; re-submitting the batch credits nobody twice.

    All or nothing: an unknown member, or one from another community, refuses the whole batch.
    """
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    activity = session.scalar(
        select(Activity).where(Activity.id == activity_id).with_for_update(of=Activity)
    )
    if activity is None:
        raise NotFound("找不到该活动。")
    require_community(actor, activity.community_id)
    wanted = list(dict.fromkeys(member_ids))
    if not wanted:
        raise ValidationFailed("请至少选择一名参加活动的党员。")
    members = {
        m.id: m
        for m in session.scalars(select(Member).where(Member.id.in_(wanted)))
        if m.community_id == activity.community_id and m.status is MemberStatus.ACTIVE
    }
    outsiders = [mid for mid in wanted if mid not in members]
    if outsiders:
        raise ValidationFailed(
            f"有 {len(outsiders)} 人不是本社区在册党员，整批未记录，请核对后重新提交。",
            member_ids=outsiders,
        )
    seen = set(
        session.scalars(
            select(Attendance.member_id).where(
                Attendance.activity_id == activity.id, Attendance.member_id.in_(wanted)
            )
        )
    )
    fresh = [mid for mid in wanted if mid not in seen]
    if fresh:
        session.add_all(
            Attendance(
                activity_id=activity.id,
                member_id=mid,
                recorded_at=now,
                recorded_by_id=actor.account_id,
            )
            for mid in fresh
        )
        ledger.post_many(
            session,
            [
                ledger.Posting(
                    member_id=mid,
                    points=activity.points,
                    kind=EntryKind.ATTENDANCE,
                    source_type="activity",
                    source_id=activity.id,
                    community_id=activity.community_id,
                    occurred_on=activity.occurred_on,
                    idempotency_key=f"activity:{activity.id}:member:{mid}",
                    memo=activity.title[:200],
                )
                for mid in fresh
            ],
            actor.account_id,
            now,
        )
        record(
            session,
            actor,
            "activity.attendance",
            "activity",
            activity.id,
            at=now,
            credited=fresh,
            already_recorded=sorted(seen),
        )
    return AttendanceResult(credited=fresh, already_recorded=[m for m in wanted if m in seen])
