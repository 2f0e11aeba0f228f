"""Schemathesis against the served OpenAPI document, for the member's calls of the people API
with a member's token: whatever a phone app sends, valid or not, the API answers with a
documented status and the contract's error body, never a server error. Kept small and
derandomised (a few examples per call and mode), so it runs in seconds."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from sqlalchemy.orm import Session

from rewards.models import Role
from rewards.services import claims
from tests import factories
from tests.clock import today
from tests.fuzzing import bounded, call_and_check
from tests.test_people_api import claim_of, token_for

schemathesis = pytest.importorskip("schemathesis")
GenerationMode = schemathesis.GenerationMode
CALLS = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/ledger"),
    ("POST", "/api/v1/me/claims"),
    ("GET", "/api/v1/me/claims"),
    ("GET", "/api/v1/merchants"),
    ("POST", "/api/v1/me/card/offline-key"),
    ("GET", "/api/v1/me/export"),
]


def populate(session: Session, world: factories.World) -> None:
    """Something to list: the member's pending and rejected claims, another member's claim."""
    claim_of(session, world, world.gold)
    rejected = claim_of(session, world, world.gold)
    claims.reject_claim(session, factories.OPERATOR, rejected.id, "重复申报")
    claim_of(session, world, world.silver)
    session.commit()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), CALLS, ids=[f"{m} {p}" for m, p in CALLS])
def test_every_member_call_answers_as_documented(
    app: Flask,
    world: factories.World,
    session: Session,
    method: str,
    path: str,
    mode: Any,
) -> None:
    populate(session, world)
    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    headers = token_for(session, account)
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @bounded()
    def answers_as_documented(case: Any) -> None:
        if mode == GenerationMode.POSITIVE and isinstance(case.body, dict) and method == "POST":
            # Random category codes are simply unknown: aim valid claims at one that exists,
            # so any description is stored and answered too.
            case.body |= {"category": world.category.code, "occurred_on": today().isoformat()}
        call_and_check(case, headers)

    answers_as_documented()
