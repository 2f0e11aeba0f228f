"""The POS hot path stays cheap without bending a rule: each row read once, retries still safe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from rewards.extensions import db
from rewards.models import Redemption, Role, Tier
from rewards.services import cards, checkout, merchants, tiers
from rewards.services.audit import Actor
from tests import factories
from tests.conftest import is_postgres

PREVIEW = "/api/v1/checkout/preview"
CONFIRM = "/api/v1/checkout/redemptions"
ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (BEGIN and COMMIT are not statements here)."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def _key(session: Session, merchant_id: int) -> dict[str, str]:
    _, key = merchants.create_api_key(session, ADMIN, merchant_id, "1号收银台")
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_a_pos_preview_reads_key_card_tier_and_terms_once_each(client, world, session, tokens):
    headers = _key(session, world.shop.id)
    body = {"token": tokens.printed_token(world.gold_card), "amount": "100.00"}
    assert client.post(PREVIEW, json=body, headers=headers).status_code == 200  # notes key use
    session.expunge_all()  # nothing the test loaded may stand in for what the request reads
    with statements() as sent:
        response = client.post(PREVIEW, json=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["discount_fen"] == 1200
    # key with merchant, card with holder, tier (policy and points: one query on PostgreSQL),
    # terms; nothing is written and nothing read twice.
    assert len(sent) == (4 if is_postgres() else 5), sent
    assert not any(sql.startswith(("INSERT", "UPDATE", "DELETE")) for sql in sent)
    assert sum("merchants.is_enabled" in sql for sql in sent) == 1  # with the key, once


def test_a_pos_confirm_describes_the_sale_without_reading_the_holder_again(
    client, world, session, tokens
):
    headers = _key(session, world.shop.id)
    warm = {"token": tokens.printed_token(world.gold_card), "amount": "100.00"}
    assert client.post(PREVIEW, json=warm, headers=headers).status_code == 200
    session.expunge_all()
    token, _ = tokens.phone_token(world.gold_card)
    body = {"token": token, "amount": "100.00", "idempotency_key": "pos1-hot-0001"}
    with statements() as sent:
        response = client.post(CONFIRM, json=body, headers=headers)
    assert response.status_code == 201
    sale = response.get_json()
    assert (sale["discount_fen"], sale["card_tail"]) == (1200, world.gold_card.card_no[-4:])
    assert sale["masked_name"] not in ("", world.gold.name)
    inserts = [sql.split(" (")[0] for sql in sent if sql.startswith("INSERT")]
    assert inserts == ["INSERT INTO redemptions", "INSERT INTO audit_events"]
    assert not any(sql.startswith("SELECT") and "FROM members" in sql for sql in sent[-2:])
    assert len(sent) == (6 if is_postgres() else 7), sent


def test_a_retry_after_the_card_was_suspended_still_returns_the_redemption(world, session, tokens):
    actor = world.actor(world.cashier)
    token, _ = tokens.phone_token(world.gold_card)
    first, _ = checkout.confirm(session, actor, tokens, token, "20.00", "retry-suspended")
    session.commit()
    cards.suspend_card(session, ADMIN, world.gold_card.id, "挂失")
    session.commit()
    again, created = checkout.confirm(session, actor, tokens, token, "20.00", "retry-suspended")
    assert (again.id, created) == (first.id, False)


def test_a_retry_with_a_printed_card_returns_the_redemption_and_adds_no_row(world, session, tokens):
    actor = world.actor(world.cashier)
    printed = tokens.printed_token(world.gold_card)
    first, created_first = checkout.confirm(session, actor, tokens, printed, "30.00", "retry-card")
    session.commit()
    again, created = checkout.confirm(session, actor, tokens, printed, "30.00", "retry-card")
    session.commit()
    assert created_first and (again.id, created) == (first.id, False)
    assert session.scalar(select(func.count()).select_from(Redemption)) == 1


def test_the_tier_window_at_a_month_end_follows_months_before(session):
    tiers.set_policy(session, ADMIN, 100, 50, window_months=12, effective_from=LONG_AGO)
    member = factories.member(session, factories.community(session))
    factories.points(session, member, 40, occurred_on=date(2024, 2, 28))  # just outside
    factories.points(session, member, 60, occurred_on=date(2024, 2, 29))  # first day inside
    factories.points(session, member, 5, occurred_on=date(2025, 3, 1))  # not yet earned
    session.commit()
    # 28 Feb 2025 less 12 months is 28 Feb 2024, so the window opens on the leap day.
    standing = tiers.evaluate_tier(session, member.id, at=datetime(2025, 2, 28, 4, tzinfo=UTC))
    assert (standing.points, standing.tier) == (60, Tier.SILVER)
    assert (standing.window_start, standing.window_end) == (date(2024, 2, 29), date(2025, 2, 28))
