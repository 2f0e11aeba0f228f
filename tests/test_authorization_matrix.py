"""The authorization matrix (权限矩阵, docs/security.md "Authorization matrix"): every route of
``app.url_map`` × every role and anonymous, with the expected answer declared in ONE table.

A route without a row fails the suite (and names the route); a row without a route fails too.
Each row is called by each role with real ids of that role's own objects (one small world), a
POST with an empty body: what is checked is whether the role gets past authorization, not what
the view then does with the (empty) input.

Outcomes (the class of the answer):
  ok         anything but 401, 403, 404, 405 and a redirect to /login (a page, a redirect of its
             own, and for a write a 400/422 refusal of the empty body …): the role passed
             authorization. A GET is opened as a person would open it, so for a read "ok" is
             a 2xx or 3xx answer: a read that refuses its own URL is a failure.
  login      302 to /login (pages, anonymous)
  forbidden  403 (pages: a signed-in role that is not allowed)
  api_401    401 (API: no credential, or a credential of the wrong kind)
  api_403    403 (people API: a person whose role may not call it)
  not_found  404 (a scope refusal: another community's or merchant's object)

Credentials: pages use the role's signed-in session. On /api/v1 a person (member, secretary,
district administrator) sends their people token (``rpt_…``); a cashier or a manager sends
their merchant's POS key (``rpk_…``), the only API credential a shop has; anonymous sends none.

Excluded by rule: static files (endpoint ``static`` or ``<blueprint>.static``), public by nature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from rewards.models import Account, Agreement, LedgerEntry, Role
from rewards.services import (
    activation,
    activities,
    agreements,
    api_tokens,
    checkout,
    claims,
    merchants,
    photos,
)
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.conftest import FreshRequestClient
from tests.test_auth import sign_in
from tests.test_photos import jpeg_with_location

ANON, MEMBER, CASHIER, MANAGER, SECRETARY, ADMIN = (
    "anonymous",
    "member",
    "cashier",
    "merchant_manager",
    "secretary",
    "district_admin",
)
ROLES = (ANON, MEMBER, CASHIER, MANAGER, SECRETARY, ADMIN)
PEOPLE = (MEMBER, SECRETARY, ADMIN)
SHOP_STAFF = (CASHIER, MANAGER)


def allow(*roles: str) -> dict[str, str]:
    """A page for ``roles``: the others get login (anonymous) or forbidden."""
    return {r: "ok" if r in roles else ("login" if r == ANON else "forbidden") for r in ROLES}


def people_api(*roles: str) -> dict[str, str]:
    """A people-API operation for ``roles``: 401 without a people token, 403 for other people."""
    outcome = {}
    for r in ROLES:
        if r in roles:
            outcome[r] = "ok"
        elif r in PEOPLE:
            outcome[r] = "api_403"
        else:
            outcome[r] = "api_401"  # anonymous, or a POS key: not a people token
    return outcome


PUBLIC = {r: "ok" for r in ROLES}
SIGNED_IN = {r: "login" if r == ANON else "ok" for r in ROLES}
MEMBER_ONLY = allow(MEMBER)
# The card page's own JSON calls (card.js): refused in JSON, not with a redirect.
MEMBER_JSON = {r: "ok" if r == MEMBER else ("api_401" if r == ANON else "api_403") for r in ROLES}
SIGNED_OUT = {r: "login" for r in ROLES}  # sign-out ends on the sign-in page, whoever asks
COUNTER = allow(CASHIER, MANAGER)
BACK_OFFICE = allow(MANAGER)
STAFF = allow(SECRETARY, ADMIN)  # the community portal: secretaries and the district office
DISTRICT = allow(ADMIN)
POS = {r: "ok" if r in SHOP_STAFF else "api_401" for r in ROLES}  # POS key only
ANY_PERSON = people_api(*PEOPLE)
MEMBER_API = people_api(MEMBER)
SECRETARY_API = people_api(SECRETARY, ADMIN)
TOKEN_SIGN_IN = PUBLIC  # POST /api/v1/auth/token is how a person gets a token

# THE TABLE: "METHOD /rule" (converters dropped) → the expected outcome per role.
MATRIX: dict[str, dict[str, str]] = {
    # sign-in, activation, first password
    "GET /": SIGNED_IN,  # anonymous → the sign-in page, signed in → one's home
    "GET /favicon.ico": PUBLIC,
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": SIGNED_OUT,
    "GET /activate": PUBLIC,
    "POST /activate": PUBLIC,
    "GET /password/new": SIGNED_IN,
    "POST /password/new": SIGNED_IN,
    # POS API (merchant keys)
    "POST /api/v1/checkout/preview": POS,
    "POST /api/v1/checkout/redemptions": POS,
    "GET /api/v1/redemptions": POS,
    "GET /api/v1/redemptions/<redemption_id>": POS,
    "POST /api/v1/redemptions/<redemption_id>/void": POS,
    # people API
    "GET /api/v1/openapi.json": PUBLIC,
    "POST /api/v1/auth/token": TOKEN_SIGN_IN,
    "DELETE /api/v1/auth/token": ANY_PERSON,
    "GET /api/v1/categories": ANY_PERSON,
    "POST /api/v1/activities": SECRETARY_API,
    "POST /api/v1/activities/<activity_id>/attendance": SECRETARY_API,
    "GET /api/v1/claims": SECRETARY_API,
    "POST /api/v1/claims/<claim_id>/certify": SECRETARY_API,
    "POST /api/v1/claims/<claim_id>/reject": SECRETARY_API,
    "GET /api/v1/members": SECRETARY_API,
    "POST /api/v1/members/<member_no>/adjustments": SECRETARY_API,
    "GET /api/v1/me": MEMBER_API,
    "POST /api/v1/me/card/offline-key": MEMBER_API,
    "POST /api/v1/me/claims": MEMBER_API,
    "GET /api/v1/me/claims": MEMBER_API,
    "GET /api/v1/me/export": MEMBER_API,
    "GET /api/v1/me/ledger": MEMBER_API,
    "GET /api/v1/merchants": MEMBER_API,
    # community portal (secretaries, and the district office everywhere)
    "GET /community/": STAFF,
    "GET /community/<code>": STAFF,
    "GET /community/activation": STAFF,
    "POST /community/activation": STAFF,
    "GET /community/activation/<batch>": STAFF,
    "GET /community/activities": STAFF,
    "GET /community/activities/<activity_id>": STAFF,
    "POST /community/activities/<activity_id>/attendance": STAFF,
    "POST /community/activities/<activity_id>/identify": STAFF,
    "GET /community/activities/new": STAFF,
    "POST /community/activities/new": STAFF,
    "GET /community/agreements": STAFF,
    "GET /community/cards": STAFF,
    "GET /community/cards/<card_id>": STAFF,
    "POST /community/cards/<card_id>/<action>": STAFF,
    "GET /community/cards/eligible": STAFF,
    "POST /community/cards/issue": STAFF,
    "GET /community/cards/issued": STAFF,
    "GET /community/cards/print": STAFF,
    "GET /community/claims": STAFF,
    "GET /community/claims/<claim_id>": STAFF,
    "POST /community/claims/<claim_id>/certify": STAFF,
    "POST /community/claims/<claim_id>/reject": STAFF,
    "POST /community/claims/certify": STAFF,
    "GET /community/claims/photos/<photo_id>": STAFF,
    "GET /community/claims/photos/<photo_id>/thumb": STAFF,
    "GET /community/members": STAFF,
    "GET /community/members/<member_no>": STAFF,
    "POST /community/members/<member_no>/adjust": STAFF,
    "GET /community/members/<member_no>/edit": STAFF,
    "POST /community/members/<member_no>/edit": STAFF,
    "POST /community/members/<member_no>/entries/<entry_id>/reverse": STAFF,
    "POST /community/members/<member_no>/transfer": STAFF,
    "GET /community/members/import": STAFF,
    "POST /community/members/import": STAFF,
    "POST /community/members/import/confirm": STAFF,
    "GET /community/members/import/preview": STAFF,
    "GET /community/members/import/template.csv": STAFF,
    "GET /community/members/import/template.xlsx": STAFF,
    "GET /community/members/new": STAFF,
    "POST /community/members/new": STAFF,
    # district office
    "GET /district/accounts": DISTRICT,
    "GET /district/accounts/<account_id>": DISTRICT,
    "GET /district/accounts/<account_id>/opened": DISTRICT,
    "GET /district/accounts/<account_id>/password-reset": DISTRICT,
    "POST /district/accounts/<account_id>/<action>": DISTRICT,
    "POST /district/accounts/<account_id>/reset": DISTRICT,
    "POST /district/accounts/<account_id>/unlock": DISTRICT,
    "GET /district/accounts/new": DISTRICT,
    "POST /district/accounts/new": DISTRICT,
    "GET /district/agreements": DISTRICT,
    "GET /district/agreements/<agreement_id>": DISTRICT,
    "POST /district/agreements/<agreement_id>/amend": DISTRICT,
    "POST /district/agreements/<agreement_id>/end": DISTRICT,
    "GET /district/agreements/expiring": DISTRICT,
    "GET /district/agreements/new": DISTRICT,
    "POST /district/agreements/new": DISTRICT,
    "GET /district/audit": DISTRICT,
    "GET /district/categories/<category_id>": DISTRICT,
    "POST /district/categories/<category_id>": DISTRICT,
    "POST /district/categories/<category_id>/disable": DISTRICT,
    "POST /district/categories/<category_id>/enable": DISTRICT,
    "GET /district/categories/new": DISTRICT,
    "POST /district/categories/new": DISTRICT,
    "GET /district/merchants": DISTRICT,
    "GET /district/merchants/<code>": DISTRICT,
    "POST /district/merchants/<code>/managers/<account_id>/password": DISTRICT,
    "GET /district/merchants/<code>/managers/<account_id>/welcome": DISTRICT,
    "GET /district/merchants/<code>/managers/<account_id>/password-reset": DISTRICT,
    "POST /district/merchants/<code>/resume": DISTRICT,
    "POST /district/merchants/<code>/suspend": DISTRICT,
    "GET /district/merchants/new": DISTRICT,
    "POST /district/merchants/new": DISTRICT,
    "GET /district/policy": DISTRICT,
    "GET /district/policy/new": DISTRICT,
    "POST /district/policy/preview": DISTRICT,
    "POST /district/policy/publish": DISTRICT,
    "GET /district/statistics": DISTRICT,
    "GET /district/statistics/<table>.csv": DISTRICT,
    "GET /district/statistics/<table>.xlsx": DISTRICT,
    # member portal
    "GET /member/": MEMBER_ONLY,
    "GET /member/account": MEMBER_ONLY,
    "GET /member/account/my-data": MEMBER_ONLY,
    "GET /member/account/my-data.json": MEMBER_ONLY,
    "GET /member/account/password": MEMBER_ONLY,
    "POST /member/account/password": MEMBER_ONLY,
    "GET /member/card": MEMBER_ONLY,
    "GET /member/card/code": MEMBER_JSON,
    "POST /member/card/offline-key": MEMBER_JSON,
    "POST /member/card/status": MEMBER_JSON,
    "GET /member/claims": MEMBER_ONLY,
    "GET /member/claims/<claim_id>": MEMBER_ONLY,
    "POST /member/claims/<claim_id>/withdraw": MEMBER_ONLY,
    "GET /member/claims/new": MEMBER_ONLY,
    "POST /member/claims/new": MEMBER_ONLY,
    "GET /member/claims/photos/<photo_id>": MEMBER_ONLY,
    "GET /member/claims/photos/<photo_id>/thumb": MEMBER_ONLY,
    "GET /member/history": MEMBER_ONLY,
    "GET /member/manifest.webmanifest": PUBLIC,  # the installable app's shell: nothing personal
    "GET /member/sw.js": PUBLIC,
    "GET /member/merchants": MEMBER_ONLY,
    "GET /member/notices": MEMBER_ONLY,
    "GET /member/redemptions": MEMBER_ONLY,
    "POST /member/text-size": PUBLIC,  # a display preference kept in a cookie
    # merchant portal
    "GET /merchant/": COUNTER,
    "GET /merchant/agreements": BACK_OFFICE,
    "GET /merchant/checkout": COUNTER,
    "POST /merchant/checkout": COUNTER,
    "POST /merchant/checkout/confirm": COUNTER,
    "GET /merchant/keys": BACK_OFFICE,
    "POST /merchant/keys": BACK_OFFICE,
    "POST /merchant/keys/<key_id>/revoke": BACK_OFFICE,
    "GET /merchant/keys/<key_id>/created": BACK_OFFICE,
    "GET /merchant/my-sales": COUNTER,  # the cashier's own sales of today and yesterday
    "GET /merchant/redemptions": BACK_OFFICE,
    "GET /merchant/redemptions/<redemption_id>": COUNTER,  # the receipt just printed
    "POST /merchant/redemptions/<redemption_id>/void": BACK_OFFICE,  # only a manager voids
    "GET /merchant/redemptions/export.csv": BACK_OFFICE,
    "GET /merchant/redemptions/export.xlsx": BACK_OFFICE,
    "GET /merchant/reports/daily": BACK_OFFICE,
    "GET /merchant/reports/monthly": BACK_OFFICE,
    "GET /merchant/staff": BACK_OFFICE,
    "POST /merchant/staff": BACK_OFFICE,
    "POST /merchant/staff/<account_id>/<action>": BACK_OFFICE,
}

# Scope: a role's own kind of object, but someone else's, is "not there" (404), never a 403
# that would confirm it exists. Each row: (role, "METHOD /rule"), called with the stranger's ids.
SCOPE_REFUSALS: list[tuple[str, str]] = [
    (SECRETARY, "GET /community/members/<member_no>"),
    (SECRETARY, "GET /community/claims/<claim_id>"),
    (SECRETARY, "GET /community/cards/<card_id>"),
    (SECRETARY, "GET /community/<code>"),
    (CASHIER, "GET /merchant/redemptions/<redemption_id>"),
    (MEMBER, "GET /member/claims/<claim_id>"),
    (MEMBER, "GET /member/claims/photos/<photo_id>"),
]

# Endpoints after which the caller is signed out (its credentials are made again).
SIGNS_OUT = {"POST /logout", "DELETE /api/v1/auth/token"}


PARAMETER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def is_static(rule: Rule) -> bool:
    return rule.endpoint == "static" or rule.endpoint.endswith(".static")


def route_key(rule: Rule, method: str) -> str:
    """``METHOD /rule`` with the converters dropped: ``<int(max=…):id>`` → ``<id>``."""
    return f"{method} {PARAMETER.sub(lambda m: f'<{m.group(1)}>', rule.rule)}"


def routes(app: Flask) -> dict[str, Rule]:
    """Every (method, rule) of the app but static files and HEAD/OPTIONS."""
    found = {}
    for rule in app.url_map.iter_rules():
        if is_static(rule):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found[route_key(rule, method)] = rule
    return found


# -- the world ----------------------------------------------------------------------------------


# Reads that a person only ever opens with a query (the sheet of the cards just issued): the
# query they are opened with, filled like the path's parameters.
QUERIES = {
    "GET /community/cards/issued": "card_ids={card_id}",
    "GET /community/cards/print": "card_ids={card_id}",
}


@dataclass
class MatrixWorld:
    """One small world: ``params`` fill URL parameters with the roles' own objects (spares for
    routes that would disable or sign out a role's own account), ``stranger`` with objects of
    another community, merchant or member."""

    base: factories.World
    accounts: dict[str, Account]
    pos_key: str
    params: dict[str, str] = field(default_factory=dict)
    stranger: dict[str, str] = field(default_factory=dict)
    per_route: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(
        self, rule: Rule, key: str, whose: str = "own", extra: dict[str, str] | None = None
    ) -> str:
        values = dict(self.params)
        for prefix, overrides in self.per_route.items():
            if prefix in key:
                values.update(overrides)
        if whose == "stranger":
            values.update(self.stranger)
        values.update(extra or {})
        path = PARAMETER.sub(lambda m: values[m.group(1)], rule.rule)
        query = QUERIES.get(key)
        return f"{path}?{query.format(**values)}" if query else path


def build_matrix_world(session: Session, app: Flask) -> MatrixWorld:
    """The world of tests/factories.py, plus what the routes act on: a member's account with a
    claim and its photo, an activity, an activation batch, a sale, POS keys, spare accounts and
    a spare shop, and the same kinds of objects belonging to someone else."""
    base = factories.build_world(session)
    day0 = today()
    admin_actor = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    member_account = factories.account(session, Role.MEMBER, member=base.gold)
    me = Actor.for_account(member_account)
    secretary = Actor.for_account(base.secretary)
    manager = Actor.for_account(base.manager)
    store = photos.PhotoStore(Path(app.instance_path) / "claim-photos")
    tokens = app.extensions["rewards.card_tokens"]

    spare_shop = factories.merchant(session)
    spare_manager = factories.account(session, Role.MERCHANT_MANAGER, merchant=spare_shop)
    spare_cashier = factories.account(session, Role.CASHIER, merchant=base.shop)
    spare_secretary = factories.account(session, Role.SECRETARY, community=base.other)
    _, pos_key = merchants.create_api_key(session, manager, base.shop.id, "1号收银台")
    spare_key, _ = merchants.create_api_key(session, manager, base.shop.id, "旧收银台")

    activity = activities.create_activity(
        session, secretary, base.home.id, base.category.id, "清理楼道", day0, 5
    )
    claim = claims.submit_claim(
        session, me, base.gold.id, base.category.id, "扶老人过马路", day0 - timedelta(days=1)
    )
    [photo] = photos.attach_photos(
        session, me, claim, photos.check_photos([jpeg_with_location()]), store
    )
    batch = activation.issue_codes(
        session, secretary, app.extensions["rewards.activation_codes"], [base.plain.id]
    )
    token, _ = tokens.phone_token(base.gold_card)
    sale, _ = checkout.confirm(
        session, Actor.for_account(base.cashier), tokens, token, "100.00", "matrix-0001"
    )
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.member_id == base.gold.id))
    agreement = session.scalar(select(Agreement).where(Agreement.merchant_id == base.shop.id))

    # Someone else's: a member, claim, card and photo in the other community, another shop's sale.
    stranger = factories.member(session, base.other, name="赵六")
    stranger_card = factories.card(session, stranger)
    stranger_actor = Actor.for_account(factories.account(session, Role.MEMBER, member=stranger))
    stranger_claim = claims.submit_claim(
        session, stranger_actor, stranger.id, base.category.id, "社区巡逻", day0
    )
    [stranger_photo] = photos.attach_photos(
        session, stranger_actor, stranger_claim, photos.check_photos([jpeg_with_location()]), store
    )
    other_shop = factories.merchant(session)
    agreements.sign_agreement(
        session,
        admin_actor,
        other_shop.id,
        base.home.id,
        gold_pay_percent=90,
        silver_pay_percent=95,
        valid_from=day0 - timedelta(days=30),
    )
    other_cashier = factories.account(session, Role.CASHIER, merchant=other_shop)
    silver_token, _ = tokens.phone_token(base.silver_card)
    other_sale, _ = checkout.confirm(
        session, Actor.for_account(other_cashier), tokens, silver_token, "50.00", "matrix-0002"
    )
    session.commit()
    return MatrixWorld(
        base=base,
        accounts={
            MEMBER: member_account,
            CASHIER: base.cashier,
            MANAGER: base.manager,
            SECRETARY: base.secretary,
            ADMIN: admin,
        },
        pos_key=pos_key,
        params={
            "code": base.home.code,
            "member_no": base.gold.member_no,
            "activity_id": str(activity.id),
            "claim_id": str(claim.id),
            "photo_id": str(photo.id),
            "batch": batch,
            "card_id": str(base.gold_card.id),
            "entry_id": str(entry.id),
            "redemption_id": str(sale.id),
            "agreement_id": str(agreement.id),
            "category_id": str(base.category.id),
            "table": "tiers",
            "key_id": str(spare_key.id),
        },
        stranger={
            "code": base.other.code,
            "member_no": stranger.member_no,
            "claim_id": str(stranger_claim.id),
            "photo_id": str(stranger_photo.id),
            "card_id": str(stranger_card.id),
            "redemption_id": str(other_sale.id),
        },
        per_route={
            "/community/cards/": {"action": "suspend"},
            "/district/accounts/": {"account_id": str(spare_secretary.id), "action": "disable"},
            "/district/merchants/": {"code": spare_shop.code, "account_id": str(spare_manager.id)},
            "/merchant/staff/": {"account_id": str(spare_cashier.id), "action": "disable"},
        },
    )


# -- the clients --------------------------------------------------------------------------------


class RoleClients:
    """One test client per role: pages use its session, /api/v1 its API credential."""

    def __init__(self, app: Flask, session: Session, world: MatrixWorld) -> None:
        self.app, self.session, self.world = app, session, world
        self.clients: dict[str, FreshRequestClient] = {}
        self.api_headers: dict[str, dict[str, str]] = {}
        for role in ROLES:
            self.sign_in(role)

    def sign_in(self, role: str) -> None:
        client = FreshRequestClient(self.app, self.app.response_class, use_cookies=True)
        self.clients[role] = client
        self.api_headers[role] = {}
        if role == ANON:
            return
        account = self.world.accounts[role]
        assert sign_in(client, account).status_code == 302, role
        if role in SHOP_STAFF:
            credential = self.world.pos_key
        else:
            credential = api_tokens.issue_token(self.session, account).token
            self.session.commit()
        self.api_headers[role] = {"Authorization": f"Bearer {credential}"}

    def call(self, role: str, method: str, url: str):  # type: ignore[no-untyped-def]
        headers = self.api_headers[role] if url.startswith("/api/") else {}
        body = {"json": {}} if url.startswith("/api/") and method != "GET" else {}
        return self.clients[role].open(url, method=method, headers=headers, **body)


def outcome_of(response, method: str = "GET") -> str:  # type: ignore[no-untyped-def]
    """The class of an answer (see the module docstring). A read is called as a person would
    open it, so a 4xx refusal of a GET is not "ok": only an empty write may be refused."""
    status = response.status_code
    location = response.headers.get("Location", "")
    if status in (301, 302, 303, 307, 308) and re.match(r"(https?://[^/]+)?/login\b", location):
        return "login"
    if status == 401:
        return "api_401"
    if status == 403:
        return "api_403" if response.is_json else "forbidden"
    if status == 404:
        return "not_found"
    if status == 405:
        return "method_not_allowed"
    if status >= 500:
        return f"error_{status}"
    if method == "GET" and status >= 400:
        return f"refused_{status}"
    return "ok"


# -- the tests ----------------------------------------------------------------------------------


def test_every_route_has_a_row_and_every_row_a_route(app):
    present = routes(app)
    missing = sorted(set(present) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(present))
    assert not missing, "routes without a row in MATRIX: " + ", ".join(missing)
    assert not stale, "rows of MATRIX without a route: " + ", ".join(stale)
    for key, expected in MATRIX.items():
        assert set(expected) == set(ROLES), key


@pytest.fixture()
def matrix_world(app, session, monkeypatch, tmp_path) -> MatrixWorld:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return build_matrix_world(session, app)


def test_every_role_gets_the_answer_the_matrix_declares(app, session, matrix_world):
    present = routes(app)
    clients = RoleClients(app, session, matrix_world)
    wrong = []
    # Reads first, then writes (an empty write may still change the world a little).
    order = sorted(present, key=lambda key: (not key.startswith("GET "), key in SIGNS_OUT, key))
    for key in order:
        if key not in MATRIX:
            wrong.append(f"{key}: no row")
            continue
        method = key.split(" ", 1)[0]
        url = matrix_world.url(present[key], key)
        for role in ROLES:
            got = outcome_of(clients.call(role, method, url), method)
            if got != MATRIX[key][role]:
                wrong.append(f"{key} as {role}: expected {MATRIX[key][role]}, got {got} ({url})")
            if key in SIGNS_OUT:
                clients.sign_in(role)
    assert not wrong, "\n".join(wrong)


def test_another_community_merchant_or_member_is_not_found(app, session, matrix_world):
    """Scope refusals answer 404 (the object is "not there"), never 403."""
    present = routes(app)
    clients = RoleClients(app, session, matrix_world)
    for role, key in SCOPE_REFUSALS:
        assert MATRIX[key][role] == "ok", key  # the role may use the route on its own objects
        url = matrix_world.url(present[key], key, "stranger")
        assert outcome_of(clients.call(role, "GET", url)) == "not_found", (role, url)
        own = matrix_world.url(present[key], key)
        assert outcome_of(clients.call(role, "GET", own)) == "ok", (role, own)


def test_a_read_that_refuses_its_url_is_not_ok_but_a_refused_empty_write_is():
    refused = Response("bad query", status=422)
    assert outcome_of(refused, "GET") == "refused_422"
    assert outcome_of(refused, "POST") == "ok"  # past the gate; the empty body was refused
    assert outcome_of(Response("page"), "GET") == "ok"
