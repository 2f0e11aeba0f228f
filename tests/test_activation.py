"""Members' first sign-in with one-time activation codes (激活码): the secretary issues codes,
the sheet prints them, a member sets their password with one; codes are single use, expire
after 30 days, are replaced by newer ones, scoped to the community, throttled, and never stored
in plain text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rewards.clock import BUSINESS_TZ
from rewards.errors import NotFound, TooManyAttempts, ValidationFailed
from rewards.models import Account, ActivationCode, AuditEvent, Role
from rewards.services import accounts, activation
from rewards.services.accounts import FREE_FAILURES_PER_ADDRESS
from rewards.services.activation import ActivationRefused, normalise_code
from tests import factories
from tests.forms import once
from tests.test_auth import sign_in

HERE = "203.0.113.7"
NEW_PASSWORD = "a fresh password"


@pytest.fixture()
def codes(app):  # type: ignore[no-untyped-def]
    return app.extensions["rewards.activation_codes"]


def issue(session, world, codes, *members) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Issue codes as the home secretary; the batch and each member number's printed code."""
    actor = world.actor(world.secretary)
    batch = activation.issue_codes(session, actor, codes, [m.id for m in members])
    session.commit()
    slips = activation.batch_slips(session, actor, codes, batch)
    return batch, {slip.member.member_no: slip.code for slip in slips}


# -- the service -----------------------------------------------------------------------------


def test_issued_codes_are_printed_on_the_batch_sheet(session, world, codes, clock):
    batch, printed = issue(session, world, codes, world.gold, world.silver)
    slips = activation.batch_slips(session, world.actor(world.secretary), codes, batch)
    assert [s.member.member_no for s in slips] == sorted(
        [world.gold.member_no, world.silver.member_no]
    )
    for slip in slips:
        assert len(slip.code) == 11 and slip.code[5] == "-"
        assert slip.username == slip.member.member_no  # no account yet: the member number
        assert slip.expires_at == clock.now + activation.VALID_FOR
    assert printed[world.gold.member_no] != printed[world.silver.member_no]


def test_activation_creates_the_members_account_named_by_member_number(session, world, codes):
    _, printed = issue(session, world, codes, world.gold)
    account = activation.activate(
        session, world.gold.member_no, printed[world.gold.member_no], NEW_PASSWORD
    )
    session.commit()
    assert (account.username, account.role, account.member_id) == (
        world.gold.member_no,
        Role.MEMBER,
        world.gold.id,
    )
    assert accounts.authenticate(session, world.gold.member_no, NEW_PASSWORD) is not None


def test_activation_resets_an_existing_accounts_password(session, world, codes):
    existing = factories.account(session, Role.MEMBER, member=world.silver)
    session.commit()
    _, printed = issue(session, world, codes, world.silver)
    slips = activation.batch_slips(
        session, world.actor(world.secretary), codes, _batch_of(session, world.silver.id)
    )
    assert slips[0].username == existing.username  # the sheet shows the name to sign in with
    account = activation.activate(
        session, world.silver.member_no, printed[world.silver.member_no], NEW_PASSWORD
    )
    session.commit()
    assert account.id == existing.id
    assert accounts.authenticate(session, existing.username, NEW_PASSWORD) is not None
    assert accounts.authenticate(session, existing.username, "correct horse") is None
    assert (
        session.scalar(select(func.count(Account.id)).where(Account.member_id == world.silver.id))
        == 1
    )


def _batch_of(session, member_id: int) -> str:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(ActivationCode.batch)
        .where(ActivationCode.member_id == member_id)
        .order_by(ActivationCode.id.desc())
    )


def test_a_code_is_used_once(session, world, codes):
    batch, printed = issue(session, world, codes, world.gold)
    code = printed[world.gold.member_no]
    activation.activate(session, world.gold.member_no, code, NEW_PASSWORD)
    session.commit()
    with pytest.raises(ActivationRefused):
        activation.activate(session, world.gold.member_no, code, "another password")
    session.rollback()
    assert activation.batch_slips(session, world.actor(world.secretary), codes, batch) == []
    assert accounts.authenticate(session, world.gold.member_no, NEW_PASSWORD) is not None


def test_a_code_expires_after_30_days(session, world, codes, clock):
    batch, printed = issue(session, world, codes, world.gold)
    clock.advance(days=30)
    with pytest.raises(ActivationRefused):
        activation.activate(
            session, world.gold.member_no, printed[world.gold.member_no], NEW_PASSWORD
        )
    session.rollback()
    assert activation.batch_slips(session, world.actor(world.secretary), codes, batch) == []
    assert session.scalar(select(Account).where(Account.member_id == world.gold.id)) is None


def test_a_code_still_works_on_its_last_day(session, world, codes, clock):
    _, printed = issue(session, world, codes, world.gold)
    clock.advance(days=29, hours=23)
    activation.activate(session, world.gold.member_no, printed[world.gold.member_no], NEW_PASSWORD)


def test_a_newer_code_replaces_an_older_unused_one(session, world, codes, clock):
    first_batch, first = issue(session, world, codes, world.gold)
    clock.advance(days=1)
    _, second = issue(session, world, codes, world.gold)
    with pytest.raises(ActivationRefused):
        activation.activate(
            session, world.gold.member_no, first[world.gold.member_no], NEW_PASSWORD
        )
    session.rollback()
    assert activation.batch_slips(session, world.actor(world.secretary), codes, first_batch) == []
    activation.activate(session, world.gold.member_no, second[world.gold.member_no], NEW_PASSWORD)


def test_another_communitys_member_is_not_found_for_a_secretary(session, world, codes):
    outsider = factories.member(session, world.other, name="郑外人")
    session.commit()
    with pytest.raises(NotFound):
        activation.issue_codes(session, world.actor(world.secretary), codes, [outsider.id])
    session.rollback()
    # Nor can a secretary print another community's batch.
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    batch = activation.issue_codes(session, world.actor(admin), codes, [outsider.id])
    session.commit()
    with pytest.raises(NotFound):
        activation.batch_slips(session, world.actor(world.secretary), codes, batch)


def test_a_right_code_with_another_member_number_is_refused(session, world, codes):
    _, printed = issue(session, world, codes, world.gold)
    with pytest.raises(ActivationRefused):
        activation.activate(
            session, world.silver.member_no, printed[world.gold.member_no], NEW_PASSWORD
        )


def test_a_short_password_is_refused_and_the_code_is_kept(session, world, codes):
    batch, printed = issue(session, world, codes, world.gold)
    with pytest.raises(ValidationFailed):
        activation.activate(session, world.gold.member_no, printed[world.gold.member_no], "short")
    session.rollback()
    assert len(activation.batch_slips(session, world.actor(world.secretary), codes, batch)) == 1


def test_activation_attempts_are_slowed_per_member_number_and_address(session, world, codes, clock):
    _, printed = issue(session, world, codes, world.gold)
    code = printed[world.gold.member_no]
    for _ in range(10):
        activation.record_failure(session, world.gold.member_no.lower(), address=HERE)
    session.commit()
    with pytest.raises(TooManyAttempts) as refused:  # 32 s after the tenth failure
        activation.activate(session, world.gold.member_no, code, NEW_PASSWORD, address=HERE)
    assert refused.value.details == {"retry_after": 32}
    session.rollback()
    clock.advance(seconds=32)
    activation.activate(session, world.gold.member_no, code, NEW_PASSWORD, address=HERE)


def test_wrong_codes_from_one_address_never_stop_the_right_code_from_another(session, world, codes):
    _, printed = issue(session, world, codes, world.gold)
    for _ in range(100):
        activation.record_failure(session, world.gold.member_no, address=HERE)
    session.commit()
    code = printed[world.gold.member_no]
    with pytest.raises(TooManyAttempts):
        activation.activate(session, world.gold.member_no, code, NEW_PASSWORD, address=HERE)
    session.rollback()
    account = activation.activate(
        session, world.gold.member_no, code, NEW_PASSWORD, address="198.51.100.20"
    )
    assert account.username == world.gold.member_no


def test_the_database_never_holds_the_plain_code(session, world, codes):
    _, printed = issue(session, world, codes, world.gold, world.silver)
    plain = {normalise_code(code) for code in printed.values()} | set(printed.values())
    stored = [
        str(value)
        for row in session.execute(select(ActivationCode.__table__)).all()
        for value in row
    ]
    stored += [str(e.details) for e in session.scalars(select(AuditEvent))]
    assert not any(code in text for code in plain for text in stored)
    assert all(
        row.code_hash == activation.hash_code(printed[row.member.member_no])
        for row in session.scalars(select(ActivationCode))
    )


# -- the pages -------------------------------------------------------------------------------


def activate_form(
    member_no: str, code: str, password: str = NEW_PASSWORD, again: str | None = None
):  # type: ignore[no-untyped-def]
    return {
        "member_no": member_no,
        "code": code,
        "password": password,
        "password_again": password if again is None else again,
    }


def test_sign_in_page_links_to_activation(client, session, world):
    page = client.get("/login").text
    assert "首次登录？使用激活码" in page and 'href="/activate"' in page


def test_a_member_activates_and_is_signed_in(client, session, world, codes):
    _, printed = issue(session, world, codes, world.gold)
    code = printed[world.gold.member_no].lower().replace("-", " ")  # typed loosely
    response = client.post("/activate", data=activate_form(world.gold.member_no.lower(), code))
    assert response.status_code == 302 and response.location.endswith("/member/")
    home = client.get("/member/")
    assert home.status_code == 200 and "账号已开通" in home.text


def test_a_wrong_code_says_so_changes_nothing_and_counts_a_failure(client, session, world, codes):
    issue(session, world, codes, world.gold)
    response = client.post("/activate", data=activate_form(world.gold.member_no, "ABCDE-FGHJK"))
    assert response.status_code == 422
    assert "激活码不正确" in response.text
    assert session.scalar(select(Account).where(Account.member_id == world.gold.id)) is None
    failures = session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == activation.FAILED_ACTION)
    )
    assert failures == 1
    assert client.get("/member/").status_code == 302  # still signed out


def test_mismatched_passwords_keep_the_code(client, session, world, codes):
    batch, printed = issue(session, world, codes, world.gold)
    form = activate_form(
        world.gold.member_no, printed[world.gold.member_no], again="something else"
    )
    response = client.post("/activate", data=form)
    assert response.status_code == 422 and "两次输入的密码不一致" in response.text
    assert len(activation.batch_slips(session, world.actor(world.secretary), codes, batch)) == 1


def test_too_many_wrong_codes_from_one_address_make_it_wait_with_429(client, session, world, codes):
    _, printed = issue(session, world, codes, world.gold)
    here = {"REMOTE_ADDR": HERE}
    for _ in range(FREE_FAILURES_PER_ADDRESS):
        wrong = activate_form(world.gold.member_no, "ABCDE-FGHJK")
        assert client.post("/activate", data=wrong, environ_overrides=here).status_code == 422
    right = activate_form(world.gold.member_no, printed[world.gold.member_no])
    response = client.post("/activate", data=right, environ_overrides=here)
    assert response.status_code == 429 and "尝试次数过多，请 1 秒后再试" in response.text
    assert response.headers["Retry-After"] == "1"
    assert session.scalar(select(Account).where(Account.member_id == world.gold.id)) is None
    failed = session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == activation.FAILED_ACTION)
    ).all()
    assert failed == [{"ip": HERE}] * FREE_FAILURES_PER_ADDRESS  # the refusal is not counted
    # Another address is not made to wait.
    other = {"REMOTE_ADDR": "198.51.100.20"}
    assert client.post("/activate", data=right, environ_overrides=other).status_code == 302


def test_secretary_issues_codes_and_gets_the_sheet(client, session, world, clock):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/activation",
        data={
            "member_ids": [world.gold.id, world.silver.id],
            **once(client, "/community/activation"),
        },
    )
    assert response.status_code == 303 and "/community/activation/" in response.location
    sheet = client.get(response.location)
    assert sheet.status_code == 200
    assert sheet.headers["Cache-Control"] == "no-store"
    assert sheet.text.count('class="slip"') == 2
    assert (
        world.gold.member_no in sheet.text
        and f"有效期至 {(clock.now + timedelta(days=30)).astimezone(BUSINESS_TZ):%Y-%m-%d}"
        in sheet.text
    )
    assert "http://rewards.test/activate" in sheet.text


def test_a_member_page_may_post_one_member(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/activation",
        data={"member_ids": str(world.plain.id), **once(client, "/community/activation")},
    )
    assert response.status_code == 303
    assert client.get(response.location).text.count('class="slip"') == 1


def test_issuing_without_a_tick_says_so(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/activation", data=once(client, "/community/activation"), follow_redirects=True
    )
    assert "请先勾选要生成激活码的党员" in response.text
    assert session.scalar(select(func.count(ActivationCode.id))) == 0


def test_activation_list_marks_who_has_an_account(client, session, world):
    factories.account(session, Role.MEMBER, member=world.silver)
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/activation").text
    rows = {
        no: page.split(f'data-member="{no}"')[1].split("</tr>")[0]
        for no in (world.silver.member_no, world.gold.member_no)
    }
    assert "已开通" in rows[world.silver.member_no]
    assert "未开通" in rows[world.gold.member_no]


def test_another_communitys_member_or_batch_is_404_on_the_pages(client, session, world, codes):
    outsider = factories.member(session, world.other, name="郑外人")
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    batch = activation.issue_codes(session, world.actor(admin), codes, [outsider.id])
    session.commit()
    sign_in(client, world.secretary)
    refused = client.post(
        "/community/activation",
        data={"member_ids": [outsider.id], **once(client, "/community/activation")},
    )
    assert refused.status_code == 404
    assert client.get(f"/community/activation/{batch}").status_code == 404
    assert "郑外人" not in client.get("/community/activation?q=郑").text
