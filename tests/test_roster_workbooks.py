"""The roster import reads an Excel workbook (.xlsx) typed into its template as it reads a CSV:
the same rows, the same checks, the same line numbers; a damaged or hostile file is refused with
a message and nothing is imported."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from community_portal.roster_import import TEMPLATE_COLUMNS
from rewards import spreadsheets
from rewards.services import roster

TODAY = date(2025, 6, 1)
HEADER = ("党员编号", "姓名", "手机号", "报到日期", "工作单位")


def _with_rows(book: Workbook, rows: tuple[tuple[object, ...], ...]) -> bytes:
    """``book`` with ``rows`` appended to its active sheet, saved."""
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def workbook(*rows: tuple[object, ...]) -> bytes:
    """A plain new workbook holding ``rows``."""
    return _with_rows(Workbook(), rows)


def filled_template(*rows: tuple[str, ...]) -> bytes:
    """The template the community portal offers, with rows typed into it (as text, as its
    columns are formatted)."""
    template = spreadsheets.fill_in_template(TEMPLATE_COLUMNS, "党员名册")
    return _with_rows(load_workbook(io.BytesIO(template)), rows)


def test_the_filled_in_template_reads_like_the_same_csv():
    rows = (
        ("YT0100010", "陈新", "13911113333", "2019-07-01", "鲁东化工集团"),
        ("0012345678", "李华", "13911113334", "2019/7/1", ""),
    )
    from_xlsx = roster.parse_roster(filled_template(*rows), today=TODAY)
    csv_text = ",".join(HEADER) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    from_csv = roster.parse_roster(csv_text.encode(), today=TODAY)
    assert not from_xlsx.errors and from_xlsx.rows == from_csv.rows
    assert from_xlsx.rows[1].member_no == "0012345678"  # the leading zeros survive


def test_numbers_and_dates_typed_into_plain_cells_read_as_typed():
    data = workbook(
        HEADER,
        (12345678901234, "王五", 13911112222, datetime(2012, 7, 1), None),
        ("YT0100011", "赵六", 13911112223.0, date(2013, 8, 2), "港城银行"),
    )
    parsed = roster.parse_roster(data, today=TODAY)
    assert not parsed.errors
    first, second = parsed.rows
    assert (first.member_no, first.phone, first.joined_on) == (
        "12345678901234",
        "13911112222",
        date(2012, 7, 1),
    )
    assert (second.phone, second.joined_on, second.employer) == (
        "13911112223",
        date(2013, 8, 2),
        "港城银行",
    )


def test_a_bad_row_in_a_workbook_names_its_sheet_row():
    data = workbook(
        HEADER,
        ("YT0100010", "陈新", "13911113333", "2019-07-01"),
        (),  # an empty row is skipped, and still counts as a line
        ("12AB", "李", "139", "2019-07-01"),
    )
    parsed = roster.parse_roster(data, today=TODAY)
    assert [error.line for error in parsed.errors] == [4]
    assert "12AB" in parsed.errors[0].message or parsed.errors[0].member_no == "12AB"


def test_a_workbooks_header_is_checked_like_a_csvs():
    parsed = roster.parse_roster(workbook(("党员编号", "姓名", "颜色")), today=TODAY)
    assert [error.line for error in parsed.errors] == [1, 1]
    assert "颜色" in parsed.errors[0].message and "缺少" in parsed.errors[1].message
    empty = roster.parse_roster(workbook(), today=TODAY)
    assert [error.message for error in empty.errors] == ["文件是空的，第一行应为表头。"]


def test_a_damaged_workbook_is_refused_with_a_message():
    broken = workbook(HEADER)[:400]
    parsed = roster.parse_roster(broken, today=TODAY)
    assert not parsed.rows and [error.message for error in parsed.errors] == [
        spreadsheets.UNREADABLE
    ]


def test_a_zip_that_is_no_workbook_is_refused_with_a_message():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    parsed = roster.parse_roster(buffer.getvalue(), today=TODAY)
    assert not parsed.rows and parsed.errors[0].message == spreadsheets.UNREADABLE


def test_a_workbook_that_would_unpack_too_large_is_refused_unread(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED_BYTES", 2_000)
    parsed = roster.parse_roster(workbook(HEADER, *[("YT01", "x" * 50)] * 100), today=TODAY)
    assert not parsed.rows and "解压后过大" in parsed.errors[0].message


def test_entity_expansion_in_a_workbook_is_refused_not_expanded():
    data = workbook(HEADER, ("YT0100010", "陈新", "13911113333", "2019-07-01"))
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;">]>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":  # openpyxl writes inline strings
                assert "陈新".encode() in body
                body = laughs + body.replace("陈新".encode(), b"&c;")
            target.writestr(item, body)
    parsed = roster.parse_roster(out.getvalue(), today=TODAY)
    assert not parsed.rows and parsed.errors[0].message == spreadsheets.UNREADABLE


def test_a_sheet_past_the_row_limit_is_refused_not_cut_short(monkeypatch):
    monkeypatch.setattr(roster, "MAX_ROWS", 3)
    rows = [(f"YT01000{n:02d}", "陈新", f"139111133{n:02d}", "2019-07-01") for n in range(10, 15)]
    parsed = roster.parse_roster(workbook(HEADER, *rows[:2], (), (), *rows[2:]), today=TODAY)
    assert len(parsed.rows) == 3
    assert parsed.errors and "一次最多导入 3 行" in parsed.errors[-1].message


def test_a_sheet_of_empty_rows_is_refused(monkeypatch):
    monkeypatch.setattr(roster, "MAX_ROWS", 2)
    data = workbook(HEADER, *[("",)] * 40, ("YT0100010", "陈新", "13911113333", "2019-07-01"))
    parsed = roster.parse_roster(data, today=TODAY)
    assert parsed.errors[0].message == spreadsheets.TOO_MANY_BLANKS


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_cell_is_empty_text(value):
    assert spreadsheets._cell_text(value).strip() == ""
