"""The test helpers that make page comparisons independent of the clock."""

from __future__ import annotations

from itsdangerous import TimestampSigner

from rewards.models import Role
from tests import factories
from tests.forms import without_csrf_tokens
from tests.test_auth import sign_in


def test_two_renderings_a_second_apart_compare_equal_without_their_csrf_tokens(
    client, session, monkeypatch
):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    renderings = []
    signed_at = TimestampSigner("k").get_timestamp()  # the session cookie stays fresh
    for second in (signed_at, signed_at + 1):
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self, s=second: s)
        renderings.append(client.get("/district/statistics?section=points&year=1990").text)
    first, second = renderings
    assert first != second  # the tokens differ …
    assert 'name="csrf-token" content=""' in without_csrf_tokens(first)
    assert without_csrf_tokens(first) == without_csrf_tokens(second)  # … and nothing else
