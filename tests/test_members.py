"""The roster's members: found by name, number or phone tail, added and edited with the same
rules as an import, their record with live tier, and scoped to the secretary's community."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import AuditEvent, CardStatus, Member, MemberStatus, Role, Tier
from rewards.services import cards, claims, members, roster
from rewards.services.audit import Actor
from tests import factories


def test_search_finds_by_name_member_number_and_phone_tail(world, session):
    secretary = world.actor(world.secretary)
    world.silver.phone = "13912345678"
    session.commit()
    by_name = members.search_members(session, secretary, "李")
    assert [e.member.id for e in by_name.items] == [world.silver.id]
    by_number = members.search_members(session, secretary, world.plain.member_no.lower())
    assert [e.member.id for e in by_number.items] == [world.plain.id]
    by_phone = members.search_members(session, secretary, "5678")
    assert [e.member.id for e in by_phone.items] == [world.silver.id]
    everyone = members.search_members(session, secretary)
    assert everyone.total == 3


def test_search_shows_live_tier_and_current_card(world, session):
    entries = {
        e.member.id: e for e in members.search_members(session, world.actor(world.secretary)).items
    }
    assert entries[world.gold.id].tier is Tier.GOLD
    assert entries[world.plain.id].tier is Tier.NONE
    assert entries[world.gold.id].card.id == world.gold_card.id


def test_search_is_paged_and_scoped(world, session):
    for n in range(25):
        factories.member(session, world.home, name=f"周{n}")
    factories.member(session, world.other, name="周外")
    session.commit()
    secretary = world.actor(world.secretary)
    page = members.search_members(session, secretary, "周", page=2, page_size=20)
    assert (page.total, len(page.items)) == (25, 5)
    with pytest.raises(NotFound):
        members.search_members(session, secretary, community_id=world.other.id)


def test_search_text_is_not_a_pattern(world, session):
    assert members.search_members(session, world.actor(world.secretary), "%").total == 0


def test_adding_a_member_uses_the_import_rules(world, session, clock):
    secretary = world.actor(world.secretary)
    added = members.add_member(
        session, secretary, world.home.id, "yt0100099", "陈新", "139-1111-2222", date(2019, 7, 1)
    )
    session.commit()
    assert (added.member_no, added.phone, added.community_id) == (
        "YT0100099",
        "13911112222",
        world.home.id,
    )
    with pytest.raises(ValidationFailed) as caught:
        members.add_member(
            session, secretary, world.home.id, "12AB", "", "123", clock.today + timedelta(days=1)
        )
    assert set(caught.value.details["fields"]) == {"member_no", "name", "phone", "joined_on"}
    with pytest.raises(Conflict):
        members.add_member(
            session, secretary, world.home.id, "YT0100099", "重复", "13911112223", date(2019, 7, 1)
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Member)) == 4


def test_a_secretary_adds_members_to_their_own_community_only(world, session):
    with pytest.raises(NotFound):
        members.add_member(
            session,
            world.actor(world.secretary),
            world.other.id,
            "YT0200001",
            "陈新",
            "13911112222",
            date(2019, 7, 1),
        )


def test_editing_a_member_is_audited_without_the_phone_number(world, session):
    secretary = world.actor(world.secretary)
    members.update_member(
        session,
        secretary,
        world.plain.id,
        name="王五一",
        phone="13700001111",
        joined_on=date(2018, 1, 1),
        employer="",
        active=False,
    )
    session.commit()
    stored = session.get(Member, world.plain.id)
    assert (stored.name, stored.status) == ("王五一", MemberStatus.INACTIVE)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "member.update"))
    assert event.details["changed"]["phone"] == ["***", "***"]
    assert "13700001111" not in str(event.details)


def test_editing_refuses_bad_details_and_changes_nothing(world, session):
    with pytest.raises(ValidationFailed):
        members.update_member(
            session,
            world.actor(world.secretary),
            world.plain.id,
            name="",
            phone="12",
            joined_on=None,
        )
    session.rollback()
    assert session.get(Member, world.plain.id).name == "王五"


def test_the_record_holds_tier_cards_claims_and_transfers(world, session, clock):
    secretary = world.actor(world.secretary)
    cards.reissue_card(session, secretary, world.gold_card.id, "遗失")
    claims.submit_claim(
        session, secretary, world.gold.id, world.category.id, "楼道清扫", clock.today
    )
    roster.transfer_member(session, secretary, world.gold.id, world.other.id)
    session.commit()
    admin = Actor(label="admin", role=Role.DISTRICT_ADMIN)
    record = members.member_record(session, admin, world.gold.id)
    assert record.standing.tier is Tier.GOLD and record.all_time_points == 120
    assert [c.status for c in record.cards] == [CardStatus.ACTIVE, CardStatus.REPLACED]
    assert record.current_card.generation == 2
    assert record.claim_count == 1
    assert [(t.from_name, t.to_name) for t in record.transfers] == [
        (world.home.name, world.other.name)
    ]
    # The receiving community's secretary sees the member at once; the old one no longer does.
    newcomer = factories.account(session, Role.SECRETARY, community=world.other)
    assert (
        members.member_record(session, Actor.for_account(newcomer), world.gold.id).all_time_points
        == 120
    )
    with pytest.raises(NotFound):
        members.member_record(session, secretary, world.gold.id)
    with pytest.raises(NotFound):
        members.member_by_number(session, secretary, world.gold.member_no)
