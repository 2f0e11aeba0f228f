"""The merchant portal blueprint."""

from flask import Blueprint

bp = Blueprint(
    "merchant",
    __name__,
    url_prefix="/merchant",
    template_folder="templates",
    static_folder="static",
)

# Each area's module registers its routes on ``bp``.
from merchant_portal import (  # noqa: E402,F401
    agreements,
    counter,
    keys,
    reports,
    sales,
    shared,
    staff,
)
