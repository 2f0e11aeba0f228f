"""No double writes from a browser: every creating form answers with a redirect (PRG) and carries
a one-time token, so refreshing the result page and resubmitting the same form (the back button,
a double click) create exactly one object; a secret is shown by the first view only."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.forms_once import LIFETIME
from rewards.models import (
    Account,
    ActivationCode,
    Activity,
    ApiKey,
    Card,
    Claim,
    FormToken,
    LedgerEntry,
    Member,
    Merchant,
    PointCategory,
    Role,
    TierPolicy,
)
from rewards.models.agreement import Agreement
from tests import factories
from tests.clock import FrozenClock
from tests.forms import hidden_fields, once
from tests.test_auth import sign_in

KEY_SECRET = re.compile(r'data-testid="secret">([^<]+)<')
SHEET_PASSWORD = re.compile(r'data-testid="password">([^<]+)<')
SLIP_PASSWORD = re.compile(r'data-testid="one-time-password">([^<]+)<')


def count(session: Session, model: type, *where: object) -> int:
    session.rollback()  # see what the requests committed
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def submit_twice(
    client: FlaskClient, page: str, action: str, data: dict[str, str]
) -> tuple[str, str]:
    """Submit the page's form, then the very same body again (back button + 提交, or a
    refresh of the POST); both answers redirect: to where (first, second)."""
    body = {**once(client, page), **data}
    first = client.post(action, data=body)
    assert first.status_code == 303, first.get_data(as_text=True)
    second = client.post(action, data=body)
    assert second.status_code == 303
    return first.location, second.location


def admin(client: FlaskClient, session: Session) -> Account:
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, account)
    return account


# -- POS keys (merchant portal) ------------------------------------------------------------------


def test_refreshing_the_key_created_page_never_creates_a_second_key(client, session, world):
    sign_in(client, world.manager)
    posted = client.post("/merchant/keys", data={**once(client, "/merchant/keys"), "label": "1号"})
    assert posted.status_code == 303
    shown = client.get(posted.location)
    secret = KEY_SECRET.search(shown.text).group(1)
    assert shown.headers["Cache-Control"] == "no-store"
    assert secret not in posted.location
    again = client.get(posted.location)  # the refresh
    assert again.status_code == 200 and KEY_SECRET.search(again.text) is None
    assert secret not in again.text and "已经显示过一次" in again.text
    assert count(session, ApiKey) == 1
    # The database keeps only the sealed secret until it is shown, then nothing.
    assert count(session, FormToken, FormToken.sealed_secret.is_not(None)) == 0


def test_resubmitting_the_key_form_creates_one_key_and_never_shows_the_secret_again(
    client, session, world
):
    sign_in(client, world.manager)
    body = {**once(client, "/merchant/keys"), "label": "2号收银台"}
    first = client.post("/merchant/keys", data=body)
    assert KEY_SECRET.search(client.get(first.location).text) is not None
    second = client.post("/merchant/keys", data=body)
    assert second.status_code == 303 and second.location == first.location
    page = client.get(second.location).text
    assert "此表单已提交过" in page and KEY_SECRET.search(page) is None
    assert count(session, ApiKey) == 1


def test_a_new_keys_secret_is_shown_only_to_the_account_that_created_it(client, session, world):
    sign_in(client, world.manager)
    posted = client.post("/merchant/keys", data={**once(client, "/merchant/keys"), "label": "3号"})
    other = factories.account(session, Role.MERCHANT_MANAGER, merchant=world.shop)
    session.commit()
    client.post("/logout")
    sign_in(client, other)
    assert KEY_SECRET.search(client.get(posted.location).text) is None
    client.post("/logout")
    sign_in(client, world.manager)
    assert KEY_SECRET.search(client.get(posted.location).text) is not None


# -- staff (merchant portal) -------------------------------------------------------------------


def test_resubmitting_the_add_cashier_form_creates_one_account(client, session, world):
    sign_in(client, world.manager)
    data = {"username": "cashier.li", "display_name": "李收银", "password": "counter-2024"}
    first, second = submit_twice(client, "/merchant/staff", "/merchant/staff", data)
    assert first == second
    assert client.get(second).status_code == 200  # the refresh of the result: a GET
    assert count(session, Account, Account.username == "cashier.li") == 1


# -- merchants and their welcome sheet (district portal) ---------------------------------------

NEW_MERCHANT = {
    "code": "M131",
    "name": "红星便民超市",
    "category": "超市",
    "address": "烟台开发区长江路 88 号",
    "phone": "0535-6123456",
    "manager_username": "m131-manager",
    "manager_name": "刘店长",
}


def test_resubmitting_a_new_merchant_creates_one_and_the_password_shows_once(
    client, session, world
):
    admin(client, session)
    merchants_before = count(session, Merchant)
    first, second = submit_twice(
        client, "/district/merchants/new", "/district/merchants/new", NEW_MERCHANT
    )
    assert first == second
    sheet = client.get(first)
    assert SHEET_PASSWORD.search(sheet.text) is not None
    assert sheet.headers["Cache-Control"] == "no-store"
    refreshed = client.get(first)
    assert SHEET_PASSWORD.search(refreshed.text) is None and "已经显示过一次" in refreshed.text
    assert count(session, Merchant) == merchants_before + 1
    assert count(session, Account, Account.username == "m131-manager") == 1


def test_refreshing_the_welcome_sheet_never_creates_a_second_merchant(client, session, world):
    admin(client, session)
    body = {**once(client, "/district/merchants/new"), **NEW_MERCHANT}
    posted = client.post("/district/merchants/new", data=body)
    for _ in range(3):
        assert client.get(posted.location).status_code == 200
    assert count(session, Merchant, Merchant.code == "M131") == 1


def test_resubmitting_a_new_secretary_account_opens_one_and_its_password_shows_once(
    client, session, world
):
    admin(client, session)
    data = {
        "role": "secretary",
        "username": "c22-secretary",
        "display_name": "刘书记",
        "community": world.home.code,
    }
    first, second = submit_twice(client, "/district/accounts/new", "/district/accounts/new", data)
    assert first == second
    assert SLIP_PASSWORD.search(client.get(first).text) is not None
    assert SLIP_PASSWORD.search(client.get(first).text) is None
    assert count(session, Account, Account.username == "c22-secretary") == 1


# -- claims (member portal) --------------------------------------------------------------------


def test_resubmitting_a_claim_form_creates_one_claim(client, session, world, clock):
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    sign_in(client, account)
    data = {
        "category": str(world.category.id),
        "occurred_on": (clock.today - timedelta(days=1)).isoformat(),
        "description": "帮独居老人打扫卫生",
    }
    first, second = submit_twice(client, "/member/claims/new", "/member/claims/new", data)
    assert first == second
    assert client.get(first).status_code == 200
    assert count(session, Claim, Claim.member_id == world.gold.id) == 1


# -- activities and adjustments (community portal) ---------------------------------------------


def test_resubmitting_a_new_activity_creates_one_activity(client, session, world, clock):
    sign_in(client, world.secretary)
    data = {
        "title": "敬老院慰问",
        "category": str(world.category.id),
        "occurred_on": clock.today.isoformat(),
        "points": "6",
    }
    first, second = submit_twice(
        client, "/community/activities/new", "/community/activities/new", data
    )
    assert first == second
    assert client.get(first).status_code == 200
    assert count(session, Activity, Activity.title == "敬老院慰问") == 1


def test_resubmitting_an_adjustment_records_one_ledger_entry(client, session, world, clock):
    sign_in(client, world.secretary)
    page = f"/community/members/{world.plain.member_no}"
    action = f"{page}/adjust"
    entries_before = count(session, LedgerEntry, LedgerEntry.member_id == world.plain.id)
    # The adjustment's one-time token is its idempotency key, minted with the page.
    fields = hidden_fields(client.get(page).text, action)
    body = {
        "idempotency_key": fields["idempotency_key"],
        "points": "-4",
        "reason": "重复申报扣回",
        "occurred_on": clock.today.isoformat(),
    }
    first = client.post(action, data=body)
    second = client.post(action, data=body)
    assert first.status_code == second.status_code == 302
    assert client.get(second.location).status_code == 200  # the refresh: a GET
    assert count(session, LedgerEntry, LedgerEntry.member_id == world.plain.id) == (
        entries_before + 1
    )


def test_resubmitting_a_new_member_registers_them_once_without_an_error(client, session, world):
    sign_in(client, world.secretary)
    data = {
        "member_no": "YT0100100",
        "name": "陈新",
        "phone": "139 1111 2222",
        "joined_on": "2019-07-01",
    }
    first, second = submit_twice(client, "/community/members/new", "/community/members/new", data)
    assert first == second
    assert count(session, Member, Member.member_no == "YT0100100") == 1


def test_resubmitting_a_signed_agreement_signs_it_once_without_an_error(client, session, world):
    shop = factories.merchant(session)
    admin(client, session)
    data = {
        "merchant": shop.code,
        "scope": "chosen",
        "communities": str(world.home.id),
        "gold": "88",
        "silver": "95",
        "valid_from": "2026-04-01",
    }
    first, second = submit_twice(
        client, "/district/agreements/new", "/district/agreements/new", data
    )
    assert first == second
    assert count(session, Agreement, Agreement.merchant_id == shop.id) == 1


def test_resubmitting_a_new_point_category_creates_one(client, session, world):
    admin(client, session)
    data = {"code": "micro_wish", "name": "微心愿", "default_points": "8", "max_points": "30"}
    first, second = submit_twice(
        client, "/district/categories/new", "/district/categories/new", data
    )
    assert first == second
    assert count(session, PointCategory, PointCategory.code == "micro_wish") == 1


def test_republishing_a_previewed_tier_policy_publishes_one_version(client, session, world, clock):
    admin(client, session)
    values = {
        "gold_threshold": "150",
        "silver_threshold": "55",
        "window_months": "12",
        "effective_on": (clock.today + timedelta(days=7)).isoformat(),
        "note": "",
    }
    versions_before = count(session, TierPolicy)
    preview = client.post(
        "/district/policy/preview", data={**values, **once(client, "/district/policy/new")}
    )
    publish = hidden_fields(preview.text, "/district/policy/publish")
    first = client.post("/district/policy/publish", data=publish)
    second = client.post("/district/policy/publish", data=publish)
    assert first.status_code == second.status_code == 303
    assert count(session, TierPolicy) == versions_before + 1


def test_resubmitting_a_bulk_card_issue_issues_one_card_each(client, session, world):
    waiting = []
    for name in ("赵一", "钱二"):
        member = factories.member(session, world.home, name=name)
        factories.points(session, member, 60)
        waiting.append(member)
    session.commit()
    sign_in(client, world.secretary)
    ids = [str(m.id) for m in waiting]
    first, second = submit_twice(
        client, "/community/cards/eligible", "/community/cards/issue", {"member_ids": ids}
    )
    assert first == second
    assert client.get(first).status_code == 200
    assert count(session, Card, Card.member_id.in_([m.id for m in waiting])) == 2


def test_resubmitting_activation_codes_keeps_the_printed_batch_valid(client, session, world):
    sign_in(client, world.secretary)
    ids = [str(world.gold.id), str(world.silver.id)]
    first, second = submit_twice(
        client, "/community/activation", "/community/activation", {"member_ids": ids}
    )
    assert first == second  # the same sheet: its codes were not replaced by a second batch
    assert client.get(first).text.count('class="slip"') == 2
    assert count(session, ActivationCode) == 2
    assert count(session, ActivationCode, ActivationCode.revoked_at.is_not(None)) == 0


# -- the token itself --------------------------------------------------------------------------


def test_a_form_without_its_token_creates_nothing_and_keeps_what_was_typed(client, session, world):
    sign_in(client, world.manager)
    refused = client.post("/merchant/keys", data={"label": "没有令牌"})
    assert refused.status_code == 422
    assert "表单已过期" in refused.text and 'value="没有令牌"' in refused.text
    forged = client.post("/merchant/keys", data={"label": "伪造", "form_once": "abc.def.ghi"})
    assert forged.status_code == 422
    # The page shown again carries a fresh, valid token: submitting it works.
    fresh = hidden_fields(refused.text, "/merchant/keys")["form_once"]
    assert (
        client.post("/merchant/keys", data={"label": "重填", "form_once": fresh}).status_code == 303
    )
    assert count(session, ApiKey) == 1


def test_a_form_older_than_a_day_is_refused_and_old_tokens_are_purged(
    client, session, world, clock: FrozenClock
):
    sign_in(client, world.manager)
    used = {**once(client, "/merchant/keys"), "label": "第一把"}
    assert client.post("/merchant/keys", data=used).status_code == 303
    stale = once(client, "/merchant/keys")
    clock.advance(seconds=LIFETIME.total_seconds() + 60)
    sign_in(client, world.manager)  # a new day's sign-in
    assert client.post("/merchant/keys", data={**stale, "label": "隔天"}).status_code == 422
    assert client.post("/merchant/keys", data=used).status_code == 422  # nor yesterday's
    assert count(session, ApiKey) == 1
    fresh = {**once(client, "/merchant/keys"), "label": "今天"}
    assert client.post("/merchant/keys", data=fresh).status_code == 303
    # Yesterday's token is gone: a valid form can no longer carry it.
    assert count(session, FormToken) == 1
