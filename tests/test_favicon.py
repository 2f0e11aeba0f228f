"""The browser tab shows the brand's icon: /favicon.ico and an SVG icon linked by every page."""

from __future__ import annotations


def test_favicon_ico_is_served_to_anyone_as_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert "max-age=86400" in response.headers["Cache-Control"]


def test_every_page_links_the_svg_icon(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.data.lstrip().startswith(b"<svg")
