"""Every table the product lets people download (导出), written once as CSV and once as Excel
.xlsx from the same typed rows, so that Excel and WPS open both without mangling a figure; and
the one kind of workbook people upload (a roster typed into its template), read as text rows.

An export declares its columns once (``Column``: a name and a ``Kind``) and yields rows of plain
Python values in that order: text as ``str``, identifiers as ``str``, money as integer fen,
counts as ``int``, days as ``float``, dates as ``date``, instants as aware ``datetime``. The
writers decide how each kind is spelled:

==============  ===============================================  ==============================
kind            .xlsx cell                                       CSV field
==============  ===============================================  ==============================
TEXT            a string cell (never a formula)                  the text, a leading = + - @
                                                                 tab or CR behind an apostrophe
IDENTIFIER      a string cell, number format ``@`` (Text)        ``="26030112345678"``
AMOUNT_FEN      a number, yuan, number format ``0.00``           ``1234.50`` (no thousands
                                                                 separator)
COUNT           a whole number, number format ``0``              ``12``
DECIMAL         a number rounded to 0.1, number format ``0.0``   ``2.5``
DATE            a date, number format ``yyyy-mm-dd``             ``2026-03-01``
DATETIME        Beijing time, ``yyyy-mm-dd hh:mm:ss``            ``2026-03-01 09:30:00``
==============  ===============================================  ==============================

Identifiers in CSV. Excel and WPS read every field of a CSV that looks like a number as a
number: the 14-digit 结算单号 shows as 2.6E+13 (and an identifier past 15 digits loses its last ones
for good), a card tail 0012 becomes 12. A CSV has no types, so an identifier is written as the
formula ``="…"`` (a string literal, quotes inside doubled): both programs evaluate it to the
text itself, digits and leading zeros intact, and a formula made only of a string literal cannot
run anything, whatever the identifier holds. The other common trick, a leading tab, leaves the
tab in the cell (a lookup then misses) and is one of the characters the formula guard escapes,
so it is not used. The cost: a program reading the CSV sees ``="…"`` around identifiers (and
LibreOffice shows the formula when its CSV import does not evaluate formulas); for anything but
a spreadsheet, use the .xlsx, which is typed.

Text typed by people (a void reason, a community's name) is guarded against formula injection:
in CSV by ``excel_text`` (a leading apostrophe); in .xlsx the cell is written as a string, which
no spreadsheet evaluates, and flagged ``quotePrefix`` (Excel's own hidden apostrophe), so that
editing the cell and pressing Enter does not turn it into a formula either.

Money is integer fen to the last cell. In CSV it is formatted from the integer
(``format_fen``), digits only. In .xlsx the cell's value is ``Decimal(fen) / 100``: the
division is done in decimal and is exact, and no sum or product of money is ever taken in
floating point here. A spreadsheet number is a binary double, so the one conversion to binary
happens once, at the cell: it holds the double nearest to the exact amount (0.07 has no exact
binary form; nothing can do better). That double's shortest decimal form is the amount again,
digit for digit, for any amount of at most 15 significant digits (under 10^13 yuan): Excel and
WPS, which show 15 digits, show ``0.07`` with the ``0.00`` format, and openpyxl reads back
``0.07`` (the file spells it with 16 digits, 0.07000000000000001, the same double).
"""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from flask import Response
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from rewards.clock import BUSINESS_TZ
from rewards.money import format_fen

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# A text starting with one of these is read as a formula by Excel and WPS (OWASP, "CSV
# injection"); a tab or carriage return in front can hide one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Column widths in characters (a Chinese character counts two), unless a column says otherwise.
MAX_WIDTH = 60


class Kind(Enum):
    """What a column holds, which decides how each format spells it (see the module's table)."""

    TEXT = "text"
    IDENTIFIER = "identifier"
    AMOUNT_FEN = "amount_fen"
    COUNT = "count"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"


# (number format in .xlsx, default width in characters)
_XLSX = {
    Kind.TEXT: (None, 12),
    Kind.IDENTIFIER: ("@", 12),
    Kind.AMOUNT_FEN: ("0.00", 12),
    Kind.COUNT: ("0", 8),
    Kind.DECIMAL: ("0.0", 8),
    Kind.DATE: ("yyyy-mm-dd", 12),
    Kind.DATETIME: ("yyyy-mm-dd hh:mm:ss", 20),
}


@dataclass(frozen=True)
class Column:
    """One column of an export: its header and what it holds; ``width`` in characters."""

    name: str
    kind: Kind = Kind.TEXT
    width: int | None = None


def header(columns: Sequence[Column]) -> tuple[str, ...]:
    """The header row: the columns' names."""
    return tuple(column.name for column in columns)


def excel_text(text: str) -> str:
    """Text typed by people, safe in a CSV: one starting with = + - @ (or a tab or a carriage
    return) would run as a formula in Excel (CSV injection), so it gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def excel_identifier(text: str) -> str:
    """An identifier in a CSV as ``="…"``, so Excel and WPS keep it as text (see the module)."""
    return '="' + text.replace('"', '""') + '"' if text else ""


def _local(instant: datetime) -> datetime:
    """An instant as Beijing wall-clock time without a zone (spreadsheets have none), to the
    second: Excel would round 09:30:00.7 up to 09:30:01 where the CSV shows 09:30:00."""
    if instant.tzinfo is not None:
        instant = instant.astimezone(BUSINESS_TZ).replace(tzinfo=None)
    return instant.replace(microsecond=0)


# -- CSV ----------------------------------------------------------------------------------------


def _csv_field(kind: Kind, value: Any) -> str:
    if value is None or value == "":
        return ""
    if kind is Kind.TEXT:
        return excel_text(str(value))
    if kind is Kind.IDENTIFIER:
        return excel_identifier(str(value))
    if kind is Kind.AMOUNT_FEN:
        # Excel reads "1234.50" as a number; "1,234.50" would need a locale to agree.
        return format_fen(int(value)).replace(",", "")
    if kind is Kind.COUNT:
        return str(int(value))
    if kind is Kind.DECIMAL:
        return f"{value:.1f}"
    if kind is Kind.DATE:
        return value.isoformat()
    return _local(value).strftime("%Y-%m-%d %H:%M:%S")


def to_csv(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV that Excel and WPS open correctly: UTF-8 with a BOM, CRLF line ends, identifiers as
    ``="…"``, amounts as plain numbers with two decimals."""
    kinds = [column.kind for column in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header(columns))
    for row in rows:
        writer.writerow([_csv_field(kind, value) for kind, value in zip(kinds, row, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# -- .xlsx --------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Characters as a spreadsheet column counts them: a Chinese (wide) character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _width(column: Column) -> int:
    if column.width is not None:
        return column.width
    _, default = _XLSX[column.kind]
    return min(MAX_WIDTH, max(default, display_width(column.name) + 2))


def _string_cell(sheet: WriteOnlyWorksheet, text: str, number_format: str | None) -> WriteOnlyCell:
    """A cell that holds ``text`` as a string, whatever it starts with (never a formula)."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)  # control characters have no place in XML
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl makes "=…" a formula and "#N/A" an error; not here
    if number_format:
        cell.number_format = number_format
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True  # Excel's hidden apostrophe: it stays text when edited
    return cell


def _xlsx_cell(sheet: WriteOnlyWorksheet, kind: Kind, value: Any) -> WriteOnlyCell | None:
    if value is None or value == "":
        return None
    number_format, _ = _XLSX[kind]
    if kind in (Kind.TEXT, Kind.IDENTIFIER):
        return _string_cell(sheet, str(value), number_format)
    if kind is Kind.AMOUNT_FEN:
        value = Decimal(int(value)) / 100  # exact in decimal; see the module's note on money
    elif kind is Kind.COUNT:
        value = int(value)
    elif kind is Kind.DECIMAL:
        value = round(float(value), 1)  # the value the CSV's f"{:.1f}" shows
    elif kind is Kind.DATETIME:
        value = _local(value)
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def _sheet(
    columns: Sequence[Column], sheet_title: str, column_format: str | None = None
) -> tuple[Workbook, WriteOnlyWorksheet]:
    """A workbook of one sheet with the columns' widths (and, if given, one number format for
    every cell of every column) and a bold header row kept in view (frozen panes)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, 1):
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.width = _width(column)
        if column_format:
            dimension.number_format = column_format
    bold = Font(bold=True)
    head = []
    for name in header(columns):
        cell = _string_cell(sheet, name, None)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    return workbook, sheet


def _saved(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_xlsx(columns: Sequence[Column], rows: Iterable[Sequence[Any]], sheet_title: str) -> bytes:
    """An Excel workbook of one sheet: a bold header row kept in view (frozen panes), one typed
    cell per value (see the module's table), columns wide enough for their kind."""
    workbook, sheet = _sheet(columns, sheet_title)
    kinds = [column.kind for column in columns]
    try:
        for row in rows:
            sheet.append([_xlsx_cell(sheet, kind, v) for kind, v in zip(kinds, row, strict=True)])
    except BaseException:
        # The rows refused (a bad date range) or failed: saving, to nowhere, is what closes and
        # removes the temporary file a write-only sheet streams into.
        with contextlib.suppress(Exception):
            _saved(workbook)
        raise
    return _saved(workbook)


def fill_in_template(columns: Sequence[Column], sheet_title: str) -> bytes:
    """An empty workbook to type a file into (an import's template): the header row, and every
    column formatted as Text (``@``), so that what is typed stays as typed: a member number
    keeps its leading zeros, a 14-digit one does not become 1.2E+13, a phone number is not a
    number, and saving as CSV writes it back unchanged."""
    workbook, _ = _sheet(columns, sheet_title, column_format="@")
    return _saved(workbook)


# -- the download -------------------------------------------------------------------------------


def download(
    fmt: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    stem: str,
    sheet_title: str,
) -> Response:
    """The table as a file download, ``<stem>.csv`` or ``<stem>.xlsx``, never cached."""
    if fmt == "xlsx":
        body, content_type = to_xlsx(columns, rows, sheet_title), XLSX_CONTENT_TYPE
    elif fmt == "csv":
        body, content_type = to_csv(columns, rows), CSV_CONTENT_TYPE
    else:
        raise ValueError(f"no such format: {fmt}")
    return Response(
        body,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


# -- reading an upload ----------------------------------------------------------------------------

# Every .xlsx is a zip archive; nothing else uploaded here starts like one.
ZIP_MAGIC = b"PK\x03\x04"
# What a workbook may unpack to: a 5 MB upload of 20,000 rows unpacks to a few tens of MB; a
# "zip bomb" declares far more and is refused before anything is unpacked.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# Empty rows are cheap but not free: past this many per filled row the sheet is refused.
MAX_ROWS_WITH_BLANKS = 5
TOO_MANY_BLANKS = "这个 Excel 文件里空行太多，请删除多余的行后再上传。"
UNREADABLE = "无法读取这个 Excel 文件：请确认是 Excel 工作簿（.xlsx），或另存为 CSV 后上传。"


class UnreadableWorkbook(ValueError):
    """An upload that is a zip archive but no workbook this can read (the message says so)."""


def is_xlsx(data: bytes) -> bool:
    """Whether ``data`` looks like an .xlsx (a zip archive) rather than a CSV."""
    return data.startswith(ZIP_MAGIC)


def _cell_text(value: Any) -> str:
    """A cell's value as the text a CSV saved from it would hold: a whole number without
    ``.0``, a date as ``2019-07-01``, nothing for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx_rows(data: bytes, max_rows: int) -> list[list[str]]:
    """The rows of the workbook's active sheet as text, one per sheet row (empty rows too, so
    that a row's place is its line number), up to the ``max_rows``-th row with something in it
    (a longer sheet's rows past that are not read). Raises ``UnreadableWorkbook`` for a damaged
    file, one that would unpack to more than ``MAX_UNPACKED_BYTES``, one with no worksheet, or
    one with more than ``MAX_ROWS_WITH_BLANKS`` times ``max_rows`` rows mostly empty.

    XML in the file is parsed with defusedxml (openpyxl uses it when it is installed), so entity
    expansion ("billion laughs") is refused rather than run.
    """
    try:
        return _active_sheet_rows(data, max_rows)
    except UnreadableWorkbook:
        raise
    except Exception as error:  # whatever a damaged or hostile file makes zipfile or openpyxl raise
        raise UnreadableWorkbook(UNREADABLE) from error


def _active_sheet_rows(data: bytes, max_rows: int) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableWorkbook("这个 Excel 文件解压后过大，请分批导入或另存为 CSV 后上传。")
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.active or (workbook.worksheets[0] if workbook.worksheets else None)
        if sheet is None or not hasattr(sheet, "iter_rows"):
            raise UnreadableWorkbook("这个 Excel 文件里没有工作表。")
        rows: list[list[str]] = []
        filled = 0
        for values in sheet.iter_rows(values_only=True):
            if filled >= max_rows:
                break
            if len(rows) >= MAX_ROWS_WITH_BLANKS * max_rows:
                raise UnreadableWorkbook(TOO_MANY_BLANKS)
            row = [_cell_text(value) for value in values]
            filled += any(cell.strip() for cell in row)
            rows.append(row)
        return rows
    finally:
        workbook.close()
