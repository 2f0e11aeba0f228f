"""The people API under /api/v1 (人员接口): token sign-in and sign-out, point categories, and
the bearer-token authentication every people endpoint uses.

People (members, secretaries, the district administrator) sign in with their username and
password for a token (``rpt_…``) and send it as ``Authorization: Bearer <token>``; the same role
and scope rules as on the pages apply. Merchant POS keys (``rpk_…``) are not people tokens.
Every error body is ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rewards.api_contract import Blueprint, document_operation, request_refused
from rewards.auth import delayed_headers, record_failed_sign_in, request_address, sign_in_wait
from rewards.errors import DomainError, Forbidden, Unauthorized
from rewards.extensions import api, csrf, db
from rewards.models import PointCategory, Role
from rewards.schemas import CategorySchema, TokenRequestSchema, TokenSchema
from rewards.services import accounts, api_tokens
from rewards.services.api_tokens import IssuedToken
from rewards.services.audit import Actor
from rewards.services.categories import enabled_categories

F = TypeVar("F", bound=Callable[..., Any])

SECURITY_SCHEME = "peopleToken"
SIGN_IN_ENDPOINT = "people_api.sign_in"

blp = Blueprint(
    "people_api",
    __name__,
    url_prefix="/api/v1",
    description="人员接口：党员、社区书记和区管理员用用户名和密码换取登录令牌；积分类别。",
)

# What each error status means on the people API, for the OpenAPI document.
ERROR_STATUSES = {
    400: "invalid：请求体不是有效的 JSON。",
    401: "unauthorized：缺少登录令牌，或令牌无效、已过期、已退出登录，或账号已停用。",
    403: "forbidden：当前账号的角色不能做这件事（例如党员或收银员调用社区书记的接口）。",
    404: "not_found：找不到该记录，或它不在本社区（其他社区的记录一律报告为不存在）。",
    409: "conflict：与已有记录冲突。",
    422: "invalid：字段缺失、类型不对、取值不合规则或有多余字段；details.fields 列出各字段的问题。",
    429: (
        "too_many_attempts：这个用户名从本地址登录失败次数过多，须等待后再试；"
        "响应头 Retry-After 和 details.retry_after 给出须等待的秒数。"
    ),
}


def documented(
    blueprint: Blueprint,
    *statuses: int,
    operation_id: str,
    summary: str,
    description: str = "",
    notes: dict[int, str] | None = None,
    signed_in: bool = True,
) -> Callable[[F], F]:
    """Document an operation for API users: its operationId (camelCase, for generated clients),
    its Chinese summary and description, the people token, and the contract's error body for
    each of ``statuses``."""
    descriptions = {**ERROR_STATUSES, **(notes or {})}
    doc: dict[str, Any] = {"summary": summary}
    if description:
        doc["description"] = description
    scheme = SECURITY_SCHEME if signed_in else None
    return document_operation(
        blueprint, statuses, descriptions, scheme, operation_id=operation_id, **doc
    )


def current_person() -> Actor:
    """The signed-in person behind this API call (set by ``authenticate``)."""
    return g.people_actor


def _refusal(error: DomainError) -> tuple[Response, int, dict[str, str]]:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="rewards-people"'
    return jsonify(error.to_dict()), error.status, headers


def authenticate(*roles: Role) -> tuple[Response, int, dict[str, str]] | None:
    """Resolve ``Authorization: Bearer rpt_…`` to the person's actor, or refuse the call: 401
    without a live token, 403 when ``roles`` are given and the person has none of them."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    account = None
    if scheme.lower() == "bearer" and token:
        account = api_tokens.token_account(db.session, token)
    if account is None:
        return _refusal(
            Unauthorized(
                "缺少或无效的登录令牌：请先调用 POST /api/v1/auth/token 登录，"
                "并在请求头带上 Authorization: Bearer <令牌>；令牌过期或退出后请重新登录。"
            )
        )
    g.people_actor = Actor.for_account(account)
    g.people_token = token
    # token_account notes the token's use at most once a minute; keep that note.
    if db.session.dirty:
        db.session.commit()
    if roles and g.people_actor.role not in roles:
        return _refusal(Forbidden("当前账号的角色不能调用这个接口。"))
    return None


def people_blueprint(name: str, description: str, *roles: Role) -> Blueprint:
    """An /api/v1 blueprint of people operations for ``roles``: every call needs a live people
    token of one of them (401, 403 otherwise), and webargs' refusals answer in the contract's
    shape."""
    blueprint = Blueprint(name, __name__, url_prefix="/api/v1", description=description)
    blueprint.before_request(lambda: authenticate(*roles))
    blueprint.errorhandler(HTTPException)(request_refused)
    return blueprint


@blp.before_request
def _authenticate() -> tuple[Response, int, dict[str, str]] | None:
    if request.endpoint == SIGN_IN_ENDPOINT:
        return None
    return authenticate()


# webargs' refusals (bad JSON, schema errors) in the contract's shape, as on the POS API.
blp.errorhandler(HTTPException)(request_refused)


@blp.post("/auth/token")
@blp.arguments(TokenRequestSchema, example={"username": "c01-secretary", "password": "hongse2019"})
@blp.response(200, TokenSchema)
@documented(
    blp,
    400,
    401,
    422,
    429,
    operation_id="createToken",
    summary="登录，换取令牌",
    description=(
        "用用户名和密码换取登录令牌（只返回这一次，服务器只存它的摘要）。"
        "同一用户名从同一地址 15 分钟内失败 5 次后，每次再试须等待 1 秒、2 秒、4 秒……"
        "（最长 15 分钟）；等待期内的请求返回 429，不校验密码，带 Retry-After。"
        "网页登录和本接口合并计数；别的地址上的正确密码不受影响。"
    ),
    notes={401: "unauthorized：用户名或密码不正确，或账号已停用。"},
    signed_in=False,
)
def sign_in(args: dict[str, Any]) -> IssuedToken | tuple[Response, int, dict[str, str]]:
    """Sign in for a bearer token (登录).

    The token is shown once; only its hash is stored. Failures count with the sign-in page's,
    per username and client address: after a few, each further attempt from that address
    waits longer (429 ``too_many_attempts`` with ``Retry-After``, the password unchecked).
    """
    username, password = args["username"], args["password"]
    wait = sign_in_wait(db.session, username)
    if wait:
        delayed = accounts.AttemptsDelayed(wait)
        return jsonify(delayed.to_dict()), delayed.status, delayed_headers(delayed)
    account = accounts.authenticate(db.session, username, password)
    if account is None:
        record_failed_sign_in(db.session, username)
        db.session.commit()
        raise Unauthorized("用户名或密码不正确；账号如已停用，请联系社区或区管理员。")
    issued = api_tokens.issue_token(db.session, account, ip=request_address())
    db.session.commit()
    return issued


@blp.delete("/auth/token")
@blp.response(204, description="已退出登录：这个令牌从此无效（同一账号的其他令牌不受影响）。")
@documented(
    blp,
    401,
    operation_id="revokeToken",
    summary="退出登录",
    description="使本次请求所带的令牌失效。",
)
def sign_out() -> None:
    """Sign this token out (退出登录)."""
    api_tokens.revoke_token(db.session, g.people_token)
    db.session.commit()


@blp.get("/categories")
@blp.response(200, CategorySchema(many=True))
@documented(
    blp,
    401,
    operation_id="listCategories",
    summary="积分类别",
    description="正在使用的积分类别：代码、名称、默认分值和每次最高分值。任何已登录的人都可查看。",
)
def list_categories() -> list[PointCategory]:
    """The point categories in use (积分类别): code, name, default and maximum points."""
    return enabled_categories(db.session)


def init_app(app: Flask) -> None:
    """Serve the people API's sign-in and categories in the same OpenAPI document as the POS
    API (call after the POS API's ``init_app``, which binds the document)."""
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "人员登录令牌（rpt_ 开头），由 POST /api/v1/auth/token 用用户名和密码换取；"
                "党员 30 天、工作人员 12 小时有效，DELETE /api/v1/auth/token 退出。"
                "商家的 POS 密钥不能用于人员接口。"
            ),
        },
    )
    api.register_blueprint(blp)
    # Bearer tokens, not cookies, authenticate the API, so cross-site request forgery does not
    # apply.
    csrf.exempt(blp)
