"""The member's calls of the people API (党员接口) under /api/v1: my points and card, my ledger,
my claims, the alliance directory with my discount today, the offline card key, my data.

Only a member's token opens them, and each reaches the member's own data only: nothing here
takes another member's id. Authentication is the people token
(``rewards.people_api.authenticate``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from rewards.errors import NotFound
from rewards.extensions import api, csrf, db
from rewards.models import Claim, ClaimStatus, Role
from rewards.people_api import current_person, documented, people_blueprint
from rewards.schemas import (
    MemberExportSchema,
    MerchantPageSchema,
    MerchantQuerySchema,
    MeSchema,
    MyClaimPageSchema,
    MyClaimQuerySchema,
    MyClaimRequestSchema,
    MyClaimSchema,
    MyLedgerPageSchema,
    MyLedgerQuerySchema,
    OfflineKeySchema,
)
from rewards.services import categories, claims, directory, history, member_data, offline_codes
from rewards.services.directory import MerchantOffer
from rewards.services.history import EntryLine
from rewards.services.offline_codes import OfflineKey
from rewards.services.overview import MemberOverview, member_overview
from rewards.services.paging import Page

# Secrets and personal data must not stay in a browser's or a proxy's cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NO_STORE_DOC = {
    "Cache-Control": {
        "description": "no-store：不得缓存（密钥和个人信息）。",
        "schema": {"type": "string", "example": "no-store"},
    }
}

# Who may call: any other role is refused, whatever it may do elsewhere.
MEMBER_ONLY = {403: "forbidden：只有党员本人的账号能调用（社区书记、区管理员和商家的账号不能）。"}

blp = people_blueprint(
    "member_api",
    (
        "党员接口：我的积分和卡、积分明细、服务申报、联盟商家和我的优惠、离线卡码密钥、"
        "我的个人信息导出。只能用党员本人的登录令牌，只能看到本人的数据。"
    ),
    Role.MEMBER,
)


def _my_member_id() -> int:
    """The signed-in member's own id (a member account always has one; refuse if not)."""
    member_id = current_person().member_id
    if member_id is None:
        raise NotFound("这个账号没有关联的党员登记，请联系所在社区。")
    return member_id


# -- me and my ledger -------------------------------------------------------------------------


@blp.get("/me")
@blp.response(200, MeSchema)
@documented(
    blp,
    401,
    403,
    404,
    operation_id="getMyOverview",
    summary="我的积分和卡",
    description=(
        "党员本人：编号、姓名、社区、等级窗口内积分和全部积分、今天的实时等级、"
        "升到下一等级还差多少分，以及当前的动力卡。"
    ),
    notes={**MEMBER_ONLY, 404: "not_found：找不到这个账号的党员登记。"},
)
def me() -> MemberOverview:
    """My points, live tier and card (我的积分)."""
    return member_overview(db.session, current_person(), _my_member_id())


@blp.get("/me/ledger")
@blp.arguments(MyLedgerQuerySchema, location="query")
@blp.response(200, MyLedgerPageSchema)
@documented(
    blp,
    401,
    403,
    404,
    422,
    operation_id="listMyLedgerEntries",
    summary="我的积分明细",
    description=(
        "本人的全部积分记录，最新的在前，每条附上原因（积分类别和申报内容、活动名称、"
        "调整原因，或冲正撤销的记录）；可用 year 只看一年。"
    ),
    notes={**MEMBER_ONLY, 404: "not_found：找不到这个账号的党员登记。"},
)
def my_ledger(query: dict[str, Any]) -> Page[EntryLine]:
    """My whole ledger, newest first, each entry with its reason in words (积分明细)."""
    return history.member_ledger(
        db.session,
        current_person(),
        _my_member_id(),
        year=query.get("year"),
        page=query["page"],
        page_size=query["page_size"],
    )


# -- my claims --------------------------------------------------------------------------------


@blp.post("/me/claims")
@blp.arguments(
    MyClaimRequestSchema,
    example={
        "category": "volunteer",
        "occurred_on": "2024-04-28",
        "description": "帮助独居老人买菜",
    },
)
@blp.response(201, MyClaimSchema, description="申报已提交，等待社区书记认定。")
@documented(
    blp,
    400,
    401,
    403,
    404,
    422,
    operation_id="submitMyClaim",
    summary="提交服务申报",
    description=(
        "为自己申报一次服务，按该类别的默认分值申报，等待社区书记认定。"
        "照片只能在网页上传，接口不收照片。"
    ),
    notes={
        **MEMBER_ONLY,
        404: "not_found：找不到这个账号的党员登记，或登记已停用。",
        422: (
            "invalid：类别不存在或已停用、服务日期晚于今天或早于一年前、说明不足 2 个字"
            "或超过 500 个字，或有多余字段（例如 points：分值由类别决定）。"
        ),
    },
)
def submit_claim(args: dict[str, Any]) -> tuple[Claim, int]:
    """Claim a service for points (积分申报), pending until the secretary decides."""
    category = categories.category_by_code(db.session, args["category"])
    claim = claims.submit_claim(
        db.session,
        current_person(),
        _my_member_id(),
        category.id,
        args["description"],
        args["occurred_on"],
    )
    db.session.commit()
    return claim, 201


@blp.get("/me/claims")
@blp.arguments(MyClaimQuerySchema, location="query")
@blp.response(200, MyClaimPageSchema)
@documented(
    blp,
    401,
    403,
    422,
    operation_id="listMyClaims",
    summary="我的服务申报",
    description="本人提交过的申报，最新的在前，带状态、认定的分值和驳回原因；可按 status 筛选。",
    notes=MEMBER_ONLY,
)
def list_my_claims(query: dict[str, Any]) -> Page[Claim]:
    """My claims (我的申报), newest first, with their status and any rejection reason."""
    status = None if query["status"] == "all" else ClaimStatus(query["status"])
    return claims.my_claims(
        db.session,
        current_person(),
        status=status,
        page=query["page"],
        page_size=query["page_size"],
    )


# -- the alliance directory -------------------------------------------------------------------


@blp.get("/merchants")
@blp.arguments(MerchantQuerySchema, location="query")
@blp.response(200, MerchantPageSchema)
@documented(
    blp,
    401,
    403,
    422,
    operation_id="listMerchants",
    summary="联盟商家和我的优惠",
    description=(
        "联盟商家（按商家编号），每家附上今天按我的实时等级能享受的优惠（my_discount，"
        "没有优惠为 null）和金卡的优惠（gold_discount）；q 按名称或地址搜索，category 按类别筛选。"
    ),
    notes=MEMBER_ONLY,
)
def list_merchants(query: dict[str, Any]) -> Page[MerchantOffer]:
    """The alliance directory (联盟商家) with my discount there today and the gold card's."""
    found = directory.merchant_directory(
        db.session,
        current_person(),
        query=query["q"],
        category=query["category"],
        page=query["page"],
        page_size=query["page_size"],
    )
    return found.offers


# -- the offline card key ---------------------------------------------------------------------


@blp.post("/me/card/offline-key")
@blp.response(200, OfflineKeySchema, headers=NO_STORE_DOC)
@documented(
    blp,
    401,
    403,
    404,
    422,
    operation_id="issueOfflineKey",
    summary="离线卡码密钥",
    description=(
        "为本人当前的动力卡发一个新的离线卡码密钥（RFC 6238 TOTP：SHA1、6 位、30 秒）。"
        "手机离线时出示 18 位卡码：卡号 + 当前 6 位动态码。再次调用会换新密钥，"
        "旧密钥生成的卡码立即失效。密钥只返回这一次（Cache-Control: no-store），只存在本机。"
    ),
    notes={
        **MEMBER_ONLY,
        404: "not_found：还没有动力卡。",
        422: "card_suspended：这张卡已被社区暂停使用。",
    },
)
def issue_offline_key() -> tuple[OfflineKey, int, dict[str, str]]:
    """A new offline-code secret for my card (离线卡码); the old secret's codes stop working."""
    box = current_app.extensions["rewards.secret_box"]
    key = offline_codes.issue_offline_key(db.session, current_person(), box)
    db.session.commit()
    return key, 200, NO_STORE


# -- my data ----------------------------------------------------------------------------------


@blp.get("/me/export")
@blp.response(200, MemberExportSchema, headers=NO_STORE_DOC)
@documented(
    blp,
    401,
    403,
    operation_id="exportMyData",
    summary="我的个人信息",
    description=(
        "系统保存的关于本人的全部信息（《个人信息保护法》）：登记信息、账号、卡、积分记录、"
        "申报（照片只列类型和大小）、活动签到、用卡记录、社区转接、通知、激活码和操作记录。"
        "每次导出都会记入操作记录。"
    ),
    notes=MEMBER_ONLY,
)
def export_my_data() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Everything held about me, as JSON (个人信息导出); the export itself is recorded."""
    data = member_data.export(db.session, current_person())
    db.session.commit()
    return data, 200, NO_STORE


def init_app(app: Flask) -> None:
    """Serve the member's calls in the API's OpenAPI document (after the people API's)."""
    api.register_blueprint(blp)
    # Bearer tokens, not cookies, authenticate the API.
    csrf.exempt(blp)
