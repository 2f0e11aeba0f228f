"""The member portal blueprint."""

from flask import Blueprint

bp = Blueprint(
    "member", __name__, url_prefix="/member", template_folder="templates", static_folder="static"
)

from member_portal import views  # noqa: E402,F401  (registers the routes)
