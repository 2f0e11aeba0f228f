"""The model: one module per concept. Importing this package registers every table."""

from rewards.models.account import ROLE_LABELS, Account, Role
from rewards.models.agreement import Agreement, AgreementVersion
from rewards.models.audit import AuditEvent
from rewards.models.card import CARD_STATUS_LABELS, Card, CardStatus
from rewards.models.claim import (
    CLAIM_STATUS_LABELS,
    Activity,
    Attendance,
    Claim,
    ClaimPhoto,
    ClaimStatus,
    PointCategory,
)
from rewards.models.community import Community
from rewards.models.credentials import AccessToken, ActivationCode
from rewards.models.form_token import FormToken
from rewards.models.ledger import (
    CheckpointKind,
    EntryKind,
    LedgerCheckpoint,
    LedgerCheckpointHead,
    LedgerEntry,
)
from rewards.models.member import Member, MemberStatus, MemberTransfer, mask_name
from rewards.models.merchant import ApiKey, Merchant
from rewards.models.notice import Notice
from rewards.models.redemption import Redemption, RedemptionStatus
from rewards.models.tier import TIER_LABELS, Tier, TierPolicy

__all__ = [
    "CARD_STATUS_LABELS",
    "CLAIM_STATUS_LABELS",
    "ROLE_LABELS",
    "TIER_LABELS",
    "AccessToken",
    "Account",
    "ActivationCode",
    "Activity",
    "Agreement",
    "AgreementVersion",
    "ApiKey",
    "Attendance",
    "AuditEvent",
    "Card",
    "CardStatus",
    "CheckpointKind",
    "Claim",
    "ClaimPhoto",
    "ClaimStatus",
    "Community",
    "EntryKind",
    "FormToken",
    "LedgerCheckpoint",
    "LedgerCheckpointHead",
    "LedgerEntry",
    "Member",
    "MemberStatus",
    "MemberTransfer",
    "Merchant",
    "Notice",
    "PointCategory",
    "Redemption",
    "RedemptionStatus",
    "Role",
    "Tier",
    "TierPolicy",
    "mask_name",
]
