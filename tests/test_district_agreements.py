"""The district's agreements (发展协议): signing for all communities or chosen ones, amending from a
date, ending on a date, the agreements about to run out, the list; the secretary's read-only
view; the operator CLI. An agreement change never alters a recorded sale and takes effect at the
checkout from its date."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.clock import BUSINESS_TZ
from rewards.errors import Forbidden, NoAgreement, NotFound, ValidationFailed
from rewards.models import Account, Agreement, AgreementVersion, AuditEvent, Redemption, Role
from rewards.services import agreements, checkout
from rewards.services.agreements import TermsInput
from rewards.services.audit import Actor
from tests import factories
from tests.factories import World
from tests.forms import once
from tests.test_auth import sign_in

ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


def terms(start: date, **changes: Any) -> TermsInput:
    """88折 for gold, 95折 for silver, no cap, no minimum, from ``start``, open-ended."""
    values: dict[str, Any] = {"gold_pay_percent": 88, "silver_pay_percent": 95, "valid_from": start}
    values.update(changes)
    return TermsInput(**values)


def count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def home_agreement(session: Session, world: World) -> Agreement:
    """The world's shop's agreement with ``home`` (88/95 since 2020-01-01)."""
    return agreements.agreement_between(session, world.shop.id, world.home.id)


def noon(day: date) -> datetime:
    """An instant in the middle of business date ``day``."""
    return datetime.combine(day, time(12), BUSINESS_TZ)


def quote(session: Session, world: World, tokens, day: date):  # type: ignore[no-untyped-def]
    """The cashier's preview of a ¥100.00 bill on the gold card on business date ``day``."""
    return checkout.preview(
        session,
        world.actor(world.cashier),
        tokens,
        tokens.printed_token(world.gold_card),
        "100.00",
        now=noon(day),
    )


def pay_percent_on(session, world, tokens, day: date) -> int | None:  # type: ignore[no-untyped-def]
    """The gold member's 折 at the shop on ``day``, None when there is no agreement."""
    try:
        return quote(session, world, tokens, day).terms.pay_percent
    except NoAgreement:
        return None


def versions_of(session: Session, agreement_id: int) -> list[tuple[Any, ...]]:
    """Every version's terms as stored, oldest first."""
    session.expire_all()
    rows = session.scalars(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(AgreementVersion.version)
    )
    return [
        (
            v.version,
            v.gold_pay_percent,
            v.silver_pay_percent,
            v.cap_fen,
            v.min_spend_fen,
            v.valid_from,
            v.valid_until,
        )
        for v in rows
    ]


# -- signing ------------------------------------------------------------------------------------


def test_signing_for_chosen_communities_makes_one_agreement_for_each(world, session, clock):
    shop = factories.merchant(session)
    third = factories.community(session)
    signed = agreements.sign_agreements(
        session, ADMIN, shop.id, [world.home.id, third.id], terms(clock.today, cap_fen=5000)
    )
    session.commit()
    assert sorted(v.agreement.community_id for v in signed) == sorted([world.home.id, third.id])
    assert all((v.version, v.cap_fen) == (1, 5000) for v in signed)
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "agreement",
            AuditEvent.object_id.in_([v.agreement_id for v in signed]),
        )
    ).all()
    assert actions == ["agreement.sign", "agreement.sign"]


def test_signing_for_all_communities_makes_one_district_wide_agreement(world, session, clock):
    shop = factories.merchant(session)
    (version,) = agreements.sign_agreements(session, ADMIN, shop.id, None, terms(clock.today))
    session.commit()
    assert version.agreement.community_id is None
    other_member = factories.member(session, world.other)
    from rewards.models import Tier

    found = agreements.terms_for(
        session, shop.id, other_member.community_id, Tier.GOLD, clock.today
    )
    assert found.pay_percent == 88


def test_a_community_already_signed_is_refused_pointing_to_amend_and_nothing_is_signed(
    world, session, clock
):
    before = count(session, Agreement)
    with pytest.raises(ValidationFailed) as refused:
        agreements.sign_agreements(
            session, ADMIN, world.shop.id, [world.other.id, world.home.id], terms(clock.today)
        )
    session.rollback()
    assert world.home.name in refused.value.message and "修订" in refused.value.message
    assert refused.value.details["fields"]["communities"]
    assert refused.value.details["existing"] == [home_agreement(session, world).id]
    assert count(session, Agreement) == before


def test_choosing_no_community_is_refused(world, session, clock):
    with pytest.raises(ValidationFailed) as refused:
        agreements.sign_agreements(session, ADMIN, world.shop.id, [], terms(clock.today))
    assert "communities" in refused.value.details["fields"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gold_pay_percent": 0}, "gold"),
        ({"silver_pay_percent": 101}, "silver"),
        ({"gold_pay_percent": 96, "silver_pay_percent": 95}, "gold"),
        ({"cap_fen": 0}, "cap"),
        ({"min_spend_fen": -1}, "min_spend"),
        ({"valid_until": date(2020, 1, 1)}, "valid_until"),
    ],
)
def test_incoherent_terms_are_refused_naming_the_field(world, session, clock, changes, field):
    shop = factories.merchant(session)
    session.commit()
    with pytest.raises(ValidationFailed) as refused:
        agreements.sign_agreements(
            session, ADMIN, shop.id, [world.home.id], terms(clock.today, **changes)
        )
    session.rollback()
    assert list(refused.value.details["fields"]) == [field]
    assert count(session, Agreement, Agreement.merchant_id == shop.id) == 0


def test_only_the_district_administrator_signs_amends_and_ends(world, session, clock):
    agreement = home_agreement(session, world)
    for actor in (world.actor(world.secretary), world.actor(world.manager)):
        with pytest.raises(Forbidden):
            agreements.sign_agreements(session, actor, world.shop.id, None, terms(clock.today))
        with pytest.raises(Forbidden):  # nor through the one-agreement call (seeds, tests)
            agreements.sign_agreement(
                session, actor, world.shop.id, world.home.id, 88, 95, clock.today
            )
        with pytest.raises(Forbidden):
            agreements.amend_agreement(session, actor, agreement.id, terms(clock.today))
        with pytest.raises(Forbidden):
            agreements.end_agreement(session, actor, agreement.id, clock.today)
    session.rollback()
    assert len(versions_of(session, agreement.id)) == 1


# -- amending -------------------------------------------------------------------------------------


def test_an_amendment_is_a_new_version_and_leaves_the_old_one_as_signed(world, session, clock):
    agreement = home_agreement(session, world)
    start = clock.today + timedelta(days=7)
    version = agreements.amend_agreement(
        session, ADMIN, agreement.id, terms(start, gold_pay_percent=80, silver_pay_percent=90)
    )
    session.commit()
    assert version.version == 2
    assert versions_of(session, agreement.id) == [
        (1, 88, 95, None, 0, date(2020, 1, 1), None),
        (2, 80, 90, None, 0, start, None),
    ]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == agreement.id).order_by(AuditEvent.id)
    ).all()[-1]
    assert (event.action, event.details["valid_from"]) == ("agreement.amend", start.isoformat())


def test_an_amendment_cannot_be_backdated(world, session, clock):
    agreement = home_agreement(session, world)
    with pytest.raises(ValidationFailed) as refused:
        agreements.amend_agreement(
            session, ADMIN, agreement.id, terms(clock.today - timedelta(days=1))
        )
    assert "valid_from" in refused.value.details["fields"] and "追溯" in refused.value.message
    session.rollback()
    assert len(versions_of(session, agreement.id)) == 1


def test_an_amendment_cannot_start_before_the_newest_versions_start(world, session, clock):
    agreement = home_agreement(session, world)
    later = clock.today + timedelta(days=30)
    agreements.amend_agreement(session, ADMIN, agreement.id, terms(later, gold_pay_percent=85))
    session.commit()
    with pytest.raises(ValidationFailed) as refused:
        agreements.amend_agreement(
            session, ADMIN, agreement.id, terms(clock.today + timedelta(days=10))
        )
    assert later.isoformat() in refused.value.message
    session.rollback()
    assert len(versions_of(session, agreement.id)) == 2


def test_an_amendment_never_alters_a_recorded_sale_and_applies_at_checkout_from_its_date(
    world, session, tokens, clock, client
):
    """Rule: sales keep their snapshot; the new terms apply from the amendment's date."""
    sale, _ = checkout.confirm(
        session,
        world.actor(world.cashier),
        tokens,
        world.gold_card.card_no,
        "100.00",
        "sale-before-amendment",
    )
    session.commit()
    stored = (sale.pay_percent, sale.cap_fen, sale.discount_fen, sale.payable_fen)
    assert stored == (88, None, 1200, 8800)
    sign_in(client, world.manager)
    receipt = _receipt(client, sale.id)

    tomorrow = clock.today + timedelta(days=1)
    agreement = home_agreement(session, world)
    agreements.amend_agreement(
        session,
        ADMIN,
        agreement.id,
        terms(tomorrow, gold_pay_percent=70, silver_pay_percent=80, cap_fen=500),
    )
    session.commit()

    session.expire_all()
    again = session.get(Redemption, sale.id)
    assert (again.pay_percent, again.cap_fen, again.discount_fen, again.payable_fen) == stored
    assert again.agreement_version_id == sale.agreement_version_id
    assert _receipt(client, sale.id) == receipt
    # The day before the amendment's date: the old terms; on its date: the new ones.
    before = quote(session, world, tokens, clock.today)
    assert (before.terms.version.version, before.terms.pay_percent, before.discount_fen) == (
        1,
        88,
        1200,
    )
    on_the_day = quote(session, world, tokens, tomorrow)
    assert (on_the_day.terms.version.version, on_the_day.terms.pay_percent) == (2, 70)
    assert on_the_day.discount_fen == 500  # 30% of ¥100 capped at ¥5
    # And with the clock itself moved to that day, a real sale records the new terms.
    clock.advance(days=1)
    later, _ = checkout.confirm(
        session,
        world.actor(world.cashier),
        tokens,
        world.gold_card.card_no,
        "100.00",
        "sale-after-amendment",
    )
    session.commit()
    assert (later.pay_percent, later.discount_fen) == (70, 500)
    assert session.get(Redemption, sale.id).discount_fen == 1200


def _receipt(client, redemption_id: int) -> str:  # type: ignore[no-untyped-def]
    html = client.get(f"/merchant/redemptions/{redemption_id}").get_data(as_text=True)
    return re.search(r'<article class="card receipt.*?</article>', html, re.S).group(0)


# -- ending ---------------------------------------------------------------------------------------


def test_an_ended_agreement_keeps_its_terms_through_the_last_day_then_is_no_agreement(
    world, session, tokens, clock
):
    agreement = home_agreement(session, world)
    last_day = clock.today + timedelta(days=10)
    version = agreements.end_agreement(session, ADMIN, agreement.id, last_day, "商家停业")
    session.commit()
    assert versions_of(session, agreement.id) == [
        (1, 88, 95, None, 0, date(2020, 1, 1), None),
        (2, 88, 95, None, 0, clock.today, last_day),
    ]
    assert version.note == "商家停业"
    assert pay_percent_on(session, world, tokens, clock.today) == 88
    assert pay_percent_on(session, world, tokens, last_day) == 88
    with pytest.raises(NoAgreement) as refused:
        quote(session, world, tokens, last_day + timedelta(days=1))
    assert refused.value.code == "no_agreement"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == agreement.id)
    ).all()
    assert actions[-1] == "agreement.end"


def test_ending_before_a_scheduled_amendment_cancels_it(world, session, tokens, clock):
    agreement = home_agreement(session, world)
    amended_from = clock.today + timedelta(days=30)
    agreements.amend_agreement(
        session, ADMIN, agreement.id, terms(amended_from, gold_pay_percent=80)
    )
    agreements.end_agreement(session, ADMIN, agreement.id, clock.today + timedelta(days=10))
    session.commit()
    assert pay_percent_on(session, world, tokens, clock.today + timedelta(days=10)) == 88
    assert pay_percent_on(session, world, tokens, amended_from) is None


def test_ending_after_a_scheduled_amendment_keeps_it_until_the_last_day(
    world, session, tokens, clock
):
    agreement = home_agreement(session, world)
    amended_from = clock.today + timedelta(days=10)
    last_day = clock.today + timedelta(days=30)
    agreements.amend_agreement(
        session, ADMIN, agreement.id, terms(amended_from, gold_pay_percent=80)
    )
    ended = agreements.end_agreement(session, ADMIN, agreement.id, last_day)
    session.commit()
    assert (ended.gold_pay_percent, ended.valid_from, ended.valid_until) == (
        80,
        amended_from,
        last_day,
    )
    assert pay_percent_on(session, world, tokens, clock.today + timedelta(days=5)) == 88
    assert pay_percent_on(session, world, tokens, last_day) == 80
    assert pay_percent_on(session, world, tokens, last_day + timedelta(days=1)) is None


@pytest.mark.parametrize(
    ("until", "last_day", "words"),
    [
        (None, -1, "追溯"),  # yesterday
        (20, 30, "已不在有效期内"),  # after the agreement already ends
        (20, 20, "本来就在"),  # the day it already ends
    ],
)
def test_an_end_outside_the_agreements_cover_is_refused(
    world, session, clock, until, last_day, words
):
    agreement = home_agreement(session, world)
    if until is not None:
        agreements.end_agreement(session, ADMIN, agreement.id, clock.today + timedelta(days=until))
        session.commit()
    before = versions_of(session, agreement.id)
    with pytest.raises(ValidationFailed) as refused:
        agreements.end_agreement(
            session, ADMIN, agreement.id, clock.today + timedelta(days=last_day)
        )
    assert words in refused.value.message and "last_day" in refused.value.details["fields"]
    session.rollback()
    assert versions_of(session, agreement.id) == before


# -- reading: expiring, the list, one agreement --------------------------------------------------


def _agreement_until(session, community, clock, *ends: tuple[int, int | None]):  # type: ignore[no-untyped-def]
    """A new merchant's agreement with ``community``; each (start, end) in days from today is a
    version (the first one started a year ago when its start is None)."""
    shop = factories.merchant(session)
    (first_start, first_end), *more = ends
    start = clock.today + timedelta(days=first_start)
    end = clock.today + timedelta(days=first_end) if first_end is not None else None
    agreements.sign_agreement(session, ADMIN, shop.id, community.id, 88, 95, start, end)
    for start_days, end_days in more:
        agreements.sign_agreement(
            session,
            ADMIN,
            shop.id,
            community.id,
            85,
            95,
            clock.today + timedelta(days=start_days),
            clock.today + timedelta(days=end_days) if end_days is not None else None,
        )
    session.commit()
    return shop


def test_expiring_lists_agreements_whose_cover_ends_within_60_days_soonest_first(
    world, session, clock
):
    soon = _agreement_until(session, world.home, clock, (-365, 59))
    today = _agreement_until(session, world.other, clock, (-365, 0))
    _agreement_until(session, world.home, clock, (-365, 61))  # later than 60 days
    _agreement_until(session, world.home, clock, (-365, 20), (21, None))  # renewed without a gap
    gap = _agreement_until(session, world.home, clock, (-365, 20), (25, None))  # lapses 4 days
    _agreement_until(session, world.home, clock, (-365, -1))  # already ended
    _agreement_until(session, world.home, clock, (10, 20))  # not yet in force
    found = agreements.expiring_agreements(session, ADMIN)
    assert [(s.agreement.merchant_id, s.days_left) for s in found.items] == [
        (today.id, 0),
        (gap.id, 20),
        (soon.id, 59),
    ]
    assert found.total == 3
    assert agreements.expiring_agreements(session, ADMIN, within_days=30).total == 2


def test_the_list_filters_by_merchant_and_community_with_todays_terms(world, session, clock):
    district_wide = factories.merchant(session)
    agreements.sign_agreements(session, ADMIN, district_wide.id, None, terms(date(2020, 1, 1)))
    agreements.sign_agreements(
        session, ADMIN, world.shop.id, None, terms(date(2020, 1, 1), gold_pay_percent=90)
    )
    elsewhere = _agreement_until(session, world.other, clock, (-10, None))
    session.commit()

    def listed(**filters: Any) -> list[tuple[int, int | None, int | None, bool]]:
        page = agreements.list_agreements(session, ADMIN, **filters)
        return [
            (
                s.agreement.merchant_id,
                s.agreement.community_id,
                s.current.gold_pay_percent if s.current else None,
                s.overridden,
            )
            for s in page.items
        ]

    assert len(listed()) == 4
    assert listed(merchant_id=world.shop.id) == [
        (world.shop.id, None, 90, False),
        (world.shop.id, world.home.id, 88, False),
    ]
    # Home's members are covered by its own agreements and the district-wide ones; the shop's
    # district-wide agreement gives way to its agreement with home.
    assert sorted(listed(community_id=world.home.id), key=str) == sorted(
        [
            (district_wide.id, None, 88, False),
            (world.shop.id, None, 90, True),
            (world.shop.id, world.home.id, 88, False),
        ],
        key=str,
    )
    assert (elsewhere.id, world.other.id, 88, False) in listed(community_id=world.other.id)


def test_a_secretary_reads_only_agreements_covering_their_community(world, session, clock):
    secretary = world.actor(world.secretary)
    mine = agreements.list_agreements(session, secretary)
    assert [s.agreement.community_id for s in mine.items] == [world.home.id]
    theirs = _agreement_until(session, world.other, clock, (-10, None))
    assert theirs.id not in [
        s.agreement.merchant_id for s in agreements.list_agreements(session, secretary).items
    ]
    with pytest.raises(NotFound):
        agreements.list_agreements(session, secretary, community_id=world.other.id)
    other_agreement = agreements.agreement_between(session, theirs.id, world.other.id)
    with pytest.raises(NotFound):
        agreements.get_agreement(session, secretary, other_agreement.id)
    with pytest.raises(Forbidden):
        agreements.expiring_agreements(session, secretary)


def test_an_agreements_versions_name_who_signed_them(world, session, clock):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    agreement = home_agreement(session, world)
    agreements.amend_agreement(session, Actor.for_account(admin), agreement.id, terms(clock.today))
    session.commit()
    standing = agreements.get_agreement(session, ADMIN, agreement.id)
    assert [standing.signers.get(v.signed_by_id) for v in standing.versions] == [
        None,  # signed by the tests' district actor, without an account
        admin.display_name,
    ]
    assert standing.current.version == 2


# -- the district's pages -----------------------------------------------------------------------


@pytest.fixture()
def admin(world: World, session: Session) -> Account:
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_the_list_shows_todays_terms_in_zhe_and_filters(client, world, session, admin, clock):
    _agreement_until(session, world.other, clock, (-10, None))
    sign_in(client, admin)
    page = text_of(client.get("/district/agreements"))
    row = re.search(
        rf'<tr data-agreement="\d+" data-merchant="{world.shop.code}".*?</tr>', page, re.S
    )
    assert "88折" in row.group(0) and "95折" in row.group(0) and "生效中" in row.group(0)
    assert "共 2 份协议" in page
    filtered = text_of(client.get(f"/district/agreements?community={world.home.code}"))
    assert "共 1 份协议" in filtered and world.shop.code in filtered
    by_merchant = text_of(client.get(f"/district/agreements?merchant={world.shop.code.lower()}"))
    assert "共 1 份协议" in by_merchant
    assert client.get("/district/agreements?merchant=NOPE").status_code == 404


def _sign_form(merchant: str, **fields: Any) -> dict[str, Any]:
    form = {
        "merchant": merchant,
        "scope": "chosen",
        "gold": "88",
        "silver": "95",
        "cap": "",
        "min_spend": "",
        "valid_from": "2026-04-01",
        "valid_until": "",
        "note": "",
    }
    form.update(fields)
    return form


def test_signing_in_the_browser_refuses_a_bad_zhe_then_signs(client, world, session, admin):
    shop = factories.merchant(session)
    session.commit()
    sign_in(client, admin)
    form = _sign_form(shop.code, communities=[str(world.home.id)], gold="120", cap="50")
    form |= once(client, "/district/agreements/new")
    refused = client.post("/district/agreements/new", data=form)
    assert refused.status_code == 422
    assert "折扣必须在 1 到 100 之间" in text_of(refused)
    assert 'value="50"' in text_of(refused)  # what was typed is kept
    typed = client.post("/district/agreements/new", data={**form, "gold": "8.8"})
    assert "9折请输入 90" in text_of(typed)
    assert count(session, Agreement, Agreement.merchant_id == shop.id) == 0

    done = client.post("/district/agreements/new", data={**form, "gold": "88", "min_spend": "10"})
    assert done.status_code == 303
    (agreement,) = session.scalars(select(Agreement).where(Agreement.merchant_id == shop.id))
    version = agreement.versions[0]
    assert (version.gold_pay_percent, version.cap_fen, version.min_spend_fen) == (88, 5000, 1000)
    assert version.signed_by_id == admin.id
    assert done.headers["Location"].endswith(f"/district/agreements/{agreement.id}")
    assert "已与" in text_of(client.get(done.headers["Location"]))


def test_signing_for_all_communities_in_the_browser(client, world, session, admin):
    shop = factories.merchant(session)
    session.commit()
    sign_in(client, admin)
    done = client.post(
        "/district/agreements/new",
        data=_sign_form(shop.code, scope="all", communities=[str(world.home.id)])
        | once(client, "/district/agreements/new"),
    )
    assert done.status_code == 303
    (agreement,) = session.scalars(select(Agreement).where(Agreement.merchant_id == shop.id))
    assert agreement.community_id is None


def test_signing_an_already_signed_community_points_to_amend(client, world, session, admin):
    sign_in(client, admin)
    form = _sign_form(world.shop.code, communities=[str(world.home.id), str(world.other.id)])
    form |= once(client, "/district/agreements/new")
    refused = client.post("/district/agreements/new", data=form)
    page = text_of(refused)
    assert refused.status_code == 422 and "请在该协议上修订" in page
    existing = home_agreement(session, world)
    assert f"/district/agreements/{existing.id}#amend" in page
    assert count(session, Agreement) == 1


def test_the_agreement_page_shows_the_versions_side_by_side_with_todays_marked(
    client, world, session, admin, clock
):
    agreement = home_agreement(session, world)
    agreements.amend_agreement(
        session, Actor.for_account(admin), agreement.id, terms(clock.today, gold_pay_percent=85)
    )
    agreements.amend_agreement(
        session, ADMIN, agreement.id, terms(clock.today + timedelta(days=30), gold_pay_percent=80)
    )
    session.commit()
    sign_in(client, admin)
    page = text_of(client.get(f"/district/agreements/{agreement.id}"))
    rows = re.findall(r'<tr data-version="(\d)"([^>]*)>(.*?)</tr>', page, re.S)
    assert [number for number, _, _ in rows] == ["1", "2", "3"]
    current = [number for number, attributes, _ in rows if 'aria-current="true"' in attributes]
    assert current == ["2"]
    assert "今日生效" in rows[1][2] and "85折" in rows[1][2] and admin.display_name in rows[1][2]
    assert "待生效" in rows[2][2]
    # The amend form starts from the newest version's terms, from its start date.
    assert 'name="gold" type="text" value="80"' in page or 'value="80"' in page


def test_amending_in_the_browser_adds_a_version_and_refuses_a_backdated_one(
    client, world, session, admin, clock
):
    agreement = home_agreement(session, world)
    sign_in(client, admin)
    form = {
        "gold": "85",
        "silver": "93",
        "cap": "",
        "min_spend": "",
        "valid_from": (clock.today - timedelta(days=1)).isoformat(),
        "valid_until": "",
        "note": "",
    }
    url = f"/district/agreements/{agreement.id}/amend"
    refused = client.post(url, data=form)
    assert refused.status_code == 422 and "修订不能追溯" in text_of(refused)
    assert len(versions_of(session, agreement.id)) == 1
    start = clock.today + timedelta(days=14)
    done = client.post(url, data={**form, "valid_from": start.isoformat(), "note": "银卡加大"})
    assert done.status_code == 302
    assert versions_of(session, agreement.id)[-1] == (2, 85, 93, None, 0, start, None)
    assert "第 2 版" in text_of(client.get(done.headers["Location"]))


def test_ending_in_the_browser(client, world, session, admin, clock):
    agreement = home_agreement(session, world)
    sign_in(client, admin)
    url = f"/district/agreements/{agreement.id}/end"
    refused = client.post(url, data={"last_day": "", "end_note": ""})
    assert refused.status_code == 422 and "请填写最后有效日" in text_of(refused)
    last_day = clock.today + timedelta(days=5)
    done = client.post(url, data={"last_day": last_day.isoformat(), "end_note": "停业"})
    assert done.status_code == 302
    assert versions_of(session, agreement.id)[-1][-1] == last_day
    page = text_of(client.get(done.headers["Location"]))
    assert "5 天后到期" in page


def test_the_expiring_page_lists_what_runs_out_within_60_days(client, world, session, admin, clock):
    soon = _agreement_until(session, world.other, clock, (-100, 30))
    _agreement_until(session, world.other, clock, (-100, 90))
    sign_in(client, admin)
    page = text_of(client.get("/district/agreements/expiring"))
    assert f'data-merchant="{soon.code}"' in page and "30 天" in page
    assert page.count("<tr data-agreement") == 1
    wider = text_of(client.get("/district/agreements/expiring?days=90"))
    assert wider.count("<tr data-agreement") == 2
    listing = text_of(client.get("/district/agreements"))
    assert re.search(
        r'data-testid="expiring-link">即将到期 <span class="count-pill">1</span>', listing
    )


# -- the secretary: read-only ---------------------------------------------------------------------


def test_the_secretary_sees_their_communitys_agreements_read_only(client, world, session, clock):
    district_wide = factories.merchant(session, name="全区连锁药房")
    agreements.sign_agreements(session, ADMIN, district_wide.id, None, terms(date(2020, 1, 1)))
    theirs = _agreement_until(session, world.other, clock, (-10, None))
    agreement = home_agreement(session, world)
    agreements.amend_agreement(
        session, ADMIN, agreement.id, terms(clock.today + timedelta(days=30), gold_pay_percent=80)
    )
    session.commit()
    sign_in(client, world.secretary)
    home = text_of(client.get("/community/"))
    assert 'href="/community/agreements"' in home
    page = text_of(client.get("/community/agreements"))
    assert world.shop.name in page and "全区连锁药房" in page and theirs.name not in page
    assert "<form" not in page.split('<main class="page">')[1]  # nothing to change here
    upcoming = re.search(rf'data-merchant="{world.shop.code}".*?</tr>', page, re.S).group(0)
    assert (clock.today + timedelta(days=30)).isoformat() in upcoming and "8折" in upcoming
    assert client.get(f"/community/agreements?community={world.other.code}").status_code == 200


def test_a_secretary_is_refused_every_district_agreement_page(client, world, session, clock):
    agreement = home_agreement(session, world)
    sign_in(client, world.secretary)
    for path in (
        "/district/agreements",
        "/district/agreements/expiring",
        "/district/agreements/new",
        f"/district/agreements/{agreement.id}",
    ):
        assert client.get(path).status_code == 403, path
    posts = {
        "/district/agreements/new": _sign_form(world.shop.code, communities=[str(world.home.id)]),
        f"/district/agreements/{agreement.id}/amend": {
            "gold": "50",
            "silver": "60",
            "valid_from": clock.today.isoformat(),
        },
        f"/district/agreements/{agreement.id}/end": {"last_day": clock.today.isoformat()},
    }
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 403, path
    assert len(versions_of(session, agreement.id)) == 1
    assert count(session, Agreement) == 1


def test_the_administrator_opening_the_secretarys_page_lands_on_the_district_list(
    client, world, admin
):
    sign_in(client, admin)
    moved = client.get(f"/community/agreements?community={world.home.code}")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(f"/district/agreements?community={world.home.code}")
    nav = text_of(client.get("/district/agreements"))
    assert 'href="/community/agreements"' not in nav and 'href="/district/agreements"' in nav


# -- the operator CLI -----------------------------------------------------------------------------


@pytest.fixture()
def runner(app: Flask, session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


def test_cli_signs_for_chosen_communities_and_for_all(runner, world, session):
    shop = factories.merchant(session)
    session.commit()
    done = runner.invoke(
        args=[
            "agreements", "sign", "--merchant", shop.code,
            "--community", world.home.code, "--community", world.other.code.lower(),
            "--gold", "88", "--silver", "95", "--cap", "50.00", "--min-spend", "10",
            "--from", "2026-01-01", "--until", "2026-12-31",
        ]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "共签订 2 份协议" in done.stdout and "单笔上限 ¥50.00" in done.stdout
    session.expire_all()
    signed = session.scalars(select(Agreement).where(Agreement.merchant_id == shop.id)).all()
    assert sorted(a.community_id for a in signed) == sorted([world.home.id, world.other.id])
    version = signed[0].versions[0]
    assert (version.cap_fen, version.min_spend_fen, version.valid_until) == (
        5000,
        1000,
        date(2026, 12, 31),
    )
    labels = session.scalars(
        select(AuditEvent.actor_label).where(AuditEvent.action == "agreement.sign")
    ).all()
    assert labels.count("cli") == 2
    everyone = runner.invoke(
        args=["agreements", "sign", "--merchant", shop.code, "--all", "--gold", "90",
              "--silver", "96", "--from", "2026-01-01"]
    )  # fmt: skip
    assert everyone.exit_code == 0, everyone.output
    assert count(session, Agreement, Agreement.merchant_id == shop.id) == 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--community", "C99"], "找不到社区 C99"),
        (["--all", "--community", "HOME"], "二者选一"),
        (["--community", "HOME", "--gold", "120"], "1 到 100"),
        (["--community", "HOME", "--gold", "8.8"], "9折请写 90"),
        (["--community", "HOME", "--gold", "96"], "金卡的折扣不能少于银卡"),
        (["--community", "HOME", "--cap", "5o"], "--cap"),
        (["--community", "HOME", "--from", "2026-02-30"], "--from"),
        (["--community", "HOME", "--until", "2025-12-31"], "截止日期不能早于生效日期"),
    ],
)
def test_cli_bad_input_is_an_error_and_writes_nothing(runner, world, session, args, words):
    shop = factories.merchant(session)
    session.commit()
    args = [world.home.code if arg == "HOME" else arg for arg in args]
    base = {"--gold": "88", "--silver": "95", "--from": "2026-01-01"}
    for option, value in base.items():
        if option not in args:
            args += [option, value]
    refused = runner.invoke(args=["agreements", "sign", "--merchant", shop.code, *args])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("错误：") and words in refused.stderr, refused.stderr
    session.expire_all()
    assert count(session, Agreement, Agreement.merchant_id == shop.id) == 0


def test_cli_refuses_signing_an_already_signed_community(runner, world, session):
    refused = runner.invoke(
        args=["agreements", "sign", "--merchant", world.shop.code, "--community", world.home.code,
              "--gold", "88", "--silver", "95", "--from", "2026-01-01"]
    )  # fmt: skip
    assert refused.exit_code == 1 and "请在该协议上修订" in refused.stderr
    assert count(session, AgreementVersion) == 1


def test_cli_amend_keeps_the_terms_not_given(runner, world, session, clock):
    agreement = home_agreement(session, world)
    until = clock.today + timedelta(days=120)
    agreements.amend_agreement(
        session,
        ADMIN,
        agreement.id,
        terms(clock.today, cap_fen=3000, valid_until=until),
    )
    session.commit()
    start = clock.today + timedelta(days=30)
    done = runner.invoke(
        args=["agreements", "amend", "--merchant", world.shop.code, "--community", world.home.code,
              "--silver", "93", "--from", start.isoformat(), "--note", "银卡加大"]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "第 3 版" in done.stdout and "保留原来的条款" in done.stdout
    assert versions_of(session, agreement.id)[-1] == (
        3, 88, 93, 3000, 0, start, until
    )  # fmt: skip
    backdated = runner.invoke(
        args=["agreements", "amend", "--merchant", world.shop.code, "--community", world.home.code,
              "--gold", "80", "--from", (clock.today - timedelta(days=1)).isoformat()]
    )  # fmt: skip
    assert backdated.exit_code == 1 and backdated.stderr.startswith("错误：修订不能追溯")
    assert len(versions_of(session, agreement.id)) == 3


def test_cli_end(runner, world, session, clock, tokens):
    agreement = home_agreement(session, world)
    last_day = clock.today + timedelta(days=60)
    done = runner.invoke(
        args=["agreements", "end", "--merchant", world.shop.code, "--community", world.home.code,
              "--on", last_day.isoformat()]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert last_day.isoformat() in done.stdout and "第 2 版" in done.stdout
    assert versions_of(session, agreement.id)[-1][-1] == last_day
    assert pay_percent_on(session, world, tokens, last_day + timedelta(days=1)) is None
    listed = runner.invoke(args=["agreements", "list", "--expiring", "60"])
    assert world.shop.code in listed.stdout and "共 1 份协议" in listed.stdout
    missing = runner.invoke(
        args=["agreements", "end", "--merchant", world.shop.code, "--community", world.other.code,
              "--on", last_day.isoformat()]
    )  # fmt: skip
    assert missing.exit_code == 1 and "没有协议" in missing.stderr
