"""Ledger checkpoints (积分台账检查点): every member's chain head, signed, so that deleted entries
are noticed.

The hash chains (``services/ledger.py``) show an edited entry, but deleting a member's newest
entries, or all of them, leaves a shorter chain that still verifies. A checkpoint records each
chain's head (last ``seq`` and its ``entry_hash``) at an instant and signs them with the app's
``SECRET_KEY`` (HMAC-SHA256 via itsdangerous; the newest key signs, every configured key
verifies). ``verify_against_latest`` then checks that every chain still reaches its head with the
same hash. Checkpoints are only ever inserted; each is also written to a JSON file to keep away
from the database, so that deleting the checkpoint rows themselves is caught too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from itsdangerous import Signer
from sqlalchemy import and_, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, ValidationFailed
from rewards.models import (
    CheckpointKind,
    LedgerCheckpoint,
    LedgerCheckpointHead,
    LedgerEntry,
    Member,
)
from rewards.services import ledger
from rewards.services.audit import Actor, record

FILE_FORMAT = "rewards.ledger-checkpoint/1"
SIGNER_SALT = "rewards.ledger.checkpoint"


# -- signing ----------------------------------------------------------------------------------


def app_secret_keys() -> list[str]:
    """The app's secret keys, oldest to newest (as itsdangerous takes them)."""
    config = current_app.config
    return [*reversed(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]


def _signer(keys: Sequence[str] | None) -> Signer:
    return Signer(
        list(keys or app_secret_keys()),
        salt=SIGNER_SALT,
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )


def heads_digest(heads: Iterable[tuple[int, int, str]]) -> str:
    """SHA-256 over the ``(member_id, seq, entry_hash)`` heads, sorted by member."""
    canonical = json.dumps(sorted([m, s, h] for m, s, h in heads), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _signed_payload(
    created_at: datetime,
    created_by: str,
    kind: CheckpointKind | str,
    day: date,
    member_count: int,
    entry_count: int,
    digest: str,
) -> bytes:
    fields = {
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "created_by": created_by,
        "kind": str(kind),
        "business_date": day.isoformat(),
        "member_count": member_count,
        "entry_count": entry_count,
        "digest": digest,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class CheckpointData:
    """A checkpoint as read from the database or from a kept file."""

    id: int
    created_at: datetime
    created_by: str
    kind: str
    business_date: date
    member_count: int
    entry_count: int
    digest: str
    signature: str
    heads: dict[int, tuple[int, str]]  # member_id → (seq, entry_hash)
    member_numbers: dict[int, str] = field(default_factory=dict)  # from a file, for naming

    def problem(self, keys: Sequence[str] | None = None) -> str:
        """Why this checkpoint cannot be trusted ("" when its digest and signature hold)."""
        heads = [(m, s, h) for m, (s, h) in self.heads.items()]
        if len(heads) != self.member_count:
            return "链头数与记录的党员数不符"
        if sum(s for _, s, _ in heads) != self.entry_count:
            return "链头序号之和与记录的条数不符"
        if heads_digest(heads) != self.digest:
            return "链头与摘要不符（链头被改动过）"
        payload = _signed_payload(
            self.created_at,
            self.created_by,
            self.kind,
            self.business_date,
            self.member_count,
            self.entry_count,
            self.digest,
        )
        if not _signer(keys).verify_signature(payload, self.signature.encode()):
            return "签名无效（被伪造或改动过，或签名密钥已不在 SECRET_KEY 中）"
        return ""


def _load(session: Session, checkpoint: LedgerCheckpoint) -> CheckpointData:
    rows = session.execute(
        select(
            LedgerCheckpointHead.member_id,
            LedgerCheckpointHead.seq,
            LedgerCheckpointHead.entry_hash,
        ).where(LedgerCheckpointHead.checkpoint_id == checkpoint.id)
    )
    return CheckpointData(
        id=checkpoint.id,
        created_at=checkpoint.created_at,
        created_by=checkpoint.created_by,
        kind=str(checkpoint.kind),
        business_date=checkpoint.business_date,
        member_count=checkpoint.member_count,
        entry_count=checkpoint.entry_count,
        digest=checkpoint.digest,
        signature=checkpoint.signature,
        heads={m: (s, h) for m, s, h in rows},
    )


# -- taking a checkpoint ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointResult:
    """The checkpoint taken, or today's daily one already there (``created`` False)."""

    checkpoint: LedgerCheckpoint
    created: bool


def current_heads(session: Session) -> dict[int, tuple[int, str]]:
    """Every member's last (seq, entry_hash), read in one statement (one consistent snapshot)."""
    last = (
        select(LedgerEntry.member_id, func.max(LedgerEntry.seq).label("seq"))
        .group_by(LedgerEntry.member_id)
        .subquery()
    )
    rows = session.execute(
        select(LedgerEntry.member_id, LedgerEntry.seq, LedgerEntry.entry_hash).join(
            last, and_(LedgerEntry.member_id == last.c.member_id, LedgerEntry.seq == last.c.seq)
        )
    )
    return {member_id: (seq, digest) for member_id, seq, digest in rows}


def daily_checkpoint(session: Session, day: date) -> LedgerCheckpoint | None:
    """The daily checkpoint of business date ``day``, if taken."""
    return session.scalar(
        select(LedgerCheckpoint).where(
            LedgerCheckpoint.kind == CheckpointKind.DAILY, LedgerCheckpoint.business_date == day
        )
    )


def make_checkpoint(
    session: Session,
    actor: Actor,
    kind: CheckpointKind,
    now: datetime | None = None,
    override_reason: str = "",
    keys: Sequence[str] | None = None,
) -> CheckpointResult:
    """Sign every member's chain head now. A daily checkpoint is taken once per business date:
    a second call that day returns the first and writes nothing.

    A ledger that fails verification is not signed (a checkpoint would bless the damage)
    unless ``override_reason`` says why, after the operator has looked; the findings and the
    reason then go into the audit log.
    """
    now = now or utcnow()
    day = business_date(now)
    if kind is CheckpointKind.DAILY:
        earlier = daily_checkpoint(session, day)
        if earlier is not None:
            return CheckpointResult(earlier, created=False)
    override_reason = (override_reason or "").strip()
    findings = verify_against_latest(session, keys=keys).findings
    if findings and not override_reason:
        lines = "\n".join(f.message for f in findings)
        raise Conflict(
            "积分台账校验未通过，不签发检查点（否则会把损坏的状态签成可信）：\n"
            f"{lines}\n核实并处理后，如确需在此状态签发，请给出原因（--override-reason）。"
        )

    heads = current_heads(session)
    triples = [(m, s, h) for m, (s, h) in heads.items()]
    digest = heads_digest(triples)
    entry_count = sum(s for _, s, _ in triples)
    payload = _signed_payload(now, actor.label, kind, day, len(triples), entry_count, digest)
    signature = _signer(keys).get_signature(payload).decode()
    checkpoint = LedgerCheckpoint(
        created_at=now,
        created_by=actor.label,
        kind=kind,
        business_date=day,
        member_count=len(triples),
        entry_count=entry_count,
        digest=digest,
        signature=signature,
    )
    try:
        with session.begin_nested():
            session.add(checkpoint)
            session.flush()
    except IntegrityError:
        # Another daily run of the same business date got there first.
        earlier = daily_checkpoint(session, day) if kind is CheckpointKind.DAILY else None
        if earlier is None:
            raise
        return CheckpointResult(earlier, created=False)
    rows = [
        {"checkpoint_id": checkpoint.id, "member_id": m, "seq": s, "entry_hash": h}
        for m, s, h in sorted(triples)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(LedgerCheckpointHead.__table__), rows[start : start + 5000])
    details: dict[str, Any] = {
        "kind": str(kind),
        "business_date": day.isoformat(),
        "member_count": len(triples),
        "entry_count": entry_count,
        "digest": digest,
    }
    if findings:
        details.update(override_reason=override_reason, findings=[f.message for f in findings])
    record(
        session, actor, "ledger.checkpoint", "ledger_checkpoint", checkpoint.id, at=now, **details
    )
    return CheckpointResult(checkpoint, created=True)


# -- the kept file ----------------------------------------------------------------------------


def checkpoint_document(session: Session, checkpoint: LedgerCheckpoint) -> dict[str, Any]:
    """The checkpoint as a JSON document to keep outside the database (no personal names)."""
    data = _load(session, checkpoint)
    numbers: dict[int, str] = {
        m: no for m, no in session.execute(select(Member.id, Member.member_no))
    }
    return {
        "format": FILE_FORMAT,
        "id": data.id,
        "created_at": data.created_at.isoformat(timespec="microseconds"),
        "created_by": data.created_by,
        "kind": data.kind,
        "business_date": data.business_date.isoformat(),
        "member_count": data.member_count,
        "entry_count": data.entry_count,
        "digest": data.digest,
        "signature": data.signature,
        # [member_id, seq, entry_hash, member_no]; member_no is for reading, not signed.
        "heads": [[m, s, h, numbers.get(m, "")] for m, (s, h) in sorted(data.heads.items())],
    }


def default_file(instance_path: str | Path, checkpoint: LedgerCheckpoint) -> Path:
    """``instance/checkpoints/<business date>-<id>.json``."""
    name = f"{checkpoint.business_date.isoformat()}-{checkpoint.id}.json"
    return Path(instance_path) / "checkpoints" / name


def write_file(session: Session, checkpoint: LedgerCheckpoint, path: Path) -> Path:
    """Write the checkpoint's document to ``path`` (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = checkpoint_document(session, checkpoint)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def read_file(path: Path) -> CheckpointData:
    """A kept checkpoint file, or ``ValidationFailed`` saying what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(f"读不了检查点文件 {path}：{exc.strerror}。") from exc
    except ValueError as exc:
        raise ValidationFailed(f"检查点文件 {path} 不是有效的 JSON。") from exc
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise ValidationFailed(f"{path} 不是积分台账检查点文件（format 应为 {FILE_FORMAT}）。")
    try:
        heads = {int(h[0]): (int(h[1]), str(h[2])) for h in document["heads"]}
        numbers = {int(h[0]): str(h[3]) for h in document["heads"] if len(h) > 3 and h[3]}
        return CheckpointData(
            id=int(document["id"]),
            created_at=datetime.fromisoformat(document["created_at"]),
            created_by=str(document["created_by"]),
            kind=str(document["kind"]),
            business_date=date.fromisoformat(document["business_date"]),
            member_count=int(document["member_count"]),
            entry_count=int(document["entry_count"]),
            digest=str(document["digest"]),
            signature=str(document["signature"]),
            heads=heads,
            member_numbers=numbers,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValidationFailed(f"检查点文件 {path} 缺少字段或格式不对。") from exc


# -- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing wrong, naming the member (or the checkpoint) concerned."""

    kind: str  # chain_broken | entries_deleted | entries_rewritten | chain_deleted |
    #            checkpoint_invalid | checkpoint_missing
    message: str
    member_id: int | None = None
    entry_id: int | None = None


@dataclass
class Verification:
    """What ``verify_against_latest`` found."""

    entry_count: int
    member_count: int
    checkpoint: CheckpointData | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def _member_label(
    members: Mapping[int, tuple[str, str]], numbers: Mapping[int, str], member_id: int
) -> str:
    if member_id in members:
        member_no, name = members[member_id]
        return f"党员 {member_no} {name}"
    if member_id in numbers:
        return f"党员 {numbers[member_id]}（id {member_id}，已不在党员表中）"
    return f"党员 id {member_id}（已不在党员表中）"


def _latest_valid(
    session: Session, keys: Sequence[str] | None, findings: list[Finding]
) -> CheckpointData | None:
    """The newest checkpoint whose signature holds; each newer one that fails is a finding."""
    newest_first = session.scalars(
        select(LedgerCheckpoint).order_by(
            LedgerCheckpoint.created_at.desc(), LedgerCheckpoint.id.desc()
        )
    )
    for checkpoint in newest_first:
        data = _load(session, checkpoint)
        problem = data.problem(keys)
        if not problem:
            return data
        findings.append(
            Finding("checkpoint_invalid", f"检查点 #{data.id}（{data.business_date}）{problem}。")
        )
    return None


def verify_against_latest(
    session: Session,
    checkpoint_file: Path | None = None,
    keys: Sequence[str] | None = None,
) -> Verification:
    """Check every hash chain and compare the chain heads with the newest valid checkpoint in
    the database, or with the checkpoint kept in ``checkpoint_file``.

    Findings, each naming the member: an entry that breaks its chain (edited, inserted, or
    deleted from the middle); newest entries deleted since the checkpoint (the chain now ends
    before the checkpoint's head); entries up to the checkpoint rewritten (a different hash at
    the checkpoint's seq); a whole chain deleted (a member in the checkpoint with no entries);
    a checkpoint whose signature or digest fails; a kept checkpoint missing from the database.
    """
    findings: list[Finding] = []
    if checkpoint_file is not None:
        checkpoint: CheckpointData | None = read_file(checkpoint_file)
        assert checkpoint is not None
        problem = checkpoint.problem(keys)
        if problem:
            findings.append(
                Finding("checkpoint_invalid", f"检查点文件 {checkpoint_file}：{problem}。")
            )
            checkpoint = None
        else:
            stored = session.get(LedgerCheckpoint, checkpoint.id)
            if stored is None or stored.digest != checkpoint.digest:
                findings.append(
                    Finding(
                        "checkpoint_missing",
                        f"检查点 #{checkpoint.id}（{checkpoint.business_date}）在文件里，"
                        "但数据库中没有这个检查点（被删除或替换过）。",
                    )
                )
    else:
        checkpoint = _latest_valid(session, keys, findings)

    watch = {m: s for m, (s, _) in checkpoint.heads.items()} if checkpoint else {}
    report = ledger.verify_chains(session, watch)

    problems: list[tuple[str, int, str, int | None]] = []  # kind, member, text, entry
    for b in report.breaks:
        problems.append(
            (
                "chain_broken",
                b.member_id,
                f"哈希链断裂于 entry {b.entry_id}（第 {b.seq} 条）：{b.problem}",
                b.entry_id,
            )
        )
    if checkpoint is not None:
        where = f"{checkpoint.business_date} 的检查点 #{checkpoint.id} "
        for member_id, (seq, digest) in sorted(checkpoint.heads.items()):
            head = report.heads.get(member_id)
            if head is None:
                problems.append(
                    (
                        "chain_deleted",
                        member_id,
                        f"整条积分链已被删除（{where}时有 {seq} 条记录，现在一条也没有）",
                        None,
                    )
                )
            elif head[0] < seq:
                problems.append(
                    (
                        "entries_deleted",
                        member_id,
                        f"最新的 {seq - head[0]} 条记录已被删除"
                        f"（{where}时到第 {seq} 条，现在只到第 {head[0]} 条）",
                        None,
                    )
                )
            elif report.hashes_at.get(member_id) != digest:
                problems.append(
                    (
                        "entries_rewritten",
                        member_id,
                        f"第 {seq} 条记录与 {where}不符（此前的记录被改写或重算过哈希）",
                        None,
                    )
                )

    if problems:
        ids = sorted({member_id for _, member_id, _, _ in problems})
        members: dict[int, tuple[str, str]] = {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            rows = session.execute(
                select(Member.id, Member.member_no, Member.name).where(Member.id.in_(chunk))
            )
            members.update((m, (no, name)) for m, no, name in rows)
        numbers = checkpoint.member_numbers if checkpoint else {}
        for kind, member_id, text, entry_id in problems:
            label = _member_label(members, numbers, member_id)
            findings.append(Finding(kind, f"{label}：{text}。", member_id, entry_id))
    return Verification(report.entry_count, len(report.heads), checkpoint, findings)
