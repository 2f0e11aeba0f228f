"""The district office (区务): the district administrator runs the alliance here.

One module of thin views per area, each with its templates under ``templates/district/``:
``merchants`` (联盟商家), ``agreements`` (发展协议), ``policy`` (积分等级标准 and 积分类别),
``accounts`` (账号), ``statistics`` (统计), ``audit`` (审计日志). The pages extend the community
portal's layout, whose navigation carries these areas for the administrator.
"""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint(
    "district",
    __name__,
    url_prefix="/district",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# (endpoint, label, the endpoints of the area's pages: prefixes, for str.startswith)
NAV = (
    ("district.merchant_list", _l("联盟商家"), ("district.merchant_",)),
    ("district.agreement_list", _l("发展协议"), ("district.agreement_",)),
    ("district.policy", _l("积分标准"), ("district.policy", "district.category_")),
    ("district.account_list", _l("账号"), ("district.account_",)),
    ("district.statistics", _l("统计"), ("district.statistics",)),
    ("district.audit_log", _l("审计日志"), ("district.audit_",)),
)


@bp.app_context_processor
def _district_navigation() -> dict[str, object]:
    return {"district_nav": NAV}


from district_portal import (  # noqa: E402,F401  (registers the routes)
    accounts,
    agreements,
    audit,
    merchants,
    policy,
    statistics,
)
