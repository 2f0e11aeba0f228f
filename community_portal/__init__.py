"""The community portal (社区工作台): secretaries and the district administrator.

One module of thin views per area, each with its templates under ``templates/community/``:
``overview`` (the home pages), ``claims`` (认定申报), ``activities`` (活动签到), ``roster``
(党员名册 and corrections), ``roster_import``, ``cards`` (动力卡), ``activation`` (激活码).
"""

from flask import Blueprint

bp = Blueprint(
    "community",
    __name__,
    url_prefix="/community",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from community_portal import (  # noqa: E402,F401  (registers the routes)
    activation,
    activities,
    agreements,
    cards,
    claims,
    overview,
    roster,
    roster_import,
)
