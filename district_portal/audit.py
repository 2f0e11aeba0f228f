"""The audit log (审计日志): who did what and when, newest first, a page at a time, filtered by
person, community, kind of action and business dates. Read-only: there is no route here that
writes, and nothing in the log is ever changed."""

from __future__ import annotations

from datetime import date, datetime

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional

from community_portal.scope import community_choice
from district_portal import bp
from rewards.auth import current_actor, requires_role
from rewards.errors import ValidationFailed
from rewards.extensions import db
from rewards.models import Role
from rewards.services import audit_log as log_service
from rewards.web import page_arg, put_errors

district_admin = requires_role(Role.DISTRICT_ADMIN)


class BusinessDateField(DateField):
    """A date typed or picked as 2026-03-01, refused in Chinese otherwise."""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            self.data = None
            return
        try:
            self.data = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError as exc:
            self.data = None
            raise ValueError(_("日期格式应为 年-月-日，例如 2026-03-01。")) from exc


class LogFilterForm(FlaskForm):
    """The log's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    person = StringField(_l("操作人"), validators=[Optional(), Length(max=80)])
    community = StringField(_l("社区"), validators=[Optional(), Length(max=8)])
    kind = StringField(_l("类别"), validators=[Optional(), Length(max=20)])
    date_from = BusinessDateField(_l("从"), validators=[Optional()])
    date_to = BusinessDateField(_l("到"), validators=[Optional()])


def _valid(field: DateField) -> date | None:
    return None if field.errors else field.data


@bp.get("/audit")
@district_admin
def audit_log() -> tuple[str, int] | str:
    """Who did what and when (审计日志), newest first, filtered; read-only."""
    form = LogFilterForm(request.args)
    form.validate()
    choice = community_choice(form.community.data)
    kind = form.kind.data if form.kind.data in log_service.LOG_KIND_BY_CODE else ""
    filters = log_service.LogFilter(
        person=(form.person.data or "").strip(),
        community_id=choice.chosen_id,
        kind=kind,
        date_from=_valid(form.date_from),
        date_to=_valid(form.date_to),
    )
    try:
        page = log_service.audit_log(db.session, current_actor(), filters, page=page_arg())
    except ValidationFailed as error:
        put_errors(form, error)
        page = log_service.LogPage([], 1, log_service.LOG_PAGE_SIZE, False)
    args = {
        "person": filters.person,
        "community": choice.code,
        "kind": kind,
        "date_from": request.args.get("date_from", "") if filters.date_from else "",
        "date_to": request.args.get("date_to", "") if filters.date_to else "",
    }
    args = {key: value for key, value in args.items() if value}
    page_html = render_template(
        "district/audit/log.html",
        form=form,
        page=page,
        args=args,
        kinds=log_service.LOG_KINDS,
        communities=choice.communities,
    )
    return (page_html, 422) if form.errors else page_html
