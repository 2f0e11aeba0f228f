"""The one writer of every download (rewards/spreadsheets.py): typed columns spelled for Excel
and WPS, as .xlsx cells and as CSV fields. No database: rows are built by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from rewards.spreadsheets import (
    Column,
    Kind,
    excel_identifier,
    excel_text,
    fill_in_template,
    to_csv,
    to_xlsx,
)
from tests.spreadsheets import xlsx_as_csv

COLUMNS = (
    Column("结算单号", Kind.IDENTIFIER, width=18),
    Column("卡号尾号", Kind.IDENTIFIER),
    Column("营业日期", Kind.DATE),
    Column("结算时间", Kind.DATETIME),
    Column("撤销原因", Kind.TEXT),
    Column("消费金额(元)", Kind.AMOUNT_FEN),
    Column("笔数", Kind.COUNT),
    Column("天数", Kind.DECIMAL),
)
# 00:30 on 1 March in Beijing is still 28 February in UTC.
INSTANT = datetime(2026, 2, 28, 16, 30, 5, 700_000, tzinfo=UTC)  # the 0.7 s is dropped
LINK = '=HYPERLINK("http://x","点我")'
ROWS = [
    ("26030112345678", "0012", date(2026, 3, 1), INSTANT, "顾客退货", 12850, 3, 2.25),
    ("26030187654321", "9001", date(2026, 3, 1), INSTANT, LINK, 7, 0, None),
    ("26030100000001", "", date(2026, 3, 1), INSTANT, "-5 元", -1542, -2, 10.0),
]


def workbook_sheet(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data)).active


def csv_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.count("\r\n") == text.count("\n") == 1 + len(ROWS)
    return list(csv.reader(io.StringIO(text, newline="")))


def test_identifiers_are_text_cells_in_xlsx_and_formula_strings_in_csv():
    sheet = workbook_sheet(to_xlsx(COLUMNS, ROWS, "结算记录"))
    number, tail = sheet["A2"], sheet["B2"]
    assert (number.value, number.data_type, number.number_format) == ("26030112345678", "s", "@")
    assert (tail.value, tail.data_type, tail.number_format) == ("0012", "s", "@")
    assert sheet["B4"].value is None  # an empty identifier is an empty cell, not =""
    rows = csv_of(to_csv(COLUMNS, ROWS))
    assert rows[1][:2] == ['="26030112345678"', '="0012"'] and rows[3][1] == ""
    assert excel_identifier('A"1') == '="A""1"'  # a quote inside stays inside the string


def test_amounts_are_exact_yuan_numbers_with_two_decimals_in_xlsx_and_plain_in_csv():
    fens = [0, 7, 56, 69, 81, 12850, -1542, 99_999_999_999]
    rows = [("1", "1", date(2026, 3, 1), INSTANT, "", fen, 0, None) for fen in fens]
    sheet = workbook_sheet(to_xlsx(COLUMNS, rows, "金额"))
    for index, fen in enumerate(fens, start=2):
        cell = sheet.cell(row=index, column=6)
        assert cell.data_type == "n" and cell.number_format == "0.00"
        assert cell.value == fen / 100
        assert Decimal(repr(cell.value)) == Decimal(fen) / 100  # the amount, digit for digit
    text = csv.reader(io.StringIO(to_csv(COLUMNS, rows).decode("utf-8-sig"), newline=""))
    assert [row[5] for row in list(text)[1:]] == [
        "0.00",
        "0.07",
        "0.56",
        "0.69",
        "0.81",
        "128.50",
        "-15.42",
        "999999999.99",
    ]


def test_a_text_beginning_with_a_formula_sign_stays_text_in_both_formats():
    sheet = workbook_sheet(to_xlsx(COLUMNS, ROWS, "结算记录"))
    reason = sheet["E3"]
    assert reason.data_type == "s" and reason.value == LINK
    assert reason.quotePrefix  # Excel's hidden apostrophe: still text after an edit
    assert sheet["E4"].data_type == "s" and sheet["E4"].quotePrefix
    assert not sheet["E2"].quotePrefix
    rows = csv_of(to_csv(COLUMNS, ROWS))
    assert rows[2][4] == "'" + LINK and rows[3][4] == "'-5 元"
    assert rows[3][6] == "-2"  # a negative count is a number, not guarded text
    assert excel_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and excel_text("顾客退货") == "顾客退货"


def test_dates_and_instants_are_real_dates_in_beijing_time():
    sheet = workbook_sheet(to_xlsx(COLUMNS, ROWS, "结算记录"))
    assert sheet["C2"].is_date and sheet["C2"].number_format == "yyyy-mm-dd"
    assert sheet["D2"].value == datetime(2026, 3, 1, 0, 30, 5)
    assert sheet["D2"].number_format == "yyyy-mm-dd hh:mm:ss"
    rows = csv_of(to_csv(COLUMNS, ROWS))
    assert rows[1][2:4] == ["2026-03-01", "2026-03-01 00:30:05"]


def test_the_xlsx_has_the_csvs_rows_a_frozen_bold_header_and_sized_columns():
    sheet = workbook_sheet(to_xlsx(COLUMNS, ROWS, "结算记录"))
    assert sheet.title == "结算记录" and sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.column_dimensions["A"].width == 18
    assert sheet.column_dimensions["F"].width >= 14  # "消费金额(元)": four wide characters
    assert xlsx_as_csv(sheet) == csv_of(to_csv(COLUMNS, ROWS))


def test_control_characters_are_dropped_from_xlsx_text():
    rows = [("1", "1", date(2026, 3, 1), INSTANT, "退\x00货\x1b", 1, 1, None)]
    sheet = workbook_sheet(to_xlsx(COLUMNS, rows, "结算记录"))
    assert sheet["E2"].value == "退货"


def test_an_import_template_formats_every_column_as_text():
    columns = (Column("党员编号", Kind.IDENTIFIER), Column("姓名"), Column("报到日期"))
    sheet = workbook_sheet(fill_in_template(columns, "党员名册"))
    assert [cell.value for cell in sheet[1]] == ["党员编号", "姓名", "报到日期"]
    assert sheet.max_row == 1 and sheet.freeze_panes == "A2"
    assert [sheet.column_dimensions[c].number_format for c in "ABC"] == ["@", "@", "@"]
