"""Small factories: each builds one record with sensible defaults, through the services
where a service exists, so tests exercise the same paths as the product."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.models import (
    Account,
    Card,
    Community,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Merchant,
    PointCategory,
    Role,
)
from rewards.services import accounts, agreements, cards, ledger, tiers
from rewards.services.audit import Actor
from tests.clock import today

OPERATOR = Actor.operator("tests")
_seq = itertools.count(1)


def community(session: Session, code: str | None = None, name: str | None = None) -> Community:
    n = next(_seq)
    c = Community(code=code or f"T{n:02d}", name=name or f"测试社区{n}")
    session.add(c)
    session.flush()
    return c


def merchant(session: Session, code: str | None = None, name: str | None = None) -> Merchant:
    n = next(_seq)
    m = Merchant(code=code or f"X{n:03d}", name=name or f"测试商家{n}", created_at=utcnow())
    session.add(m)
    session.flush()
    return m


def member(
    session: Session, community: Community, name: str = "张三明", phone: str = "13800000000"
) -> Member:
    n = next(_seq)
    m = Member(
        member_no=f"P{n:07d}",
        name=name,
        phone=phone,
        community_id=community.id,
        status=MemberStatus.ACTIVE,
        joined_on=date(2020, 1, 1),
        created_at=utcnow(),
    )
    session.add(m)
    session.flush()
    return m


def category(session: Session, default_points: int = 5, max_points: int = 20) -> PointCategory:
    n = next(_seq)
    c = PointCategory(
        code=f"cat{n}",
        name=f"志愿服务{n}",
        default_points=default_points,
        max_points=max_points,
        is_enabled=True,
    )
    session.add(c)
    session.flush()
    return c


def account(
    session: Session,
    role: Role,
    community: Community | None = None,
    merchant: Merchant | None = None,
    member: Member | None = None,
    password: str = "correct horse",
) -> Account:
    n = next(_seq)
    return accounts.create_account(
        session,
        OPERATOR,
        username=f"{role.value}{n}",
        password=password,
        role=role,
        display_name=f"{role.value} {n}",
        community_id=community.id if community else None,
        merchant_id=merchant.id if merchant else None,
        member_id=member.id if member else None,
    )


def points(
    session: Session, member: Member, amount: int, occurred_on: date | None = None
) -> LedgerEntry:
    """Credit ``amount`` points to a member through the ledger (as an adjustment)."""
    return ledger.post(
        session,
        ledger.Posting(
            member_id=member.id,
            points=amount,
            kind=EntryKind.ADJUSTMENT,
            source_type="adjustment",
            source_id=None,
            community_id=member.community_id,
            occurred_on=occurred_on or today() - timedelta(days=10),
            idempotency_key=f"test:{next(_seq)}",
            memo="test",
        ),
        author_id=None,
    )


def card(session: Session, member: Member) -> Card:
    return cards.issue_card(session, OPERATOR, member.id)


@dataclass
class World:
    home: Community
    other: Community
    shop: Merchant
    policy_gold: int
    policy_silver: int
    gold: Member
    silver: Member
    plain: Member
    gold_card: Card
    silver_card: Card
    plain_card: Card
    secretary: Account
    cashier: Account
    manager: Account
    category: PointCategory

    def actor(self, account: Account) -> Actor:
        return Actor.for_account(account)


def build_world(session: Session, now: datetime | None = None) -> World:
    """Gold, silver and tierless members in ``home``; a shop with a home-only agreement:
    gold pays 88%, silver 95%, no cap, no minimum."""
    home, other = community(session), community(session)
    shop = merchant(session)
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    tiers.set_policy(
        session,
        admin,
        gold_threshold=100,
        silver_threshold=50,
        window_months=12,
        effective_from=(now or utcnow()) - timedelta(days=400),
    )
    agreements.sign_agreement(
        session,
        admin,
        shop.id,
        home.id,
        gold_pay_percent=88,
        silver_pay_percent=95,
        valid_from=date(2020, 1, 1),
    )
    gold, silver, plain = (member(session, home, name=n) for n in ("张三明", "李四", "王五"))
    points(session, gold, 120)
    points(session, silver, 60)
    points(session, plain, 10)
    return World(
        home=home,
        other=other,
        shop=shop,
        policy_gold=100,
        policy_silver=50,
        gold=gold,
        silver=silver,
        plain=plain,
        gold_card=card(session, gold),
        silver_card=card(session, silver),
        plain_card=card(session, plain),
        secretary=account(session, Role.SECRETARY, community=home),
        cashier=account(session, Role.CASHIER, merchant=shop),
        manager=account(session, Role.MERCHANT_MANAGER, merchant=shop),
        category=category(session),
    )
