"""Rules 6–8 at the counter: preview writes nothing, confirm records once, void is a status."""

from __future__ import annotations

import inspect
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.errors import (
    AmountInvalid,
    Conflict,
    DomainError,
    Forbidden,
    NoAgreement,
    NotFound,
    TierNone,
    TokenExpired,
    TokenInvalid,
    TokenUsed,
    ValidationFailed,
)
from rewards.models import (
    AuditEvent,
    LedgerEntry,
    Member,
    Redemption,
    RedemptionStatus,
    Role,
    Tier,
    mask_name,
)
from rewards.services import (
    accounts,
    activities,
    agreements,
    cards,
    checkout,
    claims,
    ledger,
    merchants,
    tiers,
)
from rewards.services.audit import Actor
from rewards.services.cards import TokenKind
from tests import factories

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
ON_SQLITE = not os.environ.get("REWARDS_TEST_DATABASE_URL", "").startswith("postgresql")


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _second_shop(world, session: Session):
    """Another merchant with its own agreement with ``home`` and its own cashier."""
    shop = factories.merchant(session)
    agreements.sign_agreement(session, ADMIN, shop.id, world.home.id, 90, 95, date(2020, 1, 1))
    cashier = factories.account(session, Role.CASHIER, merchant=shop)
    session.commit()
    return shop, Actor.for_account(cashier)


# -- preview ----------------------------------------------------------------------------------


def test_preview_writes_nothing(world, session, tokens):
    token, _ = tokens.phone_token(world.gold_card)
    before = (
        _count(session, Redemption),
        _count(session, AuditEvent),
        _count(session, LedgerEntry),
    )
    quote = checkout.preview(session, world.actor(world.cashier), tokens, token, "128.50")
    session.commit()
    after = (_count(session, Redemption), _count(session, AuditEvent), _count(session, LedgerEntry))
    assert after == before
    assert (quote.amount_fen, quote.discount_fen, quote.payable_fen) == (12850, 1542, 11308)
    assert (quote.standing.tier, quote.terms.pay_percent) == (Tier.GOLD, 88)
    assert (quote.token_kind, quote.card.id) == (TokenKind.PHONE, world.gold_card.id)
    # Previewing did not use up the phone token.
    again = checkout.preview(session, world.actor(world.cashier), tokens, token, "128.50")
    assert again.discount_fen == 1542


def test_silver_pays_the_silver_percentage(world, session, tokens):
    quote = checkout.preview(
        session,
        world.actor(world.cashier),
        tokens,
        tokens.printed_token(world.silver_card),
        "128.50",
    )
    assert (quote.standing.tier, quote.terms.pay_percent) == (Tier.SILVER, 95)
    assert (quote.discount_fen, quote.payable_fen) == (643, 12207)  # 642.5 fen rounds up


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_records_one_redemption_with_a_snapshot(world, session, tokens, clock):
    actor = world.actor(world.cashier)
    token, _ = tokens.phone_token(world.gold_card)
    quote = checkout.preview(session, actor, tokens, token, "128.50")
    redemption, created = checkout.confirm(session, actor, tokens, token, "128.50", "key-00000001")
    session.commit()

    assert created
    assert _count(session, Redemption) == 1
    stored = session.get(Redemption, redemption.id)
    assert (stored.amount_fen, stored.discount_fen, stored.payable_fen) == (
        quote.amount_fen,
        quote.discount_fen,
        quote.payable_fen,
    )
    assert (stored.merchant_id, stored.card_id, stored.member_id, stored.cashier_id) == (
        world.shop.id,
        world.gold_card.id,
        world.gold.id,
        world.cashier.id,
    )
    assert (stored.tier, stored.tier_points, stored.tier_policy_version) == (Tier.GOLD, 120, 1)
    assert stored.agreement_version_id == quote.terms.version.id
    assert (stored.pay_percent, stored.cap_fen, stored.min_spend_fen) == (88, None, 0)
    assert stored.token_nonce == quote.token_nonce is not None
    assert stored.status is RedemptionStatus.COMPLETED
    assert stored.business_date == clock.today
    assert stored.number.startswith(f"{clock.today:%y%m%d}")
    # Checkout never touches points.
    assert ledger.verify_chain(session).ok
    assert ledger.balance(session, world.gold.id) == 120


def test_same_key_same_body_returns_the_same_redemption(world, session, tokens):
    actor = world.actor(world.cashier)
    token, _ = tokens.phone_token(world.gold_card)
    first, created = checkout.confirm(session, actor, tokens, token, "128.50", "double-click")
    session.commit()
    again, created_again = checkout.confirm(session, actor, tokens, token, "128.5", "double-click")
    session.commit()
    assert created and not created_again
    assert again.id == first.id
    assert _count(session, Redemption) == 1
    assert session.scalar(select(func.count()).where(AuditEvent.action == "redemption.create")) == 1


def test_a_retry_after_the_phone_token_expired_still_returns_the_redemption(
    world, session, tokens, clock
):
    actor = world.actor(world.cashier)
    now = clock.now
    token, _ = tokens.phone_token(world.gold_card, now=now)
    first, _ = checkout.confirm(session, actor, tokens, token, "20.00", "retry-later", now=now)
    session.commit()
    late = now + timedelta(seconds=tokens.phone_ttl_seconds + 60)
    again, created = checkout.confirm(
        session, actor, tokens, token, "20.00", "retry-later", now=late
    )
    assert (again.id, created) == (first.id, False)


def test_same_key_with_a_different_amount_is_a_conflict(world, session, tokens):
    actor = world.actor(world.cashier)
    token, _ = tokens.phone_token(world.gold_card)
    first, _ = checkout.confirm(session, actor, tokens, token, "128.50", "key-conflict")
    session.commit()
    with pytest.raises(Conflict) as caught:
        checkout.confirm(session, actor, tokens, token, "12.85", "key-conflict")
    assert caught.value.code == "conflict"
    assert caught.value.details["redemption_id"] == first.id
    session.rollback()
    assert _count(session, Redemption) == 1
    assert session.get(Redemption, first.id).amount_fen == 12850


def test_same_key_with_another_card_is_a_conflict(world, session, tokens):
    actor = world.actor(world.cashier)
    checkout.confirm(
        session, actor, tokens, tokens.printed_token(world.gold_card), "50.00", "key-cards"
    )
    session.commit()
    with pytest.raises(Conflict):
        checkout.confirm(
            session, actor, tokens, tokens.printed_token(world.silver_card), "50.00", "key-cards"
        )


def test_phone_token_is_used_once_at_any_merchant(world, session, tokens):
    token, _ = tokens.phone_token(world.gold_card)
    checkout.confirm(session, world.actor(world.cashier), tokens, token, "30.00", "shop-a-0001")
    session.commit()
    _, other_cashier = _second_shop(world, session)

    with pytest.raises(TokenUsed) as caught:
        checkout.preview(session, other_cashier, tokens, token, "30.00")
    assert caught.value.code == "token_used"
    with pytest.raises(TokenUsed):
        checkout.confirm(session, other_cashier, tokens, token, "30.00", "shop-b-0001")
    with pytest.raises(TokenUsed):
        checkout.confirm(session, world.actor(world.cashier), tokens, token, "30.00", "shop-a-0002")
    session.rollback()
    assert _count(session, Redemption) == 1


def test_a_fresh_phone_token_works_again(world, session, tokens):
    actor = world.actor(world.cashier)
    for key in ("fresh-0001", "fresh-0002"):
        token, _ = tokens.phone_token(world.gold_card)
        _, created = checkout.confirm(session, actor, tokens, token, "10.00", key)
        session.commit()
        assert created
    assert _count(session, Redemption) == 2


def test_printed_card_and_typed_number_can_pay_repeatedly(world, session, tokens):
    actor = world.actor(world.cashier)
    printed = tokens.printed_token(world.gold_card)
    for key, credential in [
        ("print-0001", printed),
        ("print-0002", printed),
        ("typed-0001", world.gold_card.card_no),
    ]:
        redemption, created = checkout.confirm(session, actor, tokens, credential, "10.00", key)
        session.commit()
        assert created and redemption.token_nonce is None
    assert _count(session, Redemption) == 3


def test_the_merchant_comes_from_the_actor_never_the_request(world, session, tokens):
    parameters = set(inspect.signature(checkout.confirm).parameters)
    assert not {"merchant", "merchant_id"} & parameters
    assert not {"merchant", "merchant_id"} & set(inspect.signature(checkout.preview).parameters)

    other_shop, other_cashier = _second_shop(world, session)
    token, _ = tokens.phone_token(world.gold_card)
    redemption, _ = checkout.confirm(session, other_cashier, tokens, token, "100.00", "whose-0001")
    session.commit()
    assert redemption.merchant_id == other_shop.id
    assert redemption.pay_percent == 90  # the other shop's own agreement


def test_only_merchant_staff_can_check_out(world, session, tokens):
    printed = tokens.printed_token(world.gold_card)
    for actor in (ADMIN, world.actor(world.secretary), Actor.operator()):
        with pytest.raises(Forbidden):
            checkout.preview(session, actor, tokens, printed, "10.00")
        with pytest.raises(Forbidden):
            checkout.confirm(session, actor, tokens, printed, "10.00", "not-staff-01")
    assert _count(session, Redemption) == 0


def test_a_disabled_merchant_cannot_check_out(world, session, tokens):
    world.shop.is_enabled = False
    session.commit()
    with pytest.raises(Forbidden):
        checkout.preview(
            session, world.actor(world.cashier), tokens, world.gold_card.card_no, "10.00"
        )


def test_an_api_key_checks_out_for_its_own_merchant(world, session, tokens):
    key_row, key = merchants.create_api_key(
        session, world.actor(world.manager), world.shop.id, "1号台"
    )
    session.commit()
    actor = Actor.for_api_key(merchants.authenticate_api_key(session, key))
    redemption, _ = checkout.confirm(
        session, actor, tokens, world.gold_card.card_no, "10.00", "pos-000001"
    )
    session.commit()
    assert (redemption.merchant_id, redemption.api_key_id, redemption.cashier_id) == (
        world.shop.id,
        key_row.id,
        None,
    )


def test_tier_none_is_refused_with_a_clear_reason(world, session, tokens):
    token, _ = tokens.phone_token(world.plain_card)
    with pytest.raises(TierNone) as caught:
        checkout.preview(session, world.actor(world.cashier), tokens, token, "50.00")
    error = caught.value
    assert error.code == "tier_none"
    assert "银卡" in error.message and "不能享受优惠" in error.message
    with pytest.raises(TierNone):
        checkout.confirm(session, world.actor(world.cashier), tokens, token, "50.00", "none-0001")
    assert _count(session, Redemption) == 0


def test_tier_none_does_not_reveal_the_members_points_to_the_merchant(world, session, tokens):
    with pytest.raises(TierNone) as caught:
        checkout.preview(session, world.actor(world.cashier), tokens, world.plain_card.card_no, "9")
    assert "10" not in caught.value.message  # the member's points
    assert caught.value.details == {}


def test_a_printed_gold_card_gives_nothing_once_points_fall(world, session, tokens):
    printed = tokens.printed_token(world.gold_card)  # printed while the member was gold
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == world.gold.id)).one()
    ledger.reverse(session, ADMIN, entry.id, "录入错误")
    session.commit()
    with pytest.raises(TierNone):
        checkout.preview(session, world.actor(world.cashier), tokens, printed, "50.00")


def test_without_a_tier_policy_the_reason_says_so(session, tokens):
    home = factories.community(session)
    shop = factories.merchant(session)
    agreements.sign_agreement(session, ADMIN, shop.id, home.id, 88, 95, date(2020, 1, 1))
    member = factories.member(session, home)
    factories.points(session, member, 500)
    card = factories.card(session, member)
    cashier = factories.account(session, Role.CASHIER, merchant=shop)
    session.commit()
    with pytest.raises(TierNone) as caught:
        checkout.preview(session, Actor.for_account(cashier), tokens, card.card_no, "10.00")
    assert "尚未设置" in caught.value.message


def test_member_of_another_community_without_agreement_is_no_agreement(world, session, tokens):
    member = factories.member(session, world.other, name="赵六")
    factories.points(session, member, 200)
    card = factories.card(session, member)
    session.commit()
    with pytest.raises(NoAgreement) as caught:
        checkout.preview(session, world.actor(world.cashier), tokens, card.card_no, "10.00")
    assert caught.value.code == "no_agreement"


# -- void -------------------------------------------------------------------------------------


def _sale(world, session, tokens, key: str = "sale-000001", now: datetime | None = None):
    token, _ = tokens.phone_token(world.gold_card, now=now)
    redemption, _ = checkout.confirm(
        session, world.actor(world.cashier), tokens, token, "100.00", key, now=now
    )
    session.commit()
    return redemption


def test_void_is_a_status_change_with_reason_and_author(world, session, tokens):
    redemption = _sale(world, session, tokens)
    voided = checkout.void(session, world.actor(world.manager), redemption.id, "顾客退货")
    session.commit()
    stored = session.get(Redemption, redemption.id)
    assert stored is voided
    assert (stored.status, stored.void_reason, stored.voided_by_id) == (
        RedemptionStatus.VOIDED,
        "顾客退货",
        world.manager.id,
    )
    assert stored.voided_at is not None
    assert (stored.amount_fen, stored.discount_fen) == (10000, 1200)  # the sale itself is kept
    assert _count(session, Redemption) == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "redemption.void")).one()
    assert (event.object_id, event.actor_account_id, event.details["reason"]) == (
        redemption.id,
        world.manager.id,
        "顾客退货",
    )


def test_a_second_void_is_a_conflict(world, session, tokens):
    redemption = _sale(world, session, tokens)
    checkout.void(session, world.actor(world.cashier), redemption.id, "录错金额")
    session.commit()
    with pytest.raises(Conflict):
        checkout.void(session, world.actor(world.cashier), redemption.id, "再次撤销")


def test_another_merchants_redemption_is_not_found(world, session, tokens):
    redemption = _sale(world, session, tokens)
    _, other_cashier = _second_shop(world, session)
    with pytest.raises(NotFound):
        checkout.void(session, other_cashier, redemption.id, "不是我的")
    session.rollback()
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED


def test_an_unknown_redemption_is_not_found(world, session):
    with pytest.raises(NotFound):
        checkout.void(session, world.actor(world.cashier), 999_999, "不存在")


def test_a_sale_of_a_previous_business_day_cannot_be_voided(world, session, tokens, clock):
    yesterday = clock.now - timedelta(days=1)
    redemption = _sale(world, session, tokens, now=yesterday)
    assert redemption.business_date == clock.today - timedelta(days=1)
    with pytest.raises(Conflict) as caught:
        checkout.void(session, world.actor(world.manager), redemption.id, "隔日撤销")
    assert "当天" in caught.value.message
    session.rollback()
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED


def test_the_business_day_is_the_shanghai_date(world, session, tokens, clock):
    # 15:30 UTC is 23:30 in Shanghai: a void twenty minutes later is the same business day,
    # forty minutes later it is the next one.
    day = clock.today - timedelta(days=1)
    sale_at = datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC)
    first = _sale(world, session, tokens, key="late-sale-1", now=sale_at)
    second = _sale(world, session, tokens, key="late-sale-2", now=sale_at)
    assert first.business_date == second.business_date == day
    manager = world.actor(world.manager)
    checkout.void(session, manager, first.id, "当天撤销", now=sale_at + timedelta(minutes=20))
    with pytest.raises(Conflict):
        checkout.void(session, manager, second.id, "次日撤销", now=sale_at + timedelta(minutes=40))


def test_void_needs_a_reason(world, session, tokens):
    redemption = _sale(world, session, tokens)
    with pytest.raises(ValidationFailed):
        checkout.void(session, world.actor(world.manager), redemption.id, " ")
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED


# -- audit and bad input ----------------------------------------------------------------------


def test_every_write_is_audited(world, session, tokens, clock):
    secretary = world.actor(world.secretary)
    manager = world.actor(world.manager)
    cashier = world.actor(world.cashier)
    today = clock.today
    made: dict[str, object] = {}

    def claim():
        made["claim"] = claims.submit_claim(
            session, secretary, world.plain.id, world.category.id, "帮扶老人", today
        )
        return made["claim"]

    def second_claim():
        made["claim2"] = claims.submit_claim(
            session, secretary, world.plain.id, world.category.id, "清理楼道", today
        )
        return made["claim2"]

    def activity():
        made["activity"] = activities.create_activity(
            session, secretary, world.home.id, world.category.id, "清洁日", today, 3
        )
        return made["activity"]

    def api_key():
        made["api_key"] = merchants.create_api_key(session, manager, world.shop.id, "前台")[0]
        return made["api_key"]

    def sale():
        token, _ = tokens.phone_token(world.gold_card)
        made["sale"] = checkout.confirm(session, cashier, tokens, token, "10.00", "audit-0001")[0]
        return made["sale"]

    def new_cashier():
        made["cashier"] = accounts.create_account(
            session,
            manager,
            "till2",
            "long password",
            Role.CASHIER,
            "二号",
            merchant_id=world.shop.id,
        )
        return made["cashier"]

    def adjustment():
        made["adjustment"] = ledger.adjust(
            session, secretary, world.plain.id, 5, "补录", today, "audit-adj"
        )
        return made["adjustment"]

    steps = [
        ("tier_policy.publish", lambda: tiers.set_policy(session, ADMIN, 200, 100)),
        (
            "agreement.amend",
            lambda: agreements.sign_agreement(
                session, ADMIN, world.shop.id, world.home.id, 85, 95, date(2020, 1, 1)
            ),
        ),
        ("claim.submit", claim),
        (
            "claim.certify",
            lambda: claims.certify_claim(session, secretary, made["claim"].id),
        ),
        ("claim.submit", second_claim),
        (
            "claim.reject",
            lambda: claims.reject_claim(session, secretary, made["claim2"].id, "重复申报"),
        ),
        ("activity.create", activity),
        (
            "activity.attendance",
            lambda: activities.record_attendance(
                session, secretary, made["activity"].id, [world.plain.member_no]
            ),
        ),
        ("ledger.adjust", adjustment),
        (
            "ledger.reverse",
            lambda: ledger.reverse(session, secretary, made["adjustment"].id, "录入错误"),
        ),
        (
            "card.suspend",
            lambda: cards.suspend_card(session, secretary, world.plain_card.id, "暂停"),
        ),
        ("card.resume", lambda: cards.resume_card(session, secretary, world.plain_card.id, "恢复")),
        (
            "card.replace",
            lambda: cards.reissue_card(session, secretary, world.plain_card.id, "遗失"),
        ),
        (
            "card.revoke",
            lambda: cards.revoke_card(session, secretary, world.silver_card.id, "注销"),
        ),
        ("card.issue", lambda: cards.issue_card(session, secretary, world.silver.id)),
        ("account.create", new_cashier),
        (
            "account.disable",
            lambda: accounts.set_enabled(session, manager, made["cashier"].id, False),
        ),
        (
            "account.password",
            lambda: accounts.change_password(
                session, manager, world.manager.id, "another password"
            ),
        ),
        ("api_key.create", api_key),
        ("api_key.revoke", lambda: merchants.revoke_api_key(session, manager, made["api_key"].id)),
        ("redemption.create", sale),
        ("redemption.void", lambda: checkout.void(session, manager, made["sale"].id, "退货")),
    ]
    for action, write in steps:
        last_id = session.scalar(select(func.max(AuditEvent.id))) or 0
        write()
        session.commit()
        new_events = session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)).all()
        assert action in [e.action for e in new_events], action
        assert all(e.actor_label and e.recorded_at for e in new_events)


@pytest.mark.parametrize(
    ("credential", "amount", "key", "error"),
    [
        ("phone", "abc", "bad-input-01", AmountInvalid),
        ("phone", "12.345", "bad-input-02", AmountInvalid),
        ("phone", "-5", "bad-input-03", AmountInvalid),
        ("garbage", "10.00", "bad-input-04", TokenInvalid),
        ("expired", "10.00", "bad-input-05", TokenExpired),
        ("phone", "10.00", "short", ValidationFailed),
        ("phone", "10.00", "k" * 81, ValidationFailed),
        ("plain", "10.00", "bad-input-06", TierNone),
    ],
)
def test_bad_input_changes_nothing(world, session, tokens, credential, amount, key, error, clock):
    long_ago = clock.now - timedelta(minutes=10)
    credentials = {
        "phone": tokens.phone_token(world.gold_card)[0],
        "expired": tokens.phone_token(world.gold_card, now=long_ago)[0],
        "plain": tokens.printed_token(world.plain_card),
        "garbage": "not-a-token",
    }
    before = (_count(session, Redemption), _count(session, AuditEvent))
    with pytest.raises(error) as caught:
        checkout.confirm(
            session, world.actor(world.cashier), tokens, credentials[credential], amount, key
        )
    assert isinstance(caught.value, DomainError) and caught.value.message
    # Counted before any rollback: nothing was even added to the session.
    assert (_count(session, Redemption), _count(session, AuditEvent)) == before


# -- privacy (rule 7) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三明", "张*明"), ("李四", "李*"), ("欧阳小明", "欧**明"), ("王", "*")],
)
def test_member_name_is_masked_for_merchants(name: str, masked: str):
    assert mask_name(name) == masked


def test_the_quote_carries_the_member_and_the_portals_must_show_only_the_mask(
    world, session, tokens
):
    """The service returns the Member object (the cashier page needs the tier and card tail);
    the merchant page and the POS API must render only ``masked_name``, the tier and the card
    tail — never ``name``, ``phone`` or points history. The API-level check lives with the API."""
    quote = checkout.preview(
        session, world.actor(world.cashier), tokens, tokens.printed_token(world.gold_card), "10.00"
    )
    assert isinstance(quote.member, Member)
    assert quote.member.masked_name == "张*明"
    assert quote.member.name == "张三明"  # present on the object, which is why portals must mask
    assert quote.card.tail == world.gold_card.card_no[-4:]


# -- atomicity on the embedded database -------------------------------------------------------


def test_a_confirm_rolled_back_by_its_request_leaves_no_redemption(world, session, tokens):
    """If the request fails after confirm (e.g. the receipt cannot be rendered), the view rolls
    back and the sale must not exist."""
    token, _ = tokens.phone_token(world.gold_card)
    checkout.confirm(session, world.actor(world.cashier), tokens, token, "10.00", "rolled-back")
    session.rollback()
    assert _count(session, Redemption) == 0
