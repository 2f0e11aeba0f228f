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


# -- the queue and the decisions of the workbench ---------------------------------------------


def _pending(world, session, count: int, clock, member=None) -> list[Claim]:
    """``count`` claims submitted a minute apart, oldest first."""
    made = []
    for n in range(count):
        made.append(
            claims.submit_claim(
                session,
                factories.OPERATOR,
                (member or world.plain).id,
                world.category.id,
                f"服务记录 {n}",
                clock.today - timedelta(days=1 + n % 5),
                now=clock.now - timedelta(minutes=count - n),
            )
        )
    session.commit()
    return made


def test_the_queue_is_every_pending_claim_of_the_community_oldest_first_and_paged(
    world, session, clock
):
    ours = _pending(world, session, 25, clock)
    _pending(world, session, 2, clock, member=factories.member(session, world.other, name="赵六"))
    secretary = world.actor(world.secretary)
    first = claims.list_claims(session, secretary, page=1, page_size=20)
    second = claims.list_claims(session, secretary, page=2, page_size=20)
    assert first.total == 25 and first.pages == 2
    assert [c.id for c in [*first.items, *second.items]] == [c.id for c in ours]


def test_the_queue_filters_by_category_and_service_date(world, session, clock):
    _pending(world, session, 5, clock)
    other_category = factories.category(session)
    special = claims.submit_claim(
        session,
        factories.OPERATOR,
        world.gold.id,
        other_category.id,
        "微心愿",
        clock.today - timedelta(days=30),
    )
    session.commit()
    secretary = world.actor(world.secretary)
    by_category = claims.list_claims(session, secretary, category_id=other_category.id)
    assert [c.id for c in by_category.items] == [special.id]
    old = claims.list_claims(session, secretary, occurred_to=clock.today - timedelta(days=20))
    assert [c.id for c in old.items] == [special.id]
    recent = claims.list_claims(session, secretary, occurred_from=clock.today - timedelta(days=2))
    assert all(c.occurred_on >= clock.today - timedelta(days=2) for c in recent.items)
    assert recent.total == 2


def test_a_secretary_cannot_list_another_communitys_queue(world, session):
    with pytest.raises(NotFound):
        claims.list_claims(session, world.actor(world.secretary), community_id=world.other.id)


def test_the_district_lists_every_community_or_one(world, session, clock):
    _pending(world, session, 2, clock)
    _pending(world, session, 1, clock, member=factories.member(session, world.other, name="赵六"))
    admin = Actor(label="admin", role=Role.DISTRICT_ADMIN)
    assert claims.list_claims(session, admin).total == 3
    assert claims.list_claims(session, admin, community_id=world.other.id).total == 1


def test_certified_points_may_be_changed_up_to_the_category_maximum(world, session):
    claim = _claim(world, session, points=5)
    entry = claims.certify_claim(session, world.actor(world.secretary), claim.id, points=8)
    session.commit()
    assert entry.points == 8
    stored = session.get(Claim, claim.id)
    assert (stored.points, stored.certified_points) == (5, 8)  # the proposal is kept


def test_certified_points_over_the_maximum_are_refused_and_nothing_is_written(world, session):
    claim = _claim(world, session)
    with pytest.raises(ValidationFailed) as caught:
        claims.certify_claim(
            session, world.actor(world.secretary), claim.id, points=world.category.max_points + 1
        )
    session.rollback()
    assert caught.value.details["fields"]["points"]
    assert session.get(Claim, claim.id).status is ClaimStatus.PENDING
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "claim") == 0


def test_bulk_certification_gives_one_line_per_claim_and_skips_one_decided_meanwhile(
    world, session, clock
):
    batch = _pending(world, session, 3, clock)
    secretary = world.actor(world.secretary)
    claims.certify_claim(session, secretary, batch[1].id)  # decided in another tab
    session.commit()
    lines = claims.certify_claims(session, secretary, [c.id for c in batch] + [999_999])
    session.commit()
    assert [(line.claim_id, line.ok) for line in lines] == [
        (batch[0].id, True),
        (batch[1].id, False),
        (batch[2].id, True),
        (999_999, False),
    ]
    assert "没有重复记分" in lines[1].message and lines[1].member_name == world.plain.name
    assert lines[3].member_name == ""  # an unknown claim names nobody
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "claim") == 3


def test_bulk_certification_does_not_reach_another_community(world, session, clock):
    outsider = factories.member(session, world.other, name="赵六")
    foreign = _pending(world, session, 1, clock, member=outsider)[0]
    lines = claims.certify_claims(session, world.actor(world.secretary), [foreign.id])
    session.commit()
    assert not lines[0].ok and lines[0].member_name == ""
    assert session.get(Claim, foreign.id).status is ClaimStatus.PENDING


def test_a_rejected_claim_is_a_conflict_when_rejected_again(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    claims.reject_claim(session, secretary, claim.id, "材料不全")
    session.commit()
    with pytest.raises(Conflict) as caught:
        claims.reject_claim(session, secretary, claim.id, "再次驳回")
    assert "驳回" in caught.value.message


def test_a_claims_detail_names_who_decided_and_the_entry(world, session):
    claim = _claim(world, session)
    secretary = world.actor(world.secretary)
    entry = claims.certify_claim(session, secretary, claim.id)
    session.commit()
    detail = claims.get_claim(session, secretary, claim.id)
    assert detail.decided_by == world.secretary.display_name
    assert detail.entry.id == entry.id
    other = factories.account(session, Role.SECRETARY, community=world.other)
    with pytest.raises(NotFound):
        claims.get_claim(session, Actor.for_account(other), claim.id)
