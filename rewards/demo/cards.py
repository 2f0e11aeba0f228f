"""The cards (动力卡) of members with a tier, a few suspended, replaced or revoked, and the sign-ins
of the demo's two members and of M001's manager and cashier."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from rewards.models import Card, CardStatus, Role, Tier

from .district import create_account
from .plan import Demo, IssuedCard, PlannedMember
from .words import SUSPENSION_REASONS


def cards(demo: Demo) -> None:
    rows: list[dict[str, Any]] = []
    designated = {id(m): outcome for outcome, m in demo.designated.items()}

    def add(
        member: PlannedMember,
        status: CardStatus,
        generation: int = 1,
        issued: datetime | None = None,
        changed: datetime | None = None,
        reason: str | None = None,
    ) -> str:
        rng = demo.rng
        number = demo.card_number()
        issued = issued or demo.instant(demo.days_ago(40, 330), 10, rng.randint(0, 59))
        if status is not CardStatus.ACTIVE and changed is None:
            changed = min(issued + timedelta(days=rng.randint(5, 30)), demo.now)
        rows.append(
            {
                "card_no": number,
                "member_id": member.id,
                "generation": generation,
                "status": status,
                "issued_at": issued,
                "issued_by_id": demo.secretaries[member.community_index].id,
                "status_changed_at": changed if status is not CardStatus.ACTIVE else None,
                "status_reason": reason if status is not CardStatus.ACTIVE else None,
            }
        )
        if status is CardStatus.ACTIVE:
            demo.active_cards.append(IssuedCard(member, number, issued))
        return number

    for m in demo.members:
        outcome = designated.get(id(m))
        if outcome == "card_suspended":
            demo.outcome_cards[outcome] = add(m, CardStatus.SUSPENDED, reason=SUSPENSION_REASONS[0])
        elif outcome == "card_revoked":
            demo.outcome_cards[outcome] = add(
                m, CardStatus.REVOKED, reason="党员本人申请退卡，卡片注销"
            )
        elif outcome in ("awaiting_card_1", "awaiting_card_2"):
            continue  # newly eligible: the community has not issued the card yet
        elif outcome in ("ageing_1", "ageing_2"):
            add(m, CardStatus.ACTIVE)
        elif outcome is not None:
            demo.outcome_cards[outcome] = add(m, CardStatus.ACTIVE)
        elif m.band is not Tier.NONE:
            _card_of_a_member_with_a_tier(demo, m, add)
        else:
            roll = demo.rng.random()
            if roll < 0.015:  # issued when eligible, since fallen below silver
                add(m, CardStatus.ACTIVE)
            elif roll < 0.018:
                add(m, CardStatus.REVOKED, reason="组织关系转出本区，卡片注销")
    demo.session.execute(insert(Card), rows)
    _sign_ins(demo)


def _card_of_a_member_with_a_tier(demo: Demo, m: PlannedMember, add: Any) -> None:
    """Most hold an active card; a few wait for one, have it suspended, or had it replaced."""
    roll = demo.rng.random()
    if roll < 0.02 and m.band is Tier.SILVER:
        return  # newly eligible: the community has not issued the card yet
    if roll < 0.025:
        add(m, CardStatus.SUSPENDED, reason=demo.rng.choice(SUSPENSION_REASONS))
    elif roll < 0.035:
        lost = demo.instant(demo.days_ago(10, 120), 11)
        add(m, CardStatus.REPLACED, 1, lost - timedelta(days=200), lost, "卡片遗失，补办新卡")
        add(m, CardStatus.ACTIVE, 2, lost)
    else:
        add(m, CardStatus.ACTIVE)


def _sign_ins(demo: Demo) -> None:
    """c01-gold and c01-silver (members with a card), M001's manager and cashier."""
    for outcome, username in (("gold", "c01-gold"), ("silver", "c01-silver")):
        member = demo.designated[outcome]
        account = create_account(demo, username, Role.MEMBER, member.name, member_id=member.id)
        tier_label = "金卡" if outcome == "gold" else "银卡"
        demo.add_login(
            "member", account, f"C01 {member.member_no} {tier_label} {demo.outcome_cards[outcome]}"
        )
    m001 = demo.merchants[0]
    for role, username, label in (
        (Role.MERCHANT_MANAGER, "m001-manager", "店长"),
        (Role.CASHIER, "m001-cashier", "收银员"),
    ):
        account = create_account(
            demo,
            username,
            role,
            f"{demo.person_name()}（{m001.name}{label}）",
            merchant_id=m001.id,
        )
        demo.add_login(str(role), account, f"M001 {m001.name}")
