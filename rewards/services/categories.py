"""Point categories (积分类别): what earns points, how many by default and at most."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import Activity, Claim, ClaimStatus, PointCategory, Role
from rewards.services.audit import Actor, record, require_role

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


def category_by_code(
    session: Session, code: str, *, include_disabled: bool = False
) -> PointCategory:
    """A category by its code (volunteer, micro_wish …), or a clear refusal: an enabled one,
    for new claims and activities; any, with ``include_disabled``, to look things up."""
    category = session.scalar(
        select(PointCategory).where(PointCategory.code == (code or "").strip())
    )
    if category is None or not (category.is_enabled or include_disabled):
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


# -- the district's list of categories (积分类别管理) -----------------------------------------

CODE_PATTERN = re.compile(r"[a-z0-9_]{2,24}")
MAX_NAME = 40
# One claim or activity worth more than this is a typing slip, not a service.
MAX_CATEGORY_POINTS = 1000


@dataclass(frozen=True)
class CategoryUse:
    """A category with how many claims (pending among them) and activities use it."""

    category: PointCategory
    claims: int
    pending_claims: int
    activities: int


def category_uses(session: Session) -> list[CategoryUse]:
    """Every category, enabled or not, in a stable order, with its claims and activities."""
    claims = _counts(session, Claim.category_id)
    pending = _counts(session, Claim.category_id, Claim.status == ClaimStatus.PENDING)
    activities = _counts(session, Activity.category_id)
    return [
        CategoryUse(c, claims.get(c.id, 0), pending.get(c.id, 0), activities.get(c.id, 0))
        for c in session.scalars(select(PointCategory).order_by(PointCategory.id))
    ]


def _counts(session: Session, column: Any, *where: Any) -> dict[int, int]:
    """Rows per category id (one grouped query)."""
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {category_id: count for category_id, count in rows}


def get_category(session: Session, category_id: int) -> PointCategory:
    """A category by id, enabled or not, or ``NotFound``."""
    category = session.get(PointCategory, category_id)
    if category is None:
        raise NotFound("找不到这个积分类别。")
    return category


def _points_refusals(default_points: int, max_points: int) -> dict[str, list[str]]:
    """What is wrong with a category's default and maximum points, by field."""
    fields: dict[str, list[str]] = {}
    if default_points < 1:
        fields["default_points"] = ["默认积分至少 1 分。"]
    if max_points > MAX_CATEGORY_POINTS:
        fields["max_points"] = [f"最高积分不能超过 {MAX_CATEGORY_POINTS} 分。"]
    elif max_points < default_points:
        fields["max_points"] = [f"最高积分不能低于默认积分（{default_points} 分）。"]
    return fields


def _refuse(fields: dict[str, list[str]]) -> None:
    if fields:
        message = "；".join(m.rstrip("。") for ms in fields.values() for m in ms) + "。"
        raise ValidationFailed(message, fields=fields)


def create_category(
    session: Session,
    actor: Actor,
    code: str,
    name: str,
    default_points: int,
    max_points: int,
    now: datetime | None = None,
) -> PointCategory:
    """A new category, enabled (新建积分类别): a code of lowercase letters, digits and
    underscores, a unique name, a default of at least 1 and a maximum not below it."""
    require_role(actor, Role.DISTRICT_ADMIN)
    code, name = (code or "").strip(), (name or "").strip()
    fields = _points_refusals(default_points, max_points)
    if not CODE_PATTERN.fullmatch(code):
        fields["code"] = ["代码由 2 到 24 个小写字母、数字或下划线组成，例如 micro_wish。"]
    elif session.scalar(select(PointCategory.id).where(PointCategory.code == code)):
        fields["code"] = [f"代码「{code}」已被使用。"]
    if not 1 <= len(name) <= MAX_NAME:
        fields["name"] = [f"请填写名称（最多 {MAX_NAME} 个字）。"]
    elif session.scalar(select(PointCategory.id).where(PointCategory.name == name)):
        fields["name"] = [f"已有名为「{name}」的类别。"]
    _refuse(fields)
    category = PointCategory(
        code=code,
        name=name,
        default_points=default_points,
        max_points=max_points,
        is_enabled=True,
    )
    try:
        with session.begin_nested():  # the UNIQUE constraints settle a race the checks missed
            session.add(category)
    except IntegrityError:
        raise Conflict("同名或同代码的类别刚刚被创建，请刷新后再试。") from None
    record(
        session,
        actor,
        "category.create",
        "point_category",
        category.id,
        at=now or utcnow(),
        code=code,
        name=name,
        default_points=default_points,
        max_points=max_points,
    )
    return category


def change_category_points(
    session: Session,
    actor: Actor,
    category_id: int,
    default_points: int,
    max_points: int,
    now: datetime | None = None,
) -> PointCategory:
    """New default and maximum points for the claims and activities to come; claims and
    activities already made keep their points (调整积分标准)."""
    require_role(actor, Role.DISTRICT_ADMIN)
    category = get_category(session, category_id)
    _refuse(_points_refusals(default_points, max_points))
    if (default_points, max_points) == (category.default_points, category.max_points):
        message = "没有改动：默认积分和最高积分与现在相同。"
        raise ValidationFailed(message, fields={"default_points": [message]})
    before = {"default_points": category.default_points, "max_points": category.max_points}
    category.default_points, category.max_points = default_points, max_points
    session.flush()
    record(
        session,
        actor,
        "category.change_points",
        "point_category",
        category.id,
        at=now or utcnow(),
        before=before,
        after={"default_points": default_points, "max_points": max_points},
    )
    return category


def set_category_enabled(
    session: Session, actor: Actor, category_id: int, enabled: bool, now: datetime | None = None
) -> PointCategory:
    """Disable a category (停用: no new claims or activities in it; claims and activities made
    keep their points, and pending claims can still be certified) or enable it again."""
    require_role(actor, Role.DISTRICT_ADMIN)
    category = get_category(session, category_id)
    if category.is_enabled == enabled:
        state = "启用" if enabled else "停用"
        raise Conflict(f"「{category.name}」已经是{state}状态。")
    category.is_enabled = enabled
    session.flush()
    record(
        session,
        actor,
        "category.enable" if enabled else "category.disable",
        "point_category",
        category.id,
        at=now or utcnow(),
        code=category.code,
    )
    return category
