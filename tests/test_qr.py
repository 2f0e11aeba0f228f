"""QR codes of card tokens: valid SVG for pages, PNG that a scanner reads back exactly."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from rewards.services.qrcodes import qr_png, qr_svg

SVG_NS = "{http://www.w3.org/2000/svg}"


def _decode_png(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    image.load()
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


@pytest.fixture()
def card_tokens(world, tokens) -> dict[str, str]:
    phone, _ = tokens.phone_token(world.gold_card)
    return {"phone": phone, "printed": tokens.printed_token(world.gold_card)}


@pytest.mark.parametrize("kind", ["phone", "printed"])
def test_qr_png_decodes_back_to_the_exact_token(card_tokens, kind):
    token = card_tokens[kind]
    png = qr_png(token)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _decode_png(png) == [token]


@pytest.mark.parametrize("kind", ["phone", "printed"])
def test_qr_svg_is_an_svg_document(card_tokens, kind):
    svg = qr_svg(card_tokens[kind])
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    # A viewBox and no fixed size: the page's CSS sizes it without clipping the quiet zone.
    _, _, width, height = (float(n) for n in root.get("viewBox").split())
    assert width == height > 0
    assert root.get("width") is None and root.get("height") is None
    assert root.find(f".//{SVG_NS}path") is not None
    assert not svg.lstrip().startswith("<?xml")  # inline in HTML pages


def test_the_phone_token_still_verifies_after_the_round_trip(world, session, tokens):
    phone, _ = tokens.phone_token(world.gold_card)
    (scanned,) = _decode_png(qr_png(phone))
    assert tokens.verify(session, scanned).card.id == world.gold_card.id


def test_a_small_scale_png_still_scans(card_tokens):
    token = card_tokens["phone"]
    assert _decode_png(qr_png(token, scale=3)) == [token]


def test_different_tokens_give_different_codes(card_tokens):
    assert qr_png(card_tokens["phone"]) != qr_png(card_tokens["printed"])
    assert qr_svg(card_tokens["phone"]) != qr_svg(card_tokens["printed"])
