"""The merchant portal pages: the cashier's checkout and receipt, the manager's back office."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from rewards.clock import BUSINESS_TZ, utcnow
from rewards.models import ApiKey, AuditEvent, Redemption, RedemptionStatus, Role
from rewards.services import agreements, cards, checkout, merchant_reports, merchants
from rewards.services.audit import Actor
from rewards.spreadsheets import excel_text, header
from tests import factories
from tests.forms import once, without_csrf_tokens
from tests.spreadsheets import csv_rows, read_xlsx, xlsx_as_csv

PASSWORD = "correct horse"


def sign_in(client, account) -> None:
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def page_text(response) -> str:
    return response.get_data(as_text=True)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no hidden field {name}"
    return match.group(1)


def count_sales(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Redemption.id)))


def sale(session, world, card, amount: str, at: datetime | None = None, account=None) -> Redemption:
    """Record a sale through the checkout service, typed card number, at instant ``at``."""
    actor = Actor.for_account(account or world.cashier)
    tokens = session.info.get("tokens")
    redemption, _ = checkout.confirm(
        session,
        actor,
        tokens,
        card.card_no,
        amount,
        f"test-{uuid.uuid4().hex}",
        now=at,
    )
    session.commit()
    return redemption


def preview(client, code: str, amount: str):
    return client.post("/merchant/checkout", data={"code": code, "amount": amount})


# -- the counter ----------------------------------------------------------------------------


def test_cashier_home_leads_to_checkout_and_counts_only_own_sales_today(client, shop, session):
    other_cashier = factories.account(session, Role.CASHIER, merchant=shop.shop)
    session.commit()
    sale(session, shop, shop.gold_card, "10.00")
    sale(session, shop, shop.gold_card, "20.00")
    sale(session, shop, shop.silver_card, "30.00", account=other_cashier)
    sign_in(client, shop.cashier)
    html = page_text(client.get("/merchant/"))
    assert "开始结算" in html and 'href="/merchant/checkout"' in html
    assert re.search(r'data-testid="today-count">2<', html)


def test_checkout_page_puts_focus_in_the_code_field(client, shop):
    sign_in(client, shop.cashier)
    html = page_text(client.get("/merchant/checkout"))
    code_input = re.search(r"<input[^>]*id=\"code\"[^>]*>", html).group(0)
    assert "autofocus" in code_input
    amount_input = re.search(r"<input[^>]*id=\"amount\"[^>]*>", html).group(0)
    assert "autofocus" not in amount_input
    assert 'inputmode="decimal"' in amount_input


def test_gold_card_preview_shows_masked_holder_tier_and_88_zhe(client, shop, tokens, session):
    token, _ = tokens.phone_token(shop.gold_card)
    sign_in(client, shop.cashier)
    response = preview(client, token, "128.50")
    html = page_text(response)
    assert response.status_code == 200
    assert "张*明" in html and "金卡" in html and shop.home.name in html
    assert "88折" in html
    assert "−¥15.42" in html  # 12% of 128.50, rounded half up to the fen
    assert 'data-testid="payable">¥113.08<' in html
    assert shop.gold_card.tail in html
    assert count_sales(session) == 0  # a preview records nothing


def test_silver_card_preview_gives_95_zhe(client, shop, tokens):
    token, _ = tokens.phone_token(shop.silver_card)
    sign_in(client, shop.cashier)
    html = page_text(preview(client, token, "100"))
    assert "李*" in html and "银卡" in html and "95折" in html
    assert "−¥5.00" in html and 'data-testid="payable">¥95.00<' in html


def test_cashier_never_sees_phone_member_number_full_card_number_or_points(
    client, shop, tokens, session
):
    sign_in(client, shop.cashier)
    grouped = " ".join(shop.gold_card.card_no[i : i + 4] for i in range(0, 12, 4))
    for code in (tokens.phone_token(shop.gold_card)[0], grouped):
        html = page_text(preview(client, code, "50.00"))
        for secret in (shop.gold.phone, shop.gold.member_no, shop.gold.name, "120 分", "积分 120"):
            assert secret not in html
        shown = re.sub(r'<input[^>]*name="code"[^>]*>', "", html)
        assert grouped not in shown and shop.gold_card.card_no not in shown
    redemption = sale(session, shop, shop.gold_card, "50.00")
    receipt = page_text(client.get(f"/merchant/redemptions/{redemption.id}"))
    for secret in (shop.gold.phone, shop.gold.member_no, shop.gold_card.card_no, shop.gold.name):
        assert secret not in receipt
    assert "**** " + shop.gold_card.tail in receipt


def test_typed_printed_card_number_previews(client, shop):
    sign_in(client, shop.cashier)
    html = page_text(preview(client, shop.gold_card.card_no, "10"))
    assert "88折" in html and 'data-testid="payable">¥8.80<' in html


def test_a_card_number_and_amount_typed_in_full_width_digits_preview_and_confirm(
    client, shop, session
):
    full_width = str.maketrans("0123456789.", "０１２３４５６７８９．")
    typed_card = shop.gold_card.card_no.translate(full_width)
    sign_in(client, shop.cashier)
    html = page_text(preview(client, typed_card, "１０．００"))
    assert "88折" in html and 'data-testid="payable">¥8.80<' in html
    response = client.post(
        "/merchant/checkout/confirm",
        data={
            "code": typed_card,
            "amount": "１０．００",
            "idempotency_key": hidden(html, "idempotency_key"),
        },
    )
    assert response.status_code == 302
    recorded = session.scalar(select(Redemption).order_by(Redemption.id.desc()))
    assert (recorded.amount_fen, recorded.discount_fen) == (1000, 120)
    refused = page_text(preview(client, typed_card, "１０，００"))
    assert "金额" in refused and 'data-testid="payable"' not in refused


def test_scanner_enter_without_amount_keeps_code_and_asks_for_amount(client, shop, tokens):
    token, _ = tokens.phone_token(shop.gold_card)
    sign_in(client, shop.cashier)
    response = preview(client, token, "")
    html = page_text(response)
    assert response.status_code == 200
    assert "请输入消费金额" in html
    amount_input = re.search(r"<input[^>]*id=\"amount\"[^>]*>", html).group(0)
    assert "autofocus" in amount_input
    assert f'value="{token}"' in html


def test_confirm_records_the_sale_and_shows_the_receipt(client, shop, tokens, session):
    token, _ = tokens.phone_token(shop.gold_card)
    sign_in(client, shop.cashier)
    html = page_text(preview(client, token, "128.50"))
    response = client.post(
        "/merchant/checkout/confirm",
        data={
            "code": token,
            "amount": "128.50",
            "idempotency_key": hidden(html, "idempotency_key"),
        },
    )
    assert response.status_code == 302
    receipt = client.get(response.headers["Location"])
    text = page_text(receipt)
    redemption = session.scalars(select(Redemption)).one()
    assert redemption.amount_fen == 12850 and redemption.payable_fen == 11308
    assert redemption.cashier_id == shop.cashier.id
    assert "结算成功" in text
    assert redemption.number in text
    assert "¥128.50" in text and "−¥15.42" in text and "¥113.08" in text
    assert shop.cashier.display_name in text
    assert redemption.created_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") in text
    assert "receipt.css" in text  # the narrow print layout


def test_double_press_with_the_same_key_records_one_sale(client, shop, tokens, session):
    token, _ = tokens.phone_token(shop.gold_card)
    sign_in(client, shop.cashier)
    key = hidden(page_text(preview(client, token, "88.00")), "idempotency_key")
    body = {"code": token, "amount": "88.00", "idempotency_key": key}
    first = client.post("/merchant/checkout/confirm", data=body)
    second = client.post("/merchant/checkout/confirm", data=body)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count_sales(session) == 1
    assert "已经记录过，没有重复记账" in page_text(client.get(second.headers["Location"]))


def test_each_preview_mints_a_fresh_idempotency_key(client, shop, tokens):
    sign_in(client, shop.cashier)
    keys = {
        hidden(page_text(preview(client, shop.gold_card.card_no, "10")), "idempotency_key")
        for _ in range(2)
    }
    assert len(keys) == 2


def _refusal_setups(world, session, tokens):
    """Each refusal code with the credential and amount that provoke it."""
    expired, _ = tokens.phone_token(world.gold_card, now=utcnow() - timedelta(minutes=5))
    used, _ = tokens.phone_token(world.silver_card)
    checkout.confirm(session, world.actor(world.cashier), tokens, used, "10.00", "setup-used-token")
    suspended = factories.card(session, factories.member(session, world.home, name="赵六"))
    factories.points(session, suspended.member, 200)
    cards.suspend_card(session, factories.OPERATOR, suspended.id, "社区核查")
    revoked = factories.card(session, factories.member(session, world.home, name="钱七"))
    factories.points(session, revoked.member, 200)
    cards.revoke_card(session, factories.OPERATOR, revoked.id, "迁出本区")
    outsider = factories.member(session, world.other, name="孙八")
    factories.points(session, outsider, 200)
    outsider_card = factories.card(session, outsider)
    session.commit()
    return {
        "token_invalid": ("not-a-card-code", "10.00"),
        "token_expired": (expired, "10.00"),
        "token_used": (used, "10.00"),
        "card_suspended": (suspended.card_no, "10.00"),
        "card_revoked": (revoked.card_no, "10.00"),
        "tier_none": (world.plain_card.card_no, "10.00"),
        "no_agreement": (outsider_card.card_no, "10.00"),
        "amount_invalid": (world.gold_card.card_no, "12,5元"),
    }


REFUSAL_WORDS = {
    "token_invalid": ("无法识别此卡码", "核对实体卡上的 12 位卡号"),
    "token_expired": ("手机卡码已过期", "请会员刷新手机卡码后重新扫描"),
    "token_used": ("此手机卡码已经用过", "请会员刷新手机卡码"),
    "card_suspended": ("此卡已被社区暂停使用", "联系所在社区"),
    "card_revoked": ("此卡已作废", "出示新卡"),
    "tier_none": ("持卡人暂未达到银卡标准", "按原价收款"),
    "no_agreement": ("本店与持卡人所在社区没有有效协议", "按原价收款"),
    "amount_invalid": ("金额不正确", "例如 128.50"),
}


@pytest.mark.parametrize("code", sorted(REFUSAL_WORDS))
def test_each_refusal_says_what_happened_and_what_to_do_next(client, shop, session, tokens, code):
    credential, amount = _refusal_setups(shop, session, tokens)[code]
    sign_in(client, shop.cashier)
    before = count_sales(session)
    response = preview(client, credential, amount)
    html = page_text(response)
    title, next_step = REFUSAL_WORDS[code]
    assert response.status_code == 422
    assert f'data-code="{code}"' in html
    assert title in html and "下一步" in html and next_step in html
    assert f'value="{credential}"' in html and f'value="{amount}"' in html  # typed values kept
    focused = "amount" if code == "amount_invalid" else "code"
    assert "autofocus" in re.search(rf'<input[^>]*id="{focused}"[^>]*>', html).group(0)
    assert count_sales(session) == before


def test_below_minimum_spend_says_the_minimum(client, shop, session):
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    agreements.sign_agreement(
        session, admin, shop.shop.id, shop.home.id, 88, 95, date(2020, 1, 1), min_spend_fen=5000
    )
    session.commit()
    sign_in(client, shop.cashier)
    response = preview(client, shop.gold_card.card_no, "30.00")
    html = page_text(response)
    assert response.status_code == 422 and 'data-code="below_minimum_spend"' in html
    assert "未达到最低消费" in html and "¥50.00" in html and "下一步" in html


def test_tier_none_refusal_does_not_reveal_points(client, shop):
    sign_in(client, shop.cashier)
    html = page_text(preview(client, shop.plain_card.card_no, "10.00"))
    assert "持卡人暂未达到银卡标准" in html
    assert "积分 10" not in html and "10 分" not in html


def test_token_used_at_confirm_shows_the_refusal_on_the_checkout_page(
    client, shop, tokens, session
):
    token, _ = tokens.phone_token(shop.gold_card)
    sign_in(client, shop.cashier)
    key = hidden(page_text(preview(client, token, "20.00")), "idempotency_key")
    # Meanwhile the same phone code pays at another till.
    checkout.confirm(session, shop.actor(shop.manager), tokens, token, "20.00", "other-till-1")
    session.commit()
    response = client.post(
        "/merchant/checkout/confirm",
        data={"code": token, "amount": "20.00", "idempotency_key": key},
    )
    html = page_text(response)
    assert response.status_code == 422
    assert 'data-code="token_used"' in html and "请会员刷新手机卡码" in html
    assert count_sales(session) == 1


# -- scoping and roles ----------------------------------------------------------------------

MANAGER_PAGES = [
    "/merchant/redemptions",
    "/merchant/redemptions/export.csv",
    "/merchant/redemptions/export.xlsx",
    "/merchant/reports/daily",
    "/merchant/reports/monthly",
    "/merchant/staff",
    "/merchant/keys",
    "/merchant/agreements",
]


@pytest.mark.parametrize("url", MANAGER_PAGES)
def test_cashier_cannot_open_manager_pages(client, shop, url):
    sign_in(client, shop.cashier)
    assert client.get(url).status_code == 403


def test_cashier_cannot_void_create_keys_or_add_staff(client, shop, session):
    redemption = sale(session, shop, shop.gold_card, "10.00")
    sign_in(client, shop.cashier)
    assert (
        client.post(f"/merchant/redemptions/{redemption.id}/void", data={"reason": "想撤销"})
    ).status_code == 403
    assert client.post("/merchant/keys", data={"label": "偷偷建"}).status_code == 403
    staff_form = {"username": "sneaky", "display_name": "x", "password": "long enough"}
    assert client.post("/merchant/staff", data=staff_form).status_code == 403
    session.expire_all()
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED
    assert session.scalar(select(func.count(ApiKey.id))) == 0


def test_member_and_secretary_cannot_use_the_counter(client, shop):
    sign_in(client, shop.secretary)
    assert client.get("/merchant/checkout").status_code == 403


def test_another_merchants_redemption_is_not_found(client, shop, session):
    rival = factories.merchant(session)
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    agreements.sign_agreement(session, admin, rival.id, shop.home.id, 90, 95, date(2020, 1, 1))
    rival_cashier = factories.account(session, Role.CASHIER, merchant=rival)
    session.commit()
    theirs = sale(session, shop, shop.gold_card, "10.00", account=rival_cashier)
    sign_in(client, shop.manager)
    assert client.get(f"/merchant/redemptions/{theirs.id}").status_code == 404
    void = client.post(f"/merchant/redemptions/{theirs.id}/void", data={"reason": "不是我的"})
    assert void.status_code == 404
    session.expire_all()
    assert session.get(Redemption, theirs.id).status is RedemptionStatus.COMPLETED


# -- the back office ------------------------------------------------------------------------


def test_manager_voids_a_sale_with_a_reason(client, shop, session):
    redemption = sale(session, shop, shop.gold_card, "66.00")
    sign_in(client, shop.manager)
    refused = client.post(f"/merchant/redemptions/{redemption.id}/void", data={"reason": "  "})
    assert refused.status_code == 422  # the receipt again, the message under the reason field
    field = re.search(r'<div class="field has-error">.*?</div>', page_text(refused), re.S)
    assert (
        field and "请填写撤销原因。" in field.group(0) and 'aria-invalid="true"' in field.group(0)
    )
    session.expire_all()
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED
    response = client.post(
        f"/merchant/redemptions/{redemption.id}/void",
        data={"reason": "顾客退货"},
        follow_redirects=True,
    )
    html = page_text(response)
    assert "已撤销这笔结算" in html and "顾客退货" in html and 'data-testid="voided"' in html
    session.expire_all()
    voided = session.get(Redemption, redemption.id)
    assert voided.status is RedemptionStatus.VOIDED and voided.voided_by_id == shop.manager.id
    assert session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "redemption.void", AuditEvent.object_id == redemption.id
        )
    )


def test_void_of_an_earlier_business_day_is_refused_with_a_reason(client, shop, session, clock):
    redemption = sale(session, shop, shop.gold_card, "66.00", at=clock.now - timedelta(days=2))
    sign_in(client, shop.manager)
    page = page_text(client.get(f"/merchant/redemptions/{redemption.id}"))
    assert "只能撤销当天的结算" in page
    response = client.post(
        f"/merchant/redemptions/{redemption.id}/void",
        data={"reason": "补撤销"},
        follow_redirects=True,
    )
    assert "只能撤销当天的结算" in page_text(response)
    session.expire_all()
    assert session.get(Redemption, redemption.id).status is RedemptionStatus.COMPLETED


def _three_sales_and_a_void(world, session):
    """Sales today (one voided) and one three days ago; returns (today's kept, voided, old)."""
    kept = [
        sale(session, world, world.gold_card, "128.50"),
        sale(session, world, world.silver_card, "100.00"),
        sale(session, world, world.gold_card, "20.00"),
    ]
    voided = sale(session, world, world.silver_card, "999.00")
    checkout.void(session, world.actor(world.manager), voided.id, "输错金额")
    session.commit()
    old = sale(session, world, world.gold_card, "50.00", at=utcnow() - timedelta(days=3))
    return kept, voided, old


def test_csv_export_opens_in_excel_with_bom_crlf_and_the_right_rows(client, shop, session, clock):
    kept, voided, old = _three_sales_and_a_void(shop, session)
    today = clock.today
    sign_in(client, shop.manager)
    response = client.get(f"/merchant/redemptions/export.csv?from={today}&to={today}")
    body = response.data
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.count("\r\n") == text.count("\n") == 5  # header + 4 rows, every line CRLF
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][0] == "结算单号" and "消费金额(元)" in rows[0] and "状态" in rows[0]
    # 结算单号 as ="…", which Excel and WPS show as the 14 digits, not 2.6E+13
    by_number = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_number) == {f'="{r.number}"' for r in [*kept, voided]}  # the old one is out
    first = by_number[f'="{kept[0].number}"']
    assert first["消费金额(元)"] == "128.50" and first["优惠金额(元)"] == "15.42"
    assert first["实收金额(元)"] == "113.08" and first["折扣"] == "88折"
    assert first["持卡人"] == "张*明" and first["卡号尾号"] == f'="{shop.gold_card.tail}"'
    assert first["收银"] == shop.cashier.display_name and first["状态"] == "已完成"
    assert by_number[f'="{voided.number}"']["状态"] == "已撤销"
    assert by_number[f'="{voided.number}"']["撤销原因"] == "输错金额"
    assert by_number[f'="{kept[1].number}"']["消费金额(元)"] == "100.00"
    wide = client.get(f"/merchant/redemptions/export.csv?from={today - timedelta(days=7)}")
    assert f'"=""{old.number}"""' in wide.data.decode("utf-8-sig")


def test_csv_export_neutralises_formula_text(client, shop, session, clock):
    assert excel_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert excel_text("顾客退货") == "顾客退货"
    wrong = sale(session, shop, shop.gold_card, "10.00")
    checkout.void(session, shop.actor(shop.manager), wrong.id, '=HYPERLINK("http://x","点我")')
    session.commit()
    sign_in(client, shop.manager)
    rows = csv_rows(client.get(f"/merchant/redemptions/export.csv?from={clock.today}"))
    assert rows[1][-1] == """'=HYPERLINK("http://x","点我")"""


def test_xlsx_export_keeps_the_settlement_number_as_text_and_amounts_as_yuan_numbers(
    client, shop, session, clock
):
    kept, voided, _old = _three_sales_and_a_void(shop, session)
    sign_in(client, shop.manager)
    response = client.get(f"/merchant/redemptions/export.xlsx?from={clock.today}&to={clock.today}")
    sheet = read_xlsx(response)
    assert (
        f"redemptions-{shop.shop.code}-{clock.today:%Y%m%d}"
        in (response.headers["Content-Disposition"])
    )
    assert [cell.value for cell in sheet[1]] == list(header(merchant_reports.EXPORT_COLUMNS))
    names = [cell.value for cell in sheet[1]]
    by_number = {row[0].value: dict(zip(names, row, strict=True)) for row in sheet.iter_rows(2)}
    assert set(by_number) == {r.number for r in [*kept, voided]}
    first = kept[0]
    number = by_number[first.number]["结算单号"]
    assert len(first.number) == 14 and number.value == first.number
    assert number.data_type == "s" and number.number_format == "@"
    tail = by_number[first.number]["卡号尾号"]
    assert tail.value == shop.gold_card.tail and tail.data_type == "s"
    for name, fen in (
        ("消费金额(元)", first.amount_fen),
        ("优惠金额(元)", first.discount_fen),
        ("实收金额(元)", first.payable_fen),
    ):
        cell = by_number[first.number][name]
        assert cell.data_type == "n" and cell.number_format == "0.00"
        assert cell.value == fen / 100
    assert by_number[first.number]["消费金额(元)"].value == 128.5
    sold = by_number[first.number]["结算时间"]
    assert sold.is_date and sold.value == first.created_at.astimezone(BUSINESS_TZ).replace(
        tzinfo=None, microsecond=0
    )
    assert by_number[first.number]["营业日期"].value.date() == first.business_date
    assert by_number[voided.number]["撤销原因"].value == "输错金额"


def test_xlsx_export_has_the_same_rows_as_the_csv(client, shop, session, clock):
    _three_sales_and_a_void(shop, session)
    sign_in(client, shop.manager)
    query = f"from={clock.today - timedelta(days=7)}&to={clock.today}"
    sheet = read_xlsx(client.get(f"/merchant/redemptions/export.xlsx?{query}"))
    rows = csv_rows(client.get(f"/merchant/redemptions/export.csv?{query}"))
    assert len(rows) == 1 + 5
    assert xlsx_as_csv(sheet) == rows


def test_xlsx_export_keeps_a_reason_beginning_with_equals_as_text(client, shop, session, clock):
    wrong = sale(session, shop, shop.gold_card, "10.00")
    reason = '=HYPERLINK("http://x","点我")'
    checkout.void(session, shop.actor(shop.manager), wrong.id, reason)
    session.commit()
    sign_in(client, shop.manager)
    sheet = read_xlsx(client.get(f"/merchant/redemptions/export.xlsx?from={clock.today}"))
    cell = sheet.cell(row=2, column=len(merchant_reports.EXPORT_COLUMNS))
    assert cell.value == reason and cell.data_type == "s" and cell.quotePrefix


def test_an_export_with_bad_dates_is_refused_alike_in_both_formats(client, shop, session, clock):
    sale(session, shop, shop.gold_card, "10.00")
    sign_in(client, shop.manager)
    events = session.scalar(select(func.count(AuditEvent.id)))
    today = clock.today
    refusals = {
        "from=2026-13-45": (400, "日期格式不正确"),  # not a date
        f"from={today}&to={today - timedelta(days=1)}": (400, "日期格式不正确"),  # reversed
        f"from={today - timedelta(days=400)}&to={today}": (422, "一次最多导出 366 天"),
    }
    for query, (status, message) in refusals.items():
        as_csv = client.get(f"/merchant/redemptions/export.csv?{query}")
        as_xlsx = client.get(f"/merchant/redemptions/export.xlsx?{query}")
        assert as_csv.status_code == as_xlsx.status_code == status, query
        assert message in as_xlsx.text
        assert without_csrf_tokens(as_csv.text) == without_csrf_tokens(as_xlsx.text)
        assert "Content-Disposition" not in as_xlsx.headers
    session.expire_all()
    assert session.scalar(select(func.count(AuditEvent.id))) == events
    assert count_sales(session) == 1


def test_daily_and_monthly_summaries_equal_sums_of_non_voided_sales(client, shop, session, clock):
    kept, _voided, old = _three_sales_and_a_void(shop, session)
    today = clock.today
    actor = shop.actor(shop.manager)
    days = merchant_reports.daily_summary(session, actor, shop.shop.id, today)
    by_day = {row.period: row for row in days}
    todays = by_day[today]
    assert todays.sales_fen == sum(r.amount_fen for r in kept) == 24850
    assert todays.discount_fen == sum(r.discount_fen for r in kept)
    assert todays.payable_fen == sum(r.payable_fen for r in kept)
    assert todays.sales_count == 3 and todays.card_holders == 2
    old_day = old.business_date
    if old_day.month == today.month:
        assert by_day[old_day].sales_fen == 5000
    assert len(days) == merchant_reports.month_bounds(today)[1].day
    months = merchant_reports.monthly_summary(session, actor, shop.shop.id, today.year)
    this_month = months[today.month - 1]
    in_month = [r for r in [*kept, old] if r.business_date.month == today.month]
    in_month = [r for r in in_month if r.business_date.year == today.year]
    assert this_month.sales_fen == sum(r.amount_fen for r in in_month)
    assert this_month.sales_count == len(in_month)
    assert this_month.card_holders == 2
    sign_in(client, shop.manager)
    daily_page = page_text(client.get(f"/merchant/reports/daily?month={today:%Y-%m}"))
    assert "<svg" in daily_page and "chart-bar" in daily_page
    assert f"¥{this_month.sales_fen // 100:,}.{this_month.sales_fen % 100:02d}" in daily_page
    monthly_page = page_text(client.get(f"/merchant/reports/monthly?year={today.year}"))
    assert "<svg" in monthly_page and f"{today.month}月" in monthly_page
    assert "cdn" not in (daily_page + monthly_page).lower()


def test_summaries_only_count_the_signed_in_merchant(client, shop, session, clock):
    rival = factories.merchant(session)
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    agreements.sign_agreement(session, admin, rival.id, shop.home.id, 90, 95, date(2020, 1, 1))
    rival_cashier = factories.account(session, Role.CASHIER, merchant=rival)
    session.commit()
    sale(session, shop, shop.gold_card, "500.00", account=rival_cashier)
    sale(session, shop, shop.gold_card, "10.00")
    today = clock.today
    total = merchant_reports.period_summary(
        session, shop.actor(shop.manager), shop.shop.id, today, today
    )
    assert (total.sales_fen, total.sales_count) == (1000, 1)


def test_redemption_list_filters_by_date_and_pages(client, shop, session, clock):
    factories.points(session, shop.gold, 200, occurred_on=clock.today - timedelta(days=100))
    session.commit()
    for n in range(23):
        sale(session, shop, shop.gold_card, f"{n + 1}.00")
    old = sale(session, shop, shop.gold_card, "77.00", at=clock.now - timedelta(days=40))
    today = clock.today
    sign_in(client, shop.manager)
    first = page_text(client.get(f"/merchant/redemptions?from={today}&to={today}"))
    assert "共 23 笔" in first and "第 1 / 2 页" in first and old.number not in first
    second = page_text(client.get(f"/merchant/redemptions?from={today}&to={today}&page=2"))
    assert len(re.findall(r'href="/merchant/redemptions/\d+"', second)) == 3
    past = today - timedelta(days=40)
    only_old = page_text(client.get(f"/merchant/redemptions?from={past}&to={past}"))
    assert old.number in only_old and "共 1 笔" in only_old
    backwards = client.get(f"/merchant/redemptions?from={today}&to={past}")
    assert "结束日期不能早于开始日期" in page_text(backwards)


def test_api_key_is_shown_once_then_only_its_prefix(client, shop, session):
    sign_in(client, shop.manager)
    posted = client.post(
        "/merchant/keys", data={**once(client, "/merchant/keys"), "label": "1号收银台"}
    )
    assert posted.status_code == 303
    response = client.get(posted.headers["Location"])
    html = page_text(response)
    secret = re.search(r'data-testid="secret">([^<]+)<', html).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    assert "只显示这一次" in html
    assert merchants.authenticate_api_key(session, secret) is not None
    listing = page_text(client.get("/merchant/keys"))
    assert secret not in listing
    assert secret[:10] in listing and "1号收银台" in listing and "从未使用" in listing
    key = session.scalars(select(ApiKey)).one()
    revoked = client.post(f"/merchant/keys/{key.id}/revoke", follow_redirects=True)
    assert "已吊销" in page_text(revoked)
    session.expire_all()
    assert merchants.authenticate_api_key(session, secret) is None


def test_manager_adds_a_cashier_who_can_then_sign_in_until_disabled(client, shop, session):
    sign_in(client, shop.manager)
    response = client.post(
        "/merchant/staff",
        data={
            **once(client, "/merchant/staff"),
            "username": "cashier.wang",
            "display_name": "王收银",
            "password": "counter-2024",
        },
        follow_redirects=True,
    )
    assert "已添加收银员 王收银" in page_text(response)
    duplicate = client.post(
        "/merchant/staff",
        data={
            **once(client, "/merchant/staff"),
            "username": "cashier.wang",
            "display_name": "又一个",
            "password": "counter-2024",
        },
    )
    assert duplicate.status_code == 422 and "用户名已被使用" in page_text(duplicate)
    client.post("/logout")
    assert (
        client.post("/login", data={"username": "cashier.wang", "password": "counter-2024"})
    ).status_code == 302
    client.post("/logout")
    sign_in(client, shop.manager)
    wang = next(
        p
        for p in merchant_reports.staff_of_merchant(session, shop.actor(shop.manager), shop.shop.id)
        if p.username == "cashier.wang"
    )
    assert wang.role is Role.CASHIER and wang.merchant_id == shop.shop.id
    client.post(f"/merchant/staff/{wang.id}/disable")
    client.post("/logout")
    refused = client.post("/login", data={"username": "cashier.wang", "password": "counter-2024"})
    assert refused.status_code == 200 and "停用" in page_text(refused)


def test_agreements_page_shows_each_tier_discount_and_version_history(client, shop, session):
    admin = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)
    agreements.sign_agreement(
        session,
        admin,
        shop.shop.id,
        shop.home.id,
        85,
        90,
        date(2021, 1, 1),
        cap_fen=3000,
        note="第二年加大优惠",
    )
    session.commit()
    sign_in(client, shop.manager)
    html = page_text(client.get("/merchant/agreements"))
    assert shop.home.name in html
    assert "85折" in html and "9折" in html and "¥30.00" in html
    assert "88折" in html and "95折" in html  # version 1, kept in the history
    assert "版本历史（2 个版本）" in html and "第二年加大优惠" in html


def test_manager_home_shows_today_figures(client, shop, session):
    sale(session, shop, shop.gold_card, "100.00")
    sign_in(client, shop.manager)
    html = page_text(client.get("/merchant/"))
    assert "今日概览" in html and 'data-testid="sales">¥100.00<' in html
    assert 'data-testid="discount-total">¥12.00<' in html


def test_receipt_times_are_shown_in_business_time(client, shop, session, clock):
    at = (clock.now - timedelta(days=2)).replace(hour=17, minute=30, second=5, microsecond=0)
    redemption = sale(session, shop, shop.gold_card, "10.00", at=at)
    sign_in(client, shop.manager)
    shown = at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")
    assert shown.endswith("01:30:05")  # 17:30 UTC is 01:30 the next morning in Beijing
    assert shown in page_text(client.get(f"/merchant/redemptions/{redemption.id}"))


def test_daily_report_table_lists_only_days_with_sales(client, shop, session):
    sign_in(client, shop.manager)
    page = page_text(client.get("/merchant/reports/daily?month=2020-02"))
    table = page[page.index('data-testid="report-table"') :]
    assert "这个月还没有刷卡结算" in table
    assert "02-14" not in table  # an empty day is in the chart's range, not in the table


@pytest.mark.parametrize(
    ("month", "reason"),
    [
        ("9999-12", "9999 年超出范围"),
        ("1999-12", "1999 年超出范围"),
        ("2024-13", "月份格式不对"),
        ("garbage", "月份格式不对"),
        ("0-1", "0 年超出范围"),
        ("２０２４-０１", "月份格式不对"),
    ],
)
def test_a_month_report_out_of_range_says_so_over_this_months_figures(
    client, shop, month, reason, clock
):
    sign_in(client, shop.manager)
    response = client.get(f"/merchant/reports/daily?month={month}")
    today = clock.today
    assert response.status_code == 400
    html = page_text(response)
    refused = re.search(r'data-testid="refused">([^<]+)<', html)
    assert refused and reason in refused.group(1) and "下面是本月" in refused.group(1)
    assert f"{today.year}年{today.month}月" in html


@pytest.mark.parametrize(
    ("year", "reason"),
    [
        ("1999", "1999 年超出范围：报表可查 2000 至"),
        ("99999", "99999 年超出范围"),
        ("-1", "年份格式不对"),
        ("二〇二六", "年份格式不对"),
    ],
)
def test_a_year_report_out_of_range_says_so_instead_of_showing_another_year(
    client, shop, year, reason, clock
):
    sign_in(client, shop.manager)
    response = client.get(f"/merchant/reports/monthly?year={year}")
    assert response.status_code == 400
    html = page_text(response)
    refused = re.search(r'data-testid="refused">([^<]+)<', html)
    assert refused and reason in refused.group(1) and "下面是今年" in refused.group(1)
    assert f"月报 · {clock.today.year}年" in html
    assert "2000年" not in html


def test_a_report_of_a_year_to_come_is_refused_as_out_of_range(client, shop, clock):
    sign_in(client, shop.manager)
    next_year = clock.today.year + 1
    for url in (
        f"/merchant/reports/monthly?year={next_year}",
        f"/merchant/reports/daily?month={next_year}-01",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert f"报表可查 2000 至 {clock.today.year} 年" in page_text(response)


def test_the_first_report_year_has_no_link_to_the_year_before(client, shop):
    sign_in(client, shop.manager)
    yearly = page_text(client.get("/merchant/reports/monthly?year=2000"))
    assert "‹ 1999" not in yearly and "year=1999" not in yearly
    monthly = page_text(client.get("/merchant/reports/daily?month=2000-01"))
    assert "month=1999-12" not in monthly
    assert "month=2000-01" in page_text(client.get("/merchant/reports/daily?month=2000-02"))


def test_a_year_in_range_shows_that_year_without_a_refusal(client, shop, clock):
    sign_in(client, shop.manager)
    response = client.get(f"/merchant/reports/monthly?year={clock.today.year - 1}")
    assert response.status_code == 200
    assert 'data-testid="refused"' not in page_text(response)
    assert f"月报 · {clock.today.year - 1}年" in page_text(response)
