"""Cards (动力卡) in the community portal.

A secretary lists the community's cards, issues cards to newly eligible members in one action,
suspends, resumes, revokes and reissues a card with a reason, and prints A4 sheets of cards (8 a
page). Members' activation codes, printed the same way, are in ``activation``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import Field, StringField
from wtforms.validators import DataRequired, Length

from community_portal import bp
from community_portal.scope import community_choice, staff
from rewards.auth import card_tokens, current_actor
from rewards.errors import Conflict, ValidationFailed
from rewards.extensions import db
from rewards.forms_once import OnceForm, consume_once
from rewards.models import (
    CARD_STATUS_LABELS,
    Card,
    CardStatus,
)
from rewards.services import cards
from rewards.services.qrcodes import qr_svg
from rewards.web import no_store, page_arg

PAGE_SIZE = 20
ELIGIBLE_PAGE_SIZE = 50
PER_SHEET = 8  # 2 × 4 bank-card-sized cards (or slips) on one A4 page


# -- forms --------------------------------------------------------------------------------------


class IdListField(Field):
    """Every ticked checkbox of one name (``member_ids=3&member_ids=7``) as a list of ids."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            self.data = [int(value) for value in valuelist]
        except ValueError as exc:
            self.data = []
            raise ValueError(_l("勾选的记录无效，请刷新页面后重试。")) from exc

    def _value(self) -> str:
        return ""


class PickMembersForm(OnceForm):
    """Ticked members (批量发卡, 生成激活码): a form that creates, with its one-time token."""

    member_ids = IdListField()


class ReasonForm(FlaskForm):
    """A card's status change with its required reason (暂停, 恢复, 注销, 补办)."""

    reason = StringField(
        _l("原因"),
        validators=[
            DataRequired(_l("请填写原因。")),
            Length(max=200, message=_l("原因最多 200 个字。")),
        ],
    )


class ListFilterForm(FlaskForm):
    """Filters of a list, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("搜索"), validators=[Length(max=40)])
    community = StringField(_l("社区"), validators=[Length(max=8)])


class CardFilterForm(ListFilterForm):
    """The cards list's filters: status, and card number, member number or name."""

    status = StringField(_l("状态"), validators=[Length(max=20)])


# -- the card actions a status allows (the services enforce them; this only offers them) ------


@dataclass(frozen=True)
class CardAction:
    """One status change offered on a card's page."""

    name: str
    label: str
    placeholder: str
    done: str
    confirm: str | None
    change: Callable[..., Card]
    style: str = "primary"  # the button: primary, plain (""), or danger


ACTIONS: dict[str, CardAction] = {
    a.name: a
    for a in (
        CardAction(
            "suspend",
            _l("暂停使用"),
            _l("例如：本人挂失，待找回"),
            _l("已暂停这张卡，商家将拒绝此卡，直至恢复。"),
            None,
            cards.suspend_card,
        ),
        CardAction(
            "resume",
            _l("恢复使用"),
            _l("例如：卡已找回"),
            _l("已恢复这张卡，可以正常使用。"),
            None,
            cards.resume_card,
        ),
        CardAction(
            "reissue",
            _l("补办新卡"),
            _l("例如：卡片遗失"),
            _l("已补办新卡；旧卡及其卡码全部作废，请打印新卡交给党员。"),
            _l("补办后旧卡及其所有卡码立即作废，确定补办？"),
            cards.reissue_card,
            "",
        ),
        CardAction(
            "revoke",
            _l("注销"),
            _l("例如：已迁出本社区"),
            _l("已注销这张卡。"),
            _l("注销后这张卡永久作废，不能恢复，确定注销？"),
            cards.revoke_card,
            "danger",
        ),
    )
}
OFFERED: dict[CardStatus, tuple[str, ...]] = {
    CardStatus.ACTIVE: ("suspend", "reissue", "revoke"),
    CardStatus.SUSPENDED: ("resume", "reissue", "revoke"),
    CardStatus.REVOKED: (),
    CardStatus.REPLACED: (),
}


HISTORY_LABELS = {
    "card.issue": _l("发卡"),
    "card.suspend": _l("暂停使用"),
    "card.resume": _l("恢复使用"),
    "card.revoke": _l("注销"),
    "card.replace": _l("补办换新（旧卡作废）"),
}


# -- shared by the cards and the activation pages ------------------------------------------------


def sheets(items: Sequence[Any]) -> list[Sequence[Any]]:
    """``items`` in groups of eight, one group per printed A4 page."""
    return [items[i : i + PER_SHEET] for i in range(0, len(items), PER_SHEET)]


def back(default: str) -> Response:
    return redirect(request.referrer or default)


# -- the cards list ----------------------------------------------------------------------------


@bp.get("/cards")
@staff
def card_list() -> str:
    """The community's cards (动力卡), by status and searched; the district sees every community."""
    form = CardFilterForm(request.args)
    form.validate()
    choice = community_choice(form.community.data)
    status = form.status.data if form.status.data in {s.value for s in CardStatus} else None
    page = cards.list_cards(
        db.session,
        current_actor(),
        community_id=choice.chosen_id,
        status=CardStatus(status) if status else None,
        query=form.q.data or "",
        page=page_arg(),
        page_size=PAGE_SIZE,
    )
    args = {
        k: v
        for k, v in {"q": form.q.data, "status": status, "community": form.community.data}.items()
        if v
    }
    return render_template(
        "community/cards/list.html",
        form=form,
        page=page,
        args=args,
        statuses=[(s.value, label) for s, label in CARD_STATUS_LABELS.items()],
        communities=choice.communities,
    )


# -- newly eligible members and bulk issue ------------------------------------------------------


@bp.get("/cards/eligible")
@staff
def card_eligible() -> str:
    """Members newly eligible for a card (待发卡): silver or better, no current card."""
    form = ListFilterForm(request.args)
    form.validate()
    choice = community_choice(form.community.data)
    page = cards.eligible_members(
        db.session,
        current_actor(),
        community_id=choice.chosen_id,
        page=page_arg(),
        page_size=ELIGIBLE_PAGE_SIZE,
    )
    args = {"community": choice.code} if choice.code else {}
    return render_template(
        "community/cards/eligible.html",
        form=form,
        page=page,
        args=args,
        pick=PickMembersForm(formdata=None),
        communities=choice.communities,
    )


@bp.post("/cards/issue")
@staff
def card_issue() -> Response:
    """Issue the ticked members' cards in one action (批量发卡), all or none."""
    form = PickMembersForm()
    if not form.validate():
        for message in form_errors(form):
            flash(message, "error")
        return back(url_for(".card_eligible"))
    once = consume_once(db.session, form, "community.cards")
    if once.repeat is not None:
        return once.repeat  # type: ignore[return-value]
    try:
        issued = cards.issue_cards(db.session, current_actor(), form.member_ids.data or [])
    except (Conflict, ValidationFailed) as error:
        db.session.rollback()
        flash(error.message, "error")
        return back(url_for(".card_eligible"))
    once.finish(url_for(".card_issued", card_ids=[c.id for c in issued]))
    db.session.commit()
    flash(_("已为 %(n)s 名党员发卡。", n=len(issued)), "success")
    return redirect(once.result_url, code=303)


@bp.get("/cards/issued")
@staff
def card_issued() -> str:
    """The cards just issued, with the offer to print them."""
    printed = cards.printable_cards(
        db.session, current_actor(), card_tokens(), request.args.getlist("card_ids", type=int)
    )
    return render_template("community/cards/issued.html", printed=printed)


# -- the printable sheet -----------------------------------------------------------------------


@bp.get("/cards/print")
@staff
def card_print() -> Response:
    """An A4 sheet of cards (卡片打印), 8 a page: name, number, the printed-card QR."""
    printed = cards.printable_cards(
        db.session, current_actor(), card_tokens(), request.args.getlist("card_ids", type=int)
    )
    # segno's SVG is generated markup, not user input.
    qrs = {p.card.id: Markup(qr_svg(p.token)) for p in printed}
    return no_store(
        render_template(
            "community/cards/print.html", sheets=sheets(printed), qrs=qrs, count=len(printed)
        )
    )


# -- one card ----------------------------------------------------------------------------------


@bp.get("/cards/<int:card_id>")
@staff
def card_detail(card_id: int) -> str:
    """A card's page: holder, status, generation, history; the changes its status allows."""
    return _render_card(cards.card_in_reach(db.session, current_actor(), card_id))


def _render_card(card: Card, failed: tuple[str, ReasonForm] | None = None) -> str:
    forms = {name: ReasonForm(formdata=None, prefix=name) for name in OFFERED[card.status]}
    if failed is not None:
        forms[failed[0]] = failed[1]
    current = None if card.is_current else cards.current_card(db.session, card.member_id)
    return render_template(
        "community/cards/detail.html",
        card=card,
        actions=[(ACTIONS[name], forms[name]) for name in OFFERED[card.status]],
        history=cards.card_history(db.session, current_actor(), card.id),
        history_labels=HISTORY_LABELS,
        current=current,
    )


@bp.post("/cards/<int:card_id>/<action>")
@staff
def card_change(card_id: int, action: str) -> Response | tuple[str, int]:
    """Suspend, resume, revoke or reissue a card, each with a reason."""
    if action not in ACTIONS:
        abort(404)
    form = ReasonForm(prefix=action)
    if not form.validate():
        card = cards.card_in_reach(db.session, current_actor(), card_id)
        if action not in OFFERED[card.status]:
            flash(_("这张卡当前的状态不能执行此操作。"), "error")
            return redirect(url_for(".card_detail", card_id=card.id))
        return _render_card(card, (action, form)), 422
    # The service locks the card row and reads its status; nothing here has loaded the card
    # before, so a concurrent change is never judged on a stale status.
    try:
        changed = ACTIONS[action].change(db.session, current_actor(), card_id, form.reason.data)
    except (Conflict, ValidationFailed) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".card_detail", card_id=card_id))
    db.session.commit()
    flash(str(ACTIONS[action].done), "success")
    return redirect(url_for(".card_detail", card_id=changed.id))


def form_errors(form: FlaskForm) -> list[str]:
    # A refused one-time token has flashed its own message already.
    return [
        str(message)
        for name, errors in form.errors.items()
        if name != "form_once"
        for message in errors
    ]
