"""Six weeks of card use at the alliance's counters (刷卡消费), so that the merchant's sales and
reports, the cashier's 我的结算, the member's savings and the district's statistics have
something to show: M001's cashier sold today and yesterday (one of today's sales voided), the
other merchants' counters sold through a POS key. Every sale goes through ``checkout.confirm``,
so each one has the terms, tier and audit record a real one has."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from rewards.clock import BUSINESS_TZ
from rewards.errors import DomainError
from rewards.models import Account, Merchant, Redemption
from rewards.services import checkout, merchants
from rewards.services.audit import Actor

from .plan import Demo, IssuedCard, PlannedMember

SALE_DAYS = 42
# Sales at the other merchants: one per this many members over the SALE_DAYS.
MEMBERS_PER_SALE = 12
# M001's counter: 0 to 2 sales on each earlier day, and this many today and yesterday.
M001_TODAY, M001_YESTERDAY = 4, 3
VOID_REASON = "顾客临时退单，整单撤销"


def sales(demo: Demo) -> None:
    counter = _Counter(demo)
    m001 = demo.merchants[0]
    cashier = demo.session.scalar(select(Account).where(Account.username == "m001-cashier"))
    assert cashier is not None, "the cards step opens M001's cashier"
    at_m001 = Actor.for_account(cashier)
    regulars = [demo.designated["gold"], demo.designated["silver"]]
    for days_ago in range(SALE_DAYS, -1, -1):
        wanted = {0: M001_TODAY, 1: M001_YESTERDAY}.get(days_ago, demo.rng.randint(0, 2))
        for n in range(wanted):
            # c01-gold and c01-silver come by now and then; their savings page shows it.
            regular = regulars[n % 2] if n < 2 and days_ago % 9 in (0, 1) else None
            counter.sell(at_m001, m001, days_ago, n, regular)
    today_sales = [r for r in counter.made if r.business_date == demo.today]  # all M001's yet
    if today_sales:
        checkout.void(demo.session, at_m001, today_sales[-1].id, VOID_REASON, now=demo.now)

    others = demo.merchants[1:]
    pos: dict[int, Actor] = {}
    for _ in range(demo.member_count // MEMBERS_PER_SALE):
        merchant = demo.rng.choice(others)
        if merchant.id not in pos:
            key, _secret = merchants.create_api_key(
                demo.session,
                demo.admin,
                merchant.id,
                "前台收银机",
                now=demo.instant(demo.today - timedelta(days=SALE_DAYS + 7), 10),
            )
            pos[merchant.id] = Actor.for_api_key(key)
        counter.sell(pos[merchant.id], merchant, demo.rng.randint(0, SALE_DAYS), 0, None)


def _earlier_today(demo: Demo, n: int) -> datetime:
    """When a counter's ``n``-th sale of today happened: in the last four hours, and today even
    just after midnight (the sales are spread over what there is of today)."""
    midnight = datetime.combine(demo.today, time(), BUSINESS_TZ).astimezone(UTC)
    start = max(midnight, demo.now - timedelta(hours=4))
    return start + (demo.now - start) * (n + 1) / (M001_TODAY + 1)


class _Counter:
    """Sells to a random member the merchant serves whose card was issued before the sale."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.made: list[Redemption] = []
        self.by_community: dict[int, list[IssuedCard]] = defaultdict(list)
        self.by_member: dict[int, IssuedCard] = {}
        for card in demo.active_cards:
            self.by_community[card.member.community_index].append(card)
            self.by_member[card.member.id] = card

    def sell(
        self,
        actor: Actor,
        merchant: Merchant,
        days_ago: int,
        n: int,
        regular: PlannedMember | None,
    ) -> None:
        """The ``n``-th sale of the day ``days_ago`` at ``merchant``, to ``regular`` if given."""
        demo, rng = self.demo, self.demo.rng
        served = demo.served.get(merchant.id)
        communities = sorted(served) if served is not None else range(len(demo.communities))
        day = demo.today - timedelta(days=days_ago)
        at = demo.instant(day, rng.randint(10, 20), rng.randint(0, 59))
        if days_ago == 0:
            at = _earlier_today(demo, n)
        candidates = (
            [self.by_member[regular.id]]
            if regular is not None and regular.id in self.by_member
            else [c for i in communities for c in self.by_community[i]]
        )
        amount_fen = rng.choice((rng.randint(1500, 9000), rng.randint(9000, 32000)))
        amount = f"{amount_fen // 100}.{amount_fen % 100:02d}"
        for card in rng.sample(candidates, min(4, len(candidates))):
            if card.issued_at >= at:
                continue
            try:
                redemption, _ = checkout.confirm(
                    demo.session,
                    actor,
                    demo.tokens,
                    card.card_no,
                    amount,
                    f"demo-sale-{len(self.made) + 1:05d}-{merchant.code}",
                    now=at,
                )
            except DomainError:
                continue  # no tier on that day, below the minimum spend … : the next card
            self.made.append(redemption)
            return
