"""The floor (基线): a minimal Flask app that does only the checkout's SQL round trips.

It speaks the POS contract's two URLs with the same Bearer header and JSON shapes, but preview is
one SELECT by primary key and confirm is one INSERT in a transaction: no token signature, no
ORM, no tier or agreement lookups, no audit record. The app's figures are read against it.
``FLOOR_DATABASE_URL`` names its database; ``create_app()`` is what gunicorn serves.
"""

from __future__ import annotations

import hmac
import os
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask import Flask, jsonify, request
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine

FLOOR_API_KEY = "floor-bench-key"

metadata = MetaData()
floor_cards = Table(
    "floor_cards",
    metadata,
    Column("card_no", String(16), primary_key=True),
    Column("masked_name", String(40), nullable=False),
    Column("tier", String(8), nullable=False),
    Column("points", Integer, nullable=False),
    Column("pay_percent", Integer, nullable=False),
)
floor_redemptions = Table(
    "floor_redemptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("card_no", String(16), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("discount_fen", Integer, nullable=False),
    Column("payable_fen", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def card_number(n: int) -> str:
    """The floor's n-th card number."""
    return f"F{n:011d}"


def prepare(url: str, cards: int) -> None:
    """Drop and recreate the floor's two tables and fill ``floor_cards``."""
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    rows = [
        {
            "card_no": card_number(n),
            "masked_name": "张*明",
            "tier": "gold" if n % 5 == 0 else "silver",
            "points": 60 + n % 90,
            "pay_percent": 88 if n % 5 == 0 else 95,
        }
        for n in range(cards)
    ]
    with engine.begin() as conn:
        conn.execute(insert(floor_cards), rows)
    engine.dispose()


def count_rows(url: str) -> int:
    """How many rows the floor's confirms inserted."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(floor_redemptions)).scalar_one()
    engine.dispose()
    return int(count)


def _error(code: str, message: str, status: int):  # type: ignore[no-untyped-def]
    return jsonify({"error": {"code": code, "message": message}}), status


def _amount_fen(text: object) -> int | None:
    try:
        fen = Decimal(str(text)) * 100
    except InvalidOperation:
        return None
    return int(fen) if fen == fen.to_integral_value() and fen > 0 else None


def create_app() -> Flask:
    """The floor app on ``FLOOR_DATABASE_URL``, with a pool sized like Flask-SQLAlchemy's."""
    app = Flask(__name__)
    engine: Engine = create_engine(os.environ["FLOOR_DATABASE_URL"], pool_size=5, max_overflow=10)
    app.extensions["floor.engine"] = engine
    expected = f"Bearer {FLOOR_API_KEY}"

    @app.before_request
    def authenticate():  # type: ignore[no-untyped-def]
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return _error("unauthorized", "bad key", 401)
        return None

    @app.post("/api/v1/checkout/preview")
    def preview():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        amount_fen = _amount_fen(body.get("amount"))
        if amount_fen is None:
            return _error("amount_invalid", "bad amount", 422)
        with engine.connect() as conn:
            card = conn.execute(
                select(floor_cards).where(floor_cards.c.card_no == body.get("token"))
            ).first()
        if card is None:
            return _error("token_invalid", "no such card", 422)
        discount = amount_fen * (100 - card.pay_percent) // 100
        return jsonify(
            {
                "card_tail": card.card_no[-4:],
                "masked_name": card.masked_name,
                "tier": card.tier,
                "points": card.points,
                "pay_percent": card.pay_percent,
                "cap_fen": None,
                "min_spend_fen": 0,
                "amount_fen": amount_fen,
                "discount_fen": discount,
                "payable_fen": amount_fen - discount,
            }
        )

    @app.post("/api/v1/checkout/redemptions")
    def confirm():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        amount_fen = _amount_fen(body.get("amount"))
        if amount_fen is None:
            return _error("amount_invalid", "bad amount", 422)
        discount = amount_fen * 5 // 100
        now = datetime.now(UTC)
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(floor_redemptions)
                .values(
                    idempotency_key=body.get("idempotency_key"),
                    card_no=str(body.get("token")),
                    amount_fen=amount_fen,
                    discount_fen=discount,
                    payable_fen=amount_fen - discount,
                    created_at=now,
                )
                .returning(floor_redemptions.c.id)
            ).scalar_one()
        return jsonify(
            {
                "id": new_id,
                "number": f"{now:%y%m%d}{new_id:08d}",
                "status": "completed",
                "card_tail": str(body.get("token"))[-4:],
                "amount_fen": amount_fen,
                "discount_fen": discount,
                "payable_fen": amount_fen - discount,
                "created_at": now.isoformat(),
            }
        ), 201

    return app
