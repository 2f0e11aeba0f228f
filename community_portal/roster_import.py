"""Importing a roster file (导入名册): upload a CSV or an Excel workbook (.xlsx), read a
row-by-row preview that writes nothing, then import every row or none.

The uploaded file waits between the preview and the import in the instance folder, under a
token that only its uploader can use.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from community_portal import bp
from community_portal.scope import is_district, offer_communities, staff, target_community_id
from rewards import spreadsheets
from rewards.auth import current_actor
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.services import roster
from rewards.spreadsheets import Column, Kind

# The preview lists every row with a problem, and the other rows up to this many.
PREVIEW_ROWS = 1000
# The multipart envelope around a 5 MB file; a bigger request is refused unread.
UPLOAD_SLACK_BYTES = 64 * 1024
# The template's columns. Member numbers and phone numbers are identifiers (digits, leading
# zeros, up to 14 of them), the date is read as typed (2019-07-01 or 2019/7/1).
TEMPLATE_COLUMNS = (
    Column("党员编号", Kind.IDENTIFIER, width=16),
    Column("姓名", Kind.TEXT),
    Column("手机号", Kind.IDENTIFIER, width=16),
    Column("报到日期", Kind.TEXT, width=12),
    Column("工作单位", Kind.TEXT, width=30),
)
TEMPLATE_HEADER = spreadsheets.header(TEMPLATE_COLUMNS)


class ImportForm(FlaskForm):
    """Upload a roster, CSV or .xlsx (导入名册); the administrator picks the community."""

    file = FileField(
        _l("名册文件（Excel .xlsx 或 CSV）"), validators=[FileRequired(_l("请选择名册文件。"))]
    )
    community = SelectField(_l("导入到社区"), validators=[DataRequired(_l("请选择社区。"))])


class ImportConfirmForm(FlaskForm):
    """Import the previewed file: its staged token and the community."""

    token = HiddenField(validators=[DataRequired()])
    community = HiddenField()


def _staged() -> roster.StagedFiles:
    return roster.StagedFiles(Path(current_app.instance_path) / "roster-imports")


# -- import -----------------------------------------------------------------------------------


def _import_form(bound: bool = True) -> ImportForm:
    """The upload form, read from the request unless ``bound`` is False."""
    form = ImportForm() if bound else ImportForm(formdata=None)
    offer_communities(form)
    return form


def _render_import(form: ImportForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "community/roster/import.html",
        form=form,
        columns=roster.COLUMNS,
        required=roster.REQUIRED_COLUMNS,
        max_mb=roster.MAX_UPLOAD_BYTES // 1024 // 1024,
        max_rows=roster.MAX_ROWS,
    ), status


@bp.route("/members/import", methods=["GET", "POST"])
@staff
def member_import() -> Response | tuple[str, int]:
    """Upload a roster (CSV or .xlsx); it is kept for the preview, nothing is written yet."""
    limit = roster.MAX_UPLOAD_BYTES + UPLOAD_SLACK_BYTES
    if request.method == "POST" and (request.content_length or 0) > limit:
        # Refused unread: the form is shown again without touching the request body.
        form = _import_form(bound=False)
        form.file.errors = [_("名册文件不能超过 %(n)s MB，请分批导入。", n=limit // 1024 // 1024)]
        return _render_import(form, 413)
    request.max_content_length = limit
    form = _import_form()
    if request.method == "GET" or not form.validate():
        return _render_import(form, 200 if request.method == "GET" else 422)
    upload = form.file.data
    filename = (upload.filename or "").lower()
    if filename.endswith((".xls", ".et", ".numbers")):
        form.file.errors = [
            _("这是旧版或其他软件的表格文件，请另存为 Excel 工作簿（.xlsx）或 CSV 后上传。")
        ]
        return _render_import(form, 422)
    data = upload.read(roster.MAX_UPLOAD_BYTES + 1)
    try:
        token = _staged().put(current_user.id, data)
    except DomainError as error:
        form.file.errors = [error.message]
        return _render_import(form, 422)
    code = form.community.data if is_district() else ""
    return redirect(url_for(".member_import_preview", token=token, community=code or None))


@bp.get("/members/import/template.csv")
@staff
def member_import_template() -> Response:
    """An empty roster file with the accepted headers, ready for Excel (UTF-8 with BOM)."""
    body = spreadsheets.to_csv(TEMPLATE_COLUMNS, [])
    return Response(
        body,
        headers={
            "Content-Type": spreadsheets.CSV_CONTENT_TYPE,
            "Content-Disposition": 'attachment; filename="roster-template.csv"',
        },
    )


@bp.get("/members/import/template.xlsx")
@staff
def member_import_template_xlsx() -> Response:
    """The same template as an Excel workbook whose columns are all formatted as text, so that
    member numbers and phone numbers typed in Excel or WPS stay as typed (no 1.2E+13, no lost
    leading zeros); the filled-in workbook is uploaded as it is."""
    body = spreadsheets.fill_in_template(TEMPLATE_COLUMNS, "党员名册")
    return Response(
        body,
        headers={
            "Content-Type": spreadsheets.XLSX_CONTENT_TYPE,
            "Content-Disposition": 'attachment; filename="roster-template.xlsx"',
        },
    )


def _staged_roster(token: str) -> roster.RosterFile | None:
    """The staged file parsed, or None (with a flash) when the token is stale or not ours."""
    try:
        data = _staged().get(current_user.id, token)
    except NotFound:
        flash(_("预览已失效或文件已导入，请重新上传名册文件。"), "error")
        return None
    return roster.parse_roster(data)


@bp.get("/members/import/preview")
@staff
def member_import_preview() -> str | Response:
    """What the import would do, row by row (新增/更新/不变/有错误); writes nothing."""
    code = request.args.get("community", "").upper() if is_district() else ""
    community_id = target_community_id(code)
    if community_id is None:
        flash(_("请选择要导入的社区。"), "error")
        return redirect(url_for(".member_import"))
    parsed = _staged_roster(request.args.get("token", ""))
    if parsed is None:
        return redirect(url_for(".member_import"))
    check = roster.check_import(db.session, current_actor(), community_id, parsed)
    shown = [row for row in check.rows if row.action == "error"]
    others = [row for row in check.rows if row.action != "error"]
    shown = sorted([*shown, *others[:PREVIEW_ROWS]], key=lambda row: row.line)
    return render_template(
        "community/roster/preview.html",
        check=check,
        rows=shown,
        hidden=max(0, len(others) - PREVIEW_ROWS),
        labels=roster.ROW_ACTIONS,
        confirm_form=ImportConfirmForm(
            formdata=None, token=request.args.get("token", ""), community=code
        ),
    )


@bp.post("/members/import/confirm")
@staff
def member_import_confirm() -> Response:
    """Import the previewed file: every row, or none if any row is wrong."""
    form = ImportConfirmForm()
    if not form.validate():
        flash(_("预览已失效或文件已导入，请重新上传名册文件。"), "error")
        return redirect(url_for(".member_import"))
    code = form.community.data if is_district() else ""
    community_id = target_community_id(code)
    if community_id is None:
        flash(_("请选择要导入的社区。"), "error")
        return redirect(url_for(".member_import"))
    parsed = _staged_roster(form.token.data)
    if parsed is None:
        return redirect(url_for(".member_import"))
    try:
        result = roster.import_roster(db.session, current_actor(), community_id, parsed)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(
            url_for(".member_import_preview", token=form.token.data, community=code or None)
        )
    db.session.commit()
    _staged().drop(current_user.id, form.token.data)
    flash(
        _(
            "名册已导入：新增 %(created)s 人，更新 %(updated)s 人，不变 %(unchanged)s 人。",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for(".member_list", community=code or None))
