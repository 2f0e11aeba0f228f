"""The audit log (审计日志) for the district administrator: newest first, paged without counting,
filtered by person, community, kind and business dates, each line in words, and read-only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rewards.clock import business_day_bounds
from rewards.errors import Forbidden, ValidationFailed
from rewards.models import Account, AuditEvent, Role
from rewards.services import activities, audit_log, cards, claims, ledger
from rewards.services.audit import Actor, record
from rewards.services.audit_log import LogFilter
from tests import factories
from tests.test_auth import sign_in


@pytest.fixture()
def admin(session, world) -> Account:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.DISTRICT_ADMIN)
    account.display_name = "区办老周"
    session.commit()
    return account


def log(session, admin, **filters):  # type: ignore[no-untyped-def]
    """The actions on the first page of the log narrowed by ``filters``."""
    page = audit_log.audit_log(
        session, Actor.for_account(admin), LogFilter(**filters), page_size=200
    )
    return [line.action for line in page.items]


def actions_on(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)"', html)


# -- the service ---------------------------------------------------------------------------------


def test_only_the_district_administrator_reads_the_log(session, world):
    with pytest.raises(Forbidden):
        audit_log.audit_log(session, world.actor(world.secretary))
    with pytest.raises(Forbidden):
        audit_log.audit_log(session, world.actor(world.manager))


def test_the_log_is_newest_first_and_paged_without_counting(session, world, admin, clock):
    pager = Actor.operator("pager")
    for minutes in range(5):
        record(
            session,
            pager,
            f"test.step{minutes}",
            "demo",
            None,
            at=clock.now - timedelta(minutes=minutes),
        )
    session.commit()
    actor = Actor.for_account(admin)
    first = audit_log.audit_log(session, actor, LogFilter(person="pager"), page=1, page_size=2)
    assert [line.action for line in first.items] == ["test.step0", "test.step1"]
    assert first.has_next
    last = audit_log.audit_log(session, actor, LogFilter(person="pager"), page=3, page_size=2)
    assert [line.action for line in last.items] == ["test.step4"] and not last.has_next
    with pytest.raises(ValidationFailed):
        audit_log.audit_log(session, actor, page=0)


def test_the_person_filter_matches_username_name_and_labels(session, world, admin):
    secretary = world.actor(world.secretary)
    record(session, secretary, "member.update", "member", world.gold.id)
    record(
        session,
        Actor(label=f"sign-in:{world.secretary.username}"),
        "account.sign_in_failed",
        "account",
        None,
    )
    record(session, world.actor(world.cashier), "redemption.void", "redemption", 1)
    record(session, Actor.operator("cli"), "demo.seed", "demo", None)
    record(
        session,
        Actor(label="api-key:ab12cd", role=Role.CASHIER),
        "redemption.create",
        "redemption",
        2,
    )
    world.secretary.display_name = "王秀兰"
    session.commit()

    by_username = log(session, admin, person=world.secretary.username)
    assert by_username == ["account.sign_in_failed", "member.update"]  # own acts, failed sign-ins
    assert log(session, admin, person="王秀兰") == by_username
    assert log(session, admin, person=world.secretary.username.upper()) == by_username
    assert log(session, admin, person="cli") == ["demo.seed"]
    assert log(session, admin, person="api-key:ab12cd") == ["redemption.create"]
    assert log(session, admin, person="ab12cd") == ["redemption.create"]
    assert log(session, admin, person="nobody-at-all") == []


def test_the_community_filter_takes_its_people_its_members_and_what_is_recorded_in_it(
    session, world, admin, clock
):
    # Start from an empty log: only what this test does.
    session.execute(AuditEvent.__table__.delete())
    admin_actor = Actor.for_account(admin)
    outsider = factories.member(session, world.other, name="郑外人")
    record(session, world.actor(world.secretary), "activation.issue", "activation_batch", None)
    cards.suspend_card(session, admin_actor, world.gold_card.id, "挂失")  # a home member's card
    claims.submit_claim(
        session, factories.OPERATOR, world.silver.id, world.category.id, "扫雪", clock.today
    )
    activities.create_activity(
        session, admin_actor, world.other.id, world.category.id, "外社区活动", clock.today, 3
    )
    ledger.adjust(
        session, admin_actor, outsider.id, 5, "补录", clock.today, idempotency_key="k-outsider"
    )
    record(session, admin_actor, "roster.import", "community", world.home.id, created=3)
    record(session, admin_actor, "account.reset_password", "account", world.secretary.id)
    record(session, admin_actor, "api_key.create", "api_key", 1, merchant_id=world.shop.id)
    session.commit()

    home = log(session, admin, community_id=world.home.id)
    assert sorted(home) == sorted(
        [
            "activation.issue",
            "card.suspend",
            "claim.submit",
            "roster.import",
            "account.reset_password",
        ]
    )
    other = log(session, admin, community_id=world.other.id)
    assert sorted(other) == ["activity.create", "ledger.adjust"]
    assert "api_key.create" in log(session, admin)  # a merchant's key is in no community


def test_the_agreement_with_a_community_is_in_that_community(session, world, admin):
    assert "agreement.sign" in log(session, admin, community_id=world.home.id)
    assert "agreement.sign" not in log(session, admin, community_id=world.other.id)


def test_the_kind_filter_groups_actions_by_prefix(session, world, admin, clock):
    admin_actor = Actor.for_account(admin)
    ledger.adjust(session, admin_actor, world.gold.id, 5, "补录", clock.today, idempotency_key="k1")
    record(session, world.actor(world.secretary), "account.sign_in", "account", world.secretary.id)
    record(session, Actor(label="sign-in:x"), "account.sign_in_failed", "account", None)
    record(session, admin_actor, "account.unlock", "account", world.cashier.id)
    session.commit()
    assert log(session, admin, kind="points") == ["ledger.adjust"]
    assert sorted(log(session, admin, kind="sign_in")) == [
        "account.sign_in",
        "account.sign_in_failed",
    ]
    accounts_kind = log(session, admin, kind="accounts")
    assert "account.unlock" in accounts_kind and "account.create" in accounts_kind
    assert "account.sign_in" not in accounts_kind
    assert set(log(session, admin, kind="cards")) == {"card.issue"}
    assert log(session, admin, kind="agreements") == ["agreement.sign"]
    with pytest.raises(ValidationFailed):
        log(session, admin, kind="nonsense")


def test_the_date_range_is_business_dates_both_days_included(session, world, admin, clock):
    day = clock.today - timedelta(days=2)
    start, end = business_day_bounds(day)
    clock_actor = Actor.operator("dates")
    for name, at in [
        ("test.before", start - timedelta(seconds=1)),
        ("test.first", start),
        ("test.last", end - timedelta(seconds=1)),
        ("test.after", end),
    ]:
        record(session, clock_actor, name, "demo", None, at=at)
    session.commit()
    assert log(session, admin, person="dates", date_from=day, date_to=day) == [
        "test.last",
        "test.first",
    ]
    assert log(session, admin, person="dates", date_from=day) == [
        "test.after",
        "test.last",
        "test.first",
    ]
    assert log(session, admin, person="dates", date_to=day - timedelta(days=1)) == ["test.before"]
    with pytest.raises(ValidationFailed) as refused:
        log(session, admin, date_from=day, date_to=day - timedelta(days=1))
    assert "date_to" in refused.value.details["fields"]


def test_each_line_is_in_words_and_never_shows_a_secret(session, world, admin, clock):
    admin_actor = Actor.for_account(admin)
    entry = ledger.adjust(
        session,
        admin_actor,
        world.gold.id,
        5,
        "补录 2025 年服务",
        clock.today,
        idempotency_key="w1",
    )
    record(
        session,
        Actor(label="api-key:ab12cd", role=Role.CASHIER),
        "robot.dance",
        "gizmo",
        7,
        password="hunter2",
        secret_code="s3cr3t",
        amount_fen=12345,
        flag=True,
        changed={"name": ["甲", "乙"]},
        member_ids=[1, 2, 3],
        long="长" * 300,
        code="M131",
    )
    session.commit()
    lines = audit_log.audit_log(session, admin_actor).items
    robot = next(line for line in lines if line.action == "robot.dance")
    assert robot.action_label == "robot.dance"  # an unknown code as it is
    assert robot.who == "POS 密钥 ab12cd" and robot.username is None
    assert robot.subject.type_label == "gizmo" and robot.subject.name == "#7"
    shown = dict(robot.details)
    assert "hunter2" not in str(robot.details) and "s3cr3t" not in str(robot.details)
    assert "password" not in shown and "secret_code" not in shown
    assert shown["消费金额"] == "¥123.45"
    assert shown["flag"] == "是"
    assert shown["修改"] == "名称：甲 → 乙"
    assert shown["党员"] == "3 人"
    assert len(shown["long"]) == 120 and shown["long"].endswith("…")
    assert shown["代码"] == "M131"  # a merchant's or category's code is no secret

    adjusted = next(line for line in lines if line.action == "ledger.adjust")
    assert adjusted.action_label == "积分调整"
    assert (adjusted.who, adjusted.username) == ("区办老周", admin.username)
    assert adjusted.subject.type_label == "积分记录"
    assert adjusted.subject.name == f"#{entry.id}（张三明）"
    assert adjusted.subject.member_no == world.gold.member_no
    assert dict(adjusted.details) == {
        "党员": f"{world.gold.member_no} 张三明",
        "分值": "5",
        "原因": "补录 2025 年服务",
    }

    signed = next(line for line in lines if line.action == "agreement.sign")
    assert signed.action_label == "签订发展协议"
    assert (
        signed.subject.name
        == f"{world.shop.code} {world.shop.name} · {world.home.code} {world.home.name}"
    )
    terms = dict(signed.details)
    assert terms["金卡折扣"] == "88折" and terms["银卡折扣"] == "95折"
    assert "每笔封顶" not in terms  # no cap recorded: nothing to say

    policy = next(line for line in lines if line.action == "tier_policy.publish")
    assert policy.action_label == "发布等级标准" and policy.subject.name == "第 1 版"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", dict(policy.details)["生效时间"])

    created = next(line for line in lines if line.action == "account.create")
    assert created.action_label == "开通账号"
    assert created.subject.account_id is not None
    assert dict(created.details)["角色"] in {"社区书记", "收银员", "店长", "区管理员"}


# -- the page ------------------------------------------------------------------------------------


def test_the_log_page_shows_each_line_in_words(client, session, world, admin):
    sign_in(client, admin)
    page = client.get("/district/audit")
    assert page.status_code == 200
    html = page.text
    assert "签订发展协议" in html and "开通账号" in html and "登录" in html
    assert "区办老周" in html and admin.username in html
    assert world.home.name in html  # the agreement's community, named
    assert "{" not in re.search(r"<tbody>.*</tbody>", html, re.S).group(0)  # no raw JSON
    assert "筛选规则" in html and "按党员现在所在的社区" in html


def test_the_log_page_filters_by_person_community_kind_and_dates(
    client, session, world, admin, clock
):
    admin_actor = Actor.for_account(admin)
    ledger.adjust(session, admin_actor, world.gold.id, 5, "补录", clock.today, idempotency_key="p1")
    record(
        session, Actor.operator("dates"), "test.old", "demo", None, at=clock.now - timedelta(days=5)
    )
    session.commit()
    sign_in(client, admin)

    by_person = actions_on(client.get(f"/district/audit?person={admin.username}").text)
    assert by_person[:2] == ["account.sign_in", "ledger.adjust"]
    assert "agreement.sign" not in by_person
    by_community = actions_on(client.get(f"/district/audit?community={world.other.code}").text)
    assert by_community == []
    home = actions_on(client.get(f"/district/audit?community={world.home.code}").text)
    assert "ledger.adjust" in home and "agreement.sign" in home
    assert actions_on(client.get("/district/audit?kind=points").text) == ["ledger.adjust"]
    day = (clock.today - timedelta(days=5)).isoformat()
    dated = client.get(f"/district/audit?date_from={day}&date_to={day}")
    assert actions_on(dated.text) == ["test.old"]
    assert f'value="{day}"' in dated.text
    assert client.get("/district/audit?community=ZZZ").status_code == 404


def test_bad_dates_are_refused_in_chinese_next_to_the_field(client, world, admin):
    sign_in(client, admin)
    typo = client.get("/district/audit?date_from=2026-13-01")
    assert typo.status_code == 422 and "日期格式应为" in typo.text
    backwards = client.get("/district/audit?date_from=2026-03-02&date_to=2026-03-01")
    assert backwards.status_code == 422 and "开始日期不能晚于结束日期" in backwards.text


def test_the_log_pages_fifty_lines_at_a_time(client, session, world, admin, clock):
    pager = Actor.operator("pager")
    for n in range(audit_log.LOG_PAGE_SIZE + 5):
        record(session, pager, "test.line", "demo", None, at=clock.now - timedelta(seconds=n))
    session.commit()
    sign_in(client, admin)
    first = client.get("/district/audit?person=pager").text
    assert len(actions_on(first)) == audit_log.LOG_PAGE_SIZE
    assert 'rel="next"' in first and "page=2" in first and "person=pager" in first
    second = client.get("/district/audit?person=pager&page=2").text
    assert len(actions_on(second)) == 5 and 'rel="next"' not in second and 'rel="prev"' in second


def test_the_log_has_no_write_route(app, client, session, world, admin):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("district.audit")]
    assert [r.endpoint for r in rules] == ["district.audit_log"]
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)
    sign_in(client, admin)
    before = session.scalar(select(func.count(AuditEvent.id)))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open("/district/audit", method=method).status_code == 405
    assert session.scalar(select(func.count(AuditEvent.id))) == before


def test_a_secretary_cannot_read_the_log(client, world):
    sign_in(client, world.secretary)
    assert client.get("/district/audit").status_code == 403
