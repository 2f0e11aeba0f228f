"""The district's points rules: tier policy versions (never backwards, never edited, a preview
from the live ledger that writes nothing) and point categories (create, limits, disable), as
services, pages and the ``rewards tiers`` CLI."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, business_day_bounds, months_before
from rewards.errors import Conflict, Forbidden, ValidationFailed
from rewards.models import (
    AuditEvent,
    Claim,
    ClaimStatus,
    LedgerEntry,
    Member,
    MemberStatus,
    PointCategory,
    Role,
    Tier,
    TierPolicy,
)
from rewards.services import activities, categories, claims, tiers
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.forms import once
from tests.test_auth import sign_in

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _district_members(session, world):  # type: ignore[no-untyped-def]
    """A few more members in both communities, one inactive, so the counts mean something."""
    for amount in (55, 80, 130):
        factories.points(session, factories.member(session, world.other), amount)
    gone = factories.member(session, world.home, name="赵离开")
    factories.points(session, gone, 500)
    gone.status = MemberStatus.INACTIVE
    session.commit()


def _counts_by_community(session, tiers_by_member):  # type: ignore[no-untyped-def]
    rows = session.execute(
        select(Member.id, Member.community_id).where(Member.status == MemberStatus.ACTIVE)
    )
    counts: Counter[tuple[int, Tier]] = Counter()
    for member_id, community_id in rows:
        counts[(community_id, tiers_by_member[member_id])] += 1
    return counts


def _preview_counts(preview, world, which: str):  # type: ignore[no-untyped-def]
    ids = {world.home.code: world.home.id, world.other.code: world.other.id}
    counts: Counter[tuple[int, Tier]] = Counter()
    for row in preview.communities:
        for tier in Tier:
            number = getattr(getattr(row, which), tier.value)
            if number:
                counts[(ids[row.code], tier)] = number
    return counts


# -- tier policy: the preview ---------------------------------------------------------------------


def test_preview_counts_equal_evaluate_tiers_under_the_candidate_policy(session, world, clock):
    _district_members(session, world)
    first_day = clock.today + timedelta(days=20)
    preview = tiers.preview_policy(session, ADMIN, 150, 55, 12, first_day)
    active_ids = list(
        session.scalars(select(Member.id).where(Member.status == MemberStatus.ACTIVE))
    )
    start_of_day = business_day_bounds(first_day)[0]
    # Today's version, on that day: the comparison column.
    before = tiers.evaluate_tiers(session, active_ids, at=start_of_day)
    assert _preview_counts(preview, world, "today") == _counts_by_community(session, before)

    tiers.publish_policy(session, ADMIN, 150, 55, 12, first_day)
    session.commit()
    after = tiers.evaluate_tiers(session, active_ids, at=start_of_day)
    assert _preview_counts(preview, world, "proposed") == _counts_by_community(session, after)
    # The district row adds up the communities; the inactive member is nowhere.
    assert preview.district.proposed.to_dict() == {"gold": 0, "silver": 5, "none": 1, "total": 6}
    assert preview.district.today.to_dict() == {"gold": 2, "silver": 3, "none": 1, "total": 6}
    assert preview.district.change("gold") == -2


def test_preview_uses_the_candidate_window(session, world, clock):
    factories.points(session, world.plain, 45, occurred_on=clock.today - timedelta(days=70))
    session.commit()
    # 10 + 45 = 55 over 12 months (silver); only the recent 10 count over 2 months.
    twelve = tiers.preview_policy(session, ADMIN, 100, 50, 12, clock.today)
    two = tiers.preview_policy(session, ADMIN, 100, 50, 2, clock.today)
    assert (twelve.district.proposed.silver, two.district.proposed.silver) == (2, 1)
    assert two.window_start == months_before(clock.today, 2) + timedelta(days=1)


def test_preview_writes_nothing(session, world, clock):
    versions, events = _count(session, TierPolicy), _count(session, AuditEvent)
    tiers.preview_policy(session, ADMIN, 150, 55, 6, clock.today + timedelta(days=3), "试算")
    session.commit()
    assert (_count(session, TierPolicy), _count(session, AuditEvent)) == (versions, events)


def test_preview_refuses_what_publishing_would_refuse(session, world, clock):
    with pytest.raises(ValidationFailed) as refused:
        tiers.preview_policy(session, ADMIN, 50, 60, 0, clock.today - timedelta(days=1))
    assert set(refused.value.details["fields"]) == {"effective_on"}
    with pytest.raises(ValidationFailed) as refused:
        tiers.preview_policy(session, ADMIN, 50, 60, 0, clock.today)
    assert set(refused.value.details["fields"]) == {"gold_threshold", "window_months"}


def test_only_the_district_administrator_previews_or_publishes(session, world, clock):
    secretary = world.actor(world.secretary)
    with pytest.raises(Forbidden):
        tiers.preview_policy(session, secretary, 150, 55, 12, clock.today)
    with pytest.raises(Forbidden):
        tiers.publish_policy(session, secretary, 150, 55, 12, clock.today)


# -- tier policy: never backwards, never edited ---------------------------------------------------


def test_a_version_cannot_take_effect_before_today(session, world, clock):
    with pytest.raises(ValidationFailed) as refused:
        tiers.publish_policy(session, ADMIN, 150, 55, 12, clock.today - timedelta(days=1))
    assert "不能早于今天" in refused.value.details["fields"]["effective_on"][0]
    session.rollback()
    assert _count(session, TierPolicy) == 1


def test_once_a_version_exists_none_takes_effect_before_now(session, world, clock):
    with pytest.raises(ValidationFailed):
        tiers.set_policy(session, ADMIN, 150, 55, effective_from=clock.now - timedelta(seconds=1))
    session.rollback()
    assert _count(session, TierPolicy) == 1


def test_a_version_cannot_take_effect_before_the_latest_version(session, world, clock):
    later = clock.today + timedelta(days=30)
    tiers.publish_policy(session, ADMIN, 150, 55, 12, later)
    session.commit()
    with pytest.raises(ValidationFailed) as refused:
        tiers.publish_policy(session, ADMIN, 140, 50, 12, later - timedelta(days=1))
    assert f"第 2 版）的生效日期 {later.isoformat()}" in refused.value.message
    session.rollback()
    # The same day is not backwards: the newer version supersedes before it starts.
    third = tiers.publish_policy(session, ADMIN, 140, 50, 12, later)
    session.commit()
    statuses = {v.policy.version: v.status for v in tiers.policy_versions(session)}
    assert statuses == {1: "in_force", 2: "never", 3: "scheduled"}
    assert third.version == 3


def test_a_version_for_today_takes_effect_at_once(session, world, clock):
    published = tiers.publish_policy(session, ADMIN, 200, 110, 12, clock.today)
    session.commit()
    assert published.effective_from == clock.now
    assert tiers.current_policy(session).version == published.version
    assert tiers.evaluate_tier(session, world.gold.id).tier is Tier.SILVER


def test_a_future_version_starts_at_midnight_in_shanghai(session, world, clock):
    first_day = clock.today + timedelta(days=1)
    published = tiers.publish_policy(session, ADMIN, 200, 110, 12, first_day)
    session.commit()
    assert business_date(published.effective_from) == first_day
    assert business_date(published.effective_from - timedelta(seconds=1)) == clock.today
    assert tiers.evaluate_tier(session, world.gold.id).tier is Tier.GOLD
    clock.advance(days=1)
    assert tiers.evaluate_tier(session, world.gold.id).tier is Tier.SILVER


def test_versions_are_marked_in_force_scheduled_and_ended(session, world, clock):
    tiers.publish_policy(session, ADMIN, 110, 55, 12, clock.today)
    tiers.publish_policy(session, ADMIN, 130, 65, 12, clock.today + timedelta(days=10), "明年")
    session.commit()
    versions = tiers.policy_versions(session)
    assert [(v.policy.version, v.status_label) for v in versions] == [
        (3, "待生效"),
        (2, "现行"),
        (1, "已被取代"),
    ]
    assert versions[1].until == versions[0].policy.effective_from
    assert versions[2].until == clock.now


def test_publishing_is_audited_with_its_values(session, world, clock):
    published = tiers.publish_policy(
        session, ADMIN, 130, 65, 6, clock.today + timedelta(days=5), "试行半年"
    )
    session.commit()
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "tier_policy.publish")
        .order_by(AuditEvent.id.desc())
    )
    assert event.object_id == published.id
    assert event.details["gold"] == 130 and event.details["window_months"] == 6
    assert event.details["note"] == "试行半年"
    assert event.details["effective_from"] == published.effective_from.isoformat()


# -- point categories -----------------------------------------------------------------------------


def _claim(session, world, category, points=None):  # type: ignore[no-untyped-def]
    made = claims.submit_claim(
        session,
        world.actor(world.secretary),
        world.plain.id,
        category.id,
        "打扫楼道",
        today(),
        points=points,
    )
    session.commit()
    return made


def test_a_category_is_created_enabled_and_audited(session, world):
    made = categories.create_category(session, ADMIN, " micro_wish ", " 微心愿 ", 8, 30)
    session.commit()
    assert (made.code, made.name, made.default_points, made.max_points, made.is_enabled) == (
        "micro_wish",
        "微心愿",
        8,
        30,
        True,
    )
    assert session.scalar(
        select(AuditEvent.object_id).where(AuditEvent.action == "category.create")
    ) == (made.id)


@pytest.mark.parametrize(
    ("code", "name", "default", "maximum", "fields"),
    [
        ("Volunteer", "新类别", 5, 10, {"code"}),
        ("has space", "新类别", 5, 10, {"code"}),
        ("x", "新类别", 5, 10, {"code"}),
        ("new_one", "", 5, 10, {"name"}),
        ("new_one", "新类别", 0, 10, {"default_points"}),
        ("new_one", "新类别", 5, 4, {"max_points"}),
        ("new_one", "新类别", 5, 5000, {"max_points"}),
        ("-", "", 0, -1, {"code", "name", "default_points", "max_points"}),
    ],
)
def test_a_bad_category_is_refused_by_field_and_nothing_written(
    session, world, code, name, default, maximum, fields
):
    with pytest.raises(ValidationFailed) as refused:
        categories.create_category(session, ADMIN, code, name, default, maximum)
    assert set(refused.value.details["fields"]) == fields
    session.rollback()
    assert _count(session, PointCategory) == 1


def test_a_category_code_and_name_are_unique(session, world):
    with pytest.raises(ValidationFailed) as refused:
        categories.create_category(session, ADMIN, world.category.code, world.category.name, 5, 9)
    assert set(refused.value.details["fields"]) == {"code", "name"}


def test_only_the_district_administrator_keeps_the_categories(session, world):
    secretary = world.actor(world.secretary)
    with pytest.raises(Forbidden):
        categories.create_category(session, secretary, "new_one", "新类别", 5, 10)
    with pytest.raises(Forbidden):
        categories.change_category_points(session, secretary, world.category.id, 6, 10)
    with pytest.raises(Forbidden):
        categories.set_category_enabled(session, secretary, world.category.id, False)


def test_new_limits_apply_to_what_comes_next_and_old_claims_keep_their_points(
    session, world, clock
):
    pending = _claim(session, world, world.category, points=18)
    certified = _claim(session, world, world.category, points=15)
    claims.certify_claim(session, world.actor(world.secretary), certified.id)
    activity = activities.create_activity(
        session,
        world.actor(world.secretary),
        world.home.id,
        world.category.id,
        "清洁日",
        clock.today,
        16,
    )
    session.commit()

    categories.change_category_points(session, ADMIN, world.category.id, 3, 10)
    session.commit()
    session.refresh(pending)
    assert (pending.points, certified.certified_points, activity.points) == (18, 15, 16)
    assert _claim(session, world, world.category).points == 3
    with pytest.raises(ValidationFailed):
        _claim(session, world, world.category, points=11)
    session.rollback()
    # A certification that changes the points meets the new maximum; as claimed, it keeps its.
    with pytest.raises(ValidationFailed):
        claims.certify_claim(session, world.actor(world.secretary), pending.id, points=12)
    session.rollback()
    entry = claims.certify_claim(session, world.actor(world.secretary), pending.id)
    assert entry.points == 18
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "category.change_points"))
    assert event.details == {
        "before": {"default_points": 5, "max_points": 20},
        "after": {"default_points": 3, "max_points": 10},
    }


def test_changing_limits_to_the_same_or_incoherent_values_is_refused(session, world):
    with pytest.raises(ValidationFailed, match="没有改动"):
        categories.change_category_points(session, ADMIN, world.category.id, 5, 20)
    with pytest.raises(ValidationFailed) as refused:
        categories.change_category_points(session, ADMIN, world.category.id, 9, 8)
    assert set(refused.value.details["fields"]) == {"max_points"}


def test_a_disabled_category_refuses_new_claims_but_old_claims_keep_their_points(
    session, world, clock
):
    pending = _claim(session, world, world.category, points=7)
    done = _claim(session, world, world.category, points=9)
    entry = claims.certify_claim(session, world.actor(world.secretary), done.id)
    session.commit()

    categories.set_category_enabled(session, ADMIN, world.category.id, False)
    session.commit()
    with pytest.raises(ValidationFailed, match="已停用"):
        _claim(session, world, world.category)
    session.rollback()
    with pytest.raises(ValidationFailed, match="已停用"):
        activities.create_activity(
            session,
            world.actor(world.secretary),
            world.home.id,
            world.category.id,
            "清洁日",
            clock.today,
            5,
        )
    session.rollback()
    assert world.category not in categories.enabled_categories(session)
    # What was earned stays; a pending claim can still be certified with its points.
    assert session.get(LedgerEntry, entry.id).points == 9
    later = claims.certify_claim(session, world.actor(world.secretary), pending.id)
    session.commit()
    assert (later.points, session.get(Claim, pending.id).status) == (7, ClaimStatus.CERTIFIED)

    categories.set_category_enabled(session, ADMIN, world.category.id, True)
    session.commit()
    assert _claim(session, world, world.category).status is ClaimStatus.PENDING
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("category.%"))
    ).all()
    assert actions == ["category.disable", "category.enable"]


def test_disabling_twice_is_a_conflict(session, world):
    categories.set_category_enabled(session, ADMIN, world.category.id, False)
    with pytest.raises(Conflict, match="已经是停用状态"):
        categories.set_category_enabled(session, ADMIN, world.category.id, False)


def test_category_uses_count_claims_pending_and_activities(session, world, clock):
    spare = factories.category(session)
    _claim(session, world, world.category)
    done = _claim(session, world, world.category)
    claims.certify_claim(session, world.actor(world.secretary), done.id)
    activities.create_activity(
        session, ADMIN, world.home.id, world.category.id, "清洁日", clock.today, 5
    )
    session.commit()
    uses = {
        u.category.id: (u.claims, u.pending_claims, u.activities)
        for u in categories.category_uses(session)
    }
    assert uses == {world.category.id: (2, 1, 1), spare.id: (0, 0, 0)}


# -- pages ----------------------------------------------------------------------------------------


def _admin(session, client):  # type: ignore[no-untyped-def]
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    return admin


def _form(gold="150", silver="55", window="12", day=None, note=""):  # type: ignore[no-untyped-def]
    return {
        "gold_threshold": gold,
        "silver_threshold": silver,
        "window_months": window,
        "effective_on": day,
        "note": note,
    }


def test_only_the_district_administrator_sees_the_policy_pages(client, session, world):
    sign_in(client, world.secretary)
    assert client.get("/district/policy").status_code == 403
    assert client.post("/district/categories/new", data={}).status_code == 403


def test_policy_page_marks_the_version_in_force_and_the_scheduled_one(
    client, session, world, clock
):
    tiers.publish_policy(session, ADMIN, 130, 65, 12, clock.today + timedelta(days=40), "明年起")
    session.commit()
    _admin(session, client)
    page = client.get("/district/policy").text
    assert 'data-version="2" data-status="scheduled"' in page
    assert 'data-version="1" data-status="in_force"' in page
    assert "第 2 版已排定于" in page and "明年起" in page
    assert f'data-category="{world.category.code}"' in page


def test_preview_page_shows_counts_and_a_publish_form_with_the_same_values(
    client, session, world, clock
):
    _admin(session, client)
    day = (clock.today + timedelta(days=7)).isoformat()
    response = client.post("/district/policy/preview", data=_form(day=day, note="试行"))
    assert response.status_code == 200
    page = response.text
    assert 'data-testid="preview-result"' in page
    total = re.search(r'<tfoot>.*?data-tier="gold">(\d+)<.*?data-today="gold">(\d+)<', page, re.S)
    assert total.groups() == ("0", "1")  # 150 for gold leaves nobody; today's 100 has one
    publish = page[page.index('id="publish-form"') :]
    for name, value in _form(day=day, note="试行").items():
        assert f'name="{name}" value="{value}"' in publish
    assert _count(session, TierPolicy) == 1


def test_preview_with_a_bad_threshold_says_so_next_to_the_field(client, session, world, clock):
    _admin(session, client)
    response = client.post(
        "/district/policy/preview", data=_form(gold="50", silver="60", day=clock.today.isoformat())
    )
    assert response.status_code == 422
    assert "金卡门槛必须高于银卡门槛" in response.text
    assert 'id="publish-form"' not in response.text


def test_publishing_from_the_page_creates_the_version(client, session, world, clock):
    _admin(session, client)
    day = (clock.today + timedelta(days=7)).isoformat()
    response = client.post(
        "/district/policy/publish",
        data=_form(day=day, note="试行") | once(client, "/district/policy/new"),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/district/policy")
    latest = tiers.latest_policy(session)
    assert (latest.version, latest.gold_threshold, latest.note) == (2, 150, "试行")
    assert f"{day} 起生效" in client.get("/district/policy").text


def test_publishing_is_checked_again_and_refuses_a_past_date(client, session, world, clock):
    _admin(session, client)
    day = (clock.today - timedelta(days=1)).isoformat()
    response = client.post(
        "/district/policy/publish", data=_form(day=day) | once(client, "/district/policy/new")
    )
    assert response.status_code == 422
    assert "不能早于今天" in response.text
    assert _count(session, TierPolicy) == 1


def test_category_pages_create_change_and_disable(client, session, world):
    _admin(session, client)
    bad = client.post(
        "/district/categories/new",
        data={
            **once(client, "/district/categories/new"),
            "code": "Bad Code",
            "name": "微心愿",
            "default_points": "5",
            "max_points": "3",
        },
    )
    assert bad.status_code == 422
    assert "小写字母" in bad.text and "不能低于默认积分" in bad.text
    assert _count(session, PointCategory) == 1

    made = client.post(
        "/district/categories/new",
        data={
            **once(client, "/district/categories/new"),
            "code": "micro_wish",
            "name": "微心愿",
            "default_points": "8",
            "max_points": "30",
        },
    )
    assert made.status_code == 303
    category = session.scalar(select(PointCategory).where(PointCategory.code == "micro_wish"))

    changed = client.post(
        f"/district/categories/{category.id}", data={"default_points": "6", "max_points": "12"}
    )
    assert changed.status_code == 302
    session.refresh(category)
    assert (category.default_points, category.max_points) == (6, 12)

    assert client.post(f"/district/categories/{category.id}/disable").status_code == 302
    session.refresh(category)
    assert not category.is_enabled
    page = client.get("/district/policy").text
    assert 'data-category="micro_wish" class="category-disabled"' in page
    assert "待认定的申报仍可" in page
    assert client.post(f"/district/categories/{category.id}/enable").status_code == 302
    session.refresh(category)
    assert category.is_enabled


def test_a_refused_limit_change_stays_on_the_form(client, session, world):
    _admin(session, client)
    response = client.post(
        f"/district/categories/{world.category.id}",
        data={"default_points": "0", "max_points": "10"},
    )
    assert response.status_code == 422 and "默认积分至少 1 分" in response.text
    session.refresh(world.category)
    assert world.category.default_points == 5
    assert client.get("/district/categories/99999").status_code == 404


# -- the CLI --------------------------------------------------------------------------------------


@pytest.fixture()
def runner(app: Flask, session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


def test_tiers_set_publishes_a_version_and_prints_it(runner, session, world, clock):
    day = (clock.today + timedelta(days=30)).isoformat()
    args = ["tiers", "set", "--gold", "120", "--silver", "60", "--from", day, "--note", "新标准"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"已发布积分等级标准第 2 版：金卡 120 分、银卡 60 分（近 12 个月积分），{day} 起生效。"
    )
    latest = tiers.latest_policy(session)
    assert (latest.window_months, latest.note, latest.created_by_id) == (12, "新标准", None)

    listed = runner.invoke(args=["tiers", "list"])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert "待生效" in lines[1] and "新标准" in lines[1]
    assert "现行" in lines[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gold", "120", "--silver", "60"], "请用 --from 指定生效日期"),
        (["--gold", "abc", "--silver", "60", "--from", "2099-01-01"], "--gold 应为整数分数"),
        (["--silver", "60", "--from", "2099-01-01"], "请用 --gold 指定金卡门槛"),
        (["--gold", "120", "--silver", "60", "--from", "2099-13-01"], "YYYY-MM-DD"),
        (["--gold", "60", "--silver", "60", "--from", "2099-01-01"], "金卡门槛必须高于银卡门槛"),
        (["--gold", "120", "--silver", "60", "--window", "61", "--from", "2099-01-01"], "1 到 60"),
        (["--gold", "120", "--silver", "60", "--from", "2020-01-01"], "不能早于今天"),
    ],
)
def test_tiers_set_refuses_bad_input_and_writes_nothing(runner, session, world, args, message):
    result = runner.invoke(args=["tiers", "set", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("错误：") and message in result.stderr
    assert _count(session, TierPolicy) == 1


def test_tiers_set_never_goes_backwards(runner, session, world, clock):
    later = (clock.today + timedelta(days=60)).isoformat()
    sooner = (clock.today + timedelta(days=30)).isoformat()
    assert runner.invoke(args=["tiers", "set", "--gold", "120", "--silver", "60", "--from", later])
    result = runner.invoke(
        args=["tiers", "set", "--gold", "130", "--silver", "60", "--from", sooner]
    )
    assert result.exit_code == 1
    assert f"不能早于最新一版（第 2 版）的生效日期 {later}" in result.stderr
    assert _count(session, TierPolicy) == 2


def test_tiers_set_preview_prints_counts_and_writes_nothing(runner, session, world, clock):
    day = clock.today.isoformat()
    args = ["tiers", "set", "--gold", "150", "--silver", "55", "--from", day, "--preview"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    district = result.stdout.splitlines()[-1].split()
    assert district[:2] == ["ALL", "全区"] and district[2:] == ["0", "2", "1", "1", "1", "1"]
    assert _count(session, TierPolicy) == 1
