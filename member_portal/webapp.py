"""The member pages as an installable web app (添加到手机桌面): the web manifest and the service
worker, served under /member/ so that its scope is /member/. The worker keeps the card page
(出示卡码) and its scripts and styles, so that after one visit online the offline code shows in
airplane mode; it never keeps the offline key or the JSON code endpoints."""

import hashlib
import json
from pathlib import Path

from flask import Response, current_app, render_template, url_for

from member_portal import bp

# What the card page needs offline: (static endpoint, filename).
SHELL_ASSETS = (
    ("static", "app.css"),
    ("static", "pages.js"),
    ("static", "vendor/qrcode-generator.js"),
    ("static", "vendor/jsbarcode.code128.min.js"),
    ("member.static", "member.css"),
    ("member.static", "card.css"),
    ("member.static", "card.js"),
    ("member.static", "phone_code.js"),
    ("member.static", "webapp.js"),
    ("member.static", "text-size.js"),  # the large-text choice applies offline too
    ("member.static", "icon.svg"),
)
ICONS = (
    ("icon.svg", "any", "image/svg+xml"),
    ("icon-192.png", "192x192", "image/png"),
    ("icon-512.png", "512x512", "image/png"),
)
THEME_COLOR = "#c8161d"


def _static_folder(endpoint: str) -> Path:
    folder = bp.static_folder if endpoint == "member.static" else current_app.static_folder
    return Path(folder or "")


def shell_version() -> str:
    """A digest of the shell's files: a new one makes browsers install the new worker."""
    digest = hashlib.sha256()
    for endpoint, filename in SHELL_ASSETS:
        path = _static_folder(endpoint) / filename
        digest.update(filename.encode() + b"\x00")
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()[:12]


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: name, icons, start at the member's home, standalone."""
    body = {
        "name": "红色动力双赢卡",
        "short_name": "动力卡",
        "description": "党员积分、出示卡码（无网络也能用）、联盟商家优惠。",
        "lang": "zh-CN",
        "start_url": url_for("member.home"),
        "scope": url_for("member.home"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": [
            {
                "src": url_for("member.static", filename=name),
                "sizes": sizes,
                "type": kind,
                "purpose": "any",
            }
            for name, sizes, kind in ICONS
        ],
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker script (scope /member/); public, it holds nothing personal."""
    script = render_template(
        "member/sw.js",
        version=shell_version(),
        card_page=url_for("member.card"),
        home=url_for("member.home"),
        shell=[url_for(endpoint, filename=name) for endpoint, name in SHELL_ASSETS],
        static_prefixes=[
            url_for("static", filename=""),
            url_for("member.static", filename=""),
        ],
    )
    response = Response(script, mimetype="text/javascript")
    # Browsers check for a new worker on navigation; never serve them a stale copy.
    response.headers["Cache-Control"] = "no-cache"
    return response
