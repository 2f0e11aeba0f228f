"""The district's frame: communities, point categories, the staff's accounts and the tier policy."""

from __future__ import annotations

from datetime import timedelta

from rewards.models import Account, Community, PointCategory, Role
from rewards.services import accounts, tiers
from rewards.services.audit import Actor

from .plan import DEMO_PASSWORD, Demo
from .words import CATEGORIES, COMMUNITIES

GOLD_THRESHOLD, SILVER_THRESHOLD, WINDOW_MONTHS = 120, 60, 12


def communities_and_categories(demo: Demo) -> None:
    demo.communities = [
        Community(code=f"C{i:02d}", name=name, street=street)
        for i, (name, street) in enumerate(COMMUNITIES, start=1)
    ]
    categories = [
        PointCategory(code=code, name=name, default_points=dp, max_points=mp, is_enabled=True)
        for code, name, dp, mp in CATEGORIES
    ]
    demo.session.add_all([*demo.communities, *categories])
    demo.session.flush()
    demo.categories = {c.code: c for c in categories}


def create_account(demo: Demo, username: str, role: Role, name: str, **scope: int) -> Account:
    """An account with the demo password, opened by the operator who seeds."""
    return accounts.create_account(
        demo.session,
        demo.operator,
        username=username,
        password=DEMO_PASSWORD,
        role=role,
        display_name=name,
        now=demo.now,
        **scope,
    )


def staff_and_policy(demo: Demo) -> None:
    """The district's administrator, a secretary per community, and the tier policy in force."""
    admin = create_account(demo, "admin", Role.DISTRICT_ADMIN, "区党工委组织部管理员")
    demo.admin = Actor.for_account(admin)
    demo.add_login("district_admin", admin, "全区")
    for community in demo.communities:
        secretary = create_account(
            demo,
            f"{community.code.lower()}-secretary",
            Role.SECRETARY,
            f"{demo.person_name()}（{community.name}书记）",
            community_id=community.id,
        )
        demo.secretaries.append(secretary)
    first = demo.communities[0]
    demo.add_login("secretary", demo.secretaries[0], f"{first.code} {first.name}")
    policy_day = demo.now - timedelta(days=400)
    tiers.set_policy(
        demo.session,
        demo.admin,
        gold_threshold=GOLD_THRESHOLD,
        silver_threshold=SILVER_THRESHOLD,
        window_months=WINDOW_MONTHS,
        effective_from=policy_day,
        note="近 12 个月积分：金卡 120 分、银卡 60 分",
        now=policy_day,
    )
