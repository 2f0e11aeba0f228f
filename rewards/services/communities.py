"""Communities (社区): finding one by its code (C01 …), listing them for a choice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.errors import NotFound
from rewards.models import Community


def all_communities(session: Session) -> list[Community]:
    """Every community, by code."""
    return list(session.scalars(select(Community).order_by(Community.code)))


COMMUNITY_NOT_FOUND = "找不到该社区。"


def community_by_code(session: Session, code: str, missing: str = COMMUNITY_NOT_FOUND) -> Community:
    """The community with ``code`` (any case, spaces ignored), or ``NotFound(missing)``.

    The default message is the one a secretary gets for another community, so an unknown code
    and one out of reach read the same.
    """
    code = (code or "").strip().upper()
    community = session.scalar(select(Community).where(Community.code == code)) if code else None
    if community is None:
        raise NotFound(missing)
    return community
