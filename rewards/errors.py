"""Domain errors: each has a stable ``code`` (the API's) and a message a person understands."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was changed."""

    code = "invalid"
    status = 422
    message = "请求无效。"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The API's error body."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ValidationFailed(DomainError):
    code = "invalid"
    status = 422
    message = "提交的内容有误。"


class TokenInvalid(DomainError):
    code = "token_invalid"
    status = 422
    message = "无法识别此卡码，请让会员刷新手机卡码或出示实体卡。"


class TokenExpired(DomainError):
    code = "token_expired"
    status = 422
    message = "手机卡码已过期，请让会员刷新后重新扫码。"


class TokenUsed(DomainError):
    code = "token_used"
    status = 409
    message = "此手机卡码已使用过，请让会员刷新后重新扫码。"


class CardSuspended(DomainError):
    code = "card_suspended"
    status = 422
    message = "此卡已被社区暂停使用，本次不能享受优惠。"


class CardRevoked(DomainError):
    code = "card_revoked"
    status = 422
    message = "此卡已作废（已注销或已补办新卡），本次不能享受优惠。"


class TierNone(DomainError):
    code = "tier_none"
    status = 422
    message = "持卡人当前积分未达到银卡标准，本次不能享受优惠；会员可在党员端查看积分和差距。"


class NoAgreement(DomainError):
    code = "no_agreement"
    status = 422
    message = "本店与持卡人所在社区没有有效的共建协议，本次不能享受优惠。"


class BelowMinimumSpend(DomainError):
    code = "below_minimum_spend"
    status = 422
    message = "消费金额未达到协议的最低消费，本次不能享受优惠。"


class AmountInvalid(DomainError):
    code = "amount_invalid"
    status = 422
    message = "金额格式不正确，请输入以元为单位的金额，最多两位小数，例如 128.50。"


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401
    message = "需要有效的登录或 API 密钥。"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message = "没有权限执行此操作。"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "找不到所请求的记录。"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "请求与已有记录冲突。"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429
    message = "尝试次数过多，请 15 分钟后再试。"


ALL_ERRORS: tuple[type[DomainError], ...] = (
    ValidationFailed,
    TokenInvalid,
    TokenExpired,
    TokenUsed,
    CardSuspended,
    CardRevoked,
    TierNone,
    NoAgreement,
    BelowMinimumSpend,
    AmountInvalid,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooManyAttempts,
)
