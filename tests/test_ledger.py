"""Rule 1: the ledger is the truth — append-only, reversible once, balanced, hash-chained."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import EntryKind, LedgerEntry, Role
from rewards.services import ledger
from rewards.services.audit import Actor
from tests import factories

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def _row(session: Session, entry_id: int) -> dict[str, Any]:
    """Every stored column of one entry, read straight from the table."""
    table = LedgerEntry.__table__
    return dict(session.execute(select(table).where(table.c.id == entry_id)).mappings().one())


def _entry_count(session: Session, member_id: int | None = None) -> int:
    query = select(func.count()).select_from(LedgerEntry)
    if member_id is not None:
        query = query.where(LedgerEntry.member_id == member_id)
    return session.scalar(query)


def _raw_insert_like(session: Session, entry: LedgerEntry, **changes: Any) -> None:
    """Write a ledger row directly, bypassing the service, next in the member's chain."""
    row = _row(session, entry.id)
    row.pop("id")
    last_seq = session.scalar(
        select(func.max(LedgerEntry.seq)).where(LedgerEntry.member_id == entry.member_id)
    )
    row.update(seq=last_seq + 1, idempotency_key=f"raw:{utcnow().timestamp()}", **changes)
    with session.begin_nested():
        session.execute(insert(LedgerEntry.__table__).values(**row))


def _three_entries(session: Session) -> tuple[LedgerEntry, LedgerEntry, LedgerEntry]:
    home = factories.community(session)
    member = factories.member(session, home)
    entries = tuple(factories.points(session, member, n) for n in (5, 7, 11))
    session.commit()
    return entries  # type: ignore[return-value]


def test_reversal_is_a_new_entry_not_an_edit(world, session):
    original = factories.points(session, world.silver, 30)
    session.commit()
    stored_before = _row(session, original.id)

    reversal = ledger.reverse(session, world.actor(world.secretary), original.id, "重复录入")
    session.commit()

    assert reversal.id != original.id
    assert reversal.kind is EntryKind.REVERSAL
    assert reversal.reverses_id == original.id
    assert reversal.points == -30
    assert reversal.occurred_on == original.occurred_on
    assert reversal.memo == "重复录入"
    assert reversal.author_id == world.secretary.id
    assert _row(session, original.id) == stored_before
    assert ledger.verify_chain(session).ok


def test_the_ledger_service_offers_no_way_to_edit_or_delete_an_entry():
    public = [
        name
        for name, value in vars(ledger).items()
        if inspect.isfunction(value)
        and value.__module__ == ledger.__name__
        and not name.startswith("_")
    ]
    assert {"post", "post_many", "reverse", "adjust", "balance", "verify_chain"} <= set(public)
    forbidden_words = ("update", "delete", "edit", "remove", "amend", "set_", "change")
    assert [n for n in public if any(w in n for w in forbidden_words)] == []


def test_an_entry_can_be_reversed_only_once(world, session):
    original = factories.points(session, world.silver, 30)
    session.commit()
    secretary = world.actor(world.secretary)
    first = ledger.reverse(session, secretary, original.id, "录入错误")
    session.commit()

    with pytest.raises(Conflict) as caught:
        ledger.reverse(session, secretary, original.id, "再次冲正")
    assert caught.value.details["reversal_id"] == first.id
    session.rollback()
    assert _entry_count(session, world.silver.id) == 3
    assert ledger.balance(session, world.silver.id) == 60


def test_a_reversal_cannot_itself_be_reversed(world, session):
    original = factories.points(session, world.silver, 30)
    reversal = ledger.reverse(session, ADMIN, original.id, "录入错误")
    session.commit()
    with pytest.raises(Conflict):
        ledger.reverse(session, ADMIN, reversal.id, "撤销冲正")


def test_database_refuses_a_second_reversal_row_written_directly(world, session):
    original = factories.points(session, world.silver, 30)
    reversal = ledger.reverse(session, ADMIN, original.id, "录入错误")
    session.commit()

    with pytest.raises(IntegrityError) as caught:
        _raw_insert_like(session, reversal, reverses_id=original.id)
    assert "reverses_id" in str(caught.value)
    session.rollback()
    assert _entry_count(session, world.silver.id) == 3


def test_reversing_an_unknown_entry_is_not_found(world, session):
    with pytest.raises(NotFound):
        ledger.reverse(session, ADMIN, 999_999, "原因")


def test_reversal_needs_a_reason(world, session):
    original = factories.points(session, world.silver, 30)
    session.commit()
    with pytest.raises(ValidationFailed):
        ledger.reverse(session, ADMIN, original.id, "   ")
    assert _entry_count(session, world.silver.id) == 2


def test_balance_equals_the_sum_of_entries(world, session, clock):
    member = world.plain  # 10 points from the world
    admin = ADMIN
    today = clock.today
    a = ledger.adjust(session, admin, member.id, 25, "补录", today, "bal-1")
    ledger.adjust(session, admin, member.id, -4, "更正", today, "bal-2")
    ledger.reverse(session, admin, a.id, "录入错误")
    factories.points(session, member, 3)
    session.commit()

    expected = 10 + 25 - 4 - 25 + 3
    assert ledger.balance(session, member.id) == expected
    raw_sum = session.execute(
        text("SELECT SUM(points) FROM ledger_entries WHERE member_id = :m"), {"m": member.id}
    ).scalar_one()
    assert raw_sum == expected


def test_balance_of_a_member_without_entries_is_zero(session):
    home = factories.community(session)
    member = factories.member(session, home)
    assert ledger.balance(session, member.id) == 0


def test_the_same_idempotency_key_posts_once(world, session, clock):
    posting = ledger.Posting(
        member_id=world.plain.id,
        points=8,
        kind=EntryKind.ADJUSTMENT,
        source_type="adjustment",
        source_id=None,
        community_id=world.home.id,
        occurred_on=clock.today,
        idempotency_key="once-only",
        memo="测试",
    )
    first = ledger.post(session, posting, author_id=None)
    session.commit()
    again = ledger.post(session, posting, author_id=None)
    session.commit()

    assert again.id == first.id
    assert (
        session.scalar(select(func.count()).where(LedgerEntry.idempotency_key == "once-only")) == 1
    )
    assert ledger.balance(session, world.plain.id) == 18


def test_post_many_returns_earlier_and_new_entries_in_order(world, session, clock):
    def posting(key: str, points: int) -> ledger.Posting:
        return ledger.Posting(
            member_id=world.plain.id,
            points=points,
            kind=EntryKind.ADJUSTMENT,
            source_type="adjustment",
            source_id=None,
            community_id=world.home.id,
            occurred_on=clock.today,
            idempotency_key=key,
        )

    (earlier,) = ledger.post_many(session, [posting("k-1", 1)], None)
    entries = ledger.post_many(session, [posting("k-2", 2), posting("k-1", 1)], None)
    session.commit()
    assert entries[1].id == earlier.id
    assert [e.seq for e in entries] == [3, 2]
    assert ledger.verify_chain(session).ok


def test_duplicate_keys_in_one_batch_are_refused(world, session, clock):
    p = ledger.Posting(
        member_id=world.plain.id,
        points=1,
        kind=EntryKind.ADJUSTMENT,
        source_type="adjustment",
        source_id=None,
        community_id=world.home.id,
        occurred_on=clock.today,
        idempotency_key="dup",
    )
    with pytest.raises(ValidationFailed):
        ledger.post_many(session, [p, p], None)
    assert _entry_count(session, world.plain.id) == 1


def test_zero_points_are_refused_by_the_service(world, session, clock):
    with pytest.raises(ValidationFailed):
        ledger.post(
            session,
            ledger.Posting(
                member_id=world.plain.id,
                points=0,
                kind=EntryKind.ADJUSTMENT,
                source_type="adjustment",
                source_id=None,
                community_id=world.home.id,
                occurred_on=clock.today,
                idempotency_key="zero",
            ),
            author_id=None,
        )
    with pytest.raises(ValidationFailed):
        ledger.adjust(session, ADMIN, world.plain.id, 0, "无", clock.today, "zero-adj")
    assert _entry_count(session, world.plain.id) == 1


def test_zero_points_are_refused_by_the_database(world, session):
    entry = factories.points(session, world.plain, 4)
    session.commit()
    with pytest.raises(IntegrityError):
        _raw_insert_like(session, entry, points=0)
    session.rollback()
    assert _entry_count(session, world.plain.id) == 2


def test_database_refuses_a_reversal_without_a_target(world, session):
    entry = factories.points(session, world.plain, 4)
    session.commit()
    with pytest.raises(IntegrityError):
        _raw_insert_like(session, entry, kind="reversal", reverses_id=None)


def test_adjustment_needs_a_reason(world, session, clock):
    with pytest.raises(ValidationFailed) as caught:
        ledger.adjust(session, ADMIN, world.plain.id, 5, "  ", clock.today, "no-reason")
    assert "原因" in caught.value.message
    assert _entry_count(session, world.plain.id) == 1


def test_adjustment_beyond_the_limit_is_refused(world, session, clock):
    with pytest.raises(ValidationFailed):
        ledger.adjust(
            session,
            ADMIN,
            world.plain.id,
            ledger.MAX_ADJUSTMENT_POINTS + 1,
            "补录",
            clock.today,
            "too-many",
        )


def test_adjustment_is_recorded_with_author_and_reason(world, session, clock):
    secretary = world.actor(world.secretary)
    entry = ledger.adjust(
        session, secretary, world.plain.id, 15, "系统上线前的积分", clock.today, "pre-1"
    )
    session.commit()
    assert (entry.points, entry.kind, entry.author_id) == (
        15,
        EntryKind.ADJUSTMENT,
        world.secretary.id,
    )
    assert entry.memo == "系统上线前的积分"
    assert ledger.balance(session, world.plain.id) == 25


def test_secretary_of_another_community_cannot_adjust_or_reverse(world, session, clock):
    outsider = factories.account(session, Role.SECRETARY, community=world.other)
    entry = factories.points(session, world.silver, 9)
    session.commit()
    actor = Actor.for_account(outsider)
    with pytest.raises(NotFound):
        ledger.adjust(session, actor, world.silver.id, 5, "越权", clock.today, "x-1")
    with pytest.raises(NotFound):
        ledger.reverse(session, actor, entry.id, "越权")
    assert _entry_count(session, world.silver.id) == 2


def test_merchant_staff_cannot_touch_points(world, session, clock):
    entry = factories.points(session, world.silver, 9)
    session.commit()
    cashier = world.actor(world.cashier)
    with pytest.raises(Forbidden):
        ledger.adjust(session, cashier, world.silver.id, 5, "越权", clock.today, "x-2")
    with pytest.raises(Forbidden):
        ledger.reverse(session, cashier, entry.id, "越权")


# -- the hash chain ---------------------------------------------------------------------------


def test_verify_chain_is_ok_on_good_data(world, session):
    factories.points(session, world.gold, 3)
    entry = factories.points(session, world.silver, 4)
    ledger.reverse(session, ADMIN, entry.id, "录入错误")
    session.commit()
    report = ledger.verify_chain(session)
    assert report.ok
    assert report.broken_entry_id is None
    assert report.entry_count == _entry_count(session) == 6


def test_each_member_has_a_chain_from_one(world, session):
    factories.points(session, world.gold, 3)
    session.commit()
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == world.gold.id).order_by(LedgerEntry.seq)
    ).all()
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].prev_hash == ledger.GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash


def test_verify_chain_names_an_entry_whose_points_were_changed_in_sql(session):
    _first, middle, _last = _three_entries(session)
    session.execute(
        text("UPDATE ledger_entries SET points = 500 WHERE id = :id"), {"id": middle.id}
    )
    session.commit()
    report = ledger.verify_chain(session)
    assert not report.ok
    assert report.broken_entry_id == middle.id
    assert "entry_hash" in report.problem


def test_verify_chain_names_the_entry_after_a_deleted_one(session):
    _first, middle, last = _three_entries(session)
    session.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": middle.id})
    session.commit()
    report = ledger.verify_chain(session)
    assert report.broken_entry_id == last.id
    assert "seq" in report.problem


def test_verify_chain_names_an_entry_whose_prev_hash_was_changed(session):
    _first, _middle, last = _three_entries(session)
    session.execute(
        text("UPDATE ledger_entries SET prev_hash = :h WHERE id = :id"),
        {"h": "f" * 64, "id": last.id},
    )
    session.commit()
    report = ledger.verify_chain(session)
    assert report.broken_entry_id == last.id
    assert "prev_hash" in report.problem


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link(session):
    _first, middle, last = _three_entries(session)
    forged = _row(session, middle.id)
    fields = ledger._chained_fields(
        ledger.Posting(
            member_id=forged["member_id"],
            points=500,
            kind=forged["kind"],
            source_type=forged["source_type"],
            source_id=forged["source_id"],
            community_id=forged["community_id"],
            occurred_on=forged["occurred_on"],
            idempotency_key=forged["idempotency_key"],
            memo=forged["memo"],
        ),
        forged["seq"],
        forged["author_id"],
        forged["recorded_at"],
        forged["prev_hash"],
    )
    session.execute(
        text("UPDATE ledger_entries SET points = 500, entry_hash = :h WHERE id = :id"),
        {"h": ledger.entry_digest(fields), "id": middle.id},
    )
    session.commit()
    report = ledger.verify_chain(session)
    assert report.broken_entry_id == last.id
    assert "prev_hash" in report.problem


def test_verify_chain_reports_the_first_break_only(session):
    first, _middle, last = _three_entries(session)
    session.execute(
        text("UPDATE ledger_entries SET points = 1 WHERE id IN (:a, :b)"),
        {"a": first.id, "b": last.id},
    )
    session.commit()
    assert ledger.verify_chain(session).broken_entry_id == first.id


def test_backdated_service_date_keeps_the_recording_time(world, session, clock):
    before = clock.now
    entry = factories.points(session, world.plain, 2, occurred_on=clock.today - timedelta(days=90))
    session.commit()
    assert entry.occurred_on == clock.today - timedelta(days=90)
    assert entry.recorded_at >= before


def test_an_adjustment_key_reused_for_another_adjustment_is_a_conflict(world, session, clock):
    first = ledger.adjust(session, ADMIN, world.plain.id, 5, "补录", clock.today, "same-key")
    session.commit()
    again = ledger.adjust(session, ADMIN, world.plain.id, 5, "补录", clock.today, "same-key")
    assert again.id == first.id  # a retry
    with pytest.raises(Conflict):
        ledger.adjust(session, ADMIN, world.plain.id, 6, "补录", clock.today, "same-key")
    session.rollback()
    assert _entry_count(session, world.plain.id) == 2


def test_an_adjustment_cannot_be_dated_in_the_future(world, session, clock):
    with pytest.raises(ValidationFailed) as caught:
        ledger.adjust(
            session, ADMIN, world.plain.id, 5, "预支", clock.today + timedelta(days=1), "future"
        )
    assert caught.value.details["fields"]["occurred_on"]
