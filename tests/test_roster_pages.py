"""The roster pages (党员名册): search, a member's page, add and edit, the CSV import with its
preview, transfers, and corrections (积分调整 and 冲正), each scoped to the secretary's
community."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rewards.clock import months_before
from rewards.models import (
    AuditEvent,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    MemberTransfer,
    Role,
)
from rewards.services import claims, ledger
from tests import factories
from tests.clock import today
from tests.forms import once
from tests.test_auth import sign_in

HEADER = "member_no,name,phone,joined_on,employer\n"


@pytest.fixture(autouse=True)
def staging_in_tmp(app, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Uploaded roster files are kept under the test's own folder, not the project's."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))


def count(session, model, *where) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def entries_of(session, member: Member) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(
        session.scalars(
            select(LedgerEntry).where(LedgerEntry.member_id == member.id).order_by(LedgerEntry.seq)
        )
    )


def roster_numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-member="([^"]+)"', html)


def field_error(html: str, field: str) -> str:
    found = re.search(rf'data-error-for="{field}">([^<]+)<', html)
    return found.group(1) if found else ""


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html).group(1)


def upload(client, text: str, encoding: str = "utf-8", **extra):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(text.encode(encoding)), "roster.csv"), **extra}
    return client.post("/community/members/import", data=data, content_type="multipart/form-data")


def other_secretary(session, world):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    return account


def admin(session):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    return account


# -- the list ---------------------------------------------------------------------------------


def test_roster_search_finds_by_name_member_number_and_phone_tail(client, session, world):
    factories.member(session, world.home, name="赵六", phone="13912345678")
    session.commit()
    sign_in(client, world.secretary)

    assert roster_numbers(client.get("/community/members?q=李四").text) == [world.silver.member_no]
    by_number = client.get(f"/community/members?q={world.gold.member_no.lower()}").text
    assert roster_numbers(by_number) == [world.gold.member_no]
    tail = client.get("/community/members?q=5678").text
    assert [n for n in roster_numbers(tail)] == [
        m.member_no for m in session.scalars(select(Member).where(Member.name == "赵六"))
    ]
    assert "13912345678" in tail  # secretaries see the phone
    assert roster_numbers(client.get("/community/members?q=没有这个人").text) == []


def test_roster_lists_live_tier_and_card_status_of_own_community_only(client, session, world):
    outsider = factories.member(session, world.other, name="郑外人")
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/members").text
    assert set(roster_numbers(page)) == {
        world.gold.member_no,
        world.silver.member_no,
        world.plain.member_no,
    }
    assert outsider.member_no not in page
    gold_row = re.search(rf'<tr data-member="{world.gold.member_no}".*?</tr>', page, re.S).group(0)
    assert "金卡" in gold_row and "正常" in gold_row
    assert f'href="/community/members/{world.gold.member_no}"' in gold_row
    assert 'href="/community/members/new"' in page and 'href="/community/members/import"' in page


def test_roster_is_paged(client, session, world):
    for n in range(22):
        factories.member(session, world.home, name=f"党员{n:02d}")
    session.commit()
    sign_in(client, world.secretary)
    first = client.get("/community/members").text
    second = client.get("/community/members?page=2").text
    assert len(roster_numbers(first)) == 20 and len(roster_numbers(second)) == 5
    assert not set(roster_numbers(first)) & set(roster_numbers(second))
    assert "第 1 / 2 页" in first and 'rel="next"' in first


def test_admin_sees_every_community_and_filters_by_one(client, session, world):
    outsider = factories.member(session, world.other, name="郑外人")
    session.commit()
    sign_in(client, admin(session))
    everyone = client.get("/community/members").text
    assert outsider.member_no in roster_numbers(everyone)
    assert world.gold.member_no in roster_numbers(everyone)
    filtered = client.get(f"/community/members?community={world.other.code}").text
    assert roster_numbers(filtered) == [outsider.member_no]
    assert client.get("/community/members?community=ZZ9").status_code == 404


# -- scope ------------------------------------------------------------------------------------


def test_another_communitys_member_is_not_found_on_every_member_url(client, session, world):
    outsider = factories.member(session, world.other, name="郑外人")
    entry = factories.points(session, outsider, 30)
    session.commit()
    sign_in(client, world.secretary)
    base = f"/community/members/{outsider.member_no}"
    for url in (base, f"{base}/edit", f"{base}?reverse={entry.id}"):
        assert client.get(url).status_code == 404, url
    posts = {
        f"{base}/edit": {"name": "改名", "phone": "13900000000", "joined_on": "2020-01-01"},
        f"{base}/adjust": {
            "points": "5",
            "reason": "越权",
            "occurred_on": today().isoformat(),
            "idempotency_key": "outsider-key-1",
        },
        f"{base}/entries/{entry.id}/reverse": {"reversal-reason": "越权"},
        f"{base}/transfer": {"community": world.home.code},
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 404, url
    session.expire_all()
    assert session.get(Member, outsider.id).name == "郑外人"
    assert session.get(Member, outsider.id).community_id == world.other.id
    assert len(entries_of(session, outsider)) == 1


def test_an_entry_of_another_member_cannot_be_reversed_through_this_members_url(
    client, session, world
):
    sign_in(client, world.secretary)
    silver_entry = entries_of(session, world.silver)[0]
    url = f"/community/members/{world.gold.member_no}/entries/{silver_entry.id}/reverse"
    assert client.post(url, data={"reversal-reason": "错人"}).status_code == 404
    assert len(entries_of(session, world.silver)) == 1


# -- a member's page --------------------------------------------------------------------------


def test_member_page_shows_profile_standing_ledger_cards_claims_and_transfers(
    client, session, world
):
    claim = claims.submit_claim(
        session,
        factories.OPERATOR,
        world.gold.id,
        world.category.id,
        "帮独居老人买菜",
        today() - timedelta(days=2),
        points=5,
    )
    claims.reject_claim(session, factories.OPERATOR, claim.id, "没有服务记录")
    session.commit()
    sign_in(client, world.secretary)
    page = client.get(f"/community/members/{world.gold.member_no}").text
    for text in (world.gold.member_no, "张三明", "13800000000", world.home.name, "2020-01-01"):
        assert text in page
    assert 'data-stat="window_points">120<' in page
    assert 'data-stat="all_time_points">120<' in page
    assert "已是最高等级" in page
    window_start = (months_before(today(), 12) + timedelta(days=1)).isoformat()
    assert window_start in page and today().isoformat() in page
    assert "+120" in page and "test" in page  # the ledger entry and its reason
    assert world.gold_card.card_no[-4:] in page and "第 1 张" in page
    assert "帮独居老人买菜" in page and "已驳回" in page and "没有服务记录" in page

    silver = client.get(f"/community/members/{world.silver.member_no}").text
    assert "还差 40 分升为金卡" in silver


def test_the_member_page_links_each_card_to_its_page(client, session, world):
    sign_in(client, world.secretary)
    page = client.get(f"/community/members/{world.gold.member_no}").text
    assert f'href="/community/cards/{world.gold_card.id}"' in page


def test_ledger_is_paged_newest_first_with_a_year_filter(client, session, world):
    last_year = today().replace(year=today().year - 1, month=6, day=1)
    factories.points(session, world.plain, 7, last_year)
    for n in range(20):
        factories.points(session, world.plain, n + 1, today())
    session.commit()
    sign_in(client, world.secretary)
    base = f"/community/members/{world.plain.member_no}"
    first = client.get(base).text
    entry_ids = [int(i) for i in re.findall(r'<tr data-entry="(\d+)"', first)]
    assert len(entry_ids) == 20 and entry_ids == sorted(entry_ids, reverse=True)
    assert "第 1 / 2 页" in first
    assert f'<option value="{last_year.year}"' in first
    older = client.get(f"{base}?year={last_year.year}").text
    # Every entry of that year (the world's own may fall in it too on a January day), newest first.
    expected = [
        str(e.id)
        for e in sorted(entries_of(session, world.plain), key=lambda e: -e.seq)
        if e.occurred_on.year == last_year.year
    ]
    assert re.findall(r'data-entry="(\d+)"', older) == expected
    assert str(entries_of(session, world.plain)[1].id) in expected


# -- add and edit -----------------------------------------------------------------------------


def new_member_form(**overrides: str) -> dict[str, str]:
    form = {
        "member_no": "YT0100100",
        "name": "陈新",
        "phone": "139 1111 2222",
        "joined_on": "2019-07-01",
        "employer": "鲁东化工集团",
    }
    return {**form, **overrides}


def test_adding_a_member_registers_them_in_the_secretarys_community(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/members/new", data=once(client, "/community/members/new") | new_member_form()
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/community/members/YT0100100")
    added = session.scalar(select(Member).where(Member.member_no == "YT0100100"))
    assert (added.community_id, added.phone, added.employer) == (
        world.home.id,
        "13911112222",
        "鲁东化工集团",
    )
    assert "已登记党员 陈新" in client.get(response.headers["Location"]).text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"member_no": "12AB"}, "member_no", "格式不对"),
        ({"name": ""}, "name", "请填写姓名"),
        ({"phone": "12345"}, "phone", "不是 11 位大陆手机号"),
        ({"joined_on": ""}, "joined_on", "请填写报到日期"),
        ({"joined_on": "2999-01-01"}, "joined_on", "晚于今天"),
    ],
)
def test_adding_refuses_bad_input_next_to_the_field_and_writes_nothing(
    client, session, world, overrides, field, message
):
    sign_in(client, world.secretary)
    before = count(session, Member)
    response = client.post(
        "/community/members/new",
        data=once(client, "/community/members/new") | new_member_form(**overrides),
    )
    assert response.status_code == 422
    assert message in field_error(response.text, field)
    assert count(session, Member) == before


def test_adding_an_existing_member_number_is_refused_next_to_the_number(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/members/new",
        data=once(client, "/community/members/new")
        | new_member_form(member_no=world.gold.member_no),
    )
    assert response.status_code == 422
    assert "党员编号已存在" in field_error(response.text, "member_no")
    assert count(session, Member, Member.name == "陈新") == 0


def test_admin_adds_a_member_to_the_community_they_pick(client, session, world):
    sign_in(client, admin(session))
    page = client.get("/community/members/new").text
    assert f'value="{world.other.code}"' in page
    missing = client.post(
        "/community/members/new", data=once(client, "/community/members/new") | new_member_form()
    )
    assert missing.status_code == 422 and "请选择社区" in field_error(missing.text, "community")
    client.post(
        "/community/members/new",
        data=once(client, "/community/members/new") | new_member_form(community=world.other.code),
    )
    added = session.scalar(select(Member).where(Member.member_no == "YT0100100"))
    assert added.community_id == world.other.id


def test_editing_a_member_saves_details_and_can_mark_them_inactive(client, session, world):
    sign_in(client, world.secretary)
    url = f"/community/members/{world.plain.member_no}/edit"
    assert 'value="王五"' in client.get(url).text
    response = client.post(
        url,
        data={
            "name": "王五一",
            "phone": "13722223333",
            "joined_on": "2018-05-04",
            "employer": "开发区管委会",
            "status": "inactive",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    member = session.get(Member, world.plain.id)
    assert (member.name, member.phone, member.joined_on, member.status) == (
        "王五一",
        "13722223333",
        date(2018, 5, 4),
        MemberStatus.INACTIVE,
    )


def test_editing_refuses_a_bad_phone_next_to_the_field_and_writes_nothing(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/members/{world.plain.member_no}/edit",
        data={"name": "王五一", "phone": "0535-123", "joined_on": "2018-05-04", "status": "active"},
    )
    assert response.status_code == 422
    assert "不是 11 位大陆手机号" in field_error(response.text, "phone")
    session.expire_all()
    assert session.get(Member, world.plain.id).name == "王五"


# -- import -----------------------------------------------------------------------------------


CLEAN = (
    HEADER + "{plain},王五,13911112222,2012-07-01,鲁东化工集团\n"  # line 2: update
    "YT0100010,陈新,13911113333,2019/7/1,\n"  # line 3: new
    "{silver},李四,13800000000,2020-01-01,\n"  # line 4: unchanged
)


def clean_file(world) -> str:  # type: ignore[no-untyped-def]
    return CLEAN.format(plain=world.plain.member_no, silver=world.silver.member_no)


def test_import_template_has_the_accepted_headers(client, session, world):
    from rewards.services import roster

    sign_in(client, world.secretary)
    response = client.get("/community/members/import/template.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    parsed = roster.parse_roster(response.data)
    assert [e.line for e in parsed.errors] == [2]  # header fine, no members yet


def test_import_template_xlsx_formats_every_column_as_text(client, session, world):
    from openpyxl import load_workbook

    from community_portal.roster_import import TEMPLATE_HEADER
    from rewards.spreadsheets import XLSX_CONTENT_TYPE

    sign_in(client, world.secretary)
    response = client.get("/community/members/import/template.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX_CONTENT_TYPE
    assert 'filename="roster-template.xlsx"' in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert tuple(cell.value for cell in sheet[1]) == TEMPLATE_HEADER
    assert sheet.max_row == 1 and sheet.freeze_panes == "A2"
    # a member number (digits, leading zeros, up to 14) and a phone number typed under the
    # header stay text, and "save as CSV" writes them back as typed
    assert {sheet.column_dimensions[c].number_format for c in "ABCDE"} == {"@"}
    page = client.get("/community/members/import").text
    assert "/community/members/import/template.xlsx" in page


def test_import_preview_reports_each_row_and_writes_nothing(client, session, world):
    sign_in(client, world.secretary)
    before = count(session, Member)
    response = upload(client, clean_file(world))
    assert (
        response.status_code == 302
        and "/community/members/import/preview" in (response.headers["Location"])
    )
    page = client.get(response.headers["Location"]).text
    assert count(session, Member) == before
    actions = dict(re.findall(r'data-line="(\d+)" data-action="(\w+)"', page))
    assert actions == {"2": "update", "3": "new", "4": "unchanged"}
    for action, n in (("new", 1), ("update", 1), ("unchanged", 1), ("error", 0)):
        assert f'data-count="{action}">{n}<' in page
    assert "新增" in page and "更新" in page and "不变" in page
    assert 'data-testid="import"' in page


def test_import_writes_every_row_and_says_how_many(client, session, world):
    sign_in(client, world.secretary)
    preview = client.get(upload(client, clean_file(world)).headers["Location"]).text
    response = client.post(
        "/community/members/import/confirm", data={"token": hidden(preview, "token")}
    )
    assert response.status_code == 302
    assert "新增 1 人，更新 1 人，不变 1 人" in client.get(response.headers["Location"]).text
    session.expire_all()
    assert session.get(Member, world.plain.id).employer == "鲁东化工集团"
    assert count(session, Member, Member.member_no == "YT0100010") == 1


def test_a_file_with_an_error_shows_every_error_and_imports_nothing(client, session, world):
    sign_in(client, world.secretary)
    text = (
        HEADER + "YT0100010,陈新,13911113333,2019-07-01,\n"
        "12AB,李,13911113334,2019-07-01,\n"
        "YT0100011,周,139,2019-07-01,\n"
    )
    location = upload(client, text).headers["Location"]
    page = client.get(location).text
    assert 'data-testid="import"' not in page
    assert "2 处错误" in page
    errors = re.findall(r'data-line="(\d+)" data-action="error"', page)
    assert errors == ["3", "4"]
    assert "格式不对" in page and "不是 11 位大陆手机号" in page
    assert "12AB" in page and "YT0100011" in page  # a wrong row still says whose it is
    token = re.search(r"token=([\w-]+)", location).group(1)
    before = count(session, Member)
    forced = client.post("/community/members/import/confirm", data={"token": token})
    assert forced.status_code == 302
    assert count(session, Member) == before  # all or none


def test_a_gbk_file_from_excel_is_read(client, session, world):
    sign_in(client, world.secretary)
    text = "党员编号,姓名,手机号,报到日期,工作单位\nYT0100010,陈新,13911113333,2019-07-01,烟台港\n"
    page = client.get(upload(client, text, encoding="gbk").headers["Location"]).text
    assert "陈新" in page and 'data-count="new">1<' in page


@pytest.mark.parametrize("whose", ["stale", "foreign"])
def test_a_stale_or_foreign_staged_token_is_refused(client, session, world, whose):
    if whose == "foreign":
        sign_in(client, admin(session))
        location = upload(client, clean_file(world), community=world.home.code).headers["Location"]
        token = re.search(r"token=([\w-]+)", location).group(1)
        client.post("/logout")
    else:
        token = "a" * 32
    sign_in(client, world.secretary)
    before = count(session, Member)
    assert client.get(f"/community/members/import/preview?token={token}").status_code == 302
    response = client.post("/community/members/import/confirm", data={"token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/community/members/import")
    assert "预览已失效" in client.get(response.headers["Location"]).text
    assert count(session, Member) == before


def test_an_imported_file_cannot_be_imported_twice_with_the_same_token(client, session, world):
    sign_in(client, world.secretary)
    preview = client.get(upload(client, clean_file(world)).headers["Location"]).text
    token = hidden(preview, "token")
    client.post("/community/members/import/confirm", data={"token": token})
    again = client.post("/community/members/import/confirm", data={"token": token})
    assert again.headers["Location"].endswith("/community/members/import")
    assert count(session, AuditEvent, AuditEvent.action == "roster.import") == 1


def test_an_old_spreadsheet_or_missing_file_is_refused_next_to_the_field(client, session, world):
    sign_in(client, world.secretary)
    missing = client.post("/community/members/import", data={})
    assert missing.status_code == 422 and "请选择名册文件" in field_error(missing.text, "file")
    for name in ("名册.xls", "名册.et", "名册.numbers"):
        old = client.post(
            "/community/members/import",
            data={"file": (io.BytesIO(b"\xd0\xcf\x11\xe0"), name)},
            content_type="multipart/form-data",
        )
        assert old.status_code == 422, name
        assert "另存为 Excel 工作簿（.xlsx）或 CSV" in field_error(old.text, "file")


def test_the_filled_in_excel_template_is_imported_as_it_is(client, session, world):
    from tests.test_roster_workbooks import filled_template

    sign_in(client, world.secretary)
    data = filled_template(
        (world.plain.member_no, "王五", "13911112222", "2012-07-01", "鲁东化工集团"),
        ("0012345678", "陈新", "13911113333", "2019/7/1", ""),
    )
    response = client.post(
        "/community/members/import",
        data={"file": (io.BytesIO(data), "名册.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    preview = client.get(response.headers["Location"]).text
    actions = dict(re.findall(r'data-line="(\d+)" data-action="(\w+)"', preview))
    assert actions == {"2": "update", "3": "new"}
    confirm = client.post(
        "/community/members/import/confirm", data={"token": hidden(preview, "token")}
    )
    assert "新增 1 人，更新 1 人" in client.get(confirm.headers["Location"]).text
    assert count(session, Member, Member.member_no == "0012345678") == 1


def test_a_damaged_excel_file_is_refused_with_what_to_do_and_imports_nothing(
    client, session, world
):
    sign_in(client, world.secretary)
    before = count(session, Member)
    response = client.post(
        "/community/members/import",
        data={"file": (io.BytesIO(b"PK\x03\x04 not really a workbook"), "名册.xlsx")},
        content_type="multipart/form-data",
    )
    page = client.get(response.headers["Location"]).text
    assert "无法读取这个 Excel 文件" in page and 'data-testid="import"' not in page
    assert count(session, Member) == before


@pytest.mark.parametrize("extra_bytes", [10, 1024 * 1024])
def test_a_file_over_5_mb_is_refused(client, session, world, extra_bytes, tmp_path):
    sign_in(client, world.secretary)
    big = HEADER + "x" * (5 * 1024 * 1024 + extra_bytes)
    response = upload(client, big)
    assert response.status_code in (413, 422)
    assert "不能超过 5 MB" in field_error(response.text, "file")
    assert not list(tmp_path.glob("roster-imports/*.csv"))


def test_admin_imports_into_the_community_they_pick(client, session, world):
    sign_in(client, admin(session))
    text = HEADER + "YT0200010,孙新,13911113333,2019-07-01,\n"
    location = upload(client, text, community=world.other.code).headers["Location"]
    preview = client.get(location).text
    assert world.other.name in preview
    client.post(
        "/community/members/import/confirm",
        data={"token": hidden(preview, "token"), "community": world.other.code},
    )
    added = session.scalar(select(Member).where(Member.member_no == "YT0200010"))
    assert added.community_id == world.other.id


# -- transfer ---------------------------------------------------------------------------------


def test_transfer_moves_the_member_and_the_other_secretary_sees_their_ledger(
    client, session, world
):
    receiving = other_secretary(session, world)
    sign_in(client, world.secretary)
    url = f"/community/members/{world.gold.member_no}"
    assert f'value="{world.other.code}"' in client.get(url).text
    response = client.post(f"{url}/transfer", data={"community": world.other.code})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/community/members")
    assert "已将 张三明 的组织关系转至" in client.get(response.headers["Location"]).text
    assert client.get(url).status_code == 404
    assert count(session, MemberTransfer, MemberTransfer.member_id == world.gold.id) == 1

    client.post("/logout")
    sign_in(client, receiving)
    page = client.get(url).text
    assert 'data-stat="all_time_points">120<' in page and "+120" in page
    assert f"{world.home.name} → {world.other.name}" in page


def test_transfer_without_a_community_is_refused(client, session, world):
    sign_in(client, world.secretary)
    url = f"/community/members/{world.gold.member_no}"
    response = client.post(f"{url}/transfer", data={"community": ""})
    assert response.status_code == 302
    assert "请选择转入的社区" in client.get(response.headers["Location"]).text
    assert count(session, MemberTransfer) == 0


# -- corrections ------------------------------------------------------------------------------


def adjustment_key(client, member: Member) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/community/members/{member.member_no}").text
    return hidden(page, "idempotency_key")


def test_an_adjustment_is_added_to_the_ledger_at_once(client, session, world):
    sign_in(client, world.secretary)
    url = f"/community/members/{world.plain.member_no}"
    response = client.post(
        f"{url}/adjust",
        data={
            "points": "-4",
            "reason": "重复申报扣回",
            "occurred_on": (today() - timedelta(days=1)).isoformat(),
            "idempotency_key": adjustment_key(client, world.plain),
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "已记录积分调整 -4 分" in page and "重复申报扣回" in page
    assert 'data-stat="all_time_points">6<' in page
    newest = entries_of(session, world.plain)[-1]
    assert (newest.kind, newest.points, newest.author_id) == (
        EntryKind.ADJUSTMENT,
        -4,
        world.secretary.id,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reason": " "}, "reason", "请填写调整原因"),
        ({"points": "0"}, "points", "不能为 0"),
        ({"points": "abc"}, "points", ""),
        ({"points": "5000"}, "points", "±1000"),
        ({"occurred_on": "2999-01-01"}, "occurred_on", "不能晚于今天"),
    ],
)
def test_an_adjustment_without_reason_or_with_bad_points_is_refused(
    client, session, world, overrides, field, message
):
    sign_in(client, world.secretary)
    key = adjustment_key(client, world.plain)
    data = {
        "points": "5",
        "reason": "补录",
        "occurred_on": today().isoformat(),
        "idempotency_key": key,
        **overrides,
    }
    response = client.post(f"/community/members/{world.plain.member_no}/adjust", data=data)
    assert response.status_code == 422
    assert field_error(response.text, field) and message in field_error(response.text, field)
    assert hidden(response.text, "idempotency_key") == key  # the same attempt, corrected
    assert len(entries_of(session, world.plain)) == 1


def test_an_adjustment_submitted_twice_posts_once(client, session, world, clock):
    sign_in(client, world.secretary)
    data = {
        "points": "5",
        "reason": "补录 2018 年志愿服务",
        "occurred_on": today().isoformat(),
        "idempotency_key": adjustment_key(client, world.plain),
    }
    url = f"/community/members/{world.plain.member_no}/adjust"
    assert client.post(url, data=data).status_code == 302
    clock.advance(seconds=2)
    again = client.post(url, data=data)
    assert again.status_code == 302
    assert "已经记录过" in client.get(again.headers["Location"]).text
    assert [e.points for e in entries_of(session, world.plain)] == [10, 5]


def test_each_page_view_mints_a_new_adjustment_key(client, session, world):
    sign_in(client, world.secretary)
    assert adjustment_key(client, world.plain) != adjustment_key(client, world.plain)


def test_an_entry_is_reversed_once_only(client, session, world):
    sign_in(client, world.secretary)
    original = entries_of(session, world.silver)[0]
    url = f"/community/members/{world.silver.member_no}"
    form = client.get(f"{url}?reverse={original.id}").text
    assert f"/entries/{original.id}/reverse" in form and "冲正这条记录" in form
    reverse_url = f"{url}/entries/{original.id}/reverse"
    first = client.post(reverse_url, data={"reversal-reason": "误录", "reversal-page": "1"})
    assert first.status_code == 302
    page = client.get(first.headers["Location"]).text
    assert "已冲正" in page and "误录" in page
    assert 'data-stat="all_time_points">0<' in page

    second = client.post(reverse_url, data={"reversal-reason": "再来一次", "reversal-page": "1"})
    assert "已经冲正过" in client.get(second.headers["Location"]).text
    entries = entries_of(session, world.silver)
    assert [(e.kind, e.points) for e in entries] == [
        (EntryKind.ADJUSTMENT, 60),
        (EntryKind.REVERSAL, -60),
    ]


def test_reversal_is_not_offered_for_a_reversal_or_a_reversed_entry(client, session, world):
    original = entries_of(session, world.silver)[0]
    reversal = ledger.reverse(session, factories.OPERATOR, original.id, "误录")
    session.commit()
    sign_in(client, world.secretary)
    url = f"/community/members/{world.silver.member_no}"
    page = client.get(url).text
    assert 'data-action="reverse"' not in page
    for entry_id in (original.id, reversal.id):
        offered = client.get(f"{url}?reverse={entry_id}").text
        assert "冲正这条记录" not in offered and "不能冲正" in offered


def test_a_reversal_without_reason_is_refused(client, session, world):
    sign_in(client, world.secretary)
    original = entries_of(session, world.silver)[0]
    response = client.post(
        f"/community/members/{world.silver.member_no}/entries/{original.id}/reverse",
        data={"reversal-reason": "", "reversal-page": "1"},
    )
    assert response.status_code == 422
    assert "请填写冲正原因" in field_error(response.text, "reversal-reason")
    assert len(entries_of(session, world.silver)) == 1
