"""``rewards activities``: community activities (社区活动) and their attendance (活动签到), as a
named account."""

from __future__ import annotations

from typing import TextIO

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from rewards.cli import (
    OperatorError,
    acting_actor,
    as_account_option,
    community_by_code,
    operator_transaction,
    parse_date,
)
from rewards.errors import ValidationFailed
from rewards.models import Activity, Community
from rewards.services import activities
from rewards.services.audit import Actor
from rewards.services.categories import category_by_code

activities_group = AppGroup("activities", help="Community activities (社区活动) and attendance.")

# The service's refusal names the first ten outsiders; a file can hold many more.
SHOWN_OUTSIDERS = 10


def _community(session: Session, actor: Actor, community_code: str | None) -> Community:
    """The activity's community: the one named, or a secretary's own."""
    if community_code:
        return community_by_code(session, community_code)
    if actor.community_id is None:
        raise OperatorError("区管理员账号请用 --community 指定活动所在社区，例如 C01。")
    community = session.get(Community, actor.community_id)
    assert community is not None
    return community


@activities_group.command("create")
@click.option("--community", "community_code", help="社区代码（社区书记可省略：本社区）。")
@click.option("--title", required=True, help="活动名称。")
@click.option("--category", "category_code", required=True, help="积分类别代码，如 volunteer。")
@click.option("--date", "occurred_on", required=True, metavar="YYYY-MM-DD", help="活动日期。")
@click.option("--points", type=int, required=True, help="每位参加者记的分数。")
@as_account_option
def create_activity_command(
    community_code: str | None,
    title: str,
    category_code: str,
    occurred_on: str,
    points: int,
    as_username: str | None,
) -> None:
    """Create a community activity; prints its id alone on the last line."""
    day = parse_date(occurred_on, "--date")
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        community = _community(session, actor, community_code)
        activity = activities.create_activity(
            session,
            actor,
            community.id,
            category_by_code(session, category_code).id,
            title,
            day,
            points,
        )
        done = (
            f"已创建活动 #{activity.id}「{activity.title}」：{community.code} {community.name}，"
            f"{activity.occurred_on.isoformat()}，"
            f"{activity.category.name}，每位参加者 {activity.points} 分。活动编号："
        )
        activity_id = activity.id
    click.echo(done)
    click.echo(activity_id)


@activities_group.command("attend")
@click.argument("activity_id", type=int)
@click.option(
    "--file",
    "numbers_file",
    required=True,
    type=click.File("r", encoding="utf-8-sig"),
    help="党员编号文件：每行一个或用逗号分隔；- 表示从标准输入读取。",
)
@as_account_option
def record_attendance_command(
    activity_id: int, numbers_file: TextIO, as_username: str | None
) -> None:
    """Record who attended an activity (登记签到), all or nothing; nobody is credited twice."""
    member_nos = activities.split_member_numbers(numbers_file.read())
    with operator_transaction() as session:
        actor = acting_actor(session, as_username)
        try:
            result = activities.record_attendance(session, actor, activity_id, member_nos)
        except ValidationFailed as exc:
            outsiders = exc.details.get("member_nos") or []
            if len(outsiders) > SHOWN_OUTSIDERS:
                for number in outsiders:
                    click.echo(f"{number} 不是本社区在册党员", err=True)
            raise
        activity = session.get(Activity, activity_id)
        assert activity is not None
        done = _attendance_summary(activity, len(result.credited), len(result.already_recorded))
    click.echo(done)


def _attendance_summary(activity: Activity, credited: int, already: int) -> str:
    about = f"活动 #{activity.id}「{activity.title}」："
    if not credited:
        return f"{about}这 {already} 人此前都已登记，没有重复记分。"
    done = f"{about}新登记签到 {credited} 人，每人记 {activity.points} 分。"
    return done + (f"另有 {already} 人此前已登记，没有重复记分。" if already else "")
