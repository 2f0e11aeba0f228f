"""A member's history says why each entry is there, in words: the category and the claim, the
activity, the correction's reason, the entry a reversal cancels."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from rewards.errors import NotFound
from rewards.models import LedgerEntry, Role
from rewards.services import activities, claims, history, ledger
from rewards.services.audit import Actor
from tests import factories


def test_each_entry_has_its_reason_in_words_newest_first(world, session, clock):
    secretary = world.actor(world.secretary)
    claim = claims.submit_claim(
        session, secretary, world.plain.id, world.category.id, "帮独居老人买菜", clock.today
    )
    award = claims.certify_claim(session, secretary, claim.id)
    activity = activities.create_activity(
        session, secretary, world.home.id, world.category.id, "社区清洁日", clock.today, 3
    )
    activities.record_attendance(session, secretary, activity.id, [world.plain.member_no])
    ledger.adjust(session, secretary, world.plain.id, -2, "重复登记", clock.today, "h-1")
    ledger.reverse(session, secretary, award.id, "服务未完成")
    session.commit()

    lines = history.member_ledger(session, secretary, world.plain.id).items
    reasons = [line.reason for line in lines]
    assert reasons[0] == (
        f"冲正 {clock.today.isoformat()} 的申报认定「{world.category.name}：帮独居老人买菜」"
        "（+5 分）：服务未完成"
    )
    assert reasons[1] == "重复登记"
    assert reasons[2] == "社区清洁日"
    assert reasons[3] == f"{world.category.name}：帮独居老人买菜"
    assert lines[3].reversed_by_id == lines[0].entry.id
    assert lines[0].reverses.id == award.id
    assert [line.kind_label for line in lines[:4]] == ["冲正", "积分调整", "活动签到", "申报认定"]


def test_history_is_paged_and_filtered_by_year(world, session, clock):
    for n in range(30):
        factories.points(session, world.plain, 1, clock.today - timedelta(days=n))
    factories.points(session, world.plain, 2, date(clock.today.year - 1, 6, 1))
    session.commit()
    secretary = world.actor(world.secretary)
    page = history.member_ledger(session, secretary, world.plain.id, page=2, page_size=20)
    assert page.total == 32 and len(page.items) == 12
    last_year = history.member_ledger(session, secretary, world.plain.id, year=clock.today.year - 1)
    expected = [
        e.id
        for e in session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == world.plain.id))
        if e.occurred_on.year == clock.today.year - 1
    ]
    assert last_year.total == len(expected) >= 1
    assert all(line.entry.occurred_on.year == clock.today.year - 1 for line in last_year.items)
    years = history.ledger_years(session, secretary, world.plain.id)
    assert years[0] >= years[-1] and clock.today.year - 1 in years


def test_a_member_reads_their_own_history_and_nobody_elses(world, session):
    account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    me = Actor.for_account(account)
    assert history.member_ledger(session, me, world.plain.id).total == 1
    other = factories.account(session, Role.SECRETARY, community=world.other)
    with pytest.raises(NotFound):
        history.member_ledger(session, Actor.for_account(other), world.plain.id)
