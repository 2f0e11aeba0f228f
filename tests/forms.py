"""Submitting a page's form like a browser: read it (and its one-time token) from the GET page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flask.testing import FlaskClient

FIELD = "form_once"


class _Forms(HTMLParser):
    """Each form's action and its hidden inputs, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((found.get("action", ""), {}))
            self._open = True
        elif tag == "input" and self._open and found.get("type") == "hidden" and "name" in found:
            self.forms[-1][1][found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def hidden_fields(html: str, action: str | None = None) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` (by default: the first form that
    carries a one-time token), as a browser would send them."""
    parser = _Forms()
    parser.feed(html)
    for form_action, hidden in parser.forms:
        if action is None and FIELD in hidden:
            return hidden
        if action is not None and form_action.split("?")[0] == action:
            return hidden
    raise AssertionError(f"no form {'with a token' if action is None else action} on the page")


def once(client: FlaskClient, page_url: str, action: str | None = None) -> dict[str, str]:
    """GET ``page_url`` and return the hidden fields (the one-time token among them) of its
    form posting to ``action``: merge them into the data a test posts."""
    response = client.get(page_url)
    assert response.status_code == 200, (page_url, response.status_code)
    fields = hidden_fields(response.get_data(as_text=True), action)
    assert FIELD in fields, f"the form on {page_url} carries no one-time token"
    return {FIELD: fields[FIELD]}


def minted() -> dict[str, str]:
    """A valid one-time token as a page would mint it, for a form its page shows only when
    there is something to pick (needs the app context the ``session`` fixture opens)."""
    from rewards.forms_once import new_nonce

    return {FIELD: new_nonce()}


CSRF_TOKEN = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]*"')


def without_csrf_tokens(html: str) -> str:
    """The page with its CSRF tokens blanked (the forms' hidden fields and the ``<meta>`` the
    scripts read): they carry the second they were signed, so two renderings of the same page
    differ across a second boundary."""
    return CSRF_TOKEN.sub(r'\1"', html)
