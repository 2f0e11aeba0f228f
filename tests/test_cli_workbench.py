"""The operator CLI's workbench: claims, activities and the card lifecycle, each acting as a named
secretary or district administrator (``--as``) within that account's scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.models import (
    Account,
    Activity,
    Attendance,
    AuditEvent,
    Card,
    CardStatus,
    Claim,
    ClaimStatus,
    LedgerEntry,
    Member,
    Role,
)
from rewards.services import activities, claims
from rewards.services.cards import format_card_number
from tests import factories
from tests.clock import FrozenClock
from tests.factories import OPERATOR, World


@pytest.fixture()
def runner(app: Flask, session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture()
def admin(world: World, session: Session) -> Account:
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


@pytest.fixture()
def outsider(world: World, session: Session) -> Account:
    """The secretary of the other community."""
    account = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    return account


def _as(account: Account) -> list[str]:
    return ["--as", account.username]


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _claim(
    session: Session,
    world: World,
    clock: FrozenClock,
    member: Member | None = None,
    days_ago: int = 3,
) -> Claim:
    claim = claims.submit_claim(
        session,
        OPERATOR,
        (member or world.gold).id,
        world.category.id,
        "清理楼道杂物",
        clock.today - timedelta(days=days_ago),
    )
    session.commit()
    return claim


def _activity(session: Session, world: World, clock: FrozenClock, points: int = 4) -> Activity:
    activity = activities.create_activity(
        session,
        OPERATOR,
        world.home.id,
        world.category.id,
        "楼道清洁日",
        clock.today - timedelta(days=1),
        points,
    )
    session.commit()
    return activity


def _writes(session: Session) -> tuple[int, int, int, list[CardStatus]]:
    """Everything a refused command must leave as it was."""
    statuses = list(session.scalars(select(Card.status).order_by(Card.id)))
    return (
        _count(session, LedgerEntry),
        _count(session, AuditEvent),
        _count(session, Attendance),
        statuses,
    )


# -- acting as a named account ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("cashier", "是收银员账号；只有社区书记或区管理员账号能执行此操作"),
        ("unknown", "找不到账号「nobody」"),
        ("disabled", "已停用"),
        ("missing", "请用 --as 用户名"),
    ],
)
def test_only_an_enabled_secretary_or_district_admin_may_act(
    world, session, runner, clock, who, message
):
    claim = _claim(session, world, clock)
    if who == "disabled":
        world.secretary.is_enabled = False
        session.commit()
    as_option = {
        "cashier": _as(world.cashier),
        "unknown": ["--as", "nobody"],
        "disabled": _as(world.secretary),
        "missing": [],
    }[who]
    before = _writes(session)
    result = runner.invoke(args=["claims", "certify", str(claim.id), *as_option])
    assert result.exit_code == 1
    assert result.stderr.startswith("错误：") and message in result.stderr
    assert _writes(session) == before
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_another_communitys_secretary_finds_nothing_and_changes_nothing(
    world, session, runner, clock, outsider
):
    claim = _claim(session, world, clock)
    activity = _activity(session, world, clock)
    before = _writes(session)
    number = world.gold_card.card_no
    commands = {
        "certify": (["claims", "certify", str(claim.id)], "找不到这条积分申报"),
        "reject": (["claims", "reject", str(claim.id), "--reason", "重复"], "找不到这条积分申报"),
        "attend": (["activities", "attend", str(activity.id), "--file", "-"], "找不到该活动"),
        "suspend": (["cards", "suspend", number, "--reason", "挂失"], "查无卡号"),
        "reissue": (["cards", "reissue", number, "--reason", "遗失"], "查无卡号"),
    }
    for args, message in commands.values():
        result = runner.invoke(args=[*args, *_as(outsider)], input=world.gold.member_no)
        assert result.exit_code == 1, args
        assert message in result.stderr, (args, result.stderr)
    assert _writes(session) == before
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_another_communitys_card_reads_like_a_card_that_does_not_exist(
    world, session, runner, outsider
):
    unknown = "123456789015"  # a valid check digit, no such card
    missing = runner.invoke(args=["cards", "suspend", unknown, "--reason", "挂失", *_as(outsider)])
    theirs = runner.invoke(
        args=["cards", "suspend", world.gold_card.card_no, "--reason", "挂失", *_as(outsider)]
    )
    assert missing.exit_code == theirs.exit_code == 1
    assert missing.stderr == f"错误：查无卡号 {format_card_number(unknown)}。\n"
    assert theirs.stderr == f"错误：查无卡号 {format_card_number(world.gold_card.card_no)}。\n"


# -- claims -----------------------------------------------------------------------------------


def test_claims_list_shows_the_secretarys_pending_queue_oldest_first(
    world, session, runner, clock, outsider
):
    older = _claim(session, world, clock, world.gold, days_ago=5)
    older_day = clock.today - timedelta(days=5)
    clock.advance(minutes=5)
    newer = _claim(session, world, clock, world.silver, days_ago=2)
    elsewhere = _claim(session, world, clock, factories.member(session, world.other, "赵外"))
    result = runner.invoke(args=["claims", "list", *_as(world.secretary)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["编号", "党员编号", "姓名", "类别", "服务日期", "积分", "提交时间"]
    assert lines[1].split()[:6] == [
        f"#{older.id}",
        world.gold.member_no,
        "张三明",
        world.category.name,
        older_day.isoformat(),
        "5",
    ]
    assert lines[2].split()[0] == f"#{newer.id}"
    assert f"#{elsewhere.id}" not in result.stdout
    assert lines[-1] == "待认定申报共 2 条，第 1/1 页。"

    theirs = runner.invoke(args=["claims", "list", *_as(outsider)])
    assert theirs.stdout.splitlines()[1].split()[0] == f"#{elsewhere.id}"


def test_claims_list_for_the_admin_filters_by_community_status_and_category(
    world, session, runner, clock, admin
):
    certified = _claim(session, world, clock)
    _claim(session, world, clock, factories.member(session, world.other, "赵外"))
    claims.certify_claim(session, world.actor(world.secretary), certified.id, points=7)
    session.commit()
    everywhere = runner.invoke(args=["claims", "list", *_as(admin)])
    assert "待认定申报共 1 条" in everywhere.stdout
    result = runner.invoke(
        args=[
            *("claims", "list", "--community", world.home.code, "--status", "all"),
            *("--category", world.category.code, *_as(admin)),
        ]
    )
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[1].split()
    assert (row[0], row[5], row[-1]) == (f"#{certified.id}", "7", "已认定")
    assert "全部申报共 1 条" in result.stdout
    unknown = runner.invoke(args=["claims", "list", "--category", "nope", *_as(admin)])
    assert unknown.exit_code == 1 and "积分类别「nope」不存在" in unknown.stderr


def test_claims_list_pages_say_where_the_next_page_is(world, session, runner, clock):
    for _ in range(21):
        _claim(session, world, clock)
    first = runner.invoke(args=["claims", "list", *_as(world.secretary)])
    assert first.stdout.splitlines()[-1] == "待认定申报共 21 条，第 1/2 页。下一页：--page 2"
    second = runner.invoke(args=["claims", "list", "--page", "2", *_as(world.secretary)])
    assert len(second.stdout.splitlines()) == 3  # heading, one claim, footer


def test_certify_one_claim_with_changed_points_posts_one_entry_by_the_named_account(
    world, session, runner, clock
):
    claim = _claim(session, world, clock)
    result = runner.invoke(
        args=["claims", "certify", str(claim.id), "--points", "8", *_as(world.secretary)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"已认定申报 #{claim.id}：张三明（{world.gold.member_no}）{world.category.name}，"
        "记入 8 分。\n"
    )
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key.like("claim:%")))
    assert (entry.points, entry.author_id) == (8, world.secretary.id)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "claim.certify"))
    assert event.actor_label == f"account:{world.secretary.username}"


def test_certifying_a_decided_claim_is_a_conflict_and_credits_once(world, session, runner, clock):
    claim = _claim(session, world, clock)
    first = runner.invoke(args=["claims", "certify", str(claim.id), *_as(world.secretary)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["claims", "certify", str(claim.id), *_as(world.secretary)])
    assert again.exit_code == 1
    assert f"由{world.secretary.display_name}认定，积分已记入，没有重复记分" in again.stderr
    assert _count(session, LedgerEntry, LedgerEntry.idempotency_key == f"claim:{claim.id}") == 1


def test_certify_points_too_high_for_the_category_writes_nothing(world, session, runner, clock):
    claim = _claim(session, world, clock)
    result = runner.invoke(
        args=["claims", "certify", str(claim.id), "--points", "99", *_as(world.secretary)]
    )
    assert result.exit_code == 1 and "1 到 20 分" in result.stderr
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_bulk_certify_prints_a_line_per_claim(world, session, runner, clock):
    first, second = _claim(session, world, clock), _claim(session, world, clock, world.silver)
    result = runner.invoke(
        args=["claims", "certify", str(first.id), str(second.id), *_as(world.secretary)]
    )
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.stdout.splitlines()] == [
        [f"#{first.id}", "张三明", "已认定", "5", "分。"],
        [f"#{second.id}", "李四", "已认定", "5", "分。"],
        ["共认定", "2", "条申报。"],
    ]
    assert _count(session, Claim, Claim.status == ClaimStatus.CERTIFIED) == 2


def test_bulk_certify_reports_each_refusal_and_keeps_the_others(
    world, session, runner, clock, outsider
):
    decided, fresh = _claim(session, world, clock), _claim(session, world, clock, world.silver)
    claims.certify_claim(session, world.actor(world.secretary), decided.id)
    session.commit()
    ids = [str(decided.id), str(fresh.id), "999999"]
    result = runner.invoke(args=["claims", "certify", *ids, *_as(world.secretary)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == [f"#{decided.id}", "张三明"]
    assert "没有重复记分" in lines[0]
    assert lines[1].split() == [f"#{fresh.id}", "李四", "已认定", "5", "分。"]
    assert lines[2].split() == ["#999999", "—", "找不到这条积分申报。"]
    assert "2 条申报未能认定（见上）；其余 1 条已认定" in result.stderr
    assert session.get(Claim, fresh.id).status is ClaimStatus.CERTIFIED
    assert _count(session, LedgerEntry, LedgerEntry.idempotency_key.like("claim:%")) == 2


def test_points_go_with_one_claim_only(world, session, runner, clock):
    first, second = _claim(session, world, clock), _claim(session, world, clock)
    result = runner.invoke(
        args=[
            *("claims", "certify", str(first.id), str(second.id)),
            *("--points", "3", *_as(world.secretary)),
        ]
    )
    assert result.exit_code == 1 and "--points 只能与一条申报同用" in result.stderr
    assert _count(session, Claim, Claim.status == ClaimStatus.PENDING) == 2


def test_reject_records_the_reason_and_needs_one(world, session, runner, clock):
    claim = _claim(session, world, clock)
    blank = runner.invoke(args=["claims", "reject", str(claim.id), *_as(world.secretary)])
    assert blank.exit_code == 1 and "驳回必须填写原因" in blank.stderr
    result = runner.invoke(
        args=["claims", "reject", str(claim.id), "--reason", "当天无此活动", *_as(world.secretary)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"已驳回申报 #{claim.id}：张三明（{world.gold.member_no}）{world.category.name}。"
        "原因：当天无此活动\n"
    )
    rejected = session.get(Claim, claim.id)
    assert (rejected.status, rejected.rejection_reason) == (ClaimStatus.REJECTED, "当天无此活动")
    assert _count(session, LedgerEntry, LedgerEntry.idempotency_key.like("claim:%")) == 0


# -- activities -------------------------------------------------------------------------------


def test_activities_create_prints_the_new_id_alone_on_the_last_line(world, session, runner, clock):
    day = (clock.today - timedelta(days=2)).isoformat()
    result = runner.invoke(
        args=[
            *("activities", "create", "--title", "重阳节敬老", "--date", day),
            *("--category", world.category.code, "--points", "6", *_as(world.secretary)),
        ]
    )
    assert result.exit_code == 0, result.output
    about, number = result.stdout.splitlines()
    activity = session.get(Activity, int(number))
    assert (activity.title, activity.community_id, activity.points) == (
        "重阳节敬老",
        world.home.id,
        6,
    )
    assert about == (
        f"已创建活动 #{activity.id}「重阳节敬老」：{world.home.code} {world.home.name}，{day}，"
        f"{world.category.name}，每位参加者 6 分。活动编号："
    )
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "activity.create"))
    assert event.actor_label == f"account:{world.secretary.username}"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--date", "2026/02/28"], "--date 应为 YYYY-MM-DD"),
        (["--date", "2099-01-01"], "服务日期不能晚于今天"),
        (["--points", "50"], "1 到 20 分"),
        (["--community", "Z99"], "找不到社区 Z99"),
    ],
)
def test_activities_create_refuses_bad_input(world, session, runner, clock, extra, message):
    good = {"--date": clock.today.isoformat(), "--points": "5"}
    options = dict(good, **dict(zip(extra[::2], extra[1::2], strict=True)))
    result = runner.invoke(
        args=[
            *("activities", "create", "--title", "重阳节敬老", "--category", world.category.code),
            *[part for pair in options.items() for part in pair],
            *_as(world.secretary),
        ]
    )
    assert result.exit_code == 1 and message in result.stderr
    assert _count(session, Activity) == 0


def test_activities_create_as_admin_names_the_community(world, session, runner, clock, admin):
    args = [
        *("activities", "create", "--title", "社区议事会", "--category", world.category.code),
        *("--date", clock.today.isoformat(), "--points", "3", *_as(admin)),
    ]
    without = runner.invoke(args=args)
    assert without.exit_code == 1 and "请用 --community 指定" in without.stderr
    result = runner.invoke(args=[*args, "--community", world.other.code])
    assert result.exit_code == 0, result.output
    assert session.get(Activity, int(result.stdout.splitlines()[-1])).community_id == (
        world.other.id
    )


def test_secretary_cannot_create_an_activity_in_another_community(world, session, runner, clock):
    result = runner.invoke(
        args=[
            *("activities", "create", "--title", "社区议事会", "--category", world.category.code),
            *("--date", clock.today.isoformat(), "--points", "3"),
            *("--community", world.other.code, *_as(world.secretary)),
        ]
    )
    assert result.exit_code == 1 and "找不到该社区" in result.stderr
    assert _count(session, Activity) == 0


def test_attend_reads_a_file_of_numbers_and_credits_each_once(
    world, session, runner, clock, tmp_path
):
    activity = _activity(session, world, clock)
    numbers = tmp_path / "attended.txt"
    numbers.write_text(
        f"{world.gold.member_no}\n{world.silver.member_no.lower()}, {world.gold.member_no}\n",
        encoding="utf-8",
    )
    args = ["activities", "attend", str(activity.id), "--file", str(numbers)]
    result = runner.invoke(args=[*args, *_as(world.secretary)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"活动 #{activity.id}「楼道清洁日」：新登记签到 2 人，每人记 4 分。\n"
    assert _count(session, Attendance) == 2
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "activity") == 2
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "activity.attendance"))
    assert event.actor_label == f"account:{world.secretary.username}"

    again = runner.invoke(args=[*args, *_as(world.secretary)])
    assert again.exit_code == 0, again.output
    assert (
        again.stdout == f"活动 #{activity.id}「楼道清洁日」：这 2 人此前都已登记，没有重复记分。\n"
    )
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "activity") == 2


def test_attend_reads_stdin_and_reports_who_was_already_recorded(world, session, runner, clock):
    activity = _activity(session, world, clock)
    args = ["activities", "attend", str(activity.id), "--file", "-", *_as(world.secretary)]
    runner.invoke(args=args, input=f"{world.gold.member_no}\n")
    result = runner.invoke(args=args, input=f"{world.gold.member_no},{world.plain.member_no}\n")
    assert result.exit_code == 0, result.output
    assert "新登记签到 1 人，每人记 4 分。另有 1 人此前已登记，没有重复记分。" in result.stdout
    assert _count(session, Attendance) == 2


def test_attend_with_an_unknown_or_outside_number_names_it_and_records_nothing(
    world, session, runner, clock
):
    activity = _activity(session, world, clock)
    stranger = factories.member(session, world.other, "赵外")
    session.commit()
    before = _writes(session)
    result = runner.invoke(
        args=["activities", "attend", str(activity.id), "--file", "-", *_as(world.secretary)],
        input=f"{world.gold.member_no}\nYT9999999\n{stranger.member_no}\n",
    )
    assert result.exit_code == 1
    assert "有 2 个编号不是本社区在册党员" in result.stderr
    assert "YT9999999" in result.stderr and stranger.member_no in result.stderr
    assert "整批未记录" in result.stderr
    assert _writes(session) == before


def test_attend_with_an_empty_file_is_refused(world, session, runner, clock):
    activity = _activity(session, world, clock)
    result = runner.invoke(
        args=["activities", "attend", str(activity.id), "--file", "-", *_as(world.secretary)],
        input="\n",
    )
    assert result.exit_code == 1 and "请至少选择或输入一名" in result.stderr


# -- cards ------------------------------------------------------------------------------------


def test_suspend_resume_and_revoke_a_card_as_the_secretary(world, session, runner):
    number = world.silver_card.card_no
    shown = format_card_number(number)
    owner = f"（李四，{world.silver.member_no}）"
    steps = [
        ("suspend", "挂失待查", CardStatus.SUSPENDED, f"已暂停卡 {shown}{owner}。商家结算时"),
        ("resume", "已找回", CardStatus.ACTIVE, f"已恢复卡 {shown}{owner}。此卡可以重新使用。"),
        ("revoke", "迁出本社区", CardStatus.REVOKED, f"已注销卡 {shown}{owner}。此卡及其"),
    ]
    for action, reason, status, said in steps:
        result = runner.invoke(
            args=["cards", action, shown, "--reason", reason, *_as(world.secretary)]
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(said)
        session.expire_all()
        card = session.get(Card, world.silver_card.id)
        assert (card.status, card.status_reason) == (status, reason)
    labels = session.scalars(
        select(AuditEvent.actor_label).where(
            AuditEvent.action.like("card.%"), AuditEvent.object_id == card.id
        )
    ).all()
    assert labels[-3:] == [f"account:{world.secretary.username}"] * 3


@pytest.mark.parametrize("action", ["suspend", "resume", "revoke", "reissue"])
def test_a_card_change_without_a_reason_is_refused(world, session, runner, action):
    before = _writes(session)
    result = runner.invoke(
        args=["cards", action, world.gold_card.card_no, "--reason", "  ", *_as(world.secretary)]
    )
    assert result.exit_code == 1
    assert "请用 --reason 写明" in result.stderr
    assert _writes(session) == before


def test_resuming_an_active_card_is_a_conflict(world, session, runner):
    result = runner.invoke(
        args=[
            "cards",
            "resume",
            world.gold_card.card_no,
            "--reason",
            "误操作",
            *_as(world.secretary),
        ]
    )
    assert result.exit_code == 1 and "不能执行此操作" in result.stderr
    assert session.get(Card, world.gold_card.id).status is CardStatus.ACTIVE


def test_reissue_prints_the_new_number_and_replaces_the_old_card(world, session, runner, admin):
    old = world.gold_card
    result = runner.invoke(args=["cards", "reissue", old.card_no, "--reason", "遗失", *_as(admin)])
    assert result.exit_code == 0, result.output
    about, new_number = result.stdout.splitlines()
    session.expire_all()
    replaced = session.get(Card, old.id)
    new = session.scalar(select(Card).where(Card.card_no == new_number))
    assert replaced.status is CardStatus.REPLACED
    assert (new.member_id, new.status, new.generation) == (
        world.gold.id,
        CardStatus.ACTIVE,
        replaced.generation + 1,
    )
    assert about == (
        f"已补办卡 {format_card_number(old.card_no)}（张三明，{world.gold.member_no}）。"
        f"旧卡及其所有卡码已作废。新卡号 {format_card_number(new_number)}："
    )
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "card.replace"))
    assert event.actor_label == f"account:{admin.username}"
