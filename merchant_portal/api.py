"""The POS JSON API under /api/v1 (收银系统接口): preview, confirm, void and read sales.

Every call is authenticated with a merchant's API key (``Authorization: Bearer <key>``); the
merchant is always the key's. Every error body is ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, g, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rewards import web
from rewards.api_contract import MAX_ID, Blueprint, document_operation, error_body, request_refused
from rewards.auth import card_tokens
from rewards.errors import Unauthorized
from rewards.extensions import api, csrf, db
from rewards.schemas import (
    ConfirmRequestSchema,
    ErrorSchema,
    PreviewRequestSchema,
    QuoteSchema,
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
    VoidRequestSchema,
)
from rewards.services import checkout, merchants, redemptions
from rewards.services.audit import Actor
from rewards.services.checkout import Quote
from rewards.services.redemptions import RedemptionPage, RedemptionView

F = TypeVar("F", bound=Callable[..., Any])

SECURITY_SCHEME = "bearerAuth"
REDEMPTION_URL = f"/redemptions/<int(max={MAX_ID}):redemption_id>"

blp = Blueprint(
    "pos_api",
    __name__,
    url_prefix="/api/v1",
    description="收银系统（POS）接口：试算、结算、撤销、查询本店的优惠结算。",
)

# What each error status means on this API, for the OpenAPI document.
ERROR_STATUSES = {
    400: "invalid：请求体不是有效的 JSON。",
    401: "unauthorized：缺少 API 密钥，或密钥无效、已吊销。",
    403: "forbidden：本店已被区里暂停联盟资格，message 里写明原因；恢复后同一密钥即可再用。",
    404: "not_found：本店没有这笔结算（其他商家的结算也报告为不存在）。",
    409: (
        "token_used：手机卡码已用过（请会员刷新后重新扫码）；"
        "conflict：这个幂等键已用于另一笔卡码或金额不同的结算。"
    ),
    422: (
        "invalid：字段缺失、类型不对或有多余字段；amount_invalid：金额不是文本形式的有效金额；"
        "token_invalid、token_expired、card_suspended、card_revoked：卡码或卡片不能用；"
        "tier_none：持卡人未达到银卡；no_agreement：本店与持卡人社区没有有效协议；"
        "below_minimum_spend：未达到最低消费。"
    ),
}


def _operation(
    *statuses: int, operation_id: str, notes: dict[int, str] | None = None
) -> Callable[[F], F]:
    """Document the operation's id, the bearer key and the contract's error body for each of
    ``statuses``."""
    descriptions = {**ERROR_STATUSES, **(notes or {})}
    statuses = (*statuses, 403)  # every call: a key of a suspended merchant
    return document_operation(
        blp, statuses, descriptions, SECURITY_SCHEME, operation_id=operation_id
    )


def _actor() -> Actor:
    return g.pos_actor


@blp.before_request
def _authenticate() -> tuple[Response, int, dict[str, str]] | None:
    """Resolve the bearer key to its merchant's actor, or refuse the call with 401."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and key.strip():
        found = merchants.authenticate_pos_key(db.session, key.strip())
    if found is None and (refusal := merchants.pos_key_refusal(db.session, key.strip())):
        body, status = error_body(refusal)  # 403: the district suspended the shop, and why
        return body, status, {}
    if found is None:
        body, status = error_body(
            Unauthorized(
                "缺少或无效的 API 密钥：请在请求头带上 Authorization: Bearer <密钥>，"
                "并确认密钥没有被吊销。"
            )
        )
        return body, status, {"WWW-Authenticate": 'Bearer realm="rewards-pos"'}
    api_key, merchant = found
    g.pos_actor = Actor.for_api_key(api_key)
    # The session holds loaded rows weakly: keeping the merchant here lets the checkout find it
    # in the identity map instead of reading it a second time in this request.
    g.pos_merchant = merchant
    if merchants.note_api_key_use(api_key):
        db.session.commit()
    return None


blp.errorhandler(HTTPException)(request_refused)


@blp.post("/checkout/preview")
@blp.arguments(PreviewRequestSchema, example={"token": "812345678903", "amount": "128.50"})
@blp.response(200, QuoteSchema)
@_operation(
    400,
    401,
    409,
    422,
    operation_id="previewCheckout",
    notes={409: "token_used：这个手机卡码已经结算过一次。"},
)
def preview(args: dict[str, Any]) -> Quote:
    """Work out the discount for a shown card and a bill (试算); records nothing.

    A phone code stays usable after a preview; it is spent by the confirm.
    """
    return checkout.preview(db.session, _actor(), card_tokens(), args["token"], args["amount"])


@blp.post("/checkout/redemptions")
@blp.arguments(
    ConfirmRequestSchema,
    example={"token": "812345678903", "amount": "128.50", "idempotency_key": "pos1-000123"},
)
@blp.response(201, RedemptionSchema, description="结算已记录。")
@blp.alt_response(
    200, schema=RedemptionSchema, success=True, description="同一幂等键的重试：返回原来那笔结算。"
)
@_operation(400, 401, 409, 422, operation_id="createRedemption")
def create_redemption(args: dict[str, Any]) -> tuple[RedemptionView, int, dict[str, str]]:
    """Confirm the discounted sale (确认结算); a retry with the same idempotency key is safe."""
    redemption, created, quote = checkout.confirm_with_quote(
        db.session,
        _actor(),
        card_tokens(),
        args["token"],
        args["amount"],
        args["idempotency_key"],
    )
    if quote is None:  # a retry: the earlier sale, described from the database
        view = redemptions.describe(db.session, redemption)
    else:
        view = redemptions.describe(db.session, redemption, quote.member, quote.card)
    db.session.commit()
    location = url_for(".get_redemption", redemption_id=view.id)
    return view, 201 if created else 200, {"Location": location}


@blp.post(f"{REDEMPTION_URL}/void")
@blp.arguments(VoidRequestSchema, example={"reason": "顾客退货"})
@blp.response(200, RedemptionSchema)
@_operation(
    400,
    401,
    404,
    409,
    422,
    operation_id="voidRedemption",
    notes={
        409: "conflict：这笔结算已经撤销过，或不是今天（营业日）的结算。",
        422: "invalid：缺少撤销原因，或原因不在 2 到 200 个字之间。",
    },
)
def void_redemption(args: dict[str, Any], redemption_id: int) -> RedemptionView:
    """Void one of today's sales (撤销); the record stays, with the reason."""
    redemption = checkout.void(db.session, _actor(), redemption_id, args["reason"])
    view = redemptions.describe(db.session, redemption)
    db.session.commit()
    return view


@blp.get("/redemptions")
@blp.arguments(RedemptionQuerySchema, location="query")
@blp.response(200, RedemptionPageSchema)
@_operation(
    401,
    422,
    operation_id="listRedemptions",
    notes={422: "invalid：日期不是 YYYY-MM-DD、起始晚于截止，或页码超出范围。"},
)
def list_redemptions(query: dict[str, Any]) -> RedemptionPage:
    """This merchant's sales, newest first, optionally between two business dates."""
    return redemptions.list_redemptions(
        db.session,
        _actor(),
        date_from=query.get("date_from"),
        date_to=query.get("date_to"),
        page=query["page"],
        page_size=query["page_size"],
    )


@blp.get(REDEMPTION_URL)
@blp.response(200, RedemptionSchema)
@_operation(401, 404, operation_id="getRedemption")
def get_redemption(redemption_id: int) -> RedemptionView:
    """One of this merchant's sales."""
    return redemptions.get_redemption(db.session, _actor(), redemption_id)


def init_app(app: Flask) -> None:
    """Serve the POS API and its OpenAPI document (GET /api/v1/openapi.json)."""
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "红色动力双赢卡的接口：商家收银系统（POS）用 API 密钥结算；党员、社区书记和"
                    "区管理员用登录令牌（人员接口）。金额一律以分（整数）返回，以元（文本）提交；"
                    '错误一律为 {"error": {"code", "message"}}。接入说明见 docs/api.md。'
                )
            }
        },
    )
    # flask-smorest installs an app-wide handler for HTTP errors with its own body; put back the
    # project's one mapping, so pages keep their error page and the API its contract's shape.
    app.register_error_handler(HTTPException, web.handle_http_error)
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "商家店长在后台创建的 POS 密钥（rpk_ 开头），只显示一次，可随时吊销。",
        },
    )
    api.register_blueprint(blp)
    # Keys, not cookies, authenticate the API, so cross-site request forgery does not apply.
    csrf.exempt(blp)
