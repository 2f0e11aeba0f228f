"""The alliance: 130 merchants and the agreements the district signed with them."""

from __future__ import annotations

from datetime import date, timedelta

from rewards.models import Merchant
from rewards.services import agreements

from .plan import Demo
from .words import MERCHANT_KINDS, MERCHANT_PREFIXES, ROADS


def merchants_and_agreements(demo: Demo) -> None:
    rng = demo.rng
    kinds = [kind for kind in MERCHANT_KINDS for _ in range(kind[1])]
    rng.shuffle(kinds)
    names = {"福满楼饺子馆"}
    planned = [("福满楼饺子馆", "餐饮", 0)]  # (name, category, home community index)
    for kind, _weight, endings in kinds[1:]:
        name = rng.choice(MERCHANT_PREFIXES) + rng.choice(endings)
        while name in names:
            name = rng.choice(MERCHANT_PREFIXES) + rng.choice(endings)
        names.add(name)
        planned.append((name, kind, rng.randrange(len(demo.communities))))
    for number, (name, kind, _home) in enumerate(planned, start=1):
        demo.merchants.append(
            Merchant(
                code=f"M{number:03d}",
                name=name,
                category=kind,
                address=f"烟台开发区{rng.choice(ROADS)}{rng.randint(1, 320)}号",
                phone=f"0535-6{rng.randrange(10**6):06d}",
                is_enabled=True,
                created_at=demo.instant(demo.days_ago(420, 700), 9),
            )
        )
    demo.session.add_all(demo.merchants)
    demo.session.flush()

    # M001 shows the versions: signed a year ago at 90/96, amended three months ago to 88/95;
    # it serves C01 and C02 only, so a member of C03 meets ``no_agreement`` there.
    m001 = demo.merchants[0]
    _sign(demo, m001, 0, 90, 96, None, 0, demo.days_ago(380, 380))
    _sign(demo, m001, 0, 88, 95, None, 0, demo.days_ago(90, 90), note="续签，折扣加大")
    _sign(demo, m001, 1, 90, 96, 5000, 0, demo.days_ago(300, 300))
    for merchant, (_name, _kind, home) in zip(demo.merchants[1:], planned[1:], strict=True):
        _agreements_for(demo, merchant, home)


def _agreements_for(demo: Demo, merchant: Merchant, home: int) -> None:
    rng = demo.rng
    gold, silver = rng.randint(85, 90), rng.randint(92, 98)
    cap = rng.choice((2000, 3000, 5000)) if rng.random() < 0.2 else None
    minimum = rng.choice((2000, 3000, 5000, 10000)) if rng.random() < 0.15 else 0
    valid_from = demo.days_ago(200, 420)
    if rng.random() < 0.1:
        _sign(demo, merchant, None, gold, silver, cap, minimum, valid_from)
        return
    count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
    others = [i for i in range(len(demo.communities)) if i != home]
    for index in [home, *rng.sample(others, count - 1)]:
        _sign(demo, merchant, index, gold, silver, cap, minimum, valid_from)
        if rng.random() < 0.08:
            amended_silver = max(gold, silver - 2)
            amended_from = demo.days_ago(30, 150)
            _sign(
                demo,
                merchant,
                index,
                gold,
                amended_silver,
                cap,
                minimum,
                amended_from,
                note="修订：银卡折扣加大",
            )


def _sign(
    demo: Demo,
    merchant: Merchant,
    community_index: int | None,
    gold: int,
    silver: int,
    cap_fen: int | None,
    min_spend_fen: int,
    valid_from: date,
    note: str = "",
) -> None:
    """Sign as the district (only it signs agreements): for one community, or district-wide."""
    community_id = None if community_index is None else demo.communities[community_index].id
    valid_until = None
    if demo.rng.random() < 0.3:
        valid_until = demo.today + timedelta(days=demo.rng.randint(100, 500))
    agreements.sign_agreement(
        demo.session,
        demo.admin,
        merchant.id,
        community_id,
        gold_pay_percent=gold,
        silver_pay_percent=silver,
        valid_from=valid_from,
        valid_until=valid_until,
        cap_fen=cap_fen,
        min_spend_fen=min_spend_fen,
        note=note,
        now=demo.instant(valid_from - timedelta(days=3), 10),
    )
    served = demo.served.setdefault(merchant.id, set())
    if community_index is None or served is None:
        demo.served[merchant.id] = None
    else:
        served.add(community_index)
