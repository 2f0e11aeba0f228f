"""Schemathesis against the served OpenAPI document: whatever a POS sends, valid or not, the API
answers with a documented status and body, never a server error. Kept small and derandomised
(a few examples per call and mode), so it runs in seconds."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from sqlalchemy.orm import Session

from rewards.models import Role
from rewards.services import checkout
from rewards.services.audit import Actor
from tests import factories
from tests.fuzzing import bounded, call_and_check
from tests.test_api import bearer, new_key, sale

schemathesis = pytest.importorskip("schemathesis")
GenerationMode = schemathesis.GenerationMode

CALLS = [
    ("POST", "/api/v1/checkout/preview"),
    ("POST", "/api/v1/checkout/redemptions"),
    ("POST", "/api/v1/redemptions/{redemption_id}/void"),
    ("GET", "/api/v1/redemptions"),
    ("GET", "/api/v1/redemptions/{redemption_id}"),
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), CALLS, ids=[f"{m} {p}" for m, p in CALLS])
def test_every_call_answers_as_documented(
    app: Flask,
    world: factories.World,
    session: Session,
    method: str,
    path: str,
    mode: Any,
) -> None:
    headers = bearer(new_key(session, world.shop.id))
    # Something to list, read and void: one completed sale and one voided.
    sale(session, world, world.shop.id)
    voided = sale(session, world, world.shop.id)
    pos = Actor(label="tests-pos", role=Role.CASHIER, merchant_id=world.shop.id)
    checkout.void(session, pos, voided.id, "顾客退货")
    session.commit()
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @bounded()
    def answers_as_documented(case: Any) -> None:
        call_and_check(case, headers)

    answers_as_documented()
