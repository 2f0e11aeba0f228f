"""Why the counter cannot give the discount, in a cashier's words, and what to do next: one
refusal per error code of the checkout service."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Refusal:
    """Why the counter cannot give the discount, in a cashier's words, and what to do next."""

    title: str
    next_step: str
    # The service's own message adds facts worth showing (e.g. the minimum spend); where it
    # would only repeat the title, it is left out.
    show_detail: bool = False


REFUSALS: dict[str, Refusal] = {
    "token_invalid": Refusal(
        _l("无法识别此卡码"),
        _l("请重新扫描会员的手机卡码；手工输入时请核对实体卡上的 12 位卡号。"),
        show_detail=True,
    ),
    "token_expired": Refusal(
        _l("手机卡码已过期"),
        _l("请会员刷新手机卡码后重新扫描。"),
    ),
    "token_used": Refusal(
        _l("此手机卡码已经用过"),
        _l("请会员刷新手机卡码（生成新码）后重新扫描。"),
    ),
    "card_suspended": Refusal(
        _l("此卡已被社区暂停使用"),
        _l("本次请按原价收款；请会员联系所在社区了解原因。"),
    ),
    "card_revoked": Refusal(
        _l("此卡已作废"),
        _l("本次请按原价收款；如会员已补办新卡，请出示新卡或手机卡码。"),
        show_detail=True,
    ),
    "tier_none": Refusal(
        _l("持卡人暂未达到银卡标准"),
        _l("本次请按原价收款；会员可在手机上查看自己的积分进度。"),
    ),
    "no_agreement": Refusal(
        _l("本店与持卡人所在社区没有有效协议"),
        _l("本次请按原价收款；店长可在「合作协议」页查看本店协议覆盖的社区。"),
    ),
    "below_minimum_spend": Refusal(
        _l("未达到最低消费"),
        _l("请核对金额；未满最低消费时本次按原价收款。"),
        show_detail=True,
    ),
    "amount_invalid": Refusal(
        _l("金额不正确"),
        _l("请重新输入以元为单位的金额，例如 128.50。"),
        show_detail=True,
    ),
    "conflict": Refusal(
        _l("这笔结算与已记录的结算冲突"),
        _l("请重新扫描会员卡码，重新计算后再确认。"),
        show_detail=True,
    ),
    "invalid": Refusal(
        _l("页面已过期"),
        _l("请重新扫描会员卡码，重新计算后再确认。"),
    ),
    "forbidden": Refusal(
        _l("本店暂不能结算"),
        _l("请联系店长或区管理员。"),
        show_detail=True,
    ),
}
UNKNOWN_REFUSAL = Refusal(_l("无法完成结算"), _l("请重新扫描会员卡码后再试。"), show_detail=True)
