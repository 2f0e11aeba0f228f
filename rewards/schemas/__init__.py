"""Marshmallow schemas shared by the POS API and the pages: what a request may say, what a
response shows (never more than a merchant may see)."""

from rewards.schemas.checkout import (
    ConfirmRequestSchema,
    DiscountRuleSchema,
    PreviewRequestSchema,
    QuoteSchema,
    YuanAmount,
)
from rewards.schemas.errors import ErrorSchema, validation_error
from rewards.schemas.redemption import (
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
    VoidRequestSchema,
)

__all__ = [
    "ConfirmRequestSchema",
    "DiscountRuleSchema",
    "ErrorSchema",
    "PreviewRequestSchema",
    "QuoteSchema",
    "RedemptionPageSchema",
    "RedemptionQuerySchema",
    "RedemptionSchema",
    "VoidRequestSchema",
    "YuanAmount",
    "validation_error",
]
