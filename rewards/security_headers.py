"""Security headers on every answer (页面安全响应头): a Content-Security-Policy that allows
only this site's own scripts and stylesheets (no inline script, no inline style, no framing),
its legacy twins, and the referrer policy. Cookie flags live in ``rewards.config``.

A plain ``after_request`` rather than Flask-Talisman: the app needs four fixed headers and no
HTTPS redirect (TLS ends at the reverse proxy, see docs/operations.md); Talisman's defaults
(force_https, its own session cookie settings, nonces) would have to be switched off one by one.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.wrappers import Response

# What the pages really need:
# - script-src 'self' 'wasm-unsafe-eval': the counter's and the activity's camera scanner
#   compiles zxing-wasm (rewards/static/vendor/zxing_reader.wasm); no 'unsafe-inline', no eval.
# - img-src data: blob:: QR codes and barcodes drawn in the browser, claim photo previews.
# - worker-src 'self': the member card's service worker (/member/sw.js).
# - media-src 'self' blob:: the camera preview of the scanner.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # the legacy twin of frame-ancestors 'none'
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    """Put the security headers on ``response`` unless a view chose its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Send the security headers with every answer of ``app`` (pages, API, static files)."""
    app.after_request(add_security_headers)
