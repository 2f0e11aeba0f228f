"""Rule 2: certification (认定) is scoped to the secretary's community and credits once; a claim
already decided is a conflict, never a second entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import (
    Activity,
    Claim,
    ClaimStatus,
    EntryKind,
    LedgerEntry,
    MemberStatus,
    Role,
)
from rewards.services import activities, categories, claims, ledger
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _claim(world, session: Session, member=None, points: int | None = None) -> Claim:
    claim = claims.submit_claim(
        session,
        Actor.for_account(world.secretary),
        (member or world.plain).id,
        world.category.id,
        "帮助独居老人买菜",
        today() - timedelta(days=3),
        points=points,
    )
    session.commit()
    return claim


def test_certification_is_scoped(world, session, clock):
    outsider_member = factories.member(session, world.other, name="赵六")
    own_claim = _claim(world, session)
    foreign_claim = claims.submit_claim(
        session,
        factories.OPERATOR,
        outsider_member.id,
        world.category.id,
        "参加外社区的服务",
        clock.today - timedelta(days=2),
    )
    session.commit()
    secretary = world.actor(world.secretary)

    with pytest.raises(NotFound) as caught:
        claims.certify_claim(session, secretary, foreign_claim.id)
    assert caught.value.message == "找不到这条积分申报。"  # never a hint that it exists
    session.rollback()
    assert session.get(Claim, foreign_claim.id).status is ClaimStatus.PENDING
    assert ledger.balance(session, outsider_member.id) == 0

    entry = claims.certify_claim(session, secretary, own_claim.id)
    session.commit()
    assert entry.member_id == world.plain.id


def test_secretary_cannot_reject_another_communitys_claim(world, session, clock):
    outsider_member = factories.member(session, world.other, name="赵六")
    claim = _claim(world, session, member=None)
    other_secretary = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    with pytest.raises(NotFound):
        claims.reject_claim(session, Actor.for_account(other_secretary), claim.id, "不实")
    with pytest.raises(NotFound):
        claims.submit_claim(
            session,
            world.actor(world.secretary),
            outsider_member.id,
            world.category.id,
            "越权代报",
            clock.today,
        )


def test_scope_follows_the_members_current_community(world, session):
    claim = _claim(world, session)
    world.plain.community_id = world.other.id  # the member moved after submitting
    session.commit()
    with pytest.raises(NotFound):
        claims.certify_claim(session, world.actor(world.secretary), claim.id)


def test_merchant_staff_and_members_cannot_certify(world, session):
    claim = _claim(world, session)
    member_account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    for account in (world.cashier, world.manager, member_account):
        with pytest.raises(Forbidden):
            claims.certify_claim(session, Actor.for_account(account), claim.id)
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_certification_credits_the_claimed_points_as_an_award(world, session):
    claim = _claim(world, session, points=7)
    entry = claims.certify_claim(session, world.actor(world.secretary), claim.id)
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


def test_certifying_twice_credits_once_and_the_second_is_a_conflict(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    claims.certify_claim(session, secretary, claim.id)
    session.commit()
    with pytest.raises(Conflict) as caught:  # e.g. decided meanwhile in another tab
        claims.certify_claim(session, secretary, claim.id)
    session.rollback()
    assert "已" in caught.value.message and "认定" in caught.value.message
    assert "没有重复记分" in caught.value.message
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "claim") == 1
    assert ledger.balance(session, world.plain.id) == 10 + world.category.default_points


def test_rejected_claim_cannot_be_certified(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    claims.reject_claim(session, secretary, claim.id, "无法核实")
    session.commit()
    with pytest.raises(Conflict):
        claims.certify_claim(session, secretary, claim.id)
    session.rollback()
    assert ledger.balance(session, world.plain.id) == 10


def test_certified_claim_cannot_be_rejected(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    claims.certify_claim(session, secretary, claim.id)
    session.commit()
    with pytest.raises(Conflict) as caught:
        claims.reject_claim(session, secretary, claim.id, "改主意")
    assert "冲正" in caught.value.message


def test_reject_needs_a_reason(world, session):
    claim = _claim(world, session)
    with pytest.raises(ValidationFailed):
        claims.reject_claim(session, world.actor(world.secretary), claim.id, "  ")
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING


def test_rejection_keeps_the_reason_for_the_member(world, session):
    claim = _claim(world, session)
    claims.reject_claim(session, world.actor(world.secretary), claim.id, "日期有误")
    session.commit()
    refreshed = session.get(Claim, claim.id)
    assert (refreshed.status, refreshed.rejection_reason) == (ClaimStatus.REJECTED, "日期有误")


def test_certifying_an_unknown_claim_is_not_found(world, session):
    with pytest.raises(NotFound):
        claims.certify_claim(session, world.actor(world.secretary), 999_999)


def test_future_service_date_is_refused(world, session, clock):
    tomorrow = clock.today + timedelta(days=1)
    with pytest.raises(ValidationFailed) as caught:
        claims.submit_claim(
            session, factories.OPERATOR, world.plain.id, world.category.id, "明天的服务", tomorrow
        )
    assert "晚于今天" in caught.value.message
    with pytest.raises(ValidationFailed):
        activities.create_activity(
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


def test_service_older_than_a_year_is_refused(world, session, clock):
    with pytest.raises(ValidationFailed):
        claims.submit_claim(
            session,
            factories.OPERATOR,
            world.plain.id,
            world.category.id,
            "很久以前的服务",
            clock.today - timedelta(days=categories.MAX_SERVICE_AGE_DAYS + 1),
        )


def test_points_over_the_category_maximum_are_refused(world, session, clock):
    too_many = world.category.max_points + 1
    with pytest.raises(ValidationFailed) as caught:
        claims.submit_claim(
            session,
            factories.OPERATOR,
            world.plain.id,
            world.category.id,
            "服务",
            clock.today,
            points=too_many,
        )
    assert str(world.category.max_points) in caught.value.message
    with pytest.raises(ValidationFailed):
        activities.create_activity(
            session,
            world.actor(world.secretary),
            world.home.id,
            world.category.id,
            "活动",
            clock.today,
            too_many,
        )
    assert _count(session, Claim) == 0


def test_claim_without_points_uses_the_category_default(world, session):
    claim = _claim(world, session)
    assert claim.points == world.category.default_points


def test_member_claims_only_for_themselves(world, session, clock):
    account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    me = Actor.for_account(account)
    own = claims.submit_claim(
        session, me, world.plain.id, world.category.id, "为邻居修水管", clock.today
    )
    assert own.status is ClaimStatus.PENDING
    with pytest.raises(Forbidden):
        claims.submit_claim(
            session, me, world.gold.id, world.category.id, "替别人申报", clock.today
        )


def test_inactive_member_cannot_claim(world, session, clock):
    world.plain.status = MemberStatus.INACTIVE
    session.commit()
    with pytest.raises(NotFound):
        claims.submit_claim(
            session, factories.OPERATOR, world.plain.id, world.category.id, "服务", clock.today
        )
