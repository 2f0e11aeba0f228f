"""Schemas of the member's calls of the people API (党员接口): my points and card, my ledger, my
claims, the alliance directory with my discount, the offline card key and my data (PIPL)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from rewards.models import ClaimStatus, EntryKind, Tier
from rewards.money import format_zhe
from rewards.schemas.base import BusinessDate, RequestSchema, WholeNumber
from rewards.schemas.people import PlainText, page_fields, sized_text
from rewards.services.claims import MAX_DESCRIPTION, MIN_DESCRIPTION
from rewards.services.directory import MAX_QUERY

MY_CLAIM_STATUSES = (*(str(s) for s in ClaimStatus), "all")
FIRST_YEAR, LAST_YEAR = 1921, 9999  # the ledger service's own bounds for a year


def _nullable(schema: type[Schema], description: str, **kwargs: object) -> fields.Nested:
    """A nested object that may be null (documented as such)."""
    return fields.Nested(
        schema, required=True, allow_none=True, metadata={"description": description}, **kwargs
    )


def _time(description: str = "") -> fields.String:
    """An instant the export already wrote as ISO 8601 text, or null."""
    metadata = {"format": "date-time"}
    if description:
        metadata["description"] = description
    return fields.String(required=True, allow_none=True, metadata=metadata)


def _day() -> fields.String:
    """A calendar date the export already wrote as YYYY-MM-DD, or null."""
    return fields.String(required=True, allow_none=True, metadata={"format": "date"})


# -- me ---------------------------------------------------------------------------------------


class CommunityRefSchema(Schema):
    """A community by code and name."""

    code = fields.String(required=True, metadata={"example": "C01"})
    name = fields.String(required=True, metadata={"example": "幸福社区"})


class CardRefSchema(Schema):
    """The member's current card: its number and status."""

    number = fields.String(required=True, attribute="card_no", metadata={"example": "812345678903"})
    status = fields.String(
        required=True,
        metadata={
            "enum": ["active", "suspended"],
            "description": "active 正常；suspended 已被社区暂停（商家不给优惠）。",
        },
    )


class MeSchema(Schema):
    """The signed-in member: points in the tier window and all-time, the live tier, the card."""

    member_no = fields.String(required=True, attribute="member.member_no")
    name = fields.String(required=True, attribute="member.name")
    community = fields.Nested(CommunityRefSchema, required=True, attribute="member.community")
    points_in_window = fields.Integer(
        required=True,
        attribute="standing.points",
        metadata={
            "description": "等级统计窗口（按区里的等级规则，如最近 12 个月）内的积分，决定等级。"
        },
    )
    points_all_time = fields.Integer(
        required=True,
        attribute="all_time_points",
        metadata={"description": "全部积分记录的合计。"},
    )
    tier = fields.String(
        required=True,
        attribute="standing.tier",
        metadata={"enum": [str(t) for t in Tier], "description": "今天的实时等级。"},
    )
    points_to_next_tier = fields.Integer(
        required=True,
        allow_none=True,
        attribute="standing.points_to_next",
        metadata={"description": "升到下一等级还差的积分；已是金卡（或没有等级规则）为 null。"},
    )
    card = _nullable(CardRefSchema, "当前的动力卡；还没有卡为 null。")


# -- my ledger --------------------------------------------------------------------------------


class MyLedgerQuerySchema(RequestSchema):
    """Which page of my ledger, optionally one year of service dates."""

    year = WholeNumber(
        validate=validate.Range(
            min=FIRST_YEAR, max=LAST_YEAR, error="年份需在 {min} 到 {max} 之间。"
        ),
        metadata={"description": "只看这一年（按服务日期）的记录；不填为全部。", "example": 2024},
    )
    page, page_size = page_fields()


class MyLedgerLineSchema(Schema):
    """One ledger entry (积分记录) and why it is there, in words."""

    occurred_on = fields.Date(
        required=True, attribute="entry.occurred_on", metadata={"description": "服务日期。"}
    )
    points = fields.Integer(
        required=True, attribute="entry.points", metadata={"description": "正数加分，负数减分。"}
    )
    kind = fields.String(
        required=True,
        attribute="entry.kind",
        metadata={
            "enum": [str(k) for k in EntryKind],
            "description": (
                "award 申报认定；attendance 活动签到；adjustment 积分调整；reversal 冲正。"
            ),
        },
    )
    reason = fields.String(
        required=True,
        metadata={
            "description": (
                "原因：积分类别和申报内容、活动名称、调整的原因，或冲正所撤销的那条记录。"
            ),
            "example": "志愿服务：帮助独居老人买菜",
        },
    )


class MyLedgerPageSchema(Schema):
    """One page of my ledger, newest first."""

    items = fields.List(fields.Nested(MyLedgerLineSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


# -- my claims --------------------------------------------------------------------------------


class MyClaimRequestSchema(RequestSchema):
    """Claim a service for points (积分申报); the category's default points are claimed."""

    category = PlainText(
        required=True,
        validate=validate.Length(min=1, max=24, error="类别代码需要 {min} 到 {max} 个字符。"),
        metadata={"description": "积分类别代码（见 GET /categories）。", "example": "volunteer"},
    )
    occurred_on = BusinessDate(
        required=True, metadata={"description": "服务日期：不晚于今天，一年以内。"}
    )
    description = sized_text(MIN_DESCRIPTION, MAX_DESCRIPTION, example="帮助独居老人买菜")


class MyClaimQuerySchema(RequestSchema):
    """Which of my claims to list: all (default) or one status."""

    status = PlainText(
        load_default="all",
        validate=validate.OneOf(
            MY_CLAIM_STATUSES,
            error="状态只能是 pending、certified、rejected、withdrawn 或 all。",
        ),
        metadata={
            "enum": list(MY_CLAIM_STATUSES),
            "description": "pending 待认定；certified 已认定；rejected 已驳回；withdrawn 已撤回。",
        },
    )
    page, page_size = page_fields()


class MyClaimSchema(Schema):
    """One of my claims, with its status and any rejection reason."""

    id = fields.Integer(required=True)
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
    rejection_reason = fields.String(
        required=True, allow_none=True, metadata={"description": "驳回的原因；未驳回为 null。"}
    )


class MyClaimPageSchema(Schema):
    """One page of my claims, newest first."""

    items = fields.List(fields.Nested(MyClaimSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


# -- the alliance directory -------------------------------------------------------------------


class MerchantQuerySchema(RequestSchema):
    """Search the alliance directory by name or address, filter by category."""

    q = PlainText(
        load_default="",
        validate=validate.Length(max=MAX_QUERY, error="搜索词最多 {max} 个字。"),
        metadata={"description": "商家名称或地址中的文字。"},
    )
    category = PlainText(
        load_default="",
        validate=validate.Length(max=24, error="商家类别最多 {max} 个字。"),
        metadata={"description": "商家类别（如 餐饮），与列表中的 category 相同。"},
    )
    page, page_size = page_fields()


class DiscountSchema(Schema):
    """A discount at one merchant: what share of the bill is paid, its cap and minimum spend."""

    zhe = fields.Function(
        lambda terms: format_zhe(terms.pay_percent),
        required=True,
        metadata={"type": "string", "example": "88折"},
    )
    pay_percent = fields.Integer(
        required=True, metadata={"description": "实付百分比：88 表示 88折（优惠 12%）。"}
    )
    cap_fen = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "单笔优惠上限（分）；null 表示不设上限。"},
    )
    min_spend_fen = fields.Integer(
        required=True, metadata={"description": "享受优惠的最低消费（分）；0 表示不限。"}
    )


class MerchantOfferSchema(Schema):
    """An alliance merchant and its discount for me today, and the gold card's."""

    code = fields.String(required=True, attribute="merchant.code", metadata={"example": "M001"})
    name = fields.String(required=True, attribute="merchant.name")
    category = fields.String(required=True, attribute="merchant.category")
    address = fields.String(required=True, attribute="merchant.address")
    phone = fields.String(required=True, attribute="merchant.phone")
    my_discount = _nullable(
        DiscountSchema,
        "今天按我的实时等级在这家店的优惠；等级不够银卡或这家店不为本社区服务时为 null。",
        attribute="mine",
    )
    gold_discount = _nullable(
        DiscountSchema, "金卡在这家店的优惠；这家店不为本社区服务时为 null。", attribute="gold"
    )


class MerchantPageSchema(Schema):
    """One page of the alliance directory, by merchant code."""

    items = fields.List(fields.Nested(MerchantOfferSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


# -- the offline card key ---------------------------------------------------------------------


class OfflineKeySchema(Schema):
    """What the phone needs to show offline codes: the card number and a TOTP secret."""

    card_number = fields.String(required=True, metadata={"example": "812345678903"})
    secret = fields.String(
        required=True,
        metadata={
            "description": "TOTP 密钥（base32）。只在本机保存，不要上传或记录。",
            "example": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        },
    )
    digits = fields.Integer(required=True, metadata={"enum": [6]})
    period = fields.Integer(required=True, metadata={"enum": [30], "description": "秒。"})
    algorithm = fields.String(required=True, metadata={"enum": ["SHA1"]})


# -- my data (PIPL) ---------------------------------------------------------------------------


class ExportMemberSchema(Schema):
    member_no = fields.String(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True, allow_none=True)
    employer = fields.String(required=True, allow_none=True)
    joined_on = _day()
    community = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    registered_at = _time()


class ExportAccountSchema(Schema):
    username = fields.String(required=True)
    created_at = _time()
    last_login_at = _time()
    enabled = fields.Boolean(required=True)


class ExportCardSchema(Schema):
    card_no = fields.String(required=True)
    generation = fields.Integer(required=True)
    status = fields.String(required=True)
    issued_at = _time()
    status_changed_at = _time()
    status_reason = fields.String(required=True, allow_none=True)
    offline_key_issued_at = _time("最近一次发放离线卡码密钥的时间（密钥本身不导出）。")


class ExportLedgerSchema(Schema):
    occurred_on = _day()
    points = fields.Integer(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)
    community = fields.String(required=True, allow_none=True)
    recorded_at = _time()


class ExportPhotoSchema(Schema):
    content_type = fields.String(required=True)
    bytes = fields.Integer(required=True)
    uploaded_at = _time()


class ExportClaimSchema(Schema):
    category = fields.String(required=True)
    occurred_on = _day()
    description = fields.String(required=True)
    points = fields.Integer(required=True)
    certified_points = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True)
    rejection_reason = fields.String(required=True, allow_none=True)
    submitted_at = _time()
    decided_at = _time()
    photos = fields.List(fields.Nested(ExportPhotoSchema), required=True)


class ExportAttendanceSchema(Schema):
    title = fields.String(required=True)
    occurred_on = _day()
    recorded_at = _time()


class ExportCardUseSchema(Schema):
    merchant = fields.String(required=True)
    business_date = _day()
    amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    tier = fields.String(required=True)
    status = fields.String(required=True)
    void_reason = fields.String(required=True, allow_none=True)


class ExportTransferSchema(Schema):
    from_ = fields.String(required=True, allow_none=True, data_key="from", attribute="from")
    to = fields.String(required=True, allow_none=True)
    at = _time()


class ExportNoticeSchema(Schema):
    message = fields.String(required=True)
    at = _time()
    read_at = _time()


class ExportActivationCodeSchema(Schema):
    issued_at = _time()
    expires_at = _time()
    used_at = _time()


class ExportAuditSchema(Schema):
    at = _time()
    action = fields.String(required=True)


class MemberExportSchema(Schema):
    """Everything held about the member (个人信息导出), as the database holds it."""

    exported_at = _time()
    member = fields.Nested(ExportMemberSchema, required=True)
    account = _nullable(ExportAccountSchema, "登录账号。")
    cards = fields.List(fields.Nested(ExportCardSchema), required=True)
    ledger = fields.List(fields.Nested(ExportLedgerSchema), required=True)
    claims = fields.List(fields.Nested(ExportClaimSchema), required=True)
    activities_attended = fields.List(fields.Nested(ExportAttendanceSchema), required=True)
    card_use = fields.List(fields.Nested(ExportCardUseSchema), required=True)
    transfers = fields.List(fields.Nested(ExportTransferSchema), required=True)
    notices = fields.List(fields.Nested(ExportNoticeSchema), required=True)
    activation_codes = fields.List(fields.Nested(ExportActivationCodeSchema), required=True)
    audit_log = fields.List(fields.Nested(ExportAuditSchema), required=True)
