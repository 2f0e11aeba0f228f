"""Money is integer fen: parsed exactly from typed yuan text, formatted by one function."""

from __future__ import annotations

import re

from rewards.errors import AmountInvalid
from rewards.fullwidth import halfwidth

# A single bill above this is a typing mistake, not a sale at a neighbourhood shop.
MAX_AMOUNT_FEN = 10_000_000  # ¥100,000.00

# ASCII digits only (a bare \d also takes ١٢); full-width digits and full stops are made plain
# first (``halfwidth``); commas only as thousands separators, so
# "12,50" (a decimal comma) is refused rather than read as ¥1,250.
_YUAN = re.compile(r"^(?P<yuan>\d{1,9}|\d{1,3}(?:,\d{3}){1,2})(?:\.(?P<fen>\d{1,2}))?$", re.ASCII)


def parse_yuan(text: object) -> int:
    """Parse a typed yuan amount such as ``"128.5"`` into fen (12850); never via float.
    Full-width digits and full stops, as a Chinese input method types them, are read as plain."""
    if not isinstance(text, str):
        raise AmountInvalid('金额必须是文本形式的数字，例如 "128.50"。')
    cleaned = halfwidth(text).strip().removeprefix("¥").removeprefix("￥").strip()
    match = _YUAN.fullmatch(cleaned)
    if not match:
        raise AmountInvalid()
    fen = int(match["yuan"].replace(",", "")) * 100 + int((match["fen"] or "0").ljust(2, "0"))
    if fen <= 0:
        raise AmountInvalid("金额必须大于 0。")
    if fen > MAX_AMOUNT_FEN:
        raise AmountInvalid(f"金额超过单笔上限 ¥{format_fen(MAX_AMOUNT_FEN)}，请核对。")
    return fen


def format_fen(fen: int) -> str:
    """Format fen as yuan text with two decimals and thousands separators: 1234550 → '12,345.50'."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{rest:02d}"


def discount_fen(amount_fen: int, pay_percent: int, cap_fen: int | None = None) -> int:
    """Discount for paying ``pay_percent`` % (88 = 88折), rounded half up to the fen, capped."""
    off = (amount_fen * (100 - pay_percent) + 50) // 100
    if cap_fen is not None:
        off = min(off, cap_fen)
    return off


def format_zhe(pay_percent: int) -> str:
    """Show a pay percentage in the 折 convention: 88 → '88折', 90 → '9折', 100 → '无折扣'."""
    if pay_percent >= 100:
        return "无折扣"
    if pay_percent < 10:  # 5% to pay is 0.5折, not 5折 (which is half price)
        return f"0.{pay_percent}折"
    if pay_percent % 10 == 0:
        return f"{pay_percent // 10}折"
    return f"{pay_percent}折"
