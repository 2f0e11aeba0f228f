"""What every merchant page shares: who may open it, the shop of the signed-in person, and
the shop's name and the person's role in every template."""

from __future__ import annotations

from flask_login import current_user

from merchant_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import Role
from rewards.services import merchant_reports

# The counter: cashiers and managers. The back office: managers only.
counter = requires_role(Role.CASHIER, Role.MERCHANT_MANAGER)
back_office = requires_role(Role.MERCHANT_MANAGER)

PAGE_SIZE = 20


def own_merchant_id() -> int:
    """The shop of the signed-in cashier or manager."""
    return int(current_user.merchant_id)


@bp.context_processor
def _merchant_context() -> dict[str, object]:
    if not current_user.is_authenticated or current_user.merchant_id is None:
        return {}
    merchant = merchant_reports.merchant_of(db.session, current_actor())
    return {"merchant": merchant, "is_manager": current_user.role is Role.MERCHANT_MANAGER}
