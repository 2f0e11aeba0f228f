"""Every write is audited (docs/security.md "Every write is audited"): a walk over every POST,
PUT, PATCH and DELETE route of the authorization matrix that some role may call. Each route has a
recipe here (who calls it, with which valid body); the call must succeed and leave at least one
more row in ``audit_events``. A write route without a recipe or an exemption fails the test."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.models import Account, AuditEvent, Member, Role
from rewards.services import activation, activities, checkout, claims, merchants
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.conftest import FreshRequestClient
from tests.forms import minted
from tests.test_auth import sign_in
from tests.test_authorization_matrix import (
    ADMIN,
    ANON,
    CASHIER,
    MANAGER,
    MATRIX,
    MEMBER,
    SECRETARY,
    MatrixWorld,
    RoleClients,
    build_matrix_world,
    outcome_of,
    routes,
)

# Writes that leave no audit record, on purpose:
EXEMPT = {
    # Signing in and out: sessions and tokens, not records (failed sign-ins are counted for the
    # throttle in the audit table, which a success does not need).
    "POST /login",
    "POST /api/v1/auth/token",
    "DELETE /api/v1/auth/token",
    # Pure reads sent as POST (a body too large or too private for a query string).
    "POST /api/v1/checkout/preview",  # the POS's quote
    "POST /merchant/checkout",  # the counter's quote
    "POST /district/policy/preview",  # a proposed policy against the live ledger
    "POST /community/activities/<activity_id>/identify",  # who is this code?
    "POST /member/card/status",  # has my shown code been used?
    # A display preference kept in a cookie.
    "POST /member/text-size",
    # The roster upload is only staged for its preview; the confirm (below) writes and audits.
    "POST /community/members/import",
}


@dataclass
class Call:
    """One request of a recipe: as ``role`` (or as ``account``, on a client of its own)."""

    role: str
    data: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    account: Account | None = None
    password: str = "correct horse"
    multipart: bool = False


@dataclass
class Walk:
    app: Flask
    session: Session
    world: MatrixWorld
    clients: RoleClients
    counter: int = 0

    @property
    def base(self) -> factories.World:
        return self.world.base

    def actor(self, role: str) -> Actor:
        return Actor.for_account(self.world.accounts[role])

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:04d}"

    def done(self) -> None:
        self.session.commit()

    def claim(self) -> int:
        """A fresh pending claim of the gold member (the member role's own)."""
        made = claims.submit_claim(
            self.session,
            self.actor(MEMBER),
            self.base.gold.id,
            self.base.category.id,
            self.unique("打扫楼道"),
            today() - timedelta(days=1),
        )
        self.done()
        return made.id

    def activity(self) -> int:
        made = activities.create_activity(
            self.session,
            self.actor(SECRETARY),
            self.base.home.id,
            self.base.category.id,
            self.unique("义务劳动"),
            today(),
            5,
        )
        self.done()
        return made.id

    def sale(self) -> int:
        tokens = self.app.extensions["rewards.card_tokens"]
        token, _ = tokens.phone_token(self.base.gold_card)
        made, _ = checkout.confirm(
            self.session, self.actor(CASHIER), tokens, token, "20.00", self.unique("walk-key-")
        )
        self.done()
        return made.id

    def member(self, points: int = 0) -> Member:
        made = factories.member(self.session, self.base.home, name="孙七")
        if points:
            factories.points(self.session, made, points)
        self.done()
        return made

    def account(self, role: Role, **scope: Any) -> Account:
        made = factories.account(self.session, role, **scope)
        self.done()
        return made

    def activation_code(self, member_id: int) -> str:
        codes = self.app.extensions["rewards.activation_codes"]
        batch = activation.issue_codes(self.session, self.actor(SECRETARY), codes, [member_id])
        [slip] = activation.batch_slips(self.session, self.actor(SECRETARY), codes, batch)
        self.done()
        return slip.code

    def staged_roster(self) -> str:
        """Upload a one-member roster as the secretary; the token of its preview."""
        row = f"{self.unique('YT01')}001,周八,13900000001,2021-03-01"
        csv = f"member_no,name,phone,joined_on\n{row}\n"
        response = self.clients.clients[SECRETARY].post(
            "/community/members/import",
            data={"file": (io.BytesIO(csv.encode()), "roster.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, response.text
        return parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]


def day(delta: int = 0) -> str:
    return (today() + timedelta(days=delta)).isoformat()


Recipe = Callable[[Walk], Call]

RECIPES: dict[str, Recipe] = {
    # -- sign-in pages ---------------------------------------------------------------------
    "POST /activate": lambda w: Call(
        ANON,
        data={
            "member_no": w.base.silver.member_no,
            "code": w.activation_code(w.base.silver.id),
            "password": "silver secret 1",
            "password_again": "silver secret 1",
        },
    ),
    "POST /password/new": lambda w: Call(
        SECRETARY,
        account=w.account(Role.SECRETARY, community=w.base.home),
        data={"password": "my own secret", "password_again": "my own secret"},
    ),
    # -- POS API ---------------------------------------------------------------------------
    "POST /api/v1/checkout/redemptions": lambda w: Call(
        CASHIER,
        json={
            "token": w.app.extensions["rewards.card_tokens"].phone_token(w.base.gold_card)[0],
            "amount": "30.00",
            "idempotency_key": "walk-pos-0001",
        },
    ),
    "POST /api/v1/redemptions/<redemption_id>/void": lambda w: Call(
        CASHIER, json={"reason": "顾客退货"}, params={"redemption_id": str(w.sale())}
    ),
    # -- people API ------------------------------------------------------------------------
    "POST /api/v1/activities": lambda w: Call(
        SECRETARY,
        json={
            "title": "重阳节敬老",
            "category": w.base.category.code,
            "occurred_on": day(),
            "points": 5,
        },
    ),
    "POST /api/v1/activities/<activity_id>/attendance": lambda w: Call(
        SECRETARY,
        json={"member_nos": [w.base.gold.member_no]},
        params={"activity_id": str(w.activity())},
    ),
    "POST /api/v1/claims/<claim_id>/certify": lambda w: Call(
        SECRETARY, json={}, params={"claim_id": str(w.claim())}
    ),
    "POST /api/v1/claims/<claim_id>/reject": lambda w: Call(
        SECRETARY, json={"reason": "日期不符"}, params={"claim_id": str(w.claim())}
    ),
    "POST /api/v1/members/<member_no>/adjustments": lambda w: Call(
        SECRETARY,
        json={
            "points": 3,
            "reason": "补录积分",
            "occurred_on": day(-3),
            "idempotency_key": "walk-adj-0001",
        },
    ),
    "POST /api/v1/me/card/offline-key": lambda w: Call(MEMBER, json={}),
    "POST /api/v1/me/claims": lambda w: Call(
        MEMBER,
        json={
            "category": w.base.category.code,
            "occurred_on": day(-2),
            "description": "帮助独居老人买菜",
        },
    ),
    # -- community portal ------------------------------------------------------------------
    "POST /community/activation": lambda w: Call(
        SECRETARY, data={"member_ids": [str(w.base.silver.id)]}
    ),
    "POST /community/activities/new": lambda w: Call(
        SECRETARY,
        data={
            "title": "敬老院慰问",
            "category": str(w.base.category.id),
            "occurred_on": day(),
            "points": "5",
        },
    ),
    "POST /community/activities/<activity_id>/attendance": lambda w: Call(
        SECRETARY,
        data={"source": "paste", "numbers": w.base.gold.member_no},
        params={"activity_id": str(w.activity())},
    ),
    "POST /community/cards/<card_id>/<action>": lambda w: Call(
        SECRETARY,
        data={"suspend-reason": "本人挂失"},
        params={"card_id": str(w.base.silver_card.id), "action": "suspend"},
    ),
    "POST /community/cards/issue": lambda w: Call(
        SECRETARY, data={"member_ids": [str(w.member(points=80).id)]}
    ),
    "POST /community/claims/<claim_id>/certify": lambda w: Call(
        SECRETARY, data={"points": "5"}, params={"claim_id": str(w.claim())}
    ),
    "POST /community/claims/<claim_id>/reject": lambda w: Call(
        SECRETARY, data={"reason": "照片看不清"}, params={"claim_id": str(w.claim())}
    ),
    "POST /community/claims/certify": lambda w: Call(
        SECRETARY, data={"claim_ids": [str(w.claim())]}
    ),
    "POST /community/members/<member_no>/adjust": lambda w: Call(
        SECRETARY,
        data={
            "points": "4",
            "reason": "补录积分",
            "occurred_on": day(-3),
            "idempotency_key": "walk-page-adj-0001",
        },
    ),
    "POST /community/members/<member_no>/edit": lambda w: Call(
        SECRETARY,
        data={
            "name": "王五",
            "phone": "13700000000",
            "joined_on": "2020-01-01",
            "employer": "街道办",
            "status": "active",
        },
        params={"member_no": w.base.plain.member_no},
    ),
    "POST /community/members/<member_no>/entries/<entry_id>/reverse": lambda w: Call(
        SECRETARY,
        data={"reversal-reason": "录错了"},
        params={
            "member_no": w.base.plain.member_no,
            "entry_id": str(factories.points(w.session, w.base.plain, 2).id),
        },
    ),
    "POST /community/members/<member_no>/transfer": lambda w: Call(
        SECRETARY,
        data={"community": w.base.other.code},
        params={"member_no": w.member().member_no},
    ),
    "POST /community/members/import/confirm": lambda w: Call(
        SECRETARY, data={"token": w.staged_roster()}
    ),
    "POST /community/members/new": lambda w: Call(
        SECRETARY,
        data={
            "member_no": "YT0109999",
            "name": "吴九",
            "phone": "13600000000",
            "joined_on": "2022-05-01",
            "community": w.base.home.code,
        },
    ),
    # -- district office ------------------------------------------------------------------
    "POST /district/accounts/<account_id>/<action>": lambda w: Call(
        ADMIN, data={}, params={"action": "disable"}
    ),
    "POST /district/accounts/<account_id>/reset": lambda w: Call(ADMIN, data={}),
    "POST /district/accounts/<account_id>/unlock": lambda w: Call(ADMIN, data={}),
    "POST /district/accounts/new": lambda w: Call(
        ADMIN,
        data={
            "role": "secretary",
            "username": "walk-secretary",
            "display_name": "新书记",
            "community": w.base.other.code,
        },
    ),
    "POST /district/agreements/<agreement_id>/amend": lambda w: Call(
        ADMIN, data={"gold": "85", "silver": "95", "valid_from": day(1), "note": "加大金卡折扣"}
    ),
    "POST /district/agreements/<agreement_id>/end": lambda w: Call(
        ADMIN, data={"last_day": day(30), "end_note": "商家歇业"}
    ),
    "POST /district/agreements/new": lambda w: Call(
        ADMIN,
        data={
            "merchant": w.base.shop.code,
            "scope": "chosen",
            "communities": [str(w.base.other.id)],
            "gold": "90",
            "silver": "95",
            "valid_from": day(),
        },
    ),
    "POST /district/categories/<category_id>": lambda w: Call(
        ADMIN, data={"default_points": "6", "max_points": "20"}
    ),
    "POST /district/categories/<category_id>/disable": lambda w: Call(
        ADMIN, data={}, params={"category_id": str(factories.category(w.session).id)}
    ),
    "POST /district/categories/<category_id>/enable": lambda w: Call(
        ADMIN, data={}, params={"category_id": str(disabled_category(w))}
    ),
    "POST /district/categories/new": lambda w: Call(
        ADMIN, data={"code": "walk", "name": "巡逻", "default_points": "3", "max_points": "9"}
    ),
    "POST /district/merchants/<code>/managers/<account_id>/password": lambda w: Call(
        ADMIN, data={}
    ),
    "POST /district/merchants/<code>/suspend": lambda w: Call(ADMIN, data={"reason": "未按协议"}),
    "POST /district/merchants/<code>/resume": lambda w: Call(
        ADMIN, data={"reason": "已整改"}, params={"code": suspended_merchant(w)}
    ),
    "POST /district/merchants/new": lambda w: Call(
        ADMIN,
        data={
            "code": "M777",
            "name": "红星超市",
            "category": "超市",
            "address": "解放路 1 号",
            "phone": "0535-1234567",
            "manager_username": "m777-manager",
            "manager_name": "钱店长",
        },
    ),
    "POST /district/policy/publish": lambda w: Call(
        ADMIN,
        data={
            "gold_threshold": "120",
            "silver_threshold": "60",
            "window_months": "12",
            "effective_on": day(30),
            "note": "提高门槛",
        },
    ),
    # -- member portal -----------------------------------------------------------------------
    "POST /member/account/password": lambda w: Call(
        MEMBER,
        account=w.account(Role.MEMBER, member=w.base.plain),
        data={
            "current_password": "correct horse",
            "new_password": "plain new secret",
            "new_password_again": "plain new secret",
        },
    ),
    "POST /member/card/offline-key": lambda w: Call(MEMBER, json={}),
    "POST /member/claims/<claim_id>/withdraw": lambda w: Call(
        MEMBER, data={}, params={"claim_id": str(w.claim())}
    ),
    "POST /member/claims/new": lambda w: Call(
        MEMBER,
        data={
            "category": str(w.base.category.id),
            "occurred_on": day(-2),
            "description": "帮独居老人打扫卫生",
        },
        multipart=True,
    ),
    # -- merchant portal ---------------------------------------------------------------------
    "POST /merchant/checkout/confirm": lambda w: Call(
        CASHIER,
        data={
            "code": w.app.extensions["rewards.card_tokens"].phone_token(w.base.gold_card)[0],
            "amount": "40.00",
            "idempotency_key": "walk-counter-0001",
        },
    ),
    "POST /merchant/keys": lambda w: Call(MANAGER, data={"label": "2号收银台"}),
    "POST /merchant/keys/<key_id>/revoke": lambda w: Call(MANAGER, data={}),
    "POST /merchant/redemptions/<redemption_id>/void": lambda w: Call(
        MANAGER, data={"reason": "顾客退货"}, params={"redemption_id": str(w.sale())}
    ),
    "POST /merchant/staff": lambda w: Call(
        MANAGER,
        data={"username": "walk-cashier", "display_name": "新收银员", "password": "cashier pw 1"},
    ),
    "POST /merchant/staff/<account_id>/<action>": lambda w: Call(
        MANAGER, data={}, params={"action": "disable"}
    ),
}


def disabled_category(w: Walk) -> int:
    made = factories.category(w.session)
    made.is_enabled = False
    w.done()
    return made.id


def suspended_merchant(w: Walk) -> str:
    shop = factories.merchant(w.session)
    merchants.suspend_merchant(
        w.session, Actor(label="tests-admin", role=Role.DISTRICT_ADMIN), shop.id, "整改"
    )
    w.done()
    return shop.code


def write_routes() -> list[str]:
    """The matrix's writes that at least one role may call."""
    return sorted(
        key
        for key, outcomes in MATRIX.items()
        if not key.startswith("GET ") and "ok" in outcomes.values()
    )


def audit_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(AuditEvent.id))) or 0


def test_every_write_route_has_a_recipe_or_an_exemption():
    writes = set(write_routes())
    missing = sorted(writes - set(RECIPES) - EXEMPT)
    stale = sorted((set(RECIPES) | EXEMPT) - writes)
    assert not missing, "write routes with neither a recipe nor an exemption: " + ", ".join(missing)
    assert not stale, "recipes or exemptions of no write route: " + ", ".join(stale)
    assert not set(RECIPES) & EXEMPT


def test_every_write_route_leaves_an_audit_record(app, session, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    world = build_matrix_world(session, app)
    clients = RoleClients(app, session, world)
    walk = Walk(app, session, world, clients)
    present = routes(app)
    failures = []
    for key in write_routes():
        if key in EXEMPT:
            continue
        if key not in RECIPES:
            failures.append(f"{key}: no recipe")
            continue
        call = RECIPES[key](walk)
        walk.done()
        assert MATRIX[key][call.role] == "ok", f"{key}: the recipe's role may not call it"
        method, _ = key.split(" ", 1)
        url = world.url(present[key], key, extra=call.params)
        if call.account is not None:
            client = FreshRequestClient(app, app.response_class, use_cookies=True)
            assert sign_in(client, call.account, call.password).status_code == 302
            headers: dict[str, str] = {}
        else:
            client = clients.clients[call.role]
            headers = clients.api_headers[call.role] if url.startswith("/api/") else {}
        before = audit_count(session)
        kwargs: dict[str, Any] = {"headers": headers}
        if call.json is not None:
            kwargs["json"] = call.json
        elif call.data is not None:
            # A page's form carries a one-time token (rewards/forms_once.py), as a browser sends it.
            kwargs["data"] = {**minted(), **call.data} if not url.startswith("/api/") else call.data
            if call.multipart:
                kwargs["content_type"] = "multipart/form-data"
        response = client.open(url, method=method, **kwargs)
        status = response.status_code
        if status >= 400 or outcome_of(response) != "ok":
            failures.append(f"{key}: the call did not succeed ({status}): {refusal(response)}")
            continue
        # A refusal flashed on a redirect also lands here: nothing written, nothing recorded.
        if audit_count(session) <= before:
            failures.append(f"{key}: answered {status} but recorded no audit event")
    assert not failures, "\n".join(failures)


def refusal(response) -> str:  # type: ignore[no-untyped-def]
    """What the page or the API said was wrong (for the failure message)."""
    if response.is_json:
        return str(response.get_json())[:300]
    found = re.findall(r'class="[^"]*(?:error|notice)[^"]*"[^>]*>([^<]{2,200})<', response.text)
    return "; ".join(found)[:300] or response.text[:200]
