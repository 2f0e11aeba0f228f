"""Everything held about a member (个人信息, PIPL): readable on their phone and downloadable as
JSON. What the member is told here is what the database holds about them, nothing less."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Forbidden
from rewards.models import (
    Account,
    ActivationCode,
    Activity,
    Attendance,
    AuditEvent,
    Card,
    Claim,
    ClaimPhoto,
    Community,
    LedgerEntry,
    Member,
    MemberTransfer,
    Merchant,
    Notice,
    Redemption,
)
from rewards.services.audit import Actor, record
from rewards.services.history import describe_entries


def _when(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """The member's data as JSON-ready dictionaries (the export itself is audited)."""
    now = now or utcnow()
    if actor.member_id is None:
        raise Forbidden("只有党员本人可以导出自己的个人信息。")
    member = session.get(Member, actor.member_id)
    assert member is not None
    communities = {cid: name for cid, name in session.execute(select(Community.id, Community.name))}
    account = session.scalar(select(Account).where(Account.member_id == member.id))
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == member.id).order_by(LedgerEntry.seq)
    ).all()
    claims = session.scalars(
        select(Claim).where(Claim.member_id == member.id).order_by(Claim.submitted_at)
    ).all()
    photos = session.scalars(
        select(ClaimPhoto).where(ClaimPhoto.claim_id.in_([c.id for c in claims]))
    ).all()
    data: dict[str, Any] = {
        "exported_at": _when(now),
        "member": {
            "member_no": member.member_no,
            "name": member.name,
            "phone": member.phone,
            "employer": member.employer,
            "joined_on": _when(member.joined_on),
            "community": communities.get(member.community_id),
            "status": str(member.status),
            "registered_at": _when(member.created_at),
        },
        "account": account
        and {
            "username": account.username,
            "created_at": _when(account.created_at),
            "last_login_at": _when(account.last_login_at),
            "enabled": account.is_enabled,
        },
        "cards": [
            {
                "card_no": c.card_no,
                "generation": c.generation,
                "status": str(c.status),
                "issued_at": _when(c.issued_at),
                "status_changed_at": _when(c.status_changed_at),
                "status_reason": c.status_reason,
                "offline_key_issued_at": _when(c.offline_secret_set_at),
            }
            for c in session.scalars(
                select(Card).where(Card.member_id == member.id).order_by(Card.generation)
            )
        ],
        "ledger": [
            {
                "occurred_on": _when(line.entry.occurred_on),
                "points": line.entry.points,
                "kind": str(line.entry.kind),
                "reason": line.reason,
                "community": communities.get(line.entry.community_id),
                "recorded_at": _when(line.entry.recorded_at),
            }
            for line in describe_entries(session, entries)
        ],
        "claims": [
            {
                "category": c.category.name,
                "occurred_on": _when(c.occurred_on),
                "description": c.description,
                "points": c.points,
                "certified_points": c.certified_points,
                "status": str(c.status),
                "rejection_reason": c.rejection_reason,
                "submitted_at": _when(c.submitted_at),
                "decided_at": _when(c.decided_at),
                "photos": [
                    {
                        "content_type": p.content_type,
                        "bytes": p.byte_size,
                        "uploaded_at": _when(p.created_at),
                    }
                    for p in photos
                    if p.claim_id == c.id
                ],
            }
            for c in claims
        ],
        "activities_attended": [
            {"title": title, "occurred_on": _when(day), "recorded_at": _when(at)}
            for title, day, at in session.execute(
                select(Activity.title, Activity.occurred_on, Attendance.recorded_at)
                .join(Attendance, Attendance.activity_id == Activity.id)
                .where(Attendance.member_id == member.id)
                .order_by(Activity.occurred_on)
            )
        ],
        "card_use": [
            {
                "merchant": name,
                "business_date": _when(r.business_date),
                "amount_fen": r.amount_fen,
                "discount_fen": r.discount_fen,
                "payable_fen": r.payable_fen,
                "tier": str(r.tier),
                "status": str(r.status),
                "void_reason": r.void_reason,
            }
            for r, name in session.execute(
                select(Redemption, Merchant.name)
                .join(Merchant, Merchant.id == Redemption.merchant_id)
                .where(Redemption.member_id == member.id)
                .order_by(Redemption.created_at)
            )
        ],
        "transfers": [
            {
                "from": communities.get(t.from_community_id),
                "to": communities.get(t.to_community_id),
                "at": _when(t.transferred_at),
            }
            for t in session.scalars(
                select(MemberTransfer)
                .where(MemberTransfer.member_id == member.id)
                .order_by(MemberTransfer.transferred_at)
            )
        ],
        "notices": [
            {"message": n.message, "at": _when(n.created_at), "read_at": _when(n.read_at)}
            for n in session.scalars(
                select(Notice).where(Notice.member_id == member.id).order_by(Notice.created_at)
            )
        ],
        "activation_codes": [
            {
                "issued_at": _when(a.created_at),
                "expires_at": _when(a.expires_at),
                "used_at": _when(a.used_at),
            }
            for a in session.scalars(
                select(ActivationCode)
                .where(ActivationCode.member_id == member.id)
                .order_by(ActivationCode.created_at)
            )
        ],
        "audit_log": [
            {"at": _when(e.recorded_at), "action": e.action}
            for e in session.scalars(
                select(AuditEvent)
                .where(
                    or_(
                        AuditEvent.actor_account_id == (account.id if account else -1),
                        (AuditEvent.object_type == "member") & (AuditEvent.object_id == member.id),
                    )
                )
                .order_by(AuditEvent.recorded_at)
            )
        ],
    }
    record(session, actor, "member.export", "member", member.id, at=now)
    return data
