"""A member's points history (积分明细): ledger entries, newest first, each with its reason in
words (the category and claim, the activity, the correction's reason, the entry a reversal
cancels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from rewards.errors import ValidationFailed
from rewards.models import Claim, EntryKind, LedgerEntry
from rewards.services.audit import Actor
from rewards.services.members import member_in_reach
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate

KIND_LABELS = {
    EntryKind.AWARD: "申报认定",
    EntryKind.ATTENDANCE: "活动签到",
    EntryKind.ADJUSTMENT: "积分调整",
    EntryKind.REVERSAL: "冲正",
}


@dataclass(frozen=True)
class EntryLine:
    """A ledger entry and why it is there, in words."""

    entry: LedgerEntry
    reason: str
    reverses: LedgerEntry | None = None  # the entry a reversal cancels
    reversed_by_id: int | None = None  # the reversal that cancelled this entry, if any

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.entry.kind]


def _own_reason(entry: LedgerEntry, claim_texts: dict[int, str]) -> str:
    if entry.kind is EntryKind.AWARD:
        text = claim_texts.get(entry.source_id or 0, "")
        return f"{entry.memo}：{text}" if text else entry.memo
    return entry.memo


def describe_entries(session: Session, entries: Sequence[LedgerEntry]) -> list[EntryLine]:
    """Each entry with its reason in words, in two or three queries for the whole list."""
    targets_ids = [e.reverses_id for e in entries if e.reverses_id is not None]
    targets = {
        e.id: e
        for e in (
            session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(targets_ids)))
            if targets_ids
            else []
        )
    }
    award_ids = [
        e.source_id
        for e in [*entries, *targets.values()]
        if e.kind is EntryKind.AWARD and e.source_id is not None
    ]
    claim_texts = (
        {
            claim_id: text
            for claim_id, text in session.execute(
                select(Claim.id, Claim.description).where(Claim.id.in_(award_ids))
            )
        }
        if award_ids
        else {}
    )
    ids = [e.id for e in entries]
    reversed_by = (
        {
            target_id: reversal_id
            for target_id, reversal_id in session.execute(
                select(LedgerEntry.reverses_id, LedgerEntry.id).where(
                    LedgerEntry.reverses_id.in_(ids)
                )
            )
        }
        if ids
        else {}
    )
    lines = []
    for entry in entries:
        target = targets.get(entry.reverses_id) if entry.reverses_id else None
        if target is not None:
            cancelled = _own_reason(target, claim_texts)
            reason = (
                f"冲正 {target.occurred_on.isoformat()} 的{KIND_LABELS[target.kind]}"
                f"「{cancelled}」（{target.points:+d} 分）：{entry.memo}"
            )
        else:
            reason = _own_reason(entry, claim_texts)
        lines.append(EntryLine(entry, reason, target, reversed_by.get(entry.id)))
    return lines


def member_ledger(
    session: Session,
    actor: Actor,
    member_id: int,
    *,
    year: int | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[EntryLine]:
    """A member's whole ledger, newest first, optionally one year of service dates."""
    member = member_in_reach(session, actor, member_id)
    statement = select(LedgerEntry).where(LedgerEntry.member_id == member.id)
    if year is not None:
        if not 1921 <= year <= 9999:
            raise ValidationFailed("年份不正确。", fields={"year": ["年份不正确。"]})
        statement = statement.where(
            LedgerEntry.occurred_on >= date(year, 1, 1),
            LedgerEntry.occurred_on <= date(year, 12, 31),
        )
    found = paginate(session, statement.order_by(LedgerEntry.seq.desc()), page, page_size)
    lines = describe_entries(session, found.items)
    return Page(lines, found.page, found.page_size, found.total)


def ledger_years(session: Session, actor: Actor, member_id: int) -> list[int]:
    """The years of service dates in a member's ledger, newest first (for a year filter)."""
    member = member_in_reach(session, actor, member_id)
    year = extract("year", LedgerEntry.occurred_on)
    return [
        int(y)
        for y in session.scalars(
            select(year).where(LedgerEntry.member_id == member.id).distinct().order_by(year.desc())
        )
    ]
