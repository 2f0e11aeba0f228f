"""Reading the downloads back (rewards/spreadsheets.py): an .xlsx with openpyxl, a CSV with the
csv module, and each .xlsx cell spelled as the CSV spells it, to compare the two files."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from rewards.spreadsheets import XLSX_CONTENT_TYPE, excel_identifier, excel_text


def read_xlsx(response: Any) -> Worksheet:
    """The sheet of an .xlsx download, after checking its headers and its frozen header row."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == XLSX_CONTENT_TYPE
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.endswith('.xlsx"')
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    return sheet


def csv_rows(response: Any) -> list[list[str]]:
    """The rows of a CSV download (after the BOM)."""
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def as_csv(cell: Cell) -> str:
    """How the CSV spells the value of an .xlsx cell (by the cell's number format)."""
    value, number_format = cell.value, cell.number_format
    if value is None:
        return ""
    if number_format == "@":
        return excel_identifier(value)
    if isinstance(value, str):
        return excel_text(value)
    if number_format == "0.00":
        return f"{value:.2f}"
    if number_format == "0.0":
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d" if number_format == "yyyy-mm-dd" else "%Y-%m-%d %H:%M:%S")
    assert isinstance(value, int) and number_format == "0", (value, number_format)
    return str(value)


def xlsx_as_csv(sheet: Worksheet) -> list[list[str]]:
    """Every row of the sheet, each cell spelled as the CSV spells it."""
    return [[as_csv(cell) for cell in row] for row in sheet.iter_rows()]
