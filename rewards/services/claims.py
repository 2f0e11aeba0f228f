"""Service claims (积分申报): members claim a service; the community secretary certifies (认定) or
rejects it. A certification is one ledger entry, however often it is attempted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from rewards.clock import BUSINESS_TZ, business_date, utcnow
from rewards.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from rewards.models import (
    Account,
    Claim,
    ClaimStatus,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Role,
)
from rewards.services import ledger, notices
from rewards.services.audit import Actor, record, require_community, require_role
from rewards.services.categories import check_points, check_service_date, usable_category
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate

MIN_DESCRIPTION, MAX_DESCRIPTION = 2, 500
MAX_REASON = 200
# One bulk certification at most: a page of the queue, with room to spare.
MAX_BULK = 200

CLAIM_NOT_FOUND = "找不到这条积分申报。"


def submit_claim(
    session: Session,
    actor: Actor,
    member_id: int,
    category_id: int,
    description: str,
    occurred_on: date,
    points: int | None = None,
    now: datetime | None = None,
) -> Claim:
    """A member (or their secretary on their behalf) claims a service for points."""
    now = now or utcnow()
    member = session.get(Member, member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise NotFound("找不到该党员，或其党员登记已停用。")
    if actor.role is Role.MEMBER:
        if actor.member_id != member.id:
            raise Forbidden("只能为自己申报积分。")
    else:
        require_community(actor, member.community_id, "找不到该党员。")
    category = usable_category(session, category_id)
    points = category.default_points if points is None else points
    check_points(points, category)
    check_service_date(occurred_on, business_date(now))
    description = (description or "").strip()
    if not MIN_DESCRIPTION <= len(description) <= MAX_DESCRIPTION:
        message = f"请用 {MIN_DESCRIPTION} 到 {MAX_DESCRIPTION} 个字说明做了什么服务。"
        raise ValidationFailed(message, fields={"description": [message]})
    claim = Claim(
        member_id=member.id,
        community_id=member.community_id,
        category_id=category.id,
        points=points,
        description=description,
        occurred_on=occurred_on,
        status=ClaimStatus.PENDING,
        submitted_at=now,
    )
    session.add(claim)
    session.flush()
    record(
        session,
        actor,
        "claim.submit",
        "claim",
        claim.id,
        at=now,
        member_id=member.id,
        points=points,
        category=category.code,
    )
    return claim


# -- reading ----------------------------------------------------------------------------------


def _scope_community(actor: Actor, community_id: int | None) -> int | None:
    """The community a list is limited to: a secretary's own; the district's choice or all."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if actor.is_district_wide:
        return community_id
    if community_id is not None and community_id != actor.community_id:
        raise NotFound("找不到该社区。")
    return actor.community_id


def _claims_of(community_id: int | None) -> Select[tuple[Claim]]:
    # Scoped by where the member is registered now: that secretary is the one who certifies.
    statement = (
        select(Claim)
        .join(Member, Member.id == Claim.member_id)
        .options(joinedload(Claim.member), joinedload(Claim.category))
    )
    if community_id is not None:
        statement = statement.where(Member.community_id == community_id)
    return statement


def list_claims(
    session: Session,
    actor: Actor,
    *,
    status: ClaimStatus | None = ClaimStatus.PENDING,
    community_id: int | None = None,
    category_id: int | None = None,
    occurred_from: date | None = None,
    occurred_to: date | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[Claim]:
    """Claims of the actor's community (待认定: pending, oldest first; decided: newest first).

    Filtered by category and by service date (inclusive); ``status`` None lists every claim.
    """
    statement = _claims_of(_scope_community(actor, community_id))
    if status is not None:
        statement = statement.where(Claim.status == status)
    if category_id is not None:
        statement = statement.where(Claim.category_id == category_id)
    if occurred_from is not None:
        statement = statement.where(Claim.occurred_on >= occurred_from)
    if occurred_to is not None:
        statement = statement.where(Claim.occurred_on <= occurred_to)
    if status is ClaimStatus.PENDING:
        statement = statement.order_by(Claim.submitted_at, Claim.id)
    else:
        statement = statement.order_by(Claim.submitted_at.desc(), Claim.id.desc())
    return paginate(session, statement, page, page_size)


@dataclass(frozen=True)
class ClaimDetail:
    """A claim as its secretary reviews it: who decided it and the entry it earned, if any."""

    claim: Claim
    decided_by: str | None
    entry: LedgerEntry | None


def get_claim(session: Session, actor: Actor, claim_id: int) -> ClaimDetail:
    """One claim of the actor's community; another community's is not found."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    claim = session.scalar(_claims_of(None).where(Claim.id == claim_id))
    if claim is None:
        raise NotFound(CLAIM_NOT_FOUND)
    require_community(actor, claim.member.community_id, CLAIM_NOT_FOUND)
    decided_by = (
        session.scalar(select(Account.display_name).where(Account.id == claim.decided_by_id))
        if claim.decided_by_id
        else None
    )
    entry = session.scalar(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == _entry_key(claim))
    )
    return ClaimDetail(claim, decided_by, entry)


# -- deciding ---------------------------------------------------------------------------------


def _entry_key(claim: Claim) -> str:
    return f"claim:{claim.id}"


def _locked_claim(session: Session, actor: Actor, claim_id: int) -> Claim:
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim))
    if claim is None:
        raise NotFound(CLAIM_NOT_FOUND)
    member = session.get(Member, claim.member_id)
    assert member is not None
    # Scope by where the member is registered now, not where the claim was filed.
    require_community(actor, member.community_id, CLAIM_NOT_FOUND)
    return claim


def _already_decided(session: Session, claim: Claim) -> Conflict:
    """The refusal for a claim someone has decided meanwhile (in another tab, say)."""
    who = session.scalar(select(Account.display_name).where(Account.id == claim.decided_by_id))
    when = (
        claim.decided_at.astimezone(BUSINESS_TZ).strftime("%m-%d %H:%M") if claim.decided_at else ""
    )
    by = f"由{who}" if who else ""
    if claim.status is ClaimStatus.WITHDRAWN:
        return Conflict(
            f"这条申报已于 {when} 由党员本人撤回，不能再处理。", status=str(claim.status)
        )
    if claim.status is ClaimStatus.CERTIFIED:
        return Conflict(
            f"这条申报已于 {when} {by}认定，积分已记入，没有重复记分；"
            "如需撤销请冲正对应的积分记录。",
            status=str(claim.status),
        )
    return Conflict(f"这条申报已于 {when} {by}驳回，不能再处理。", status=str(claim.status))


def certify_claim(
    session: Session,
    actor: Actor,
    claim_id: int,
    points: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Certify a pending claim (认定): one ledger entry of its points, or of ``points`` where the
    secretary changes them (1 to the category's maximum). A decided claim is a ``conflict``."""
    now = now or utcnow()
    claim = _locked_claim(session, actor, claim_id)
    if claim.status is not ClaimStatus.PENDING:
        raise _already_decided(session, claim)
    if points is not None:
        check_points(points, claim.category)
    certified = claim.points if points is None else points
    member = session.get(Member, claim.member_id)
    assert member is not None
    entry = ledger.post(
        session,
        ledger.Posting(
            member_id=claim.member_id,
            points=certified,
            kind=EntryKind.AWARD,
            source_type="claim",
            source_id=claim.id,
            community_id=member.community_id,
            occurred_on=claim.occurred_on,
            idempotency_key=_entry_key(claim),
            memo=claim.category.name,
        ),
        actor.account_id,
        now,
    )
    claim.status = ClaimStatus.CERTIFIED
    claim.certified_points = certified
    claim.decided_at = now
    claim.decided_by_id = actor.account_id
    record(
        session,
        actor,
        "claim.certify",
        "claim",
        claim.id,
        at=now,
        ledger_entry_id=entry.id,
        proposed=claim.points,
        points=certified,
    )
    notices.notify(
        session,
        claim.member_id,
        "claim.certify",
        f"您申报的「{claim.category.name}」（{claim.occurred_on.isoformat()}）已认定，"
        f"记入 {certified} 分。",
        "claim",
        claim.id,
        now,
    )
    return entry


@dataclass(frozen=True)
class BulkLine:
    """One claim's result in a bulk certification."""

    claim_id: int
    ok: bool
    message: str
    member_name: str = ""
    points: int | None = None


def certify_claims(
    session: Session, actor: Actor, claim_ids: Sequence[int], now: datetime | None = None
) -> list[BulkLine]:
    """Certify many claims in one action (批量认定), each on its own: one result line per claim.

    A claim that cannot be certified (decided meanwhile, out of scope) is reported and the
    others go ahead; each certification is still one entry at most.
    """
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    wanted = list(dict.fromkeys(claim_ids))
    if not wanted:
        raise ValidationFailed("请先勾选要认定的申报。", fields={"claim_ids": ["至少选择一条。"]})
    if len(wanted) > MAX_BULK:
        raise ValidationFailed(f"一次最多认定 {MAX_BULK} 条申报。")
    lines: list[BulkLine] = []
    for claim_id in wanted:
        try:
            with session.begin_nested():
                entry = certify_claim(session, actor, claim_id, now=now)
        except DomainError as error:
            # Only a claim in reach (decided meanwhile) is named; an unknown one stays unknown.
            name = ""
            if isinstance(error, Conflict):
                name = session.scalar(
                    select(Member.name)
                    .join(Claim, Claim.member_id == Member.id)
                    .where(Claim.id == claim_id)
                )
            lines.append(BulkLine(claim_id, False, error.message, name or ""))
            continue
        name = session.scalar(select(Member.name).where(Member.id == entry.member_id)) or ""
        lines.append(BulkLine(claim_id, True, f"已认定 {entry.points} 分。", name, entry.points))
    return lines


def reject_claim(
    session: Session, actor: Actor, claim_id: int, reason: str, now: datetime | None = None
) -> Claim:
    """Reject a pending claim (驳回) with a reason the member will read."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        message = "驳回必须填写原因，党员会看到这条原因。"
        raise ValidationFailed(message, fields={"reason": [message]})
    if len(reason) > MAX_REASON:
        message = f"驳回原因最多 {MAX_REASON} 个字。"
        raise ValidationFailed(message, fields={"reason": [message]})
    claim = _locked_claim(session, actor, claim_id)
    if claim.status is not ClaimStatus.PENDING:
        raise _already_decided(session, claim)
    claim.status = ClaimStatus.REJECTED
    claim.rejection_reason = reason
    claim.decided_at = now
    claim.decided_by_id = actor.account_id
    record(session, actor, "claim.reject", "claim", claim.id, at=now, reason=reason)
    notices.notify(
        session,
        claim.member_id,
        "claim.reject",
        f"您申报的「{claim.category.name}」（{claim.occurred_on.isoformat()}）未获认定：{reason}",
        "claim",
        claim.id,
        now,
    )
    return claim


# -- the member's own claims ------------------------------------------------------------------


def _own_member(actor: Actor) -> int:
    if actor.role is not Role.MEMBER or actor.member_id is None:
        raise Forbidden("只有党员本人可以查看和撤回自己的申报。")
    return actor.member_id


def my_claims(
    session: Session,
    actor: Actor,
    status: ClaimStatus | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[Claim]:
    """The member's own claims, newest first, with their status and any rejection reason."""
    member_id = _own_member(actor)
    statement = (
        select(Claim)
        .options(joinedload(Claim.category))
        .where(Claim.member_id == member_id)
        .order_by(Claim.submitted_at.desc(), Claim.id.desc())
    )
    if status is not None:
        statement = statement.where(Claim.status == status)
    return paginate(session, statement, page, page_size)


def my_claim(session: Session, actor: Actor, claim_id: int) -> Claim:
    """One of the member's own claims; anybody else's is not found."""
    member_id = _own_member(actor)
    claim = session.get(Claim, claim_id)
    if claim is None or claim.member_id != member_id:
        raise NotFound(CLAIM_NOT_FOUND)
    return claim


def withdraw_claim(
    session: Session, actor: Actor, claim_id: int, now: datetime | None = None
) -> Claim:
    """The member takes back a claim still pending (撤回); a decided one is a conflict."""
    now = now or utcnow()
    member_id = _own_member(actor)
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim))
    if claim is None or claim.member_id != member_id:
        raise NotFound(CLAIM_NOT_FOUND)
    if claim.status is not ClaimStatus.PENDING:
        raise _already_decided(session, claim)
    claim.status = ClaimStatus.WITHDRAWN
    claim.decided_at = now
    claim.decided_by_id = actor.account_id
    record(session, actor, "claim.withdraw", "claim", claim.id, at=now)
    return claim
