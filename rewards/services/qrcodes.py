"""QR codes of card tokens, rendered by segno."""

from __future__ import annotations

import io

import segno


def _qr(token: str) -> segno.QRCode:
    # Error level M survives a scratched printed card or a glare on a phone screen.
    return segno.make_qr(token, error="m", boost_error=False)


def qr_svg(token: str) -> str:
    """The token as an inline SVG document that scales to the width CSS gives it.

    Only a viewBox, no fixed width or height: a page that sizes the code never clips it (a
    clipped quiet zone is a code the counter scanner cannot read).
    """
    buffer = io.BytesIO()
    _qr(token).save(buffer, kind="svg", border=4, xmldecl=False, svgns=True, omitsize=True)
    return buffer.getvalue().decode()


def qr_png(token: str, scale: int = 8) -> bytes:
    """The token as PNG bytes (card sheets, downloads)."""
    buffer = io.BytesIO()
    _qr(token).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
