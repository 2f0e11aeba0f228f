"""What a Chinese input method types in full-width mode, read as the plain characters it means.

A cashier whose input method is in full-width mode types "１２８.５０" or a card number in
full-width digits; the one money parser (``rewards.money.parse_yuan``) and the one card reader
(``rewards.services.cards``) read such text through ``halfwidth`` first. Only digits, the full
stop, the space and the hyphen are mapped: anything else stays as typed, so it is still refused.
"""

from __future__ import annotations

_HALFWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + digit): str(digit) for digit in range(10)},  # ０ … ９
        "\uff0e": ".",  # ． FULLWIDTH FULL STOP
        "\u3002": ".",  # 。 IDEOGRAPHIC FULL STOP (the period key in Chinese punctuation mode)
        "\u3000": " ",  # IDEOGRAPHIC SPACE
        "\uff0d": "-",  # － FULLWIDTH HYPHEN-MINUS
    }
)


def halfwidth(text: str) -> str:
    """``text`` with full-width digits, full stops, spaces and hyphens made plain ASCII."""
    return text.translate(_HALFWIDTH)
