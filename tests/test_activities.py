"""Rule 2: a re-submitted attendance batch credits once; a batch is all or nothing and scoped to
the secretary's community."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.errors import CardRevoked, NotFound, ValidationFailed
from rewards.models import (
    Activity,
    Attendance,
    EntryKind,
    LedgerEntry,
    MemberStatus,
    Role,
)
from rewards.services import activities, cards, ledger
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _activity(world, session: Session, points: int = 4) -> Activity:
    activity = activities.create_activity(
        session,
        world.actor(world.secretary),
        world.home.id,
        world.category.id,
        "社区清洁日",
        today() - timedelta(days=1),
        points,
    )
    session.commit()
    return activity


# -- activity attendance (活动签到) -------------------------------------------------------------


def test_attendance_credits_every_listed_member(world, session):
    activity = _activity(world, session, points=4)
    result = activities.record_attendance(
        session,
        world.actor(world.secretary),
        activity.id,
        [world.gold.member_no, world.plain.member_no],
    )
    session.commit()
    assert sorted(result.credited) == sorted([world.gold.member_no, world.plain.member_no])
    assert result.already_recorded == []
    assert ledger.balance(session, world.gold.id) == 124
    assert ledger.balance(session, world.plain.id) == 14
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.ATTENDANCE))
    assert {(e.source_type, e.source_id) for e in entries} == {("activity", activity.id)}


def test_attendance_batch_is_all_or_nothing(world, session):
    activity = _activity(world, session)
    outsider = factories.member(session, world.other, name="赵六")
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        activities.record_attendance(
            session,
            world.actor(world.secretary),
            activity.id,
            [world.gold.member_no, world.silver.member_no, outsider.member_no],
        )
    assert caught.value.details["member_nos"] == [outsider.member_no]
    assert outsider.member_no in caught.value.message
    assert "整批未记录" in caught.value.message
    # Nothing was written, not even pending in the session.
    assert _count(session, Attendance) == 0
    assert _count(session, LedgerEntry, LedgerEntry.kind == EntryKind.ATTENDANCE) == 0


def test_attendance_refuses_unknown_and_inactive_members(world, session):
    activity = _activity(world, session)
    world.silver.status = MemberStatus.INACTIVE
    session.commit()
    for numbers in (
        [world.gold.member_no, "P9999999"],
        [world.gold.member_no, world.silver.member_no],
    ):
        with pytest.raises(ValidationFailed):
            activities.record_attendance(
                session, world.actor(world.secretary), activity.id, numbers
            )
    assert _count(session, Attendance) == 0


def test_resubmitting_the_same_batch_credits_once(world, session):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    batch = [world.gold.member_no, world.plain.member_no]
    activities.record_attendance(session, secretary, activity.id, batch)
    session.commit()
    again = activities.record_attendance(session, secretary, activity.id, batch)
    session.commit()
    assert again.credited == []
    assert sorted(again.already_recorded) == sorted(batch)
    assert _count(session, Attendance) == 2
    assert _count(session, LedgerEntry, LedgerEntry.kind == EntryKind.ATTENDANCE) == 2
    assert ledger.balance(session, world.plain.id) == 14


def test_overlapping_batch_credits_only_the_new_members(world, session):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    activities.record_attendance(session, secretary, activity.id, [world.gold.member_no])
    session.commit()
    result = activities.record_attendance(
        session,
        secretary,
        activity.id,
        [world.gold.member_no, world.silver.member_no, world.silver.member_no],
    )
    session.commit()
    assert result.credited == [world.silver.member_no]
    assert result.already_recorded == [world.gold.member_no]
    assert ledger.balance(session, world.gold.id) == 124
    assert ledger.balance(session, world.silver.id) == 64


def test_attendance_of_another_communitys_activity_is_not_found(world, session, clock):
    activity = _activity(world, session)
    other_secretary = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    with pytest.raises(NotFound):
        activities.record_attendance(
            session, Actor.for_account(other_secretary), activity.id, [world.gold.member_no]
        )
    with pytest.raises(NotFound):
        activities.create_activity(
            session,
            Actor.for_account(other_secretary),
            world.home.id,
            world.category.id,
            "越权活动",
            clock.today,
            3,
        )


def test_empty_attendance_batch_is_refused(world, session):
    activity = _activity(world, session)
    with pytest.raises(ValidationFailed):
        activities.record_attendance(session, world.actor(world.secretary), activity.id, [])


# -- who is at the door: scanned codes and typed numbers --------------------------------------


def test_paste_accepts_lines_commas_and_chinese_separators():
    text = "yt0100001\nYT0100002, YT0100003，YT0100004；YT0100001\n\n"
    assert activities.split_member_numbers(text) == [
        "YT0100001",
        "YT0100002",
        "YT0100003",
        "YT0100004",
    ]


def test_a_printed_number_a_printed_qr_and_a_phone_code_all_identify_the_member(
    world, session, tokens
):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    phone, _ = tokens.phone_token(world.gold_card)
    for code in (world.gold_card.card_no, tokens.printed_token(world.gold_card), phone):
        found = activities.identify_attendee(session, secretary, tokens, activity.id, code)
        assert (found.member_no, found.already_recorded) == (world.gold.member_no, False)
    # Identifying spends nothing: the phone code still pays at a counter.
    assert tokens.verify(session, phone).nonce_used is False


def test_a_typed_member_number_identifies_and_says_already_recorded(world, session, tokens):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    activities.record_attendance(session, secretary, activity.id, [world.silver.member_no])
    session.commit()
    found = activities.identify_attendee(
        session, secretary, tokens, activity.id, world.silver.member_no.lower()
    )
    assert (found.name, found.already_recorded) == (world.silver.name, True)


def test_another_communitys_card_or_a_replaced_card_does_not_identify(world, session, tokens):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    outsider = factories.member(session, world.other, name="赵六")
    outsider_card = factories.card(session, outsider)
    old_printed = tokens.printed_token(world.silver_card)
    cards.reissue_card(session, factories.OPERATOR, world.silver_card.id, "遗失")
    session.commit()
    with pytest.raises(ValidationFailed):
        activities.identify_attendee(session, secretary, tokens, activity.id, outsider_card.card_no)
    with pytest.raises(CardRevoked):
        activities.identify_attendee(session, secretary, tokens, activity.id, old_printed)


def test_activities_are_listed_latest_first_with_attendee_counts(world, session, clock):
    secretary = world.actor(world.secretary)
    older = _activity(world, session)
    newer = activities.create_activity(
        session, secretary, world.home.id, world.category.id, "今天的活动", clock.today, 3
    )
    activities.record_attendance(
        session, secretary, newer.id, [world.gold.member_no, world.plain.member_no]
    )
    session.commit()
    rows = activities.list_activities(session, secretary).items
    assert [(r.activity.id, r.attendees) for r in rows] == [(newer.id, 2), (older.id, 0)]
    other = factories.account(session, Role.SECRETARY, community=world.other)
    assert activities.list_activities(session, Actor.for_account(other)).total == 0
