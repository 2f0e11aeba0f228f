"""Point categories (积分类别): what earns points, how many by default and at most."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.errors import ValidationFailed
from rewards.models import PointCategory

# Services older than this cannot be claimed or recorded: the window for tiers is a year.
MAX_SERVICE_AGE_DAYS = 366


def enabled_categories(session: Session) -> list[PointCategory]:
    """The categories that can be used today, in a stable order."""
    return list(
        session.scalars(
            select(PointCategory).where(PointCategory.is_enabled).order_by(PointCategory.id)
        )
    )


def usable_category(session: Session, category_id: int | None) -> PointCategory:
    """An enabled category by id, or a clear refusal."""
    category = session.get(PointCategory, category_id) if category_id is not None else None
    if category is None or not category.is_enabled:
        raise ValidationFailed(
            "积分类别不存在或已停用。", fields={"category": ["积分类别不存在或已停用。"]}
        )
    return category


def category_by_code(session: Session, code: str) -> PointCategory:
    """An enabled category by its code (volunteer, micro_wish …), or a clear refusal."""
    category = session.scalar(
        select(PointCategory).where(PointCategory.code == (code or "").strip())
    )
    if category is None or not category.is_enabled:
        message = f"积分类别「{code}」不存在或已停用。"
        raise ValidationFailed(message, fields={"category": [message]})
    return category


def check_points(points: int, category: PointCategory) -> None:
    """Points of one claim or activity: 1 to the category's maximum."""
    if not 1 <= points <= category.max_points:
        message = (
            f"「{category.name}」每次可得 1 到 {category.max_points} 分，填写的是 {points} 分。"
        )
        raise ValidationFailed(message, fields={"points": [message]})


def check_service_date(occurred_on: date, today: date) -> None:
    """A service date: not in the future, not older than a year."""
    if occurred_on > today:
        raise ValidationFailed("服务日期不能晚于今天。", fields={"occurred_on": ["不能晚于今天。"]})
    if occurred_on < today - timedelta(days=MAX_SERVICE_AGE_DAYS):
        raise ValidationFailed(
            "只能登记一年以内的服务。", fields={"occurred_on": ["只能登记一年以内的服务。"]}
        )
