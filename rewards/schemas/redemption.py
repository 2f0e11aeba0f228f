"""Redemption schemas: a recorded sale as a merchant sees it, the void request, the list query."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from rewards.models import TIER_LABELS
from rewards.money import format_zhe
from rewards.schemas.base import BusinessDate, RequestSchema, Text, WholeNumber

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Beyond this an OFFSET only burns database time; no merchant has a million pages of sales.
MAX_PAGE = 100_000


class RedemptionSchema(Schema):
    """A discounted sale (优惠结算) with the terms it was granted under, holder masked."""

    id = fields.Integer(required=True)
    number = fields.String(
        required=True,
        metadata={"description": "结算单号，印在小票上。", "example": "24050112345678"},
    )
    status = fields.String(required=True, metadata={"enum": ["completed", "voided"]})
    amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    tier = fields.String(required=True, metadata={"enum": ["gold", "silver"]})
    tier_label = fields.Function(
        lambda r: TIER_LABELS[r.tier], required=True, metadata={"type": "string"}
    )
    pay_percent = fields.Integer(required=True)
    zhe = fields.Function(
        lambda r: format_zhe(r.pay_percent),
        required=True,
        metadata={"type": "string", "example": "88折"},
    )
    cap_fen = fields.Integer(required=True, allow_none=True)
    min_spend_fen = fields.Integer(required=True)
    masked_name = fields.String(required=True, metadata={"example": "张*明"})
    card_tail = fields.String(required=True, metadata={"example": "8903"})
    business_date = fields.Date(
        required=True, metadata={"description": "营业日（北京时间的日期）。"}
    )
    created_at = fields.DateTime(required=True, metadata={"description": "ISO 8601，UTC。"})
    voided_at = fields.DateTime(required=True, allow_none=True)
    void_reason = fields.String(required=True, allow_none=True)


class VoidRequestSchema(RequestSchema):
    """Void a sale of today: the reason is kept with the record."""

    reason = Text(
        required=True,
        validate=validate.Length(min=2, max=200, error="撤销原因需要 {min} 到 {max} 个字。"),
        metadata={"example": "顾客退货"},
    )


class RedemptionQuerySchema(RequestSchema):
    """Which of the merchant's sales to list: business dates (inclusive) and the page."""

    date_from = BusinessDate(
        data_key="from", metadata={"description": "起始营业日（含），YYYY-MM-DD。"}
    )
    date_to = BusinessDate(
        data_key="to", metadata={"description": "截止营业日（含），YYYY-MM-DD。"}
    )
    page = WholeNumber(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE, error="页码需在 {min} 到 {max} 之间。"),
    )
    page_size = WholeNumber(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(
            min=1, max=MAX_PAGE_SIZE, error="每页条数需在 {min} 到 {max} 之间。"
        ),
    )

    @validates_schema
    def _dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError("起始日期不能晚于截止日期。", field_name="from")


class RedemptionPageSchema(Schema):
    """One page of sales, newest first, with the total matching the filter."""

    items = fields.List(fields.Nested(RedemptionSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
