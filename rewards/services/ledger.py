"""The ledger (积分台账): the only code that writes points. Append-only, hash-chained per member."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, NotFound, ValidationFailed
from rewards.models import EntryKind, LedgerEntry, Member, Role
from rewards.services.audit import Actor, record, require_community, require_role

GENESIS_HASH = "0" * 64
MAX_ADJUSTMENT_POINTS = 1000


@dataclass(frozen=True)
class Posting:
    """A points movement to append: the ledger assigns seq, time, author and hashes."""

    member_id: int
    points: int
    kind: EntryKind
    source_type: str
    source_id: int | None
    community_id: int
    occurred_on: date
    idempotency_key: str
    memo: str = ""
    reverses_id: int | None = None


def entry_digest(fields: dict[str, object]) -> str:
    """SHA-256 over an entry's canonical fields, which include the previous entry's hash."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chained_fields(
    posting_or_entry: Posting | LedgerEntry,
    seq: int,
    author_id: int | None,
    recorded_at: datetime,
    prev_hash: str,
) -> dict[str, object]:
    p = posting_or_entry
    return {
        "member_id": p.member_id,
        "seq": seq,
        "points": p.points,
        "kind": str(p.kind),
        "source_type": p.source_type,
        "source_id": p.source_id,
        "community_id": p.community_id,
        "author_id": author_id,
        "occurred_on": p.occurred_on.isoformat(),
        "recorded_at": recorded_at.replace(tzinfo=None).isoformat(timespec="microseconds"),
        "memo": p.memo,
        "idempotency_key": p.idempotency_key,
        "reverses_id": p.reverses_id,
        "prev_hash": prev_hash,
    }


def _lock_members(session: Session, member_ids: Iterable[int]) -> None:
    """Serialise ledger writes per member (row locks, in id order to avoid deadlocks)."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        session.execute(
            select(Member.id).where(Member.id.in_(chunk)).order_by(Member.id).with_for_update()
        ).all()


def _chain_heads(session: Session, member_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """Each member's last (seq, entry_hash)."""
    heads: dict[int, tuple[int, str]] = {}
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        last = (
            select(LedgerEntry.member_id, func.max(LedgerEntry.seq).label("seq"))
            .where(LedgerEntry.member_id.in_(chunk))
            .group_by(LedgerEntry.member_id)
            .subquery()
        )
        rows = session.execute(
            select(LedgerEntry.member_id, LedgerEntry.seq, LedgerEntry.entry_hash).join(
                last,
                and_(LedgerEntry.member_id == last.c.member_id, LedgerEntry.seq == last.c.seq),
            )
        )
        heads.update({member_id: (seq, digest) for member_id, seq, digest in rows})
    return heads


def post_many(
    session: Session,
    postings: Sequence[Posting],
    author_id: int | None,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Append postings; a posting whose idempotency key is already in the ledger is not re-posted.

    Returns the entries for every posting, in order: the new ones and the earlier ones.
    """
    if not postings:
        return []
    for p in postings:
        if p.points == 0:
            raise ValidationFailed("积分变动不能为 0。")
    keys = [p.idempotency_key for p in postings]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("同一批记录中有重复的幂等键。")

    _lock_members(session, (p.member_id for p in postings))
    existing = _entries_by_key(session, keys)
    fresh = [p for p in postings if p.idempotency_key not in existing]
    if fresh:
        recorded_at = now or utcnow()
        heads = _chain_heads(session, [p.member_id for p in fresh])
        rows = []
        for p in fresh:
            seq, prev_hash = heads.get(p.member_id, (0, GENESIS_HASH))
            seq += 1
            fields = _chained_fields(p, seq, author_id, recorded_at, prev_hash)
            digest = entry_digest(fields)
            heads[p.member_id] = (seq, digest)
            rows.append(
                {
                    "member_id": p.member_id,
                    "seq": seq,
                    "points": p.points,
                    "kind": p.kind,
                    "source_type": p.source_type,
                    "source_id": p.source_id,
                    "community_id": p.community_id,
                    "author_id": author_id,
                    "occurred_on": p.occurred_on,
                    "recorded_at": recorded_at,
                    "memo": p.memo,
                    "idempotency_key": p.idempotency_key,
                    "reverses_id": p.reverses_id,
                    "prev_hash": prev_hash,
                    "entry_hash": digest,
                }
            )
        # A plain executemany, then one read-back by key: RETURNING on batches of thousands of
        # rows costs more in statement building than the insert itself.
        session.execute(insert(LedgerEntry.__table__), rows)
        fresh_keys = [p.idempotency_key for p in fresh]
        existing.update(_entries_by_key(session, fresh_keys))
    return [existing[k] for k in keys]


def _entries_by_key(session: Session, keys: Sequence[str]) -> dict[str, LedgerEntry]:
    found: dict[str, LedgerEntry] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        found.update(
            (e.idempotency_key, e)
            for e in session.scalars(
                select(LedgerEntry).where(LedgerEntry.idempotency_key.in_(chunk))
            )
        )
    return found


def post(
    session: Session, posting: Posting, author_id: int | None, now: datetime | None = None
) -> LedgerEntry:
    """Append one posting (idempotent by its key)."""
    return post_many(session, [posting], author_id, now)[0]


def reverse(
    session: Session, actor: Actor, entry_id: int, reason: str, now: datetime | None = None
) -> LedgerEntry:
    """Cancel an entry with a new, opposite entry that points at it (冲正). Once per entry."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("冲正必须填写原因。")
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound("找不到这条积分记录。")
    member = session.get(Member, original.member_id)
    assert member is not None
    require_community(actor, member.community_id, "找不到这条积分记录。")
    if original.kind is EntryKind.REVERSAL:
        raise Conflict("冲正记录本身不能再冲正；如需更正请做积分调整。")
    _lock_members(session, [original.member_id])
    already = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id))
    if already is not None:
        raise Conflict("这条积分记录已经冲正过，一条记录只能冲正一次。", reversal_id=already)
    entry = post(
        session,
        Posting(
            member_id=original.member_id,
            points=-original.points,
            kind=EntryKind.REVERSAL,
            source_type="entry",
            source_id=original.id,
            community_id=member.community_id,
            occurred_on=original.occurred_on,
            idempotency_key=f"reversal:{original.id}",
            memo=reason[:200],
            reverses_id=original.id,
        ),
        actor.account_id,
        now,
    )
    record(
        session,
        actor,
        "ledger.reverse",
        "ledger_entry",
        entry.id,
        at=now,
        reverses_id=original.id,
        points=entry.points,
        reason=reason,
    )
    return entry


def adjust(
    session: Session,
    actor: Actor,
    member_id: int,
    points: int,
    reason: str,
    occurred_on: date,
    idempotency_key: str,
    now: datetime | None = None,
) -> LedgerEntry:
    """Record a manual correction (积分调整) with a reason, e.g. points earned before the system.

    ``idempotency_key`` makes a retry return the same entry; the same key with another member,
    amount or reason is a ``conflict``.
    """
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    reason = (reason or "").strip()
    if not reason:
        message = "积分调整必须填写原因。"
        raise ValidationFailed(message, fields={"reason": [message]})
    if points == 0 or abs(points) > MAX_ADJUSTMENT_POINTS:
        message = f"调整分值必须在 ±1 到 ±{MAX_ADJUSTMENT_POINTS} 之间。"
        raise ValidationFailed(message, fields={"points": [message]})
    if occurred_on > business_date(now):
        message = "服务日期不能晚于今天。"
        raise ValidationFailed(message, fields={"occurred_on": [message]})
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("找不到该党员。")
    require_community(actor, member.community_id, "找不到该党员。")
    key = f"adjustment:{idempotency_key}"
    earlier = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if earlier is not None:
        if (earlier.member_id, earlier.points, earlier.memo) != (member.id, points, reason[:200]):
            raise Conflict("这个幂等键已用于另一笔调整；新的调整请换一个新的键。")
        return earlier
    entry = post(
        session,
        Posting(
            member_id=member.id,
            points=points,
            kind=EntryKind.ADJUSTMENT,
            source_type="adjustment",
            source_id=None,
            community_id=member.community_id,
            occurred_on=occurred_on,
            idempotency_key=key,
            memo=reason[:200],
        ),
        actor.account_id,
        now,
    )
    record(
        session,
        actor,
        "ledger.adjust",
        "ledger_entry",
        entry.id,
        at=now,
        member_id=member.id,
        points=points,
        reason=reason,
    )
    return entry


def balance(session: Session, member_id: int) -> int:
    """All-time points of a member: the sum of their entries (there is no other balance)."""
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id
        )
    )


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: how many entries, and the first one that breaks, if any."""

    entry_count: int
    broken_entry_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_entry_id is None


def verify_chain(session: Session) -> ChainReport:
    """Recompute every member's hash chain; report the first entry that does not fit."""
    count = 0
    member_id, expected_seq, prev_hash = None, 0, GENESIS_HASH
    stream = session.scalars(
        select(LedgerEntry)
        .order_by(LedgerEntry.member_id, LedgerEntry.seq)
        .execution_options(yield_per=2000)
    )
    for entry in stream:
        count += 1
        if entry.member_id != member_id:
            member_id, expected_seq, prev_hash = entry.member_id, 0, GENESIS_HASH
        expected_seq += 1
        if entry.seq != expected_seq:
            return ChainReport(count, entry.id, f"seq {entry.seq}, expected {expected_seq}")
        if entry.prev_hash != prev_hash:
            return ChainReport(count, entry.id, "prev_hash does not match the previous entry")
        fields = _chained_fields(entry, entry.seq, entry.author_id, entry.recorded_at, prev_hash)
        if entry_digest(fields) != entry.entry_hash:
            return ChainReport(count, entry.id, "entry_hash does not match the entry's contents")
        prev_hash = entry.entry_hash
    return ChainReport(count)


@dataclass(frozen=True)
class ChainBreak:
    """The first entry of one member's chain that does not fit."""

    member_id: int
    entry_id: int
    seq: int
    problem: str


@dataclass
class ChainsReport:
    """What ``verify_chains`` found: every member's first break, and each chain's stored head."""

    entry_count: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)  # member → (seq, hash)
    hashes_at: dict[int, str] = field(default_factory=dict)  # member → hash at a watched seq

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_chains(session: Session, watch: Mapping[int, int] | None = None) -> ChainsReport:
    """Recompute every member's hash chain; report each member's first break (not only the
    ledger's first), the stored head of every chain, and the stored ``entry_hash`` at the seq
    ``watch`` names for a member (a checkpoint's heads)."""
    watch = watch or {}
    report = ChainsReport()
    member_id: int | None = None
    expected_seq, prev_hash, broken = 0, GENESIS_HASH, False
    stream = session.scalars(
        select(LedgerEntry)
        .order_by(LedgerEntry.member_id, LedgerEntry.seq)
        .execution_options(yield_per=2000)
    )
    for entry in stream:
        report.entry_count += 1
        if entry.member_id != member_id:
            member_id, expected_seq, prev_hash, broken = entry.member_id, 0, GENESIS_HASH, False
        report.heads[entry.member_id] = (entry.seq, entry.entry_hash)
        if watch.get(entry.member_id) == entry.seq:
            report.hashes_at[entry.member_id] = entry.entry_hash
        if broken:
            continue
        expected_seq += 1
        problem = ""
        if entry.seq != expected_seq:
            problem = f"seq {entry.seq}, expected {expected_seq}"
        elif entry.prev_hash != prev_hash:
            problem = "prev_hash does not match the previous entry"
        else:
            fields = _chained_fields(
                entry, entry.seq, entry.author_id, entry.recorded_at, prev_hash
            )
            if entry_digest(fields) != entry.entry_hash:
                problem = "entry_hash does not match the entry's contents"
        if problem:
            report.breaks.append(ChainBreak(entry.member_id, entry.id, entry.seq, problem))
            broken = True
        prev_hash = entry.entry_hash
    return report
