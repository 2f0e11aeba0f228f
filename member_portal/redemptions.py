"""Where my card was used (优惠记录): my sales at alliance merchants, newest first, and the
discount saved per month of a chosen year."""

from flask import render_template, request

from member_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.clock import business_date, utcnow
from rewards.extensions import db
from rewards.models import Role
from rewards.services.card_use import my_card_use, my_savings
from rewards.web import page_arg

# How many years back the year selector offers (a year typed into the address still works).
YEARS_OFFERED = 5


@bp.get("/redemptions")
@requires_role(Role.MEMBER)
def redemption_list() -> str:
    """My card use, paged, with the year's savings as a bar chart per month."""
    actor = current_actor()
    chosen = request.args.get("year", type=int)
    savings = my_savings(db.session, actor, chosen)
    uses = my_card_use(db.session, actor, page=page_arg())
    this_year = business_date(utcnow()).year
    years = sorted({*range(this_year, this_year - YEARS_OFFERED, -1), savings.year}, reverse=True)
    return render_template(
        "member/redemptions.html", savings=savings, uses=uses, years=years, chosen=chosen
    )
