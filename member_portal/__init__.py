"""The member portal (党员手机端): one module of thin views per area, each with its templates
under ``templates/member/``: ``home`` (我的积分, notices), ``history`` (积分明细), ``claims``
(服务申报), ``card`` (出示卡码, online and offline), ``merchants`` (联盟商家), ``redemptions``
(优惠记录), ``account`` (账号 and my data)."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint(
    "member", __name__, url_prefix="/member", template_folder="templates", static_folder="static"
)

# (endpoint, label, the endpoints of the area's pages: prefixes, for str.startswith)
NAV = (
    ("member.home", _l("首页"), ("member.home", "member.notice")),
    ("member.history", _l("积分明细"), ("member.history",)),
    ("member.claim_list", _l("申报"), ("member.claim_",)),
    ("member.card", _l("出示卡码"), ("member.card",)),
    ("member.merchant_list", _l("联盟商家"), ("member.merchant_",)),
    ("member.redemption_list", _l("优惠记录"), ("member.redemption_",)),
    ("member.account", _l("我的"), ("member.account", "member.password", "member.my_data")),
)


@bp.context_processor
def _navigation() -> dict[str, object]:
    return {"member_nav": NAV}


from member_portal import (  # noqa: E402,F401  (registers the routes)
    account,
    card,
    claims,
    history,
    home,
    merchants,
    redemptions,
    text_size,
    webapp,
)
