"""Rule 5: agreements bind a merchant to a community (or all), versioned, with cap and minimum."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.errors import BelowMinimumSpend, Forbidden, NoAgreement, NotFound, ValidationFailed
from rewards.models import Agreement, AgreementVersion, AuditEvent, Card, Redemption, Role, Tier
from rewards.services import agreements, checkout
from rewards.services.audit import Actor
from tests import factories

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def _amend(world, session: Session, **terms) -> AgreementVersion:
    values = {"gold_pay_percent": 88, "silver_pay_percent": 95, "valid_from": date(2020, 1, 1)}
    values.update(terms)
    version = agreements.sign_agreement(session, ADMIN, world.shop.id, world.home.id, **values)
    session.commit()
    return version


def _gold_card_in(session: Session, community) -> Card:
    """The card of a new gold member registered in ``community``."""
    member = factories.member(session, community, name="欧阳小明")
    factories.points(session, member, 150)
    card = factories.card(session, member)
    session.commit()
    return card


def _preview(world, session, tokens, member_card, amount: str = "100.00"):
    return checkout.preview(
        session, world.actor(world.cashier), tokens, tokens.printed_token(member_card), amount
    )


def test_amendment_adds_a_version_and_keeps_the_old_one(world, session):
    v2 = _amend(world, session, gold_pay_percent=80, silver_pay_percent=90, note="二次续签")
    agreement = session.get(Agreement, v2.agreement_id)
    versions = agreement.versions
    assert [v.version for v in versions] == [1, 2]
    assert (versions[0].gold_pay_percent, versions[0].silver_pay_percent) == (88, 95)
    assert (versions[1].gold_pay_percent, versions[1].silver_pay_percent) == (80, 90)
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["agreement.sign", "agreement.amend"]


def test_the_newest_version_in_force_applies(world, session, clock):
    _amend(world, session, gold_pay_percent=80, silver_pay_percent=90)
    terms = agreements.terms_for(session, world.shop.id, world.home.id, Tier.GOLD, clock.today)
    assert (terms.version.version, terms.pay_percent) == (2, 80)
    silver = agreements.terms_for(session, world.shop.id, world.home.id, Tier.SILVER, clock.today)
    assert silver.pay_percent == 90


def test_an_amendment_from_a_future_date_leaves_todays_terms(world, session, clock):
    today = clock.today
    _amend(world, session, gold_pay_percent=70, valid_from=today + timedelta(days=7))
    now_terms = agreements.terms_for(session, world.shop.id, world.home.id, Tier.GOLD, today)
    later = agreements.terms_for(
        session, world.shop.id, world.home.id, Tier.GOLD, today + timedelta(days=7)
    )
    assert (now_terms.version.version, now_terms.pay_percent) == (1, 88)
    assert (later.version.version, later.pay_percent) == (2, 70)


def test_terms_snapshot_on_a_redemption_do_not_change_after_an_amendment(world, session, tokens):
    token, _ = tokens.phone_token(world.gold_card)
    redemption, _ = checkout.confirm(
        session, world.actor(world.cashier), tokens, token, "100.00", "snapshot-0001"
    )
    session.commit()
    v1_id = redemption.agreement_version_id

    _amend(world, session, gold_pay_percent=70, silver_pay_percent=80, cap_fen=500)
    stored = session.get(Redemption, redemption.id)
    session.refresh(stored)
    assert (stored.pay_percent, stored.cap_fen, stored.discount_fen, stored.payable_fen) == (
        88,
        None,
        1200,
        8800,
    )
    assert stored.agreement_version_id == v1_id
    assert session.get(AgreementVersion, v1_id).gold_pay_percent == 88
    # A new sale uses the amended terms.
    assert _preview(world, session, tokens, world.gold_card).discount_fen == 500


def test_community_agreement_beats_district_wide(world, session, tokens):
    agreements.sign_agreement(
        session, ADMIN, world.shop.id, None, 90, 97, valid_from=date(2020, 1, 1)
    )
    session.commit()
    home_quote = _preview(world, session, tokens, world.gold_card)
    assert (home_quote.terms.pay_percent, home_quote.discount_fen) == (88, 1200)
    assert home_quote.terms.version.agreement.community_id == world.home.id


def test_district_wide_agreement_serves_every_community(world, session, tokens):
    agreements.sign_agreement(
        session, ADMIN, world.shop.id, None, 90, 97, valid_from=date(2020, 1, 1)
    )
    session.commit()
    quote = _preview(world, session, tokens, _gold_card_in(session, world.other))
    assert (quote.terms.pay_percent, quote.discount_fen) == (90, 1000)
    assert quote.terms.version.agreement.community_id is None


def test_without_any_agreement_for_the_community_it_is_no_agreement(world, session, tokens):
    with pytest.raises(NoAgreement) as caught:
        _preview(world, session, tokens, _gold_card_in(session, world.other))
    assert caught.value.code == "no_agreement"


def test_an_expired_agreement_is_no_agreement(world, session, tokens, clock):
    yesterday = clock.today - timedelta(days=1)
    _amend(world, session, valid_from=date(2020, 1, 1), valid_until=yesterday)
    with pytest.raises(NoAgreement) as caught:
        _preview(world, session, tokens, world.gold_card)
    assert "有效期" in caught.value.message


def test_an_agreement_is_valid_through_its_last_day(world, session, tokens, clock):
    _amend(world, session, valid_until=clock.today)
    assert _preview(world, session, tokens, world.gold_card).discount_fen == 1200


def test_an_agreement_not_yet_valid_is_no_agreement(world, session, tokens, clock):
    shop = factories.merchant(session)
    agreements.sign_agreement(
        session, ADMIN, shop.id, world.home.id, 88, 95, valid_from=clock.today + timedelta(1)
    )
    session.commit()
    with pytest.raises(NoAgreement):
        agreements.terms_for(session, shop.id, world.home.id, Tier.GOLD, clock.today)


def test_an_expired_community_agreement_falls_back_to_the_district_wide_one(
    world, session, tokens, clock
):
    agreements.sign_agreement(
        session, ADMIN, world.shop.id, None, 90, 97, valid_from=date(2020, 1, 1)
    )
    _amend(world, session, valid_until=clock.today - timedelta(days=1))
    assert _preview(world, session, tokens, world.gold_card).terms.pay_percent == 90


def test_minimum_spend_is_below_minimum_spend(world, session, tokens):
    _amend(world, session, min_spend_fen=10_000)
    with pytest.raises(BelowMinimumSpend) as caught:
        _preview(world, session, tokens, world.gold_card, "99.99")
    assert caught.value.code == "below_minimum_spend"
    assert "100.00" in caught.value.message and "99.99" in caught.value.message
    assert _preview(world, session, tokens, world.gold_card, "100.00").discount_fen == 1200


def test_cap_applies_per_transaction(world, session, tokens):
    _amend(world, session, cap_fen=1_000)
    quote = _preview(world, session, tokens, world.gold_card, "500.00")
    assert (quote.amount_fen, quote.discount_fen, quote.payable_fen) == (50_000, 1_000, 49_000)
    small = _preview(world, session, tokens, world.gold_card, "50.00")
    assert small.discount_fen == 600


@pytest.mark.parametrize(
    "terms",
    [
        {"gold_pay_percent": 96, "silver_pay_percent": 95},  # gold worse than silver
        {"gold_pay_percent": 0},
        {"silver_pay_percent": 101},
        {"cap_fen": 0},
        {"min_spend_fen": -1},
        {"valid_from": date(2025, 1, 2), "valid_until": date(2025, 1, 1)},
    ],
)
def test_incoherent_terms_are_refused(world, session, terms):
    with pytest.raises(ValidationFailed):
        _amend(world, session, **terms)
    session.rollback()
    assert len(session.scalars(select(AgreementVersion)).all()) == 1


def test_secretary_reads_but_does_not_sign_agreements(world, session):
    """Issue 8: the district signs; a secretary reads their community's agreements only."""
    secretary = world.actor(world.secretary)
    for community_id in (world.home.id, world.other.id, None):
        with pytest.raises(Forbidden):
            agreements.sign_agreement(
                session, secretary, world.shop.id, community_id, 85, 95, date(2020, 1, 1)
            )
    assert agreements.list_agreements(session, secretary).items


def test_merchants_cannot_sign_their_own_agreements(world, session):
    with pytest.raises(Forbidden):
        agreements.sign_agreement(
            session,
            world.actor(world.manager),
            world.shop.id,
            world.home.id,
            50,
            50,
            valid_from=date(2020, 1, 1),
        )


def test_unknown_merchant_or_community_is_not_found(world, session):
    with pytest.raises(NotFound):
        agreements.sign_agreement(session, ADMIN, 999_999, world.home.id, 88, 95, date(2020, 1, 1))
    with pytest.raises(NotFound):
        agreements.sign_agreement(session, ADMIN, world.shop.id, 999_999, 88, 95, date(2020, 1, 1))


def test_a_merchants_agreements_list_district_wide_first(world, session):
    agreements.sign_agreement(session, ADMIN, world.shop.id, None, 90, 97, date(2020, 1, 1))
    session.commit()
    listed = agreements.agreements_of_merchant(session, world.shop.id)
    assert [a.community_id for a in listed] == [None, world.home.id]
