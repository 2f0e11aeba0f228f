"""Ledger completeness: signed checkpoints of the chain heads catch what the hash chains alone
cannot (deleted newest entries, a deleted whole chain), and a checkpoint cannot be forged.

The tests that damage the ledger do it with raw SQL on purpose: that is the attack (someone with
write access to the database); the app itself never updates or deletes an entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from rewards.errors import Conflict
from rewards.models import (
    AuditEvent,
    CheckpointKind,
    LedgerCheckpoint,
    LedgerCheckpointHead,
    LedgerEntry,
    Member,
)
from rewards.services import checkpoints, ledger
from rewards.services.audit import Actor
from tests import factories

OPERATOR = Actor.operator("tests")


@dataclass
class Two:
    """Two members with three entries each, and a checkpoint of them."""

    alice: Member
    bob: Member
    checkpoint: LedgerCheckpoint


@pytest.fixture()
def runner(app: Flask, session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture()
def two(session: Session) -> Two:
    home = factories.community(session)
    alice = factories.member(session, home, name="赵一")
    bob = factories.member(session, home, name="钱二")
    for member in (alice, bob):
        for amount in (5, 7, 11):
            factories.points(session, member, amount)
    result = checkpoints.make_checkpoint(session, OPERATOR, CheckpointKind.ON_DEMAND)
    session.commit()
    return Two(alice, bob, result.checkpoint)


def _newest(session: Session, member: Member) -> LedgerEntry:
    return session.scalar(
        select(LedgerEntry)
        .where(LedgerEntry.member_id == member.id)
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    )


def _sql(session: Session, statement: str, **params: object) -> None:
    session.execute(text(statement), params)
    session.commit()
    session.expire_all()


def _kinds(verification: checkpoints.Verification) -> list[tuple[str, int | None]]:
    return [(f.kind, f.member_id) for f in verification.findings]


def test_a_checkpoint_records_every_chain_head_and_the_intact_ledger_verifies(two, session):
    cp = two.checkpoint
    assert (cp.member_count, cp.entry_count) == (2, 6)
    heads = dict(
        session.execute(
            select(LedgerCheckpointHead.member_id, LedgerCheckpointHead.entry_hash).where(
                LedgerCheckpointHead.checkpoint_id == cp.id
            )
        ).all()
    )
    assert heads == {
        two.alice.id: _newest(session, two.alice).entry_hash,
        two.bob.id: _newest(session, two.bob).entry_hash,
    }
    verification = checkpoints.verify_against_latest(session)
    assert verification.ok, verification.findings
    assert verification.checkpoint is not None and verification.checkpoint.id == cp.id
    assert (verification.entry_count, verification.member_count) == (6, 2)


def test_verify_detects_an_edited_entry(two, session, runner):
    middle = session.scalar(
        select(LedgerEntry).where(LedgerEntry.member_id == two.alice.id, LedgerEntry.seq == 2)
    )
    _sql(session, "UPDATE ledger_entries SET points = 700 WHERE id = :id", id=middle.id)

    verification = checkpoints.verify_against_latest(session)
    assert _kinds(verification) == [("chain_broken", two.alice.id)]
    message = verification.findings[0].message
    assert two.alice.member_no in message and "赵一" in message
    assert f"entry {middle.id}（" in message

    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"{two.alice.member_no} 赵一" in result.output
    assert two.bob.member_no not in result.output


def test_verify_detects_an_entry_rewritten_with_its_hash_recomputed(two, session):
    """Whoever edits the newest entry can recompute its (unkeyed) hash so the chain holds; the
    signed head in the checkpoint still differs."""
    newest = _newest(session, two.bob)
    fields = ledger._chained_fields(
        newest, newest.seq, newest.author_id, newest.recorded_at, newest.prev_hash
    )
    fields["points"] = 999
    _sql(
        session,
        "UPDATE ledger_entries SET points = 999, entry_hash = :h WHERE id = :id",
        h=ledger.entry_digest(fields),
        id=newest.id,
    )
    assert ledger.verify_chain(session).ok  # the chains alone do not see it

    verification = checkpoints.verify_against_latest(session)
    assert _kinds(verification) == [("entries_rewritten", two.bob.id)]
    assert two.bob.member_no in verification.findings[0].message


def test_verify_detects_a_deleted_newest_entry_since_the_checkpoint(two, session, runner):
    _sql(session, "DELETE FROM ledger_entries WHERE id = :id", id=_newest(session, two.alice).id)
    assert ledger.verify_chain(session).ok  # a shorter chain is still a valid chain

    verification = checkpoints.verify_against_latest(session)
    assert _kinds(verification) == [("entries_deleted", two.alice.id)]
    message = verification.findings[0].message
    assert f"{two.alice.member_no} 赵一" in message
    assert "第 3 条" in message and "第 2 条" in message

    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"{two.alice.member_no} 赵一：最新的 1 条记录已被删除" in result.output


def test_verify_detects_a_deleted_member_chain_since_the_checkpoint(two, session, runner):
    _sql(session, "DELETE FROM ledger_entries WHERE member_id = :m", m=two.bob.id)
    assert ledger.verify_chain(session).ok

    verification = checkpoints.verify_against_latest(session)
    assert _kinds(verification) == [("chain_deleted", two.bob.id)]
    assert f"{two.bob.member_no} 钱二：整条积分链已被删除" in verification.findings[0].message

    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"{two.bob.member_no} 钱二" in result.output
    assert two.alice.member_no not in result.output


def test_entries_added_after_the_checkpoint_are_fine(two, session):
    factories.points(session, two.alice, 3)
    newcomer = factories.member(session, two.alice.community, name="孙三")
    factories.points(session, newcomer, 4)
    session.commit()
    assert checkpoints.verify_against_latest(session).ok


def test_a_forged_checkpoint_is_refused(two, session, app):
    """Someone with write access but without SECRET_KEY deletes an entry and writes a new
    checkpoint over the shortened chain: its signature fails, and the older, genuine checkpoint
    still shows the deletion."""
    _sql(session, "DELETE FROM ledger_entries WHERE id = :id", id=_newest(session, two.alice).id)
    forged = checkpoints.make_checkpoint(
        session,
        OPERATOR,
        CheckpointKind.ON_DEMAND,
        override_reason="attacker",
        keys=["a key the attacker guessed"],
    ).checkpoint
    session.commit()

    verification = checkpoints.verify_against_latest(session)
    assert _kinds(verification) == [
        ("checkpoint_invalid", None),
        ("entries_deleted", two.alice.id),
    ]
    assert f"#{forged.id}" in verification.findings[0].message
    assert "签名无效" in verification.findings[0].message
    assert verification.checkpoint is not None and verification.checkpoint.id == two.checkpoint.id

    # Nor can a genuine checkpoint's heads be changed to fit the shortened chain.
    _sql(session, "DELETE FROM ledger_checkpoint_heads WHERE checkpoint_id = :c", c=forged.id)
    _sql(session, "DELETE FROM ledger_checkpoints WHERE id = :c", c=forged.id)
    _sql(
        session,
        "UPDATE ledger_checkpoint_heads SET seq = 2, entry_hash = :h"
        " WHERE checkpoint_id = :c AND member_id = :m",
        h=_newest(session, two.alice).entry_hash,
        c=two.checkpoint.id,
        m=two.alice.id,
    )
    altered = checkpoints.verify_against_latest(session)
    assert [f.kind for f in altered.findings] == ["checkpoint_invalid"]
    assert f"#{two.checkpoint.id}" in altered.findings[0].message


def test_a_tampered_checkpoint_file_is_refused(two, session, tmp_path: Path):
    kept = checkpoints.write_file(session, two.checkpoint, tmp_path / "kept.json")
    document = json.loads(kept.read_text(encoding="utf-8"))
    document["heads"][0][1] = 2  # claim a shorter chain for the first member
    kept.write_text(json.dumps(document), encoding="utf-8")

    verification = checkpoints.verify_against_latest(session, kept)
    assert [f.kind for f in verification.findings] == ["checkpoint_invalid"]


def test_a_kept_checkpoint_file_catches_deleted_checkpoint_rows(two, session, runner, tmp_path):
    kept = checkpoints.write_file(session, two.checkpoint, tmp_path / "kept.json")
    checkpoint_id, member_no = two.checkpoint.id, two.alice.member_no
    _sql(session, "DELETE FROM ledger_entries WHERE id = :id", id=_newest(session, two.alice).id)
    _sql(session, "DELETE FROM ledger_checkpoint_heads")
    _sql(session, "DELETE FROM ledger_checkpoints")

    assert checkpoints.verify_against_latest(session).ok  # nothing left in the database to see it

    result = runner.invoke(args=["ledger", "verify", "--checkpoint-file", str(kept)])
    assert result.exit_code == 1
    assert f"检查点 #{checkpoint_id}" in result.output and "数据库中没有" in result.output
    assert f"{member_no} 赵一：最新的 1 条记录已被删除" in result.output


def test_a_second_daily_checkpoint_the_same_day_is_a_no_op(
    two, session, runner, clock, tmp_path: Path
):
    first = runner.invoke(args=["ledger", "checkpoint", "--daily", "--file", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "a").exists()
    daily = select(func.count()).where(LedgerCheckpoint.kind == CheckpointKind.DAILY)
    audits = select(func.count()).where(AuditEvent.action == "ledger.checkpoint")
    assert (session.scalar(daily), session.scalar(audits)) == (1, 2)

    second = runner.invoke(args=["ledger", "checkpoint", "--daily", "--file", str(tmp_path / "b")])
    assert second.exit_code == 0, second.output
    assert "已经签发过" in second.output and str(clock.today) in second.output
    assert not (tmp_path / "b").exists()
    assert (session.scalar(daily), session.scalar(audits)) == (1, 2)

    clock.advance(days=1)
    next_day = runner.invoke(
        args=["ledger", "checkpoint", "--daily", "--file", str(tmp_path / "c")]
    )
    assert next_day.exit_code == 0, next_day.output
    assert session.scalar(daily) == 2


def test_the_checkpoint_file_holds_the_signed_heads_and_verifies(two, session, runner, tmp_path):
    result = runner.invoke(args=["ledger", "checkpoint"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.split("检查点文件：")[1].split("（")[0])
    try:
        assert path.parent.name == "checkpoints"
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["member_count"] == 2 and len(document["heads"]) == 2
        assert "赵一" not in path.read_text(encoding="utf-8")  # no personal names in the file
        ok = runner.invoke(args=["ledger", "verify", "--checkpoint-file", str(path)])
        assert ok.exit_code == 0, ok.output
        assert "6 条记录、2 位党员" in ok.output
    finally:
        path.unlink()


def test_a_damaged_ledger_is_not_signed_without_a_reason(two, session):
    _sql(session, "DELETE FROM ledger_entries WHERE member_id = :m", m=two.bob.id)
    with pytest.raises(Conflict) as refused:
        checkpoints.make_checkpoint(session, OPERATOR, CheckpointKind.ON_DEMAND)
    assert two.bob.member_no in refused.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 1

    accepted = checkpoints.make_checkpoint(
        session, OPERATOR, CheckpointKind.ON_DEMAND, override_reason="已核实：误导入的党员"
    )
    session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.object_id == accepted.checkpoint.id))
    assert event.details["override_reason"] == "已核实：误导入的党员"
    assert two.bob.member_no in event.details["findings"][0]
    assert checkpoints.verify_against_latest(session).ok


def test_a_checkpoint_signed_with_a_retired_key_still_verifies_while_that_key_is_listed(
    session, app
):
    home = factories.community(session)
    factories.points(session, factories.member(session, home), 5)
    checkpoints.make_checkpoint(
        session, OPERATOR, CheckpointKind.ON_DEMAND, keys=app.config["SECRET_KEY_FALLBACKS"]
    )
    session.commit()
    assert checkpoints.verify_against_latest(session).ok  # newest key + the older one listed
    only_newest = checkpoints.verify_against_latest(session, keys=[app.config["SECRET_KEY"]])
    assert [f.kind for f in only_newest.findings] == ["checkpoint_invalid"]
