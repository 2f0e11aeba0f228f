"""The benchmark's data set: a fresh schema and a small district built through the services."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Flask
from sqlalchemy import func, select

from rewards.clock import business_date, utcnow
from rewards.extensions import db
from rewards.models import (
    Card,
    Community,
    EntryKind,
    Member,
    MemberStatus,
    Merchant,
    Redemption,
    Role,
)
from rewards.services import agreements, cards, ledger, merchants, tiers
from rewards.services.audit import Actor

GOLD_THRESHOLD = 100
SILVER_THRESHOLD = 50
COMMUNITIES = 3
BILL_AMOUNTS = ("128.50", "36.00", "299.90", "88.80", "15.50", "560.00")
_ADMIN = Actor(label="bench-admin", role=Role.DISTRICT_ADMIN)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


@dataclass(frozen=True)
class Counter:
    """What a POS needs to call the API: its key and the cards it will be shown."""

    api_key: str
    merchant_id: int
    card_ids: list[int]


def build(app: Flask, members: int, seed: int = 7) -> Counter:
    """Drop and recreate every table, then build communities, a merchant and its customers.

    Every member lands at silver or gold (a year of service history in 8 to 14 ledger entries)
    and holds an active card; the merchant signs a district-wide agreement and gets a POS key.
    """
    rng = random.Random(seed)
    with app.app_context():
        db.drop_all()
        db.create_all()
        session = db.session
        now = utcnow()
        today = business_date(now)
        communities = [
            Community(code=f"B{n:02d}", name=f"压测社区{n}") for n in range(1, COMMUNITIES + 1)
        ]
        shop = Merchant(code="B001", name="压测联盟商家", created_at=now)
        session.add_all([*communities, shop])
        session.flush()
        tiers.set_policy(
            session,
            _ADMIN,
            gold_threshold=GOLD_THRESHOLD,
            silver_threshold=SILVER_THRESHOLD,
            window_months=12,
            effective_from=now - timedelta(days=400),
        )
        agreements.sign_agreement(
            session,
            _ADMIN,
            shop.id,
            None,
            gold_pay_percent=88,
            silver_pay_percent=95,
            valid_from=date(2020, 1, 1),
            cap_fen=5000,
        )
        people = [
            Member(
                member_no=f"B{n:07d}",
                name=rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=2)),
                phone=f"139{n:08d}",
                community_id=communities[n % COMMUNITIES].id,
                status=MemberStatus.ACTIVE,
                joined_on=date(2019, 7, 1),
                created_at=now,
            )
            for n in range(1, members + 1)
        ]
        session.add_all(people)
        session.flush()
        postings = []
        for person in people:
            # A year's total at silver (most members) or gold, spread over 8 to 14 entries.
            total = rng.randint(55, 95) if rng.random() < 0.8 else rng.randint(105, 160)
            entries = rng.randint(8, 14)
            for k in range(entries):
                share = total // entries + (total % entries if k == 0 else 0)
                postings.append(
                    ledger.Posting(
                        member_id=person.id,
                        points=share,
                        kind=EntryKind.ADJUSTMENT,
                        source_type="adjustment",
                        source_id=None,
                        community_id=person.community_id,
                        occurred_on=today - timedelta(days=rng.randint(1, 360)),
                        idempotency_key=f"bench:{person.id}:{k}",
                        memo="压测数据",
                    )
                )
        ledger.post_many(session, postings, author_id=None, now=now)
        issued = [cards.issue_card(session, _ADMIN, person.id, now) for person in people]
        _, key = merchants.create_api_key(session, _ADMIN, shop.id, "压测收银台", now)
        session.commit()
        return Counter(api_key=key, merchant_id=shop.id, card_ids=[c.id for c in issued])


def phone_tokens(app: Flask, card_ids: list[int], count: int) -> list[str]:
    """``count`` fresh single-use phone tokens, spread over the cards in turn."""
    with app.app_context():
        signer = app.extensions["rewards.card_tokens"]
        held = db.session.scalars(select(Card).where(Card.id.in_(card_ids))).all()
        now = utcnow()
        return [signer.phone_token(held[n % len(held)], now)[0] for n in range(count)]


def redemptions_recorded(app: Flask, merchant_id: int) -> int:
    """How many redemptions the merchant has in the database."""
    with app.app_context():
        count = db.session.scalar(
            select(func.count(Redemption.id)).where(Redemption.merchant_id == merchant_id)
        )
        db.session.remove()
        return int(count or 0)
