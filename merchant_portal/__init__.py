"""The merchant portal blueprint."""

from flask import Blueprint

bp = Blueprint(
    "merchant",
    __name__,
    url_prefix="/merchant",
    template_folder="templates",
    static_folder="static",
)

from merchant_portal import views  # noqa: E402,F401  (registers the routes)
