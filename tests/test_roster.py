"""The roster: CSV import is all or nothing, with every row error reported; transfers keep
history."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from rewards.errors import Conflict, NotFound
from rewards.models import AuditEvent, LedgerEntry, Member, MemberTransfer, Role
from rewards.services import ledger, roster
from rewards.services.audit import Actor
from tests import factories

OPERATOR = Actor.operator("tests")
HEADER = "member_no,name,phone,joined_on,employer\n"
TODAY = date(2025, 6, 1)


def _parse(text: str, encoding: str = "utf-8") -> roster.RosterFile:
    return roster.parse_roster(text.encode(encoding), today=TODAY)


def _member_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Member))


def _by_number(session, member_no: str) -> Member | None:
    return session.scalar(select(Member).where(Member.member_no == member_no))


def test_import_adds_new_members_and_updates_existing_ones_of_the_community(world, session):
    parsed = _parse(
        HEADER + f"{world.plain.member_no},王五,13911112222,2012-07-01,鲁东化工集团\n"
        "YT0100010,陈新,13911113333,2019/7/1,\n"
    )
    result = roster.import_roster(session, OPERATOR, world.home.id, parsed)
    session.commit()

    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    updated = _by_number(session, world.plain.member_no)
    assert (updated.id, updated.phone, updated.employer) == (
        world.plain.id,
        "13911112222",
        "鲁东化工集团",
    )
    created = _by_number(session, "YT0100010")
    assert (created.community_id, created.joined_on) == (world.home.id, date(2019, 7, 1))

    again = roster.import_roster(session, OPERATOR, world.home.id, parsed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_one_bad_row_imports_nothing_and_every_error_names_its_line(world, session):
    before = _member_count(session)
    parsed = _parse(
        HEADER + "YT0100010,陈新,13911113333,2019-07-01,\n"  # line 2: fine
        "12AB,李,13911113334,2019-07-01,\n"  # line 3: member number
        "YT0100012,,139111,2019-07-01,\n"  # line 4: name and phone
        "YT0100013,赵六,13911113336,2019-02-30,\n"  # line 5: no such date
        "YT0100014,钱七,13911113337,2030-01-01,\n"  # line 6: in the future
        "YT0100010,陈新二,13911113338,2019-07-01,\n"  # line 7: duplicate of line 2
    )
    with pytest.raises(roster.RosterInvalid) as refused:
        roster.import_roster(session, OPERATOR, world.home.id, parsed)
    session.rollback()

    errors = {e.line: e.message for e in refused.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "党员编号" in errors[3]
    assert "姓名" in errors[4] and "手机号" in errors[4]
    assert "2019-02-30" in errors[5]
    assert "晚于今天" in errors[6]
    assert "第 2 行重复" in errors[7]
    assert refused.value.details["errors"][0] == {"line": 3, "message": errors[3]}
    assert _member_count(session) == before
    assert _by_number(session, "YT0100010") is None


def test_a_member_registered_elsewhere_must_be_transferred_not_imported(world, session):
    outsider = factories.member(session, world.other, name="孙外")
    session.commit()
    parsed = _parse(HEADER + f"{outsider.member_no},孙外,13911114444,2016-01-01,\n")
    with pytest.raises(roster.RosterInvalid) as refused:
        roster.import_roster(session, OPERATOR, world.home.id, parsed)
    session.rollback()
    (error,) = refused.value.errors
    assert error.line == 2
    assert world.other.name in error.message and "转接" in error.message
    assert session.get(Member, outsider.id).community_id == world.other.id


def test_header_problems_are_reported_on_line_one(world, session):
    parsed = _parse("member_no,name,mobile\nYT0100010,陈新,13911113333\n")
    messages = [str(e) for e in parsed.errors]
    assert any("第 1 行" in m and "mobile" in m for m in messages)
    assert any("缺少必需的列" in m and "phone" in m and "joined_on" in m for m in messages)
    assert parsed.rows == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_utf8_with_or_without_bom_and_gbk_files_are_read(encoding):
    parsed = _parse(
        "党员编号,姓名,手机号,报到日期,工作单位\r\n"
        "YT0100010,欧阳小明,139 1111 3333,2019-07-01,开发区税务局\r\n",
        encoding,
    )
    assert parsed.errors == []
    (row,) = parsed.rows
    assert (row.name, row.phone, row.employer) == ("欧阳小明", "13911113333", "开发区税务局")


def test_a_file_that_is_not_text_is_refused_clearly():
    parsed = roster.parse_roster(b"\xff\xfe\x00\x81\x00binary", today=TODAY)
    assert [e.line for e in parsed.errors] == [1]
    assert "编码" in parsed.errors[0].message


def test_import_is_audited_once_with_its_counts(world, session):
    parsed = _parse(HEADER + "YT0100010,陈新,13911113333,2019-07-01,\n")
    roster.import_roster(session, OPERATOR, world.home.id, parsed)
    session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "roster.import"))
    assert event.object_id == world.home.id
    assert event.details == {"created": 1, "updated": 0, "unchanged": 0}


def test_secretary_cannot_import_into_another_community(world, session):
    parsed = _parse(HEADER + "YT0100010,陈新,13911113333,2019-07-01,\n")
    with pytest.raises(NotFound):
        roster.import_roster(session, world.actor(world.secretary), world.other.id, parsed)
    session.rollback()
    assert _by_number(session, "YT0100010") is None


def test_progress_is_reported_for_every_row(world, session):
    rows = "".join(f"YT02{n:05d},党员{n},139{n:08d},2019-07-01,\n" for n in range(1, 1201))
    seen: list[int] = []
    result = roster.import_roster(
        session, OPERATOR, world.home.id, _parse(HEADER + rows), progress=seen.append
    )
    assert result.created == 1200
    assert sum(seen) == 1200


def test_transfer_keeps_history_and_leaves_ledger_entries_where_recorded(world, session):
    member = world.silver
    before = ledger.balance(session, member.id)
    entry_communities = set(
        session.scalars(select(LedgerEntry.community_id).where(LedgerEntry.member_id == member.id))
    )
    third = factories.community(session)
    session.commit()

    roster.transfer_member(session, world.actor(world.secretary), member.id, world.other.id)
    session.commit()
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    roster.transfer_member(session, admin, member.id, third.id)
    session.commit()

    moved = session.get(Member, member.id)
    assert moved.community_id == third.id
    assert moved.community.code == third.code
    history = roster.transfers_of(session, member.id)
    assert [(t.from_community_id, t.to_community_id) for t in history] == [
        (world.home.id, world.other.id),
        (world.other.id, third.id),
    ]
    assert history[0].author_id == world.secretary.id
    assert ledger.balance(session, member.id) == before
    assert entry_communities == {world.home.id}
    assert set(
        session.scalars(select(LedgerEntry.community_id).where(LedgerEntry.member_id == member.id))
    ) == {world.home.id}
    assert ledger.verify_chain(session).ok
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == member.id))
    assert list(actions).count("member.transfer") == 2


def test_the_old_secretary_no_longer_reaches_a_transferred_member(world, session):
    roster.transfer_member(session, world.actor(world.secretary), world.gold.id, world.other.id)
    session.commit()
    with pytest.raises(NotFound):
        roster.transfer_member(session, world.actor(world.secretary), world.gold.id, world.home.id)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MemberTransfer)) == 1


def test_transfer_to_the_same_community_is_refused(world, session):
    with pytest.raises(Conflict):
        roster.transfer_member(session, OPERATOR, world.gold.id, world.home.id)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MemberTransfer)) == 0


def test_the_preview_reports_every_row_and_writes_nothing(world, session):
    before = _member_count(session)
    parsed = _parse(
        HEADER + f"{world.plain.member_no},王五,{world.plain.phone},2020-01-01,\n"  # unchanged
        f"{world.silver.member_no},李四,13911112222,2020-01-01,\n"  # update: new phone
        "YT0100010,陈新,13911113333,2019-07-01,\n"  # new
        "12AB,李,13911113334,2019-07-01,\n"  # error
    )
    check = roster.check_import(session, world.actor(world.secretary), world.home.id, parsed)
    assert [(r.line, r.action) for r in check.rows] == [
        (2, "unchanged"),
        (3, "update"),
        (4, "new"),
        (5, "error"),
    ]
    assert "党员编号" in check.rows[3].message and not check.ok
    assert (check.count("new"), check.count("update")) == (1, 1)
    session.rollback()
    assert _member_count(session) == before


def test_a_staged_file_belongs_to_the_account_that_uploaded_it(tmp_path):
    staged = roster.StagedFiles(tmp_path)
    token = staged.put(7, b"member_no,name\n")
    assert staged.get(7, token) == b"member_no,name\n"
    with pytest.raises(NotFound):
        staged.get(8, token)
    with pytest.raises(NotFound):
        staged.get(7, "../../etc/passwd")
    staged.drop(7, token)
    with pytest.raises(NotFound):
        staged.get(7, token)
