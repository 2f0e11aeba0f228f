"""Notices to a member (消息): written with the decision or change they tell of, in the same
transaction; read on the member's phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Forbidden
from rewards.models import Notice, Role
from rewards.services.audit import Actor
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate


def notify(
    session: Session,
    member_id: int,
    kind: str,
    message: str,
    object_type: str,
    object_id: int | None,
    now: datetime | None = None,
) -> Notice:
    """Leave ``message`` for the member (kind: the audit action it tells of)."""
    notice = Notice(
        member_id=member_id,
        kind=kind,
        message=message[:300],
        object_type=object_type,
        object_id=object_id,
        created_at=now or utcnow(),
    )
    session.add(notice)
    return notice


def _own_member(actor: Actor) -> int:
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("只有党员本人可以查看自己的消息。")
    return actor.member_id


def unread_count(session: Session, actor: Actor) -> int:
    """How many of the member's notices are unread."""
    member_id = _own_member(actor)
    return (
        session.scalar(
            select(func.count(Notice.id)).where(
                Notice.member_id == member_id, Notice.read_at.is_(None)
            )
        )
        or 0
    )


def my_notices(
    session: Session, actor: Actor, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> Page[Notice]:
    """The member's notices, newest first."""
    member_id = _own_member(actor)
    statement = (
        select(Notice)
        .where(Notice.member_id == member_id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
    )
    return paginate(session, statement, page, page_size)


def mark_read(session: Session, actor: Actor, now: datetime | None = None) -> int:
    """Mark every unread notice of the member read; how many there were."""
    member_id = _own_member(actor)
    result = session.execute(
        update(Notice)
        .where(Notice.member_id == member_id, Notice.read_at.is_(None))
        .values(read_at=now or utcnow())
    )
    return result.rowcount or 0
