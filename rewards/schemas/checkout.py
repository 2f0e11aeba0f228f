"""Checkout schemas: the preview and confirm requests, and the quote a cashier sees."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from rewards.errors import AmountInvalid
from rewards.models import TIER_LABELS
from rewards.money import MAX_AMOUNT_FEN, format_fen, format_zhe, parse_yuan
from rewards.schemas.base import RequestSchema, Text
from rewards.services.checkout import MAX_IDEMPOTENCY_KEY_LENGTH

MAX_TOKEN_LENGTH = 512
MIN_IDEMPOTENCY_KEY_LENGTH = 8


class YuanAmount(Text):
    """A bill in yuan, typed as text ("128.50"): a JSON number is refused, so money is never a
    float. Loads to the same text once ``parse_yuan`` has accepted it."""

    default_error_messages = {
        "required": '缺少金额，请以文本形式提供，例如 "128.50"。',
        "null": '金额不能为 null，请以文本形式提供，例如 "128.50"。',
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            parse_yuan(value)
        except AmountInvalid as exc:
            raise ValidationError(exc.message) from exc
        return value


def _amount_field() -> YuanAmount:
    return YuanAmount(
        required=True,
        metadata={
            "description": (
                "消费金额，以元为单位的文本，最多两位小数，必须大于 0，"
                f"不超过 {format_fen(MAX_AMOUNT_FEN)}；不接受 JSON 数字。"
            ),
            "example": "128.50",
            "pattern": r"^[0-9]{1,9}(\.[0-9]{1,2})?$",
        },
    )


def _token_field() -> Text:
    return Text(
        required=True,
        validate=validate.Length(max=MAX_TOKEN_LENGTH, error="卡码太长，请重新扫码。"),
        metadata={
            "description": "扫到的会员卡码（手机动态码或实体卡码），或手工输入的 12 位卡号。",
            "example": "812345678903",
        },
    )


class PreviewRequestSchema(RequestSchema):
    """Preview: the shown card and the bill; nothing is recorded."""

    token = _token_field()
    amount = _amount_field()


class ConfirmRequestSchema(RequestSchema):
    """Confirm: the shown card, the bill and the POS's key for this one sale (retry-safe)."""

    token = _token_field()
    amount = _amount_field()
    idempotency_key = Text(
        required=True,
        validate=validate.Length(
            min=MIN_IDEMPOTENCY_KEY_LENGTH,
            max=MAX_IDEMPOTENCY_KEY_LENGTH,
            error="幂等键需要 {min} 到 {max} 个字符。",
        ),
        metadata={
            "description": (
                "POS 为这一笔结算生成的唯一键（8–80 个字符，建议 UUID）。网络重试时原样重发；"
                "同一个键配不同的卡码或金额会被拒绝（conflict）。"
            ),
            "example": "pos1-20240501-000123",
        },
    )


class DiscountRuleSchema(Schema):
    """The agreement terms that decided the discount."""

    agreement_id = fields.Integer(required=True, attribute="version.agreement_id")
    agreement_version = fields.Integer(
        required=True,
        attribute="version.version",
        metadata={"description": "协议版本号；协议修订后版本号增加。"},
    )
    pay_percent = fields.Integer(
        required=True, metadata={"description": "实付百分比：88 表示 88折（优惠 12%）。"}
    )
    zhe = fields.Function(
        lambda terms: format_zhe(terms.pay_percent),
        required=True,
        metadata={"type": "string", "example": "88折"},
    )
    cap_fen = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "单笔优惠上限（分）；null 表示不设上限。"},
    )
    min_spend_fen = fields.Integer(
        required=True, metadata={"description": "享受优惠的最低消费（分）；0 表示不限。"}
    )


class QuoteSchema(Schema):
    """What the POS shows before confirming: a masked holder, the tier, the terms, the sums."""

    tier = fields.String(
        required=True, attribute="standing.tier", metadata={"enum": ["gold", "silver"]}
    )
    tier_label = fields.Function(
        lambda quote: TIER_LABELS[quote.standing.tier],
        required=True,
        metadata={"type": "string", "example": "金卡"},
    )
    masked_name = fields.String(
        required=True, attribute="member.masked_name", metadata={"example": "张*明"}
    )
    card_tail = fields.String(
        required=True,
        attribute="card.tail",
        metadata={"description": "卡号后 4 位。", "example": "8903"},
    )
    community = fields.String(
        required=True,
        attribute="member.community.name",
        metadata={"description": "持卡人报到的社区。"},
    )
    token_kind = fields.String(
        required=True,
        metadata={
            "enum": ["phone", "printed", "card_number", "offline"],
            "description": (
                "phone：手机动态码（一次有效）；printed：实体卡码；card_number：手输卡号；"
                "offline：手机离线卡码（18 位数字，一次有效）。"
            ),
        },
    )
    rule = fields.Nested(DiscountRuleSchema, required=True, attribute="terms")
    amount_fen = fields.Integer(required=True, metadata={"example": 12850})
    discount_fen = fields.Integer(required=True, metadata={"example": 1542})
    payable_fen = fields.Integer(required=True, metadata={"example": 11308})
