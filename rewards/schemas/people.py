"""Schemas of the people API (人员接口): token sign-in, point categories and the secretary's
calls (claims, roster, adjustments, activities, attendance), requests and responses."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from rewards.clock import business_date
from rewards.models import ClaimStatus, EntryKind, Role, Tier
from rewards.schemas.base import BusinessDate, RequestSchema, Text, WholeNumber
from rewards.services.ledger import MAX_ADJUSTMENT_POINTS

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000
MAX_ATTENDEES = 5000
MAX_MEMBER_NO = 16
# Stored as "adjustment:api:<account id>:<key>" in an 80-character column.
MIN_ADJUSTMENT_KEY, MAX_ADJUSTMENT_KEY = 8, 40
# NUL and lone surrogates cannot be stored (PostgreSQL refuses NUL; UTF-8 has no surrogates).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
CLAIM_STATUSES = ("pending", "certified", "rejected", "all")


class PlainText(Text):
    """Text that can be stored and searched: no NUL character, no lone surrogate."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _UNSTORABLE.search(text):
            raise ValidationError("含有不能保存的控制字符。")
        return text


class JsonInteger(WholeNumber):
    """An integer given as a JSON number: no text ("5"), no fraction (1.5), no true/false."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("不能只有空格。")


def sized_text(low: int, high: int, **metadata: Any) -> PlainText:
    """Required text of ``low``..``high`` characters, not blank."""
    return PlainText(
        required=True,
        validate=[
            validate.Length(min=low, max=high, error="需要 {min} 到 {max} 个字。"),
            _not_blank,
        ],
        metadata=metadata,
    )


def page_fields() -> tuple[WholeNumber, WholeNumber]:
    page = WholeNumber(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE, error="页码需在 {min} 到 {max} 之间。"),
        metadata={"description": "页码，从 1 开始。"},
    )
    size = WholeNumber(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(
            min=1, max=MAX_PAGE_SIZE, error="每页条数需在 {min} 到 {max} 之间。"
        ),
        metadata={"description": f"每页条数，1 到 {MAX_PAGE_SIZE}，默认 {DEFAULT_PAGE_SIZE}。"},
    )
    return page, size


def _community_filter() -> PlainText:
    return PlainText(
        validate=validate.Length(min=1, max=8, error="社区代码需要 {min} 到 {max} 个字符。"),
        metadata={
            "description": (
                "社区代码（如 C01）。区管理员可按社区筛选，不填为全区；"
                "社区书记只能填本社区（其他社区报告为不存在）。"
            ),
            "example": "C01",
        },
    )


# -- sign-in and categories -------------------------------------------------------------------


class TokenRequestSchema(RequestSchema):
    """Sign in with a username and password for a bearer token (登录)."""

    username = sized_text(1, 40, example="c01-secretary")
    password = PlainText(
        required=True,
        validate=validate.Length(min=1, max=200, error="密码需要 {min} 到 {max} 个字符。"),
        metadata={"example": "hongse2019"},
    )


class TokenSchema(Schema):
    """A bearer token just issued: shown once, keep it secret."""

    token = fields.String(
        required=True,
        metadata={
            "description": (
                "登录令牌（rpt_ 开头），只返回这一次；请求时放在 Authorization: Bearer 后。"
            ),
            "example": "rpt_3q2-7wE…",
        },
    )
    role = fields.String(required=True, metadata={"enum": [str(r) for r in Role]})
    expires_at = fields.DateTime(
        required=True,
        metadata={"description": "令牌失效时间，ISO 8601，UTC。党员 30 天，工作人员 12 小时。"},
    )


class CategorySchema(Schema):
    """A point category (积分类别) and how many points it earns."""

    code = fields.String(required=True, metadata={"example": "volunteer"})
    name = fields.String(required=True, metadata={"example": "志愿服务"})
    default_points = fields.Integer(required=True, metadata={"example": 5})
    max_points = fields.Integer(required=True, metadata={"example": 20})


# -- claims -----------------------------------------------------------------------------------


class ClaimQuerySchema(RequestSchema):
    """Which claims to list: a status (pending by default), a community for the district."""

    status = PlainText(
        load_default="pending",
        validate=validate.OneOf(
            CLAIM_STATUSES, error="状态只能是 pending、certified、rejected 或 all。"
        ),
        metadata={
            "enum": list(CLAIM_STATUSES),
            "description": (
                "pending 待认定（最早提交的在前）；certified、rejected、all 最新的在前。"
            ),
        },
    )
    community = _community_filter()
    page, page_size = page_fields()


class ClaimSchema(Schema):
    """A member's service claim (积分申报) as the secretary reviews it."""

    id = fields.Integer(required=True)
    member_no = fields.String(required=True, attribute="member.member_no")
    member_name = fields.String(required=True, attribute="member.name")
    category = fields.String(
        required=True, attribute="category.code", metadata={"description": "积分类别代码。"}
    )
    category_name = fields.String(required=True, attribute="category.name")
    occurred_on = fields.Date(required=True, metadata={"description": "服务日期。"})
    description = fields.String(required=True)
    points = fields.Integer(required=True, metadata={"description": "申报的分值。"})
    certified_points = fields.Integer(
        required=True, allow_none=True, metadata={"description": "认定的分值；未认定为 null。"}
    )
    status = fields.String(required=True, metadata={"enum": [str(s) for s in ClaimStatus]})
    submitted_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    rejection_reason = fields.String(required=True, allow_none=True)


class ClaimPageSchema(Schema):
    """One page of claims, with the total matching the filter."""

    items = fields.List(fields.Nested(ClaimSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class CertifyRequestSchema(RequestSchema):
    """Certify a pending claim (认定), with its points or others up to the category's maximum."""

    points = JsonInteger(
        validate=validate.Range(min=1, max=1000, error="分值需在 {min} 到 {max} 之间。"),
        metadata={"description": "认定的分值；不填则按申报的分值。不能超过该类别的上限。"},
    )


class RejectRequestSchema(RequestSchema):
    """Reject a pending claim (驳回); the member reads the reason."""

    reason = sized_text(1, 200, example="服务日期与活动记录不符")


# -- the roster and adjustments ---------------------------------------------------------------


class MemberQuerySchema(RequestSchema):
    """Search the roster by name, member number (prefix) or phone tail."""

    q = PlainText(
        load_default="",
        validate=validate.Length(max=40, error="搜索词最多 {max} 个字。"),
        metadata={"description": "姓名、党员编号开头或手机尾号（至少 4 位）。"},
    )
    community = _community_filter()
    page, page_size = page_fields()


class RosterMemberSchema(Schema):
    """A member as the roster lists them: live tier and current card."""

    member_no = fields.String(required=True, attribute="member.member_no")
    name = fields.String(required=True, attribute="member.name")
    community = fields.String(required=True, attribute="member.community.code")
    tier = fields.String(required=True, metadata={"enum": [str(t) for t in Tier]})
    card_status = fields.Function(
        lambda entry: str(entry.card.status) if entry.card else None,
        required=True,
        allow_none=True,
        metadata={
            "type": "string",
            "enum": ["active", "suspended", None],
            "nullable": True,
            "description": "当前卡的状态：active 正常，suspended 已暂停；没有卡为 null。",
        },
    )


class MemberPageSchema(Schema):
    """One page of the roster, by member number."""

    items = fields.List(fields.Nested(RosterMemberSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class AdjustmentRequestSchema(RequestSchema):
    """A manual correction of a member's points (积分调整), with the reason."""

    points = JsonInteger(
        required=True,
        validate=validate.Range(
            min=-MAX_ADJUSTMENT_POINTS,
            max=MAX_ADJUSTMENT_POINTS,
            error="调整分值需在 {min} 到 {max} 之间。",
        ),
        metadata={"description": "正数加分，负数减分，不能为 0。", "example": 10},
    )
    reason = sized_text(1, 200, example="系统上线前的志愿服务积分")
    occurred_on = BusinessDate(
        metadata={"description": "积分所属的服务日期，不能晚于今天；不填为今天。"}
    )
    idempotency_key = PlainText(
        validate=validate.Length(
            min=MIN_ADJUSTMENT_KEY,
            max=MAX_ADJUSTMENT_KEY,
            error="幂等键需要 {min} 到 {max} 个字符。",
        ),
        metadata={
            "description": (
                "可选：客户端为这次调整生成的唯一键。网络重试时原样重发，只记一次；"
                "同一个键配不同的党员或分值会被拒绝（conflict）。不填则每次调用都是一笔新调整。"
            ),
            "example": "adj-5f0c2a1e9b7d",
        },
    )

    @validates("points")
    def _not_zero(self, value: int, **kwargs: Any) -> None:
        if value == 0:
            raise ValidationError("调整分值不能为 0。")

    @validates("occurred_on")
    def _not_in_future(self, value: Any, **kwargs: Any) -> None:
        if value > business_date():
            raise ValidationError("不能晚于今天。")


class LedgerEntrySchema(Schema):
    """One ledger entry (积分记录)."""

    id = fields.Integer(required=True)
    member_no = fields.String(required=True)
    points = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": [str(k) for k in EntryKind]})
    occurred_on = fields.Date(required=True)
    reason = fields.String(required=True)
    recorded_at = fields.DateTime(required=True)


# -- activities and attendance ----------------------------------------------------------------


class ActivityRequestSchema(RequestSchema):
    """Announce a community activity (社区活动) whose attendees each earn ``points``."""

    title = sized_text(2, 120, example="重阳节敬老志愿服务")
    category = PlainText(
        required=True,
        validate=validate.Length(min=1, max=24, error="类别代码需要 {min} 到 {max} 个字符。"),
        metadata={"description": "积分类别代码（见 GET /categories）。", "example": "volunteer"},
    )
    occurred_on = BusinessDate(
        required=True, metadata={"description": "活动日期：不晚于今天，一年以内。"}
    )
    points = JsonInteger(
        required=True,
        validate=validate.Range(min=1, max=1000, error="分值需在 {min} 到 {max} 之间。"),
        metadata={"description": "每位参加者得的分，不超过类别上限。", "example": 5},
    )
    community = PlainText(
        validate=validate.Length(min=1, max=8, error="社区代码需要 {min} 到 {max} 个字符。"),
        metadata={
            "description": "社区代码：区管理员必填；社区书记可不填（为本社区）。",
            "example": "C01",
        },
    )


class ActivitySchema(Schema):
    """A community activity."""

    id = fields.Integer(required=True, attribute="activity.id")
    community = fields.String(required=True, attribute="community.code")
    title = fields.String(required=True, attribute="activity.title")
    category = fields.String(required=True, attribute="activity.category.code")
    category_name = fields.String(required=True, attribute="activity.category.name")
    occurred_on = fields.Date(required=True, attribute="activity.occurred_on")
    points = fields.Integer(required=True, attribute="activity.points")
    created_at = fields.DateTime(required=True, attribute="activity.created_at")


class AttendanceRequestSchema(RequestSchema):
    """Who attended (活动签到): all or nothing, each member credited once."""

    member_nos = fields.List(
        PlainText(
            validate=validate.Length(
                min=1, max=MAX_MEMBER_NO, error="党员编号需要 {min} 到 {max} 个字符。"
            )
        ),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_ATTENDEES, error="需要 {min} 到 {max} 个党员编号。"
        ),
        error_messages={
            "required": "缺少此字段。",
            "null": "不能为 null。",
            "invalid": "必须是党员编号的列表。",
        },
        metadata={"example": ["YT0100001", "YT0100002"]},
    )


class AttendanceResultSchema(Schema):
    """How many were newly credited and how many had been recorded before."""

    recorded = fields.Integer(required=True, metadata={"description": "本次新记入的人数。"})
    already = fields.Integer(
        required=True, metadata={"description": "此前已登记过、本次没有重复记分的人数。"}
    )
