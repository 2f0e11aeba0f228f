"""The activities pages (活动签到): a scoped, paged list; creating an activity; recording
attendance by ticking, pasting or scanning, all or nothing and nobody twice; the identify
endpoint behind the door scanner."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from rewards.models import Activity, Attendance, EntryKind, LedgerEntry, Role
from rewards.services import activities
from tests import factories
from tests.clock import today
from tests.forms import once
from tests.test_auth import sign_in


def activity(
    session, world, title: str = "社区清洁日", days_ago: int = 1, community=None, points: int = 4
) -> Activity:  # type: ignore[no-untyped-def]
    made = activities.create_activity(
        session,
        factories.OPERATOR,
        (community or world.home).id,
        world.category.id,
        title,
        today() - timedelta(days=days_ago),
        points,
    )
    session.commit()
    return made


def attendance_entries(session, activity_id: int) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count(LedgerEntry.id)).where(
            LedgerEntry.kind == EntryKind.ATTENDANCE, LedgerEntry.source_id == activity_id
        )
    )


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-activity="(\d+)"', html)]


# -- the list and a new activity -----------------------------------------------------------------


def test_activity_list_is_scoped_latest_first_with_attendee_counts(client, session, world):
    older = activity(session, world, "植树活动", days_ago=10)
    newer = activity(session, world, "清洁日", days_ago=2)
    theirs = activity(session, world, "别的社区活动", community=world.other)
    activities.record_attendance(
        session, factories.OPERATOR, newer.id, [world.gold.member_no, world.silver.member_no]
    )
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/activities").text
    assert listed(page) == [newer.id, older.id]
    assert theirs.id not in listed(page)
    assert re.search(rf'data-activity="{newer.id}".*?2 人', page, re.S)


def test_activity_list_is_paged(client, session, world):
    for n in range(23):
        activity(session, world, f"活动{n:02d}", days_ago=n + 1)
    sign_in(client, world.secretary)
    first = client.get("/community/activities").text
    second = client.get("/community/activities?page=2").text
    assert len(listed(first)) == 20 and len(listed(second)) == 3
    assert "共 23 个活动" in first


def test_secretary_creates_an_activity_in_own_community(client, session, world, clock):
    sign_in(client, world.secretary)
    form = client.get("/community/activities/new").text
    assert clock.today.isoformat() in form and 'name="community"' not in form
    response = client.post(
        "/community/activities/new",
        data={
            **once(client, "/community/activities/new"),
            "title": "敬老院慰问",
            "category": world.category.id,
            "occurred_on": clock.today.isoformat(),
            "points": "6",
        },
    )
    assert response.status_code == 303
    made = session.scalar(select(Activity).where(Activity.title == "敬老院慰问"))
    assert made.community_id == world.home.id and made.points == 6
    assert response.location.endswith(f"/community/activities/{made.id}")


def test_activity_points_above_the_category_maximum_are_refused(client, session, world, clock):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/activities/new",
        data={
            **once(client, "/community/activities/new"),
            "title": "敬老院慰问",
            "category": world.category.id,
            "occurred_on": clock.today.isoformat(),
            "points": "30",
        },
    )
    assert response.status_code == 422
    assert "每次可得 1 到 20 分，填写的是 30 分" in response.text
    assert "敬老院慰问" in response.text  # what was typed stays
    assert session.scalar(select(func.count(Activity.id))) == 0


def test_district_admin_picks_the_community_of_a_new_activity(client, session, world, clock):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    data = {
        "title": "联合党日",
        "category": world.category.id,
        "occurred_on": clock.today.isoformat(),
        "points": "5",
    }
    data |= once(client, "/community/activities/new")
    missing = client.post("/community/activities/new", data=data)
    assert missing.status_code == 422 and "请选择活动所属的社区" in missing.text
    response = client.post("/community/activities/new", data={**data, "community": world.other.id})
    assert response.status_code == 303
    made = session.scalar(select(Activity).where(Activity.title == "联合党日"))
    assert made.community_id == world.other.id
    listed_for_other = client.get(f"/community/activities?community={world.other.code}").text
    assert listed(listed_for_other) == [made.id]


# -- recording attendance -------------------------------------------------------------------------


def test_ticking_members_records_them(client, session, world):
    made = activity(session, world, points=4)
    sign_in(client, world.secretary)
    page = client.get(f"/community/activities/{made.id}").text
    assert world.gold.member_no in page and world.plain.member_no in page  # the tick list
    response = client.post(
        f"/community/activities/{made.id}/attendance",
        data={"source": "tick", "member_nos": [world.gold.member_no, world.plain.member_no]},
    )
    assert response.status_code == 302
    after = client.get(f"/community/activities/{made.id}").text
    assert "新登记 2 人" in after
    assert attendance_entries(session, made.id) == 2


def test_pasted_numbers_are_recorded_one_per_line_or_comma_separated(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    text = f"{world.gold.member_no}\n{world.silver.member_no}，{world.plain.member_no.lower()}"
    client.post(
        f"/community/activities/{made.id}/attendance", data={"source": "paste", "numbers": text}
    )
    assert attendance_entries(session, made.id) == 3


def test_a_batch_with_an_unknown_number_records_nobody_and_names_it(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    text = f"ZZ9999999\n{world.gold.member_no}"
    response = client.post(
        f"/community/activities/{made.id}/attendance", data={"source": "paste", "numbers": text}
    )
    assert response.status_code == 422
    assert "ZZ9999999" in response.text and "整批未记录" in response.text
    assert f"ZZ9999999\n{world.gold.member_no}</textarea>" in response.text  # kept to correct
    assert attendance_entries(session, made.id) == 0


def test_another_community_member_refuses_the_batch_like_an_unknown_one(client, session, world):
    made = activity(session, world)
    outsider = factories.member(session, world.other, name="郑外人")
    session.commit()
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/activities/{made.id}/attendance",
        data={"source": "tick", "member_nos": [world.gold.member_no, outsider.member_no]},
    )
    assert response.status_code == 422
    assert outsider.member_no in response.text and "郑外人" not in response.text
    assert re.search(rf'value="{world.gold.member_no}" checked', response.text)  # ticks kept
    assert attendance_entries(session, made.id) == 0


def test_resubmitting_records_nobody_twice_and_says_how_many_were_there(client, session, world):
    made = activity(session, world, points=4)
    sign_in(client, world.secretary)
    url = f"/community/activities/{made.id}/attendance"
    client.post(url, data={"source": "paste", "numbers": world.gold.member_no})
    again = client.post(
        url,
        data={"source": "paste", "numbers": f"{world.gold.member_no},{world.silver.member_no}"},
        follow_redirects=True,
    )
    assert "新登记 1 人；1 人此前已登记" in again.text
    assert attendance_entries(session, made.id) == 2
    assert session.scalar(select(func.count(Attendance.id))) == 2


def test_scanned_members_are_submitted_as_member_numbers(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/activities/{made.id}/attendance",
        data={"source": "scan", "member_nos": [world.gold.member_no], "names": ["张三明"]},
    )
    assert response.status_code == 302
    assert attendance_entries(session, made.id) == 1


def test_an_empty_batch_is_refused_with_a_message(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/activities/{made.id}/attendance", data={"source": "paste", "numbers": " "}
    )
    assert response.status_code == 422 and "请至少选择或输入一名" in response.text


def test_the_tick_list_can_be_searched_on_the_server(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    page = client.get(f"/community/activities/{made.id}?q=李四").text
    ticks = re.findall(r'name="member_nos" value="([^"]+)"', page)
    assert ticks == [world.silver.member_no]


def test_another_community_activity_is_not_found(client, session, world, tokens):
    theirs = activity(session, world, community=world.other)
    sign_in(client, world.secretary)
    assert client.get(f"/community/activities/{theirs.id}").status_code == 404
    attend = client.post(
        f"/community/activities/{theirs.id}/attendance",
        data={"source": "paste", "numbers": world.gold.member_no},
    )
    assert attend.status_code == 404
    identify = client.post(
        f"/community/activities/{theirs.id}/identify", json={"code": world.gold.member_no}
    )
    assert identify.status_code == 404 and identify.json["error"]["code"] == "not_found"
    assert attendance_entries(session, theirs.id) == 0


# -- the identify endpoint behind the scanner ----------------------------------------------------


def test_identify_names_the_holder_of_a_printed_card_number(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/activities/{made.id}/identify", json={"code": world.gold_card.card_no}
    )
    assert response.status_code == 200
    assert response.json == {
        "member_no": world.gold.member_no,
        "name": "张三明",
        "already_recorded": False,
    }


def test_identify_names_the_holder_of_a_phone_code_without_spending_it(
    client, session, world, tokens
):
    made = activity(session, world)
    token, _ = tokens.phone_token(world.silver_card)
    sign_in(client, world.secretary)
    url = f"/community/activities/{made.id}/identify"
    assert client.post(url, json={"code": token}).json["member_no"] == world.silver.member_no
    assert client.post(url, json={"code": token}).json["name"] == "李四"


def test_identify_accepts_a_printed_qr_and_a_member_number_and_says_already(
    client, session, world, tokens
):
    made = activity(session, world)
    activities.record_attendance(session, factories.OPERATOR, made.id, [world.plain.member_no])
    session.commit()
    sign_in(client, world.secretary)
    url = f"/community/activities/{made.id}/identify"
    printed = client.post(url, json={"code": tokens.printed_token(world.gold_card)}).json
    assert printed["member_no"] == world.gold.member_no
    by_number = client.post(url, json={"code": world.plain.member_no.lower()}).json
    assert by_number == {
        "member_no": world.plain.member_no,
        "name": "王五",
        "already_recorded": True,
    }


def test_identify_refuses_another_community_card_with_a_message(client, session, world):
    made = activity(session, world)
    outsider = factories.member(session, world.other, name="郑外人")
    card = factories.card(session, outsider)
    session.commit()
    sign_in(client, world.secretary)
    response = client.post(f"/community/activities/{made.id}/identify", json={"code": card.card_no})
    assert response.status_code == 422
    assert "不是本社区在册党员" in response.json["error"]["message"]
    assert "郑外人" not in response.text


def test_identify_explains_an_unreadable_code(client, session, world):
    made = activity(session, world)
    sign_in(client, world.secretary)
    response = client.post(f"/community/activities/{made.id}/identify", json={"code": "hello"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "token_invalid"


def test_the_tick_list_marks_members_already_recorded(client, session, world):
    activity = activities.create_activity(
        session,
        world.actor(world.secretary),
        world.home.id,
        world.category.id,
        "社区清洁日",
        today(),
        3,
    )
    activities.record_attendance(
        session, world.actor(world.secretary), activity.id, [world.gold.member_no]
    )
    session.commit()
    sign_in(client, world.secretary)
    page = client.get(f"/community/activities/{activity.id}").text
    assert f'name="member_nos" value="{world.gold.member_no}"' not in page
    assert f'name="member_nos" value="{world.silver.member_no}"' in page
    assert "已登记" in page
