"""The demo data set (演示数据): the source's shape, generated repeatably from a seed.

21 communities, 130 alliance merchants with agreements, about 5,000 Party members with a year of
certified history (claims, activity attendance, a few reversals, pending claims), tiers landing
on 125 gold and 514 silver, cards, six weeks of card sales, and one sign-in per role. Same seed,
same data (on the same day and hour: the history is laid out backwards from now, because tiers
are computed live).

Each step is a module of its own (district, alliance, roster, history, cards, sales); they share
the ``Demo`` of ``plan.py``, whose one seeded rng makes every random choice in step order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Conflict, ValidationFailed
from rewards.models import (
    Account,
    Agreement,
    AgreementVersion,
    Card,
    CardStatus,
    Claim,
    ClaimStatus,
    Community,
    EntryKind,
    LedgerEntry,
    Member,
    Merchant,
    Redemption,
    RedemptionStatus,
    Tier,
    TierPolicy,
)
from rewards.services import accounts, tiers
from rewards.services.audit import Actor, record
from rewards.services.cards import CardTokens

from . import alliance, cards, district, history, roster, sales
from .plan import DEMO_PASSWORD, Demo
from .roster import DEFAULT_MEMBERS, scaled_bands
from .sales import SALE_DAYS

__all__ = [
    "DEFAULT_MEMBERS",
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "DEMO_USERNAMES",
    "MAX_MEMBERS",
    "MIN_MEMBERS",
    "OUTCOMES",
    "SALE_DAYS",
    "STAGES",
    "database_is_empty",
    "scaled_bands",
    "seed_demo",
    "working_demo_logins",
]

DEFAULT_SEED = 2019
MIN_MEMBERS, MAX_MEMBERS = 200, 50_000
OUTCOMES = ("gold", "silver", "tier_none", "card_suspended", "card_revoked", "no_agreement")
DEMO_USERNAMES = (
    "admin",
    "c01-secretary",
    "c01-gold",
    "c01-silver",
    "m001-manager",
    "m001-cashier",
)

# (stage shown while seeding, step)
_STEPS: tuple[tuple[str, Callable[[Demo], None]], ...] = (
    ("社区与积分类别", district.communities_and_categories),
    ("账号", district.staff_and_policy),
    ("商家与协议", alliance.merchants_and_agreements),
    ("党员名册", roster.roster),
    ("活动与申报", history.activities_and_claims),
    ("积分台账", history.post_ledger),
    ("动力卡", cards.cards),
    ("刷卡消费", sales.sales),
)
STAGES = (*(stage for stage, _ in _STEPS), "汇总")


def database_is_empty(session: Session) -> bool:
    """True when no community, merchant, member, account, policy or ledger entry exists yet."""
    for model in (Community, Merchant, Member, Account, TierPolicy, LedgerEntry):
        if session.scalar(select(model.id).limit(1)) is not None:
            return False
    return True


def seed_demo(
    session: Session,
    tokens: CardTokens,
    seed: int = DEFAULT_SEED,
    members: int = DEFAULT_MEMBERS,
    on_stage: Callable[[str], None] | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Write the demo data set into an empty database and return its summary (JSON-ready).

    ``tokens`` are the app's card tokens: the demo's sales are checked out like real ones.
    Refuses a database that already holds data. ``on_stage`` is called after each of
    ``STAGES``. The caller commits.
    """
    if not MIN_MEMBERS <= members <= MAX_MEMBERS:
        raise ValidationFailed(f"演示党员人数必须在 {MIN_MEMBERS} 到 {MAX_MEMBERS} 之间。")
    if not database_is_empty(session):
        raise Conflict("数据库中已有数据，拒绝写入演示数据（演示数据只能写入空数据库）。")
    demo = Demo(
        session,
        random.Random(seed),
        members,
        now or utcnow(),
        actor or Actor.operator(),
        tokens,
    )
    report = on_stage or (lambda stage: None)
    for stage, step in _STEPS:
        step(demo)
        report(stage)
    summary = _summary(demo)
    report(STAGES[-1])
    summary["seed"] = seed
    return summary


def _summary(demo: Demo) -> dict[str, Any]:
    """What was made, counted from the database, and the sign-ins and cards to try; audited."""
    session = demo.session

    def count(column: Any, *where: Any) -> int:
        return session.scalar(select(func.count(column)).where(*where)) or 0

    standings = tiers.evaluate_tiers(session, [m.id for m in demo.members], at=demo.now)
    tier_counts = {str(t): 0 for t in Tier}
    for tier in standings.values():
        tier_counts[str(tier)] += 1
    card_counts = {str(status): count(Card.id, Card.status == status) for status in CardStatus}
    counts = {
        "communities": len(demo.communities),
        "merchants": len(demo.merchants),
        "agreements": count(Agreement.id),
        "agreement_versions": count(AgreementVersion.id),
        "members": len(demo.members),
        "employer_members": sum(1 for m in demo.members if m.employer),
        "activities": demo.activity_count,
        "attendances": demo.attendance_count,
        "claims": {str(status): count(Claim.id, Claim.status == status) for status in ClaimStatus},
        "ledger_entries": count(LedgerEntry.id),
        "reversals": count(LedgerEntry.id, LedgerEntry.kind == EntryKind.REVERSAL),
        "tiers": tier_counts,
        "cards": card_counts,
        "redemptions": {
            str(status): count(Redemption.id, Redemption.status == status)
            for status in RedemptionStatus
        },
    }
    record(
        session,
        demo.operator,
        "demo.seed",
        "demo",
        None,
        at=demo.now,
        members=len(demo.members),
        ledger_entries=counts["ledger_entries"],
    )
    m001 = demo.merchants[0]
    return {
        "password": DEMO_PASSWORD,
        "logins": demo.logins,
        "counts": counts,
        "checkout": {
            "merchant": {"code": m001.code, "name": m001.name},
            "outcomes": {outcome: demo.outcome_cards[outcome] for outcome in OUTCOMES},
        },
    }


def working_demo_logins(session: Session) -> list[tuple[str, str]]:
    """The demo sign-ins that still accept the demo password, as (username, role label)."""
    working = []
    for username in DEMO_USERNAMES:
        account = accounts.authenticate(session, username, DEMO_PASSWORD)
        if account is not None:
            working.append((username, account.role_label))
    return working
