"""Rule 4: one current card per member, a checked number, and a lifecycle that kills old codes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import (
    CardRevoked,
    CardSuspended,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from rewards.models import Card, CardStatus, MemberStatus, Role, Tier
from rewards.services import cards
from rewards.services.audit import Actor
from rewards.services.cards import TokenKind
from tests import factories


def _cards_of(session: Session, member_id: int) -> list[Card]:
    return list(
        session.scalars(select(Card).where(Card.member_id == member_id).order_by(Card.generation))
    )


def _insert_card_row(session: Session, member_id: int, status: str, generation: int) -> None:
    with session.begin_nested():
        session.execute(
            insert(Card.__table__).values(
                card_no=cards.new_card_number(),
                member_id=member_id,
                generation=generation,
                status=status,
                issued_at=utcnow(),
            )
        )


# -- one current card -------------------------------------------------------------------------


def test_one_current_card_per_member(world, session):
    with pytest.raises(Conflict) as caught:
        cards.issue_card(session, world.actor(world.secretary), world.gold.id)
    assert "补办" in caught.value.message
    session.rollback()
    assert len(_cards_of(session, world.gold.id)) == 1


def test_a_suspended_card_still_counts_as_the_current_card(world, session):
    secretary = world.actor(world.secretary)
    cards.suspend_card(session, secretary, world.gold_card.id, "挂失")
    session.commit()
    with pytest.raises(Conflict):
        cards.issue_card(session, secretary, world.gold.id)


@pytest.mark.parametrize("status", ["active", "suspended"])
def test_database_refuses_a_second_current_card_row(world, session, status: str):
    with pytest.raises(IntegrityError):
        _insert_card_row(session, world.gold.id, status, generation=2)
    session.rollback()
    assert len(_cards_of(session, world.gold.id)) == 1


def test_database_keeps_any_number_of_old_cards(world, session):
    _insert_card_row(session, world.gold.id, "replaced", generation=2)
    _insert_card_row(session, world.gold.id, "revoked", generation=3)
    session.commit()
    assert [c.status for c in _cards_of(session, world.gold.id)] == [
        CardStatus.ACTIVE,
        CardStatus.REPLACED,
        CardStatus.REVOKED,
    ]


def test_a_member_whose_card_was_revoked_can_be_issued_a_new_one(world, session):
    secretary = world.actor(world.secretary)
    cards.revoke_card(session, secretary, world.gold_card.id, "注销")
    new = cards.issue_card(session, secretary, world.gold.id)
    session.commit()
    assert new.generation == 2
    assert cards.current_card(session, world.gold.id).id == new.id


def test_inactive_member_gets_no_card(world, session):
    member = factories.member(session, world.home, name="孙七")
    member.status = MemberStatus.INACTIVE
    session.commit()
    with pytest.raises(ValidationFailed):
        cards.issue_card(session, world.actor(world.secretary), member.id)


# -- card numbers -----------------------------------------------------------------------------


def test_card_number_check_digit_is_luhn():
    assert cards.luhn_check_digit("7992739871") == "3"  # the textbook example
    assert cards.is_valid_card_number("812345678906")  # worked by hand: digit sum 54
    assert not cards.is_valid_card_number("812345678901")


def test_new_card_numbers_have_the_format_and_a_valid_check_digit():
    for _ in range(200):
        number = cards.new_card_number()
        assert len(number) == cards.CARD_NUMBER_DIGITS
        assert number.isdigit() and number[0] != "0"
        assert cards.is_valid_card_number(number)


def test_check_digit_catches_any_single_mistyped_digit():
    number = cards.new_card_number()
    for position in range(len(number)):
        for digit in "0123456789":
            if digit != number[position]:
                typo = number[:position] + digit + number[position + 1 :]
                assert not cards.is_valid_card_number(typo), typo


@pytest.mark.parametrize(
    "text", ["81234567890", "8123456789033", "8123456789O3", "²" * 12, "١" * 12, ""]
)
def test_anything_but_twelve_ascii_digits_is_not_a_card_number(text: str):
    assert not cards.is_valid_card_number(text)
    assert cards.normalise_card_number(text) is None


def test_typed_card_number_may_contain_spaces_and_dashes():
    assert cards.normalise_card_number("8123 4567-8903") == "812345678903"


@pytest.mark.parametrize(
    "typed", ["８１２３４５６７８９０３", "８１２３\u3000４５６７－８９０３", "8123 ４５６７ 8903"]
)
def test_a_card_number_typed_in_full_width_digits_is_read_as_plain_digits(typed: str):
    assert cards.normalise_card_number(typed) == "812345678903"
    assert cards.format_card_number("812345678903") == "8123 4567 8903"


def test_issued_cards_carry_a_valid_number_and_a_tail(world):
    card = world.gold_card
    assert cards.is_valid_card_number(card.card_no)
    assert card.tail == card.card_no[-4:]
    assert card.generation == 1


# -- lifecycle --------------------------------------------------------------------------------


def test_suspend_and_resume(world, session):
    secretary = world.actor(world.secretary)
    suspended = cards.suspend_card(session, secretary, world.gold_card.id, "会员申请暂停")
    assert (suspended.status, suspended.status_reason) == (CardStatus.SUSPENDED, "会员申请暂停")
    resumed = cards.resume_card(session, secretary, world.gold_card.id, "恢复")
    session.commit()
    assert resumed.status is CardStatus.ACTIVE


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "resume_card"),  # active cannot be resumed
        (["suspend_card"], "suspend_card"),
        (["revoke_card"], "suspend_card"),
        (["revoke_card"], "resume_card"),
        (["revoke_card"], "revoke_card"),
        (["revoke_card"], "reissue_card"),
        (["reissue_card"], "reissue_card"),
        (["reissue_card"], "suspend_card"),
        (["reissue_card"], "revoke_card"),
    ],
)
def test_invalid_card_transitions_are_conflicts(world, session, setup, action):
    secretary = world.actor(world.secretary)
    for step in setup:
        getattr(cards, step)(session, secretary, world.gold_card.id, "准备")
    session.commit()
    status_before = session.get(Card, world.gold_card.id).status
    with pytest.raises(Conflict):
        getattr(cards, action)(session, secretary, world.gold_card.id, "不允许")
    session.rollback()
    assert session.get(Card, world.gold_card.id).status is status_before


def test_status_change_needs_a_reason(world, session):
    with pytest.raises(ValidationFailed):
        cards.suspend_card(session, world.actor(world.secretary), world.gold_card.id, " ")
    assert session.get(Card, world.gold_card.id).status is CardStatus.ACTIVE


def test_reissue_replaces_the_old_card_with_a_new_generation(world, session):
    new = cards.reissue_card(session, world.actor(world.secretary), world.gold_card.id, "遗失")
    session.commit()
    old = session.get(Card, world.gold_card.id)
    assert old.status is CardStatus.REPLACED
    assert old.status_reason == "遗失"
    assert (new.status, new.generation, new.member_id) == (CardStatus.ACTIVE, 2, world.gold.id)
    assert new.card_no != old.card_no
    assert cards.current_card(session, world.gold.id).id == new.id


def test_reissue_kills_every_code_of_the_old_card(world, session, tokens):
    old = world.gold_card
    printed = tokens.printed_token(old)
    phone, _ = tokens.phone_token(old)
    typed = old.card_no
    new = cards.reissue_card(session, world.actor(world.secretary), old.id, "遗失")
    session.commit()

    for credential in (printed, phone, typed):
        with pytest.raises(CardRevoked) as caught:
            tokens.verify(session, credential)
        assert caught.value.code == "card_revoked"

    new_phone, _ = tokens.phone_token(new)
    assert tokens.verify(session, tokens.printed_token(new)).card.id == new.id
    assert tokens.verify(session, new_phone).card.id == new.id
    assert tokens.verify(session, new.card_no).card.id == new.id


def test_a_suspended_card_is_refused_with_card_suspended(world, session, tokens):
    card = world.gold_card
    credentials = [tokens.printed_token(card), tokens.phone_token(card)[0], card.card_no]
    cards.suspend_card(session, world.actor(world.secretary), card.id, "暂停")
    session.commit()
    for credential in credentials:
        with pytest.raises(CardSuspended) as caught:
            tokens.verify(session, credential)
        assert caught.value.code == "card_suspended"

    cards.resume_card(session, world.actor(world.secretary), card.id, "恢复")
    session.commit()
    assert tokens.verify(session, credentials[0]).kind is TokenKind.PRINTED


def test_a_revoked_card_is_refused_with_card_revoked(world, session, tokens):
    printed = tokens.printed_token(world.gold_card)
    cards.revoke_card(session, world.actor(world.secretary), world.gold_card.id, "退出")
    session.commit()
    with pytest.raises(CardRevoked):
        tokens.verify(session, printed)
    with pytest.raises(CardRevoked):
        tokens.verify(session, world.gold_card.card_no)


def test_secretary_manages_only_own_community_cards(world, session):
    other_secretary = Actor.for_account(
        factories.account(session, Role.SECRETARY, community=world.other)
    )
    session.commit()
    with pytest.raises(NotFound):  # another community's member is not found, not forbidden
        cards.issue_card(session, other_secretary, world.gold.id)
    for action in (cards.suspend_card, cards.revoke_card, cards.reissue_card):
        with pytest.raises(NotFound):
            action(session, other_secretary, world.gold_card.id, "越权")
    session.rollback()
    assert session.get(Card, world.gold_card.id).status is CardStatus.ACTIVE
    assert session.scalar(select(func.count()).select_from(Card)) == 3


def test_merchant_staff_cannot_manage_cards(world, session):
    with pytest.raises(Forbidden):
        cards.suspend_card(session, world.actor(world.manager), world.gold_card.id, "越权")


def test_newly_eligible_members_are_silver_or_better_without_a_current_card(world, session):
    waiting = factories.member(session, world.home, name="冯待卡")
    factories.points(session, waiting, 70)
    lapsed = factories.member(session, world.home, name="褚未达")
    factories.points(session, lapsed, 20)
    session.commit()
    found = cards.eligible_members(session, world.actor(world.secretary))
    assert [(m.id, tier) for m, tier in found.items] == [(waiting.id, Tier.SILVER)]


def test_issuing_many_cards_is_all_or_nothing_naming_the_member(world, session):
    first = factories.member(session, world.home, name="冯一")
    second = factories.member(session, world.home, name="冯二")
    session.commit()
    secretary = world.actor(world.secretary)
    with pytest.raises(Conflict) as caught:
        cards.issue_cards(session, secretary, [first.id, world.gold.id, second.id])
    assert world.gold.name in caught.value.message and "整批未发卡" in caught.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Card)) == 3
    issued = cards.issue_cards(session, secretary, [first.id, second.id])
    session.commit()
    assert {c.member_id for c in issued} == {first.id, second.id}


def test_printable_cards_carry_the_printed_token_and_stay_in_scope(world, session, tokens):
    secretary = world.actor(world.secretary)
    sheet = cards.printable_cards(session, secretary, tokens, [world.gold_card.id])
    assert sheet[0].token == tokens.printed_token(world.gold_card)
    assert tokens.verify(session, sheet[0].token).card.id == world.gold_card.id
    other = Actor.for_account(factories.account(session, Role.SECRETARY, community=world.other))
    with pytest.raises(NotFound):
        cards.printable_cards(session, other, tokens, [world.gold_card.id])
