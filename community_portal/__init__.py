"""The community portal blueprint."""

from flask import Blueprint

bp = Blueprint("community", __name__, url_prefix="/community", template_folder="templates")

from community_portal import views  # noqa: E402,F401  (registers the routes)
