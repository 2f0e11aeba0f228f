"""Schemathesis against the served OpenAPI document, for the people API with a secretary's
token: whatever a phone app or a district platform sends, valid or not, the API answers with a
documented status and the contract's error body, never a server error. Kept small and
derandomised (a few examples per call and mode), so it runs in seconds."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from sqlalchemy.orm import Session

from rewards.services import claims
from tests import factories
from tests.fuzzing import bounded, call_and_check
from tests.test_people_api import activity_of, claim_of, token_for

schemathesis = pytest.importorskip("schemathesis")
GenerationMode = schemathesis.GenerationMode
CALLS = [
    ("POST", "/api/v1/auth/token"),
    ("DELETE", "/api/v1/auth/token"),
    ("GET", "/api/v1/categories"),
    ("GET", "/api/v1/claims"),
    ("POST", "/api/v1/claims/{claim_id}/certify"),
    ("POST", "/api/v1/claims/{claim_id}/reject"),
    ("GET", "/api/v1/members"),
    ("POST", "/api/v1/members/{member_no}/adjustments"),
    ("POST", "/api/v1/activities"),
    ("POST", "/api/v1/activities/{activity_id}/attendance"),
]


def populate(session: Session, world: factories.World) -> dict[str, Any]:
    """Something to list and act on: pending and decided claims, an activity, another
    community's claim and member. Returns path parameters naming the secretary's own objects."""
    pending = [claim_of(session, world, member) for member in (world.gold, world.silver)]
    decided = claim_of(session, world, world.plain)
    claims.reject_claim(session, factories.OPERATOR, decided.id, "重复申报")
    activity = activity_of(session, world, world.home.id)
    claim_of(session, world, factories.member(session, world.other, name="赵六"))
    session.commit()
    return {
        "claim_id": pending[0].id,
        "activity_id": activity.id,
        "member_no": world.plain.member_no,
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), CALLS, ids=[f"{m} {p}" for m, p in CALLS])
def test_every_people_call_answers_as_documented(
    app: Flask,
    world: factories.World,
    session: Session,
    method: str,
    path: str,
    mode: Any,
) -> None:
    own = populate(session, world)
    headers = token_for(session, world.secretary)
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @bounded()
    def answers_as_documented(case: Any) -> None:
        # Signing out spends the token: every sign-out gets a fresh one.
        sent = token_for(session, world.secretary) if method == "DELETE" else headers
        if mode == GenerationMode.POSITIVE and case.path_parameters:
            # Random ids are simply not found: aim valid bodies at objects that exist.
            case.path_parameters = {name: own[name] for name in case.path_parameters}
        call_and_check(case, sent)

    answers_as_documented()
