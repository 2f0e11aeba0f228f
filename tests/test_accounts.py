"""Accounts and POS keys at the service level: hashed secrets, scoped creation, disabling."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from rewards.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rewards.models import Account, ApiKey, AuditEvent, Role
from rewards.services import accounts, merchants
from rewards.services.audit import Actor
from tests import factories

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def _all_text_in(session: Session, table: str) -> str:
    """Every value of every row of ``table`` as one string, to look for leaked secrets."""
    rows = session.execute(text(f"SELECT * FROM {table}")).all()
    return "\n".join(repr(tuple(row)) for row in rows)


@pytest.mark.production_hashing
def test_password_is_stored_as_an_argon2id_hash(session):
    account = accounts.create_account(
        session, ADMIN, "clerk01", "correct horse battery", Role.DISTRICT_ADMIN, "管理员"
    )
    session.commit()
    stored = session.scalar(select(Account.password_hash).where(Account.id == account.id))
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored  # OWASP's floor
    assert "correct horse battery" not in _all_text_in(session, "accounts")
    assert "correct horse battery" not in _all_text_in(session, "audit_events")


def test_same_password_gets_a_different_salt(session):
    assert accounts.hash_password("same password") != accounts.hash_password("same password")


def test_sign_in_with_the_right_password_returns_the_account(world, session):
    account = accounts.authenticate(session, world.cashier.username, "correct horse")
    assert account is not None and account.id == world.cashier.id
    assert account.last_login_at is not None


@pytest.mark.parametrize("password", ["wrong horse", "", "Correct horse", "correct horse "])
def test_wrong_password_is_refused(world, session, password):
    assert accounts.authenticate(session, world.cashier.username, password) is None


def test_unknown_username_is_refused(world, session):
    assert accounts.authenticate(session, "nobody-here", "correct horse") is None


def test_disabled_account_cannot_sign_in(world, session):
    accounts.set_enabled(session, world.actor(world.manager), world.cashier.id, False)
    session.commit()
    assert accounts.authenticate(session, world.cashier.username, "correct horse") is None
    assert not world.cashier.is_active
    accounts.set_enabled(session, world.actor(world.manager), world.cashier.id, True)
    session.commit()
    assert accounts.authenticate(session, world.cashier.username, "correct horse") is not None


def test_manager_can_add_a_cashier_of_own_shop(world, session):
    cashier = accounts.create_account(
        session,
        world.actor(world.manager),
        "till-02",
        "long enough",
        Role.CASHIER,
        "二号收银",
        merchant_id=world.shop.id,
    )
    session.commit()
    assert (cashier.role, cashier.merchant_id, cashier.community_id) == (
        Role.CASHIER,
        world.shop.id,
        None,
    )


def test_manager_can_add_only_cashiers(world, session):
    for role in (Role.MERCHANT_MANAGER, Role.SECRETARY, Role.DISTRICT_ADMIN):
        with pytest.raises(ValidationFailed):
            accounts.create_account(
                session,
                world.actor(world.manager),
                f"x-{role.value}",
                "long enough",
                role,
                "越权",
                merchant_id=world.shop.id,
                community_id=world.home.id,
            )
    assert session.scalar(select(Account).where(Account.username.like("x-%"))) is None


def test_manager_cannot_add_a_cashier_of_another_shop(world, session):
    other = factories.merchant(session)
    session.commit()
    with pytest.raises(Forbidden):
        accounts.create_account(
            session,
            world.actor(world.manager),
            "spy-till",
            "long enough",
            Role.CASHIER,
            "别家收银",
            merchant_id=other.id,
        )


def test_manager_cannot_disable_another_shops_cashier(world, session):
    other = factories.merchant(session)
    foreign = factories.account(session, Role.CASHIER, merchant=other)
    session.commit()
    with pytest.raises(Forbidden):
        accounts.set_enabled(session, world.actor(world.manager), foreign.id, False)
    with pytest.raises(ValidationFailed):
        accounts.set_enabled(session, world.actor(world.manager), world.secretary.id, False)
    assert session.get(Account, foreign.id).is_enabled


def test_cashier_cannot_create_accounts(world, session):
    with pytest.raises(Forbidden):
        accounts.create_account(
            session,
            world.actor(world.cashier),
            "till-03",
            "long enough",
            Role.CASHIER,
            "三号",
            merchant_id=world.shop.id,
        )


def test_secretary_opens_member_accounts_of_own_community_only(world, session):
    secretary = world.actor(world.secretary)
    account = accounts.create_account(
        session, secretary, "member-01", "long enough", Role.MEMBER, "", member_id=world.gold.id
    )
    assert (account.member_id, account.community_id) == (world.gold.id, world.home.id)
    outsider = factories.member(session, world.other, name="赵六")
    with pytest.raises(NotFound):
        accounts.create_account(
            session, secretary, "member-02", "long enough", Role.MEMBER, "", member_id=outsider.id
        )
    with pytest.raises(ValidationFailed):
        accounts.create_account(
            session, secretary, "till-04", "long enough", Role.CASHIER, "", merchant_id=1
        )


def test_an_account_needs_its_scope(world, session):
    cases = [
        (Role.SECRETARY, {}),
        (Role.SECRETARY, {"community_id": 999_999}),
        (Role.CASHIER, {}),
        (Role.MERCHANT_MANAGER, {"merchant_id": 999_999}),
        (Role.MEMBER, {}),
    ]
    for role, scope in cases:
        with pytest.raises(ValidationFailed):
            accounts.create_account(session, ADMIN, "scoped-1", "long enough", role, "", **scope)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ab", "long enough"),
        ("has space", "long enough"),
        ("张三", "long enough"),
        ("ok-1", "short"),
    ],
)
def test_bad_username_or_short_password_is_refused(session, username, password):
    with pytest.raises(ValidationFailed):
        accounts.create_account(session, ADMIN, username, password, Role.DISTRICT_ADMIN, "")


def test_username_is_unique(world, session):
    with pytest.raises(Conflict):
        accounts.create_account(
            session, ADMIN, world.cashier.username, "long enough", Role.DISTRICT_ADMIN, ""
        )


def test_nobody_disables_their_own_account(world, session):
    with pytest.raises(ValidationFailed):
        accounts.set_enabled(session, world.actor(world.manager), world.manager.id, False)
    admin_account = factories.account(session, Role.DISTRICT_ADMIN)
    with pytest.raises(ValidationFailed):
        accounts.set_enabled(session, Actor.for_account(admin_account), admin_account.id, False)


def test_set_enabled_on_an_unknown_account_is_not_found(session):
    with pytest.raises(NotFound):
        accounts.set_enabled(session, ADMIN, 999_999, False)


def test_password_change_is_own_or_by_an_administrator(world, session):
    accounts.change_password(session, world.actor(world.cashier), world.cashier.id, "new secret 1")
    session.commit()
    assert accounts.authenticate(session, world.cashier.username, "correct horse") is None
    assert accounts.authenticate(session, world.cashier.username, "new secret 1") is not None
    with pytest.raises(Forbidden):
        accounts.change_password(session, world.actor(world.manager), world.cashier.id, "x" * 12)


# -- POS API keys -----------------------------------------------------------------------------


def test_api_key_is_stored_hashed(world, session):
    api_key, key = merchants.create_api_key(
        session, world.actor(world.manager), world.shop.id, "1号收银台"
    )
    session.commit()
    assert key.startswith(merchants.KEY_PREFIX) and len(key) > 40
    for table in ("api_keys", "audit_events"):
        assert key not in _all_text_in(session, table)
    assert key.startswith(api_key.prefix)
    assert len(api_key.key_hash) == 64
    assert merchants.authenticate_api_key(session, key).id == api_key.id


@pytest.mark.parametrize("presented", ["", "rpk_", "rpk_not-the-key", "Bearer x"])
def test_a_wrong_api_key_is_refused(world, session, presented):
    merchants.create_api_key(session, world.actor(world.manager), world.shop.id, "前台")
    session.commit()
    assert merchants.authenticate_api_key(session, presented) is None


def test_a_revoked_api_key_is_refused(world, session):
    api_key, key = merchants.create_api_key(
        session, world.actor(world.manager), world.shop.id, "前台"
    )
    merchants.revoke_api_key(session, world.actor(world.manager), api_key.id)
    session.commit()
    assert merchants.authenticate_api_key(session, key) is None
    with pytest.raises(Conflict):
        merchants.revoke_api_key(session, world.actor(world.manager), api_key.id)


def test_the_key_of_a_disabled_merchant_is_refused(world, session):
    _, key = merchants.create_api_key(session, world.actor(world.manager), world.shop.id, "前台")
    world.shop.is_enabled = False
    session.commit()
    assert merchants.authenticate_api_key(session, key) is None


def test_api_keys_are_managed_only_for_own_shop(world, session):
    other = factories.merchant(session)
    merchants.create_api_key(session, ADMIN, other.id, "别家")
    session.commit()
    foreign = session.scalar(select(ApiKey).where(ApiKey.merchant_id == other.id))
    manager = world.actor(world.manager)
    with pytest.raises(Forbidden):
        merchants.create_api_key(session, manager, other.id, "越权")
    with pytest.raises(Forbidden):
        merchants.revoke_api_key(session, manager, foreign.id)
    with pytest.raises(Forbidden):
        merchants.create_api_key(session, world.actor(world.cashier), world.shop.id, "收银员")
    assert session.get(ApiKey, foreign.id).revoked_at is None


def test_api_key_needs_a_label(world, session):
    with pytest.raises(ValidationFailed):
        merchants.create_api_key(session, world.actor(world.manager), world.shop.id, "  ")
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "api_key.create")) is None


# -- one-time passwords handed out by the district ---------------------------------------------


def test_a_reset_gives_a_one_time_password_that_must_be_replaced_at_first_sign_in(
    client, session, world, clock
):
    admin = Actor(label="admin", role=Role.DISTRICT_ADMIN)
    password = accounts.reset_password(session, admin, world.cashier.id)
    session.commit()
    assert accounts.authenticate(session, world.cashier.username, "correct horse") is None
    session.rollback()
    response = client.post(
        "/login", data={"username": world.cashier.username, "password": password}
    )
    assert response.status_code == 302
    # Every page leads to the new-password page until the password is replaced.
    assert client.get("/merchant/checkout").location.endswith("/password/new")
    refused = client.post("/password/new", data={"password": "short", "password_again": "short"})
    assert refused.status_code == 422
    done = client.post(
        "/password/new", data={"password": "my own secret", "password_again": "my own secret"}
    )
    assert done.status_code == 302
    assert client.get("/merchant/checkout").status_code == 200
    session.expire_all()
    assert accounts.authenticate(session, world.cashier.username, "my own secret") is not None
    assert accounts.authenticate(session, world.cashier.username, password) is None


def test_a_one_time_password_not_used_within_a_week_stops_working(session, world, clock):
    admin = Actor(label="admin", role=Role.DISTRICT_ADMIN)
    password = accounts.reset_password(session, admin, world.cashier.id)
    session.commit()
    later = clock.advance(days=7, seconds=1)
    assert accounts.authenticate(session, world.cashier.username, password, now=later) is None


def test_only_the_district_resets_passwords(session, world):
    with pytest.raises(Forbidden):
        accounts.reset_password(session, world.actor(world.secretary), world.cashier.id)
