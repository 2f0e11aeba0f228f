"""What the community portal's views share: the district administrator's choice of community,
and a service's refusal put next to the form fields it names."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from rewards.auth import current_actor, requires_role
from rewards.extensions import db
from rewards.models import Community, Role
from rewards.services.communities import all_communities

staff = requires_role(Role.SECRETARY, Role.DISTRICT_ADMIN)


@dataclass(frozen=True)
class CommunityChoice:
    """The district administrator's community filter: the communities and the chosen one.

    A secretary has no choice (``communities`` is empty): the services keep them to their own.
    """

    communities: list[Community]
    chosen: Community | None

    @property
    def chosen_id(self) -> int | None:
        return self.chosen.id if self.chosen else None

    @property
    def code(self) -> str:
        return self.chosen.code if self.chosen else ""

    def name_of(self, community_id: int) -> str:
        return next((c.name for c in self.communities if c.id == community_id), "")

    def options(self, exclude: int | None = None) -> list[SelectChoice]:
        """A select's options: a prompt, then the communities by code."""
        shown = [c for c in self.communities if c.id != exclude]
        return [
            SelectChoice("", _("请选择社区")),
            *(SelectChoice(c.code, f"{c.code} {c.name}") for c in shown),
        ]


def is_district() -> bool:
    """Whether the signed-in account is the district administrator."""
    return current_actor().role is Role.DISTRICT_ADMIN


def community_choice(code: str | None, *, everyone: bool = False) -> CommunityChoice:
    """The communities to pick from and the one ``code`` (``?community=C01``) names.

    Only the district administrator picks, unless ``everyone`` (a transfer's destination); an
    unknown code, or a secretary naming another community, is a 404.
    """
    code = (code or "").strip().upper()
    if not (everyone or is_district()):
        own = db.session.get(Community, current_actor().community_id)
        if code and (own is None or code != own.code):
            abort(404)
        return CommunityChoice([], None)
    communities = all_communities(db.session)
    chosen = next((c for c in communities if c.code == code), None)
    if code and chosen is None:
        abort(404)
    return CommunityChoice(communities, chosen)


def offer_communities(form: FlaskForm) -> None:
    """A form's ``community`` select: the district administrator picks one (preset from
    ``?community=``); a secretary has none, their own community is used."""
    if not is_district():
        del form.community
        return
    form.community.choices = community_choice(None).options()
    if request.method == "GET":
        form.community.data = request.args.get("community", "").strip().upper()


def target_community_id(code: str | None) -> int | None:
    """Where a write goes: the secretary's own community, or the one the administrator chose."""
    if is_district():
        return community_choice(code).chosen_id
    return current_actor().community_id
