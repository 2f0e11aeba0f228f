"""Rule 6: money is integer fen, parsed exactly from typed yuan text, never through a float."""

from __future__ import annotations

import pytest

from rewards.errors import AmountInvalid
from rewards.money import MAX_AMOUNT_FEN, discount_fen, format_fen, format_zhe, parse_yuan


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("128.5", 12850),
        ("128.50", 12850),
        ("0.01", 1),
        ("0.1", 10),
        ("12", 1200),
        ("1,234.50", 123450),
        ("99,999.99", 9999999),
        ("¥12", 1200),
        ("￥12.30", 1230),
        ("  ¥ 7.05 ", 705),
        ("100000.00", MAX_AMOUNT_FEN),
    ],
)
def test_parse_yuan_is_exact_to_the_fen(typed: str, fen: int) -> None:
    assert parse_yuan(typed) == fen


def test_parse_yuan_never_goes_through_float() -> None:
    # 0.1 + 0.2 style drift would turn 1.15 into 114 fen through float arithmetic.
    assert parse_yuan("1.15") == 115
    assert parse_yuan("4.35") == 435
    assert parse_yuan("99999.99") == 9_999_999


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("１２８.５０", 12850),  # full-width digits, ASCII full stop
        ("１２８．５０", 12850),  # FULLWIDTH FULL STOP
        ("１２８。５", 12850),  # the ideographic full stop (Chinese punctuation mode)
        ("￥１２８", 12800),
        ("\u3000１２８.５\u3000", 12850),  # ideographic spaces around it
        ("1２8.5０", 12850),  # switched mode half-way
    ],
)
def test_full_width_digits_and_full_stops_are_read_as_a_plain_amount(typed: str, fen: int) -> None:
    assert parse_yuan(typed) == fen


@pytest.mark.parametrize(
    "typed",
    [
        "-1",
        "1.234",
        "1e3",
        "abc",
        "",
        " ",
        "0",
        "0.00",
        "NaN",
        "inf",
        "١٢",  # Arabic-Indic digits: \d would take them without re.ASCII
        "１２，５０",  # a full-width comma is not a decimal point either
        "１２.５.０",
        "１２ａ",
        "－５",  # a full-width minus is still a minus
        "１.２３４",
        "12,50",  # a decimal comma must not become ¥1,250
        "1,2,3",
        "12.",
        ".5",
        "1 000",
        "+5",
        "100000.01",
        "9" * 5000,
    ],
)
def test_parse_yuan_refuses_anything_but_a_plain_positive_amount(typed: str) -> None:
    with pytest.raises(AmountInvalid) as caught:
        parse_yuan(typed)
    assert caught.value.code == "amount_invalid"
    assert caught.value.message


@pytest.mark.parametrize("value", [12.5, 12, None, b"12.50", ["12"]])
def test_parse_yuan_refuses_non_text_such_as_a_float(value: object) -> None:
    with pytest.raises(AmountInvalid):
        parse_yuan(value)


def test_amount_beyond_the_single_bill_limit_names_the_limit() -> None:
    with pytest.raises(AmountInvalid) as caught:
        parse_yuan("100000.01")
    assert "100,000.00" in caught.value.message


def test_zero_amount_says_it_must_be_positive() -> None:
    with pytest.raises(AmountInvalid) as caught:
        parse_yuan("0.00")
    assert "大于 0" in caught.value.message


def test_discount_rounds_half_up_to_the_fen() -> None:
    assert discount_fen(12850, 88) == 1542  # 128.50 × 12% = 15.42 exactly
    assert discount_fen(25, 98) == 1  # 0.5 fen rounds up (banker's rounding would give 0)
    assert discount_fen(24, 98) == 0  # 0.48 fen rounds down
    assert discount_fen(75, 98) == 2  # 1.5 fen rounds up
    assert discount_fen(1, 88) == 0
    assert discount_fen(999, 95) == 50  # 49.95 fen → 50


def test_discount_is_capped_per_transaction() -> None:
    assert discount_fen(100_000, 88, cap_fen=5000) == 5000
    assert discount_fen(10_000, 88, cap_fen=5000) == 1200
    assert discount_fen(10_000, 100) == 0


def test_format_fen_shows_yuan_with_two_decimals_and_separators() -> None:
    assert format_fen(1234550) == "12,345.50"
    assert format_fen(5) == "0.05"
    assert format_fen(0) == "0.00"
    assert format_fen(-1542) == "-15.42"


@pytest.mark.parametrize(
    ("pay_percent", "label"),
    [(88, "88折"), (95, "95折"), (90, "9折"), (50, "5折"), (100, "无折扣"), (5, "0.5折")],
)
def test_pay_percent_is_shown_in_the_zhe_convention(pay_percent: int, label: str) -> None:
    assert format_zhe(pay_percent) == label
