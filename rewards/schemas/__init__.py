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
from rewards.schemas.people import (
    ActivityRequestSchema,
    ActivitySchema,
    AdjustmentRequestSchema,
    AttendanceRequestSchema,
    AttendanceResultSchema,
    CategorySchema,
    CertifyRequestSchema,
    ClaimPageSchema,
    ClaimQuerySchema,
    ClaimSchema,
    LedgerEntrySchema,
    MemberPageSchema,
    MemberQuerySchema,
    RejectRequestSchema,
    RosterMemberSchema,
    TokenRequestSchema,
    TokenSchema,
)
from rewards.schemas.redemption import (
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
    VoidRequestSchema,
)

__all__ = [
    "ActivityRequestSchema",
    "ActivitySchema",
    "AdjustmentRequestSchema",
    "AttendanceRequestSchema",
    "AttendanceResultSchema",
    "CategorySchema",
    "CertifyRequestSchema",
    "ClaimPageSchema",
    "ClaimQuerySchema",
    "ClaimSchema",
    "ConfirmRequestSchema",
    "DiscountRuleSchema",
    "ErrorSchema",
    "LedgerEntrySchema",
    "MemberPageSchema",
    "MemberQuerySchema",
    "PreviewRequestSchema",
    "QuoteSchema",
    "RedemptionPageSchema",
    "RedemptionQuerySchema",
    "RedemptionSchema",
    "RejectRequestSchema",
    "RosterMemberSchema",
    "TokenRequestSchema",
    "TokenSchema",
    "VoidRequestSchema",
    "YuanAmount",
    "validation_error",
]
