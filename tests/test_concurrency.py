"""Races that only real row locks and UNIQUE constraints settle: 20 threads start together.

PostgreSQL only (SQLite ignores FOR UPDATE and serialises whole-database writes). Each thread has
its own app context and its own session from a dedicated engine big enough for all of them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from rewards.errors import DomainError
from rewards.extensions import db
from rewards.models import Attendance, Card, CardStatus, LedgerEntry, Redemption
from rewards.services import activities, cards, checkout, claims
from tests import factories

pytestmark = pytest.mark.postgres_only

THREADS = 20


@dataclass(frozen=True)
class Outcome:
    """What one thread got: a value, a domain error code, or an unexpected exception."""

    value: object = None
    code: str | None = None
    crash: str | None = None


@pytest.fixture()
def engine(app: Flask, session: Session) -> Iterator[Engine]:
    """A separate pool with room for every thread (the default is 5 + 10 overflow)."""
    dedicated = create_engine(db.engine.url, pool_size=THREADS + 5, max_overflow=0)
    yield dedicated
    dedicated.dispose()


def run_together(
    app: Flask, engine: Engine, work: Callable[[Session, int], object]
) -> list[Outcome]:
    """Run ``work(session, i)`` in THREADS threads released at once; commit each that succeeds."""
    barrier = threading.Barrier(THREADS)
    outcomes: list[Outcome | None] = [None] * THREADS

    def runner(i: int) -> None:
        with app.app_context(), Session(engine) as session:
            barrier.wait(timeout=30)
            try:
                value = work(session, i)
                session.commit()
                outcomes[i] = Outcome(value=value)
            except DomainError as error:
                session.rollback()
                outcomes[i] = Outcome(code=error.code)
            except Exception as error:  # a crash is a failure the test must show
                session.rollback()
                outcomes[i] = Outcome(crash=repr(error))

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    assert all(o is not None for o in outcomes)
    crashes = [o.crash for o in outcomes if o and o.crash]
    assert crashes == [], crashes
    return outcomes  # type: ignore[return-value]


def _count(session: Session, model: type, *where: object) -> int:
    session.rollback()  # a fresh snapshot
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_one_phone_token_pays_once_under_twenty_simultaneous_confirms(
    app, world, session, tokens, engine
):
    token, _ = tokens.phone_token(world.gold_card)
    actor = world.actor(world.cashier)
    session.commit()

    def confirm(s: Session, i: int) -> object:
        redemption, created = checkout.confirm(
            s, actor, tokens, token, "88.00", f"race-key-{i:04d}"
        )
        return redemption.id, created

    outcomes = run_together(app, engine, confirm)

    successes = [o.value for o in outcomes if o.code is None]
    assert len(successes) == 1 and successes[0][1] is True
    assert Counter(o.code for o in outcomes if o.code) == {"token_used": THREADS - 1}
    assert _count(session, Redemption) == 1


def test_twenty_simultaneous_certifications_give_one_entry_and_nineteen_conflicts(
    app,
    world,
    session,
    engine,
    clock,
):
    claim = claims.submit_claim(
        session,
        world.actor(world.secretary),
        world.plain.id,
        world.category.id,
        "为社区老人理发",
        clock.today - timedelta(days=1),
        points=6,
    )
    session.commit()
    secretary = world.actor(world.secretary)

    outcomes = run_together(
        app, engine, lambda s, i: claims.certify_claim(s, secretary, claim.id).id
    )

    assert sum(1 for o in outcomes if o.code is None) == 1
    assert Counter(o.code for o in outcomes if o.code) == {"conflict": THREADS - 1}
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "claim") == 1
    assert (
        session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.member_id == world.plain.id)
        )
        == 16
    )


def test_one_idempotency_key_records_one_redemption_under_twenty_simultaneous_confirms(
    app, world, session, tokens, engine
):
    token, _ = tokens.phone_token(world.gold_card)
    actor = world.actor(world.cashier)
    session.commit()

    def confirm(s: Session, i: int) -> object:
        redemption, created = checkout.confirm(s, actor, tokens, token, "88.00", "one-key-for-all")
        return redemption.id, created

    outcomes = run_together(app, engine, confirm)

    assert [o.code for o in outcomes] == [None] * THREADS
    assert len({o.value[0] for o in outcomes}) == 1
    assert sum(1 for o in outcomes if o.value[1]) == 1  # exactly one thread created it
    assert _count(session, Redemption) == 1


def test_one_card_is_issued_under_twenty_simultaneous_issues(app, world, session, engine):
    member = factories.member(session, world.home, name="周八")
    session.commit()
    secretary = world.actor(world.secretary)

    outcomes = run_together(app, engine, lambda s, i: cards.issue_card(s, secretary, member.id).id)

    assert sum(1 for o in outcomes if o.code is None) == 1
    assert Counter(o.code for o in outcomes if o.code) == {"conflict": THREADS - 1}
    assert _count(session, Card, Card.member_id == member.id, Card.status == CardStatus.ACTIVE) == 1


def test_one_attendance_batch_credits_once_under_twenty_simultaneous_submissions(
    app,
    world,
    session,
    engine,
    clock,
):
    secretary = world.actor(world.secretary)
    activity = activities.create_activity(
        session, secretary, world.home.id, world.category.id, "党员志愿日", clock.today, 4
    )
    session.commit()
    batch = [world.gold.member_no, world.silver.member_no, world.plain.member_no]

    outcomes = run_together(
        app,
        engine,
        lambda s, i: activities.record_attendance(s, secretary, activity.id, batch).credited,
    )

    assert [o.code for o in outcomes] == [None] * THREADS
    assert sum(len(o.value) for o in outcomes) == len(batch)
    assert _count(session, Attendance) == len(batch)
    assert _count(session, LedgerEntry, LedgerEntry.source_type == "activity") == len(batch)
