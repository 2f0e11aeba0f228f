"""Members on a community's roster (党员): finding them, their record, adding and editing one.

The roster file import and transfers between communities are in ``roster``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from rewards.clock import business_date, utcnow
from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import (
    Card,
    CardStatus,
    Claim,
    Community,
    Member,
    MemberStatus,
    MemberTransfer,
    Role,
    Tier,
)
from rewards.services import ledger, tiers
from rewards.services.audit import Actor, record, require_community, require_role
from rewards.services.paging import DEFAULT_PAGE_SIZE, Page, paginate
from rewards.services.roster import member_problems, normalise_phone

MEMBER_NOT_FOUND = "找不到该党员。"
MAX_QUERY = 40
RECENT_CLAIMS = 50


def member_in_reach(session: Session, actor: Actor, member_id: int) -> Member:
    """The member, if the actor may see them: themselves, their secretary, the district."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(MEMBER_NOT_FOUND)
    if actor.role is Role.MEMBER:
        if actor.member_id != member.id:
            raise Forbidden("只能查看自己的积分和卡。")
        return member
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    require_community(actor, member.community_id, MEMBER_NOT_FOUND)
    return member


def member_by_number(session: Session, actor: Actor, member_no: str) -> Member:
    """A member of the actor's community by their number (YT0100001)."""
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    member = session.scalar(
        select(Member).where(Member.member_no == (member_no or "").strip().upper())
    )
    if member is None:
        raise NotFound(MEMBER_NOT_FOUND)
    require_community(actor, member.community_id, MEMBER_NOT_FOUND)
    return member


# -- the roster list --------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    """One member as the roster lists them: live tier and current card, if any."""

    member: Member
    tier: Tier
    card: Card | None


def search_members(
    session: Session,
    actor: Actor,
    query: str = "",
    *,
    community_id: int | None = None,
    include_inactive: bool = False,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    at: datetime | None = None,
) -> Page[RosterEntry]:
    """The roster, by member number, searched by name, member number or phone tail (手机尾号).

    A secretary sees their own community; the district every community, or ``community_id``.
    """
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    if not actor.is_district_wide:
        if community_id is not None and community_id != actor.community_id:
            raise NotFound("找不到该社区。")
        community_id = actor.community_id
    query = (query or "").strip()[:MAX_QUERY]
    statement = select(Member).order_by(Member.member_no)
    if community_id is not None:
        statement = statement.where(Member.community_id == community_id)
    if not include_inactive:
        statement = statement.where(Member.status == MemberStatus.ACTIVE)
    if query:
        matches = [
            Member.name.contains(query, autoescape=True),
            Member.member_no.startswith(query.upper(), autoescape=True),
        ]
        if query.isascii() and query.isdigit() and len(query) >= 4:
            matches.append(Member.phone.endswith(query))
        statement = statement.where(or_(*matches))
    found = paginate(session, statement, page, page_size)
    ids = [m.id for m in found.items]
    standings = tiers.evaluate_tiers(session, ids, at=at)
    current = {
        card.member_id: card
        for card in session.scalars(
            select(Card).where(
                Card.member_id.in_(ids),
                Card.status.in_([CardStatus.ACTIVE, CardStatus.SUSPENDED]),
            )
        )
    }
    return found.map(lambda m: RosterEntry(m, standings[m.id], current.get(m.id)))


# -- one member's record ----------------------------------------------------------------------


@dataclass(frozen=True)
class TransferLine:
    """A move between communities, with both names."""

    transfer: MemberTransfer
    from_name: str
    to_name: str


@dataclass(frozen=True)
class MemberRecord:
    """Everything a secretary sees on a member's page (the ledger is paged separately)."""

    member: Member
    standing: tiers.TierStanding
    all_time_points: int
    cards: Sequence[Card]  # newest first
    claims: Sequence[Claim]  # newest first, the latest RECENT_CLAIMS
    claim_count: int
    transfers: Sequence[TransferLine]

    @property
    def current_card(self) -> Card | None:
        return next((c for c in self.cards if c.is_current), None)


def member_record(
    session: Session, actor: Actor, member_id: int, at: datetime | None = None
) -> MemberRecord:
    """A member's profile, live tier, points, cards, claims and transfers (党员档案)."""
    member = member_in_reach(session, actor, member_id)
    cards = session.scalars(
        select(Card).where(Card.member_id == member.id).order_by(Card.generation.desc())
    ).all()
    claims = paginate(
        session,
        select(Claim)
        .where(Claim.member_id == member.id)
        .order_by(Claim.submitted_at.desc(), Claim.id.desc()),
        1,
        RECENT_CLAIMS,
    )
    source, target = aliased(Community), aliased(Community)
    transfers = [
        TransferLine(transfer, from_name, to_name)
        for transfer, from_name, to_name in session.execute(
            select(MemberTransfer, source.name, target.name)
            .join(source, source.id == MemberTransfer.from_community_id)
            .join(target, target.id == MemberTransfer.to_community_id)
            .where(MemberTransfer.member_id == member.id)
            .order_by(MemberTransfer.transferred_at, MemberTransfer.id)
        )
    ]
    return MemberRecord(
        member=member,
        standing=tiers.evaluate_tier(session, member.id, at),
        all_time_points=ledger.balance(session, member.id),
        cards=cards,
        claims=claims.items,
        claim_count=claims.total,
        transfers=transfers,
    )


# -- adding and editing -----------------------------------------------------------------------


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        summary = "；".join(problems.values())
        raise ValidationFailed(
            f"党员信息有误：{summary}。", fields={k: [v] for k, v in problems.items()}
        )


def add_member(
    session: Session,
    actor: Actor,
    community_id: int,
    member_no: str,
    name: str,
    phone: str,
    joined_on: date | None,
    employer: str = "",
    now: datetime | None = None,
) -> Member:
    """Register a new member on a community's roster (登记党员)."""
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    require_community(actor, community_id, "找不到该社区。")
    if session.get(Community, community_id) is None:
        raise NotFound("找不到该社区。")
    member_no = (member_no or "").strip().upper()
    name, phone, employer = (name or "").strip(), normalise_phone(phone), (employer or "").strip()
    _refuse(member_problems(member_no, name, phone, joined_on, employer, business_date(now)))
    assert joined_on is not None
    member = Member(
        member_no=member_no,
        name=name,
        phone=phone,
        community_id=community_id,
        status=MemberStatus.ACTIVE,
        employer=employer,
        joined_on=joined_on,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(member)
    except IntegrityError as exc:
        raise Conflict(
            f"党员编号 {member_no} 已经登记过；如在其他社区，请由该社区办理组织关系转接。",
            fields={"member_no": ["党员编号已存在。"]},
        ) from exc
    record(session, actor, "member.add", "member", member.id, at=now, member_no=member_no)
    return member


def update_member(
    session: Session,
    actor: Actor,
    member_id: int,
    *,
    name: str,
    phone: str,
    joined_on: date | None,
    employer: str = "",
    active: bool = True,
    now: datetime | None = None,
) -> Member:
    """Correct a member's details, or mark their registration inactive (停用) or active again.

    The member number stays; an inactive member earns no points and is issued no card.
    """
    now = now or utcnow()
    require_role(actor, Role.SECRETARY, Role.DISTRICT_ADMIN)
    member = session.scalar(select(Member).where(Member.id == member_id).with_for_update(of=Member))
    if member is None:
        raise NotFound(MEMBER_NOT_FOUND)
    require_community(actor, member.community_id, MEMBER_NOT_FOUND)
    name, phone, employer = (name or "").strip(), normalise_phone(phone), (employer or "").strip()
    problems = member_problems(
        member.member_no, name, phone, joined_on, employer, business_date(now)
    )
    _refuse(problems)
    status = MemberStatus.ACTIVE if active else MemberStatus.INACTIVE
    before = {
        "name": member.name,
        "phone": member.phone,
        "joined_on": member.joined_on.isoformat(),
        "employer": member.employer,
        "status": str(member.status),
    }
    member.name, member.phone, member.employer = name, phone, employer
    member.joined_on = joined_on  # type: ignore[assignment]  # checked above
    member.status = status
    after = {
        "name": name,
        "phone": phone,
        "joined_on": member.joined_on.isoformat(),
        "employer": employer,
        "status": str(status),
    }
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changed:
        # The phone number is personal information: the log says it changed, not what to.
        if "phone" in changed:
            changed["phone"] = ["***", "***"]
        record(session, actor, "member.update", "member", member.id, at=now, changed=changed)
    return member
