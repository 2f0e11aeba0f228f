"""Rule 2: certification is scoped to the secretary's community and credits once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import business_date
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import (
    Activity,
    Attendance,
    Claim,
    ClaimStatus,
    EntryKind,
    LedgerEntry,
    MemberStatus,
    Role,
)
from rewards.services import certification, ledger
from rewards.services.audit import Actor
from tests import factories


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _claim(world, session: Session, member=None, points: int | None = None) -> Claim:
    claim = certification.submit_claim(
        session,
        Actor.for_account(world.secretary),
        (member or world.plain).id,
        world.category.id,
        "帮助独居老人买菜",
        business_date() - timedelta(days=3),
        points=points,
    )
    session.commit()
    return claim


def _activity(world, session: Session, points: int = 4) -> Activity:
    activity = certification.create_activity(
        session,
        world.actor(world.secretary),
        world.home.id,
        world.category.id,
        "社区清洁日",
        business_date() - timedelta(days=1),
        points,
    )
    session.commit()
    return activity


def test_certification_is_scoped(world, session):
    outsider_member = factories.member(session, world.other, name="赵六")
    own_claim = _claim(world, session)
    foreign_claim = certification.submit_claim(
        session,
        factories.OPERATOR,
        outsider_member.id,
        world.category.id,
        "参加外社区的服务",
        business_date() - timedelta(days=2),
    )
    session.commit()
    secretary = world.actor(world.secretary)

    with pytest.raises(Forbidden) as caught:
        certification.certify_claim(session, secretary, foreign_claim.id)
    assert "本社区" in caught.value.message
    session.rollback()
    assert session.get(Claim, foreign_claim.id).status is ClaimStatus.PENDING
    assert ledger.balance(session, outsider_member.id) == 0

    entry = certification.certify_claim(session, secretary, own_claim.id)
    session.commit()
    assert entry.member_id == world.plain.id


def test_secretary_cannot_reject_another_communitys_claim(world, session):
    outsider_member = factories.member(session, world.other, name="赵六")
    claim = _claim(world, session, member=None)
    other_secretary = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    with pytest.raises(Forbidden):
        certification.reject_claim(session, Actor.for_account(other_secretary), claim.id, "不实")
    with pytest.raises(Forbidden):
        certification.submit_claim(
            session,
            world.actor(world.secretary),
            outsider_member.id,
            world.category.id,
            "越权代报",
            business_date(),
        )


def test_scope_follows_the_members_current_community(world, session):
    claim = _claim(world, session)
    world.plain.community_id = world.other.id  # the member moved after submitting
    session.commit()
    with pytest.raises(Forbidden):
        certification.certify_claim(session, world.actor(world.secretary), claim.id)


def test_merchant_staff_and_members_cannot_certify(world, session):
    claim = _claim(world, session)
    member_account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    for account in (world.cashier, world.manager, member_account):
        with pytest.raises(Forbidden):
            certification.certify_claim(session, Actor.for_account(account), claim.id)
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_certification_credits_the_claimed_points_as_an_award(world, session):
    claim = _claim(world, session, points=7)
    entry = certification.certify_claim(session, world.actor(world.secretary), claim.id)
    session.commit()
    assert (entry.points, entry.kind, entry.source_type, entry.source_id) == (
        7,
        EntryKind.AWARD,
        "claim",
        claim.id,
    )
    assert entry.occurred_on == claim.occurred_on
    assert entry.author_id == world.secretary.id
    refreshed = session.get(Claim, claim.id)
    assert refreshed.status is ClaimStatus.CERTIFIED
    assert refreshed.decided_by_id == world.secretary.id
    assert ledger.balance(session, world.plain.id) == 17


def test_certifying_twice_credits_once_and_returns_the_same_entry(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    first = certification.certify_claim(session, secretary, claim.id)
    session.commit()
    second = certification.certify_claim(session, secretary, claim.id)
    session.commit()
    assert second.id == first.id
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "claim") == 1
    assert ledger.balance(session, world.plain.id) == 10 + world.category.default_points


def test_rejected_claim_cannot_be_certified(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    certification.reject_claim(session, secretary, claim.id, "无法核实")
    session.commit()
    with pytest.raises(Conflict):
        certification.certify_claim(session, secretary, claim.id)
    session.rollback()
    assert ledger.balance(session, world.plain.id) == 10


def test_certified_claim_cannot_be_rejected(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    certification.certify_claim(session, secretary, claim.id)
    session.commit()
    with pytest.raises(Conflict) as caught:
        certification.reject_claim(session, secretary, claim.id, "改主意")
    assert "冲正" in caught.value.message


def test_reject_needs_a_reason(world, session):
    claim = _claim(world, session)
    with pytest.raises(ValidationFailed):
        certification.reject_claim(session, world.actor(world.secretary), claim.id, "  ")
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_rejection_keeps_the_reason_for_the_member(world, session):
    claim = _claim(world, session)
    certification.reject_claim(session, world.actor(world.secretary), claim.id, "日期有误")
    session.commit()
    refreshed = session.get(Claim, claim.id)
    assert (refreshed.status, refreshed.rejection_reason) == (ClaimStatus.REJECTED, "日期有误")


def test_certifying_an_unknown_claim_is_not_found(world, session):
    with pytest.raises(NotFound):
        certification.certify_claim(session, world.actor(world.secretary), 999_999)


def test_future_service_date_is_refused(world, session):
    tomorrow = business_date() + timedelta(days=1)
    with pytest.raises(ValidationFailed) as caught:
        certification.submit_claim(
            session, factories.OPERATOR, world.plain.id, world.category.id, "明天的服务", tomorrow
        )
    assert "晚于今天" in caught.value.message
    with pytest.raises(ValidationFailed):
        certification.create_activity(
            session,
            world.actor(world.secretary),
            world.home.id,
            world.category.id,
            "明天的活动",
            tomorrow,
            3,
        )
    assert _count(session, Claim) == 0
    assert _count(session, Activity) == 0


def test_service_older_than_a_year_is_refused(world, session):
    with pytest.raises(ValidationFailed):
        certification.submit_claim(
            session,
            factories.OPERATOR,
            world.plain.id,
            world.category.id,
            "很久以前的服务",
            business_date() - timedelta(days=certification.CLAIM_MAX_AGE_DAYS + 1),
        )


def test_points_over_the_category_maximum_are_refused(world, session):
    too_many = world.category.max_points + 1
    with pytest.raises(ValidationFailed) as caught:
        certification.submit_claim(
            session,
            factories.OPERATOR,
            world.plain.id,
            world.category.id,
            "服务",
            business_date(),
            points=too_many,
        )
    assert str(world.category.max_points) in caught.value.message
    with pytest.raises(ValidationFailed):
        certification.create_activity(
            session,
            world.actor(world.secretary),
            world.home.id,
            world.category.id,
            "活动",
            business_date(),
            too_many,
        )
    assert _count(session, Claim) == 0


def test_claim_without_points_uses_the_category_default(world, session):
    claim = _claim(world, session)
    assert claim.points == world.category.default_points


def test_member_claims_only_for_themselves(world, session):
    account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    me = Actor.for_account(account)
    own = certification.submit_claim(
        session, me, world.plain.id, world.category.id, "为邻居修水管", business_date()
    )
    assert own.status is ClaimStatus.PENDING
    with pytest.raises(Forbidden):
        certification.submit_claim(
            session, me, world.gold.id, world.category.id, "替别人申报", business_date()
        )


def test_inactive_member_cannot_claim(world, session):
    world.plain.status = MemberStatus.INACTIVE
    session.commit()
    with pytest.raises(NotFound):
        certification.submit_claim(
            session, factories.OPERATOR, world.plain.id, world.category.id, "服务", business_date()
        )


# -- activity attendance (活动签到) -------------------------------------------------------------


def test_attendance_credits_every_listed_member(world, session):
    activity = _activity(world, session, points=4)
    result = certification.record_attendance(
        session, world.actor(world.secretary), activity.id, [world.gold.id, world.plain.id]
    )
    session.commit()
    assert sorted(result.credited) == sorted([world.gold.id, world.plain.id])
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
        certification.record_attendance(
            session,
            world.actor(world.secretary),
            activity.id,
            [world.gold.id, world.silver.id, outsider.id],
        )
    assert caught.value.details["member_ids"] == [outsider.id]
    assert "整批未记录" in caught.value.message
    # Nothing was written, not even pending in the session.
    assert _count(session, Attendance) == 0
    assert _count(session, LedgerEntry, LedgerEntry.kind == EntryKind.ATTENDANCE) == 0


def test_attendance_refuses_unknown_and_inactive_members(world, session):
    activity = _activity(world, session)
    world.silver.status = MemberStatus.INACTIVE
    session.commit()
    for ids in ([world.gold.id, 999_999], [world.gold.id, world.silver.id]):
        with pytest.raises(ValidationFailed):
            certification.record_attendance(session, world.actor(world.secretary), activity.id, ids)
    assert _count(session, Attendance) == 0


def test_resubmitting_the_same_batch_credits_once(world, session):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    batch = [world.gold.id, world.plain.id]
    certification.record_attendance(session, secretary, activity.id, batch)
    session.commit()
    again = certification.record_attendance(session, secretary, activity.id, batch)
    session.commit()
    assert again.credited == []
    assert sorted(again.already_recorded) == sorted(batch)
    assert _count(session, Attendance) == 2
    assert _count(session, LedgerEntry, LedgerEntry.kind == EntryKind.ATTENDANCE) == 2
    assert ledger.balance(session, world.plain.id) == 14


def test_overlapping_batch_credits_only_the_new_members(world, session):
    activity = _activity(world, session)
    secretary = world.actor(world.secretary)
    certification.record_attendance(session, secretary, activity.id, [world.gold.id])
    session.commit()
    result = certification.record_attendance(
        session, secretary, activity.id, [world.gold.id, world.silver.id, world.silver.id]
    )
    session.commit()
    assert result.credited == [world.silver.id]
    assert result.already_recorded == [world.gold.id]
    assert ledger.balance(session, world.gold.id) == 124
    assert ledger.balance(session, world.silver.id) == 64


def test_attendance_of_another_communitys_activity_is_forbidden(world, session):
    activity = _activity(world, session)
    other_secretary = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    with pytest.raises(Forbidden):
        certification.record_attendance(
            session, Actor.for_account(other_secretary), activity.id, [world.gold.id]
        )
    with pytest.raises(Forbidden):
        certification.create_activity(
            session,
            Actor.for_account(other_secretary),
            world.home.id,
            world.category.id,
            "越权活动",
            business_date(),
            3,
        )


def test_empty_attendance_batch_is_refused(world, session):
    activity = _activity(world, session)
    with pytest.raises(ValidationFailed):
        certification.record_attendance(session, world.actor(world.secretary), activity.id, [])
