"""Community activities (社区活动) and their attendance (活动签到): every attendee earns the
activity's points once, however often the batch is submitted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import NotFound, ValidationFailed
from rewards.models import (
    Activity,
    Attendance,
    Community,
    EntryKind,
    Member,
    MemberStatus,
    Role,
)
from rewards.services import ledger
from rewards.services.audit import Actor, record, require_community, require_role
from rewards.services.cards import CardTokens
from rewards.services.categories import check_points, check_service_date, usable_category
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate
from rewards.services.roster import MEMBER_NO

MIN_TITLE, MAX_TITLE = 2, 120
# One batch at most: the largest community's whole roster, with room to spare.
MAX_BATCH = 5000
ACTIVITY_NOT_FOUND = "找不到该活动。"
# Member numbers in pasted text: one per line, or separated by commas, semicolons or spaces.
_SEPARATORS = re.compile(r"[\s,，;；、]+")


def split_member_numbers(text: str) -> list[str]:
    """The member numbers in pasted text, upper-cased, in order, each once."""
    return list(dict.fromkeys(n.upper() for n in _SEPARATORS.split(text or "") if n))


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
    require_community(actor, community_id, "找不到该社区。")
    if session.get(Community, community_id) is None:  # an unknown id would break the insert
        raise NotFound("找不到该社区。")
    category = usable_category(session, category_id)
    check_points(points, category)
    check_service_date(occurred_on, business_date(now))
    title = (title or "").strip()
    if not MIN_TITLE <= len(title) <= MAX_TITLE:
        message = f"活动名称需要 {MIN_TITLE} 到 {MAX_TITLE} 个字。"
        raise ValidationFailed(message, fields={"title": [message]})
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
class ActivityRow:
    """An activity with how many members are recorded as attending."""

    activity: Activity
    attendees: int


def _attendee_count():  # type: ignore[no-untyped-def]
    return (
        select(func.count(Attendance.id))
        .where(Attendance.activity_id == Activity.id)
        .correlate(Activity)
        .scalar_subquery()
    )


def list_activities(
    session: Session,
    actor: Actor,
    community_id: int | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[ActivityRow]:
    """A community's activities, latest first (the district: all, or one community)."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if not actor.is_district_wide:
        if community_id is not None and community_id != actor.community_id:
            raise NotFound("找不到该社区。")
        community_id = actor.community_id
    statement = select(Activity, _attendee_count()).order_by(
        Activity.occurred_on.desc(), Activity.id.desc()
    )
    if community_id is not None:
        statement = statement.where(Activity.community_id == community_id)
    rows = paginate(session, statement, page, page_size, scalars=False)
    return rows.map(lambda row: ActivityRow(row[0], int(row[1])))


def get_activity(session: Session, actor: Actor, activity_id: int) -> ActivityRow:
    """One activity of the actor's community; another community's is not found."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    row = session.execute(
        select(Activity, _attendee_count()).where(Activity.id == activity_id)
    ).first()
    if row is None:
        raise NotFound(ACTIVITY_NOT_FOUND)
    require_community(actor, row[0].community_id, ACTIVITY_NOT_FOUND)
    return ActivityRow(row[0], int(row[1]))


def attendees(
    session: Session, actor: Actor, activity_id: int, page: int = 1, page_size: int = 100
) -> Page[tuple[Member, datetime]]:
    """Who is recorded as attending, in the order they were recorded."""
    get_activity(session, actor, activity_id)
    statement = (
        select(Member, Attendance.recorded_at)
        .join(Attendance, Attendance.member_id == Member.id)
        .where(Attendance.activity_id == activity_id)
        .order_by(Attendance.id)
    )
    return paginate(session, statement, page, page_size, scalars=False).map(tuple)


def recorded_members(
    session: Session, actor: Actor, activity_id: int, member_ids: Sequence[int]
) -> set[int]:
    """Which of ``member_ids`` are already recorded as attending (to mark them in a list)."""
    get_activity(session, actor, activity_id)
    if not member_ids:
        return set()
    return set(
        session.scalars(
            select(Attendance.member_id).where(
                Attendance.activity_id == activity_id, Attendance.member_id.in_(member_ids)
            )
        )
    )


@dataclass(frozen=True)
class AttendanceResult:
    """What a batch did: the member numbers newly credited and those already recorded before."""

    credited: list[str]
    already_recorded: list[str]


def record_attendance(
    session: Session,
    actor: Actor,
    activity_id: int,
    member_nos: Sequence[str],
    now: datetime | None = None,
) -> AttendanceResult:
    """Credit every listed member once for attending (登记签到); a re-submitted batch credits
    nobody twice and says who was already recorded.

    All or nothing: unknown numbers, and members not registered in the activity's community,
    are named and refuse the whole batch.
    """
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    activity = session.scalar(
        select(Activity).where(Activity.id == activity_id).with_for_update(of=Activity)
    )
    if activity is None:
        raise NotFound(ACTIVITY_NOT_FOUND)
    require_community(actor, activity.community_id, ACTIVITY_NOT_FOUND)
    wanted = list(dict.fromkeys((n or "").strip().upper() for n in member_nos if n and n.strip()))
    if not wanted:
        message = "请至少选择或输入一名参加活动的党员。"
        raise ValidationFailed(message, fields={"member_nos": [message]})
    if len(wanted) > MAX_BATCH:
        raise ValidationFailed(f"一批最多登记 {MAX_BATCH} 人，请分批提交。")
    members: dict[str, Member] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        members.update(
            (m.member_no, m)
            for m in session.scalars(select(Member).where(Member.member_no.in_(chunk)))
            if m.community_id == activity.community_id and m.status is MemberStatus.ACTIVE
        )
    # Another community's member is named like an unknown one: no hint of who exists elsewhere.
    outsiders = [n for n in wanted if n not in members]
    if outsiders:
        shown = "、".join(outsiders[:10]) + (" 等" if len(outsiders) > 10 else "")
        raise ValidationFailed(
            f"有 {len(outsiders)} 个编号不是本社区在册党员：{shown}。整批未记录，"
            "请核对后重新提交。",
            fields={"member_nos": [f"{n} 不是本社区在册党员。" for n in outsiders]},
            member_nos=outsiders,
        )
    ids = [members[n].id for n in wanted]
    seen: set[int] = set()
    for start in range(0, len(ids), 1000):
        seen.update(
            session.scalars(
                select(Attendance.member_id).where(
                    Attendance.activity_id == activity.id,
                    Attendance.member_id.in_(ids[start : start + 1000]),
                )
            )
        )
    fresh = [n for n in wanted if members[n].id not in seen]
    already = [n for n in wanted if members[n].id in seen]
    if fresh:
        session.add_all(
            Attendance(
                activity_id=activity.id,
                member_id=members[n].id,
                recorded_at=now,
                recorded_by_id=actor.account_id,
            )
            for n in fresh
        )
        ledger.post_many(
            session,
            [
                ledger.Posting(
                    member_id=members[n].id,
                    points=activity.points,
                    kind=EntryKind.ATTENDANCE,
                    source_type="activity",
                    source_id=activity.id,
                    community_id=activity.community_id,
                    occurred_on=activity.occurred_on,
                    idempotency_key=f"activity:{activity.id}:member:{members[n].id}",
                    memo=activity.title[:200],
                )
                for n in fresh
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
        already_recorded=already,
    )
    return AttendanceResult(credited=fresh, already_recorded=already)


@dataclass(frozen=True)
class Attendee:
    """Who a scanned code or typed number names, and whether they are already recorded."""

    member_no: str
    name: str
    already_recorded: bool


def identify_attendee(
    session: Session,
    actor: Actor,
    tokens: CardTokens,
    activity_id: int,
    code: str,
    now: datetime | None = None,
) -> Attendee:
    """The member behind a card code scanned at the door (printed number, printed QR or phone
    code) or a typed member number; nothing is recorded until the batch is submitted."""
    activity = get_activity(session, actor, activity_id).activity
    text = (code or "").strip()
    member: Member | None = None
    if MEMBER_NO.match(text.upper()):
        member = session.scalar(select(Member).where(Member.member_no == text.upper()))
    if member is None:  # a card code (a 12-digit card number looks like a member number too)
        member = tokens.identify(session, text, now).member
    if (
        member is None
        or member.community_id != activity.community_id
        or member.status is not MemberStatus.ACTIVE
    ):
        raise ValidationFailed("持卡人不是本社区在册党员，不能登记到本社区的活动。")
    already = session.scalar(
        select(Attendance.id).where(
            Attendance.activity_id == activity.id, Attendance.member_id == member.id
        )
    )
    return Attendee(member.member_no, member.name, already is not None)
