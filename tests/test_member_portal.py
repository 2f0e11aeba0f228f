"""The member's home page: live tier, points, card, recent ledger entries, only their own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from rewards.errors import Forbidden, NotFound
from rewards.models import LedgerEntry, Role
from rewards.services import cards, claims, ledger
from rewards.services.audit import Actor
from rewards.services.cards import format_card_number
from rewards.services.overview import member_overview
from rewards.services.qrcodes import qr_svg
from tests import factories
from tests.clock import today
from tests.test_auth import sign_in


def stat(html: str, name: str) -> int:
    """The number shown in the element marked ``data-stat=name``."""
    return int(re.search(rf'data-stat="{name}">(-?\d+)<', html).group(1))


def open_home(client, session, member) -> str:  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    page = client.get("/member/")
    assert page.status_code == 200
    return page.text


def adjust(session, member, points: int, reason: str, days_ago: int = 5):  # type: ignore[no-untyped-def]
    return ledger.adjust(
        session,
        factories.OPERATOR,
        member.id,
        points,
        reason,
        today() - timedelta(days=days_ago),
        idempotency_key=reason,
    )


def ledger_entry_of(session, member, memo: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.member_id == member.id, LedgerEntry.memo == memo)
    )


def test_gold_member_sees_gold_points_and_formatted_card_number(client, session, world):
    page = open_home(client, session, world.gold)
    assert "金卡" in page
    assert stat(page, "window_points") == 120
    assert stat(page, "all_time_points") == 120
    assert format_card_number(world.gold_card.card_no) in page
    assert "正常" in page
    assert "已达到最高等级" in page


def test_silver_member_sees_points_still_needed_for_gold(client, session, world):
    page = open_home(client, session, world.silver)
    assert "银卡" in page
    assert "再得 40 分可升为金卡（门槛 100 分）" in page


def test_member_below_silver_is_told_there_is_no_discount(client, session, world):
    page = open_home(client, session, world.plain)
    assert "再得 40 分可升为银卡（门槛 50 分）" in page
    assert "暂不能享受联盟商家的优惠" in page


def test_points_outside_the_window_count_all_time_but_not_for_the_tier(client, session, world):
    adjust(session, world.plain, 300, "系统上线前的积分", days_ago=400)
    session.commit()
    page = open_home(client, session, world.plain)
    assert stat(page, "window_points") == 10
    assert stat(page, "all_time_points") == 310
    assert "未达等级" in page


def test_home_lists_the_last_ten_entries_newest_first_with_sign(client, session, world):
    for n in range(1, 12):
        adjust(session, world.plain, n, f"第{n:02d}次调整")
    reversal = ledger.reverse(
        session, factories.OPERATOR, ledger_entry_of(session, world.plain, "第11次调整"), "录入错误"
    )
    session.commit()
    page = open_home(client, session, world.plain)
    memos = re.findall(r"第(\d\d)次调整|录入错误", page)
    shown = [m or "reversal" for m in memos]
    assert shown == ["reversal", "11", "10", "09", "08", "07", "06", "05", "04", "03"]
    assert "第02次调整" not in page and "第01次调整" not in page
    assert f">{reversal.points:+d}<" in page and ">+10<" in page
    assert "冲正" in page and "积分调整" in page


def test_home_shows_a_phone_code_not_the_static_printed_code(client, session, world, tokens):
    page = open_home(client, session, world.gold)
    assert 'data-testid="phone-code"' in page
    assert qr_svg(tokens.printed_token(world.gold_card)) not in page


def test_phone_code_endpoint_signs_a_fresh_single_use_token_each_time(client, session, world):
    open_home(client, session, world.gold)
    first, second = client.get("/member/card/code"), client.get("/member/card/code")
    assert first.status_code == second.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    assert first.json["remaining_seconds"] == 60
    assert first.json["svg"].startswith("<svg") and first.json["svg"] != second.json["svg"]


def test_full_screen_card_page_renews_itself_without_javascript(client, session, world):
    open_home(client, session, world.gold)
    page = client.get("/member/card")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<meta http-equiv="refresh" content="60">' in page.text
    assert world.gold_card.tail in page.text


def test_member_phone_code_is_a_phone_token_of_their_card_that_pays_once(session, world, tokens):
    from rewards.errors import TokenUsed
    from rewards.services import checkout
    from rewards.services.cards import TokenKind
    from rewards.services.overview import member_phone_code

    account = factories.account(session, Role.MEMBER, member=world.gold)
    code = member_phone_code(session, Actor.for_account(account), world.gold.id, tokens)
    verified = tokens.verify(session, code.token)
    assert verified.kind is TokenKind.PHONE and verified.card.id == world.gold_card.id
    assert (code.expires_at - verified.expires_at).total_seconds() == 0
    cashier = Actor.for_account(world.cashier)
    checkout.confirm(session, cashier, tokens, code.token, "10.00", "phone-code-1")
    with pytest.raises(TokenUsed):
        checkout.preview(session, cashier, tokens, code.token, "10.00")


def test_only_the_member_can_make_their_phone_code(session, world, tokens):
    from rewards.services.overview import member_phone_code

    other = factories.account(session, Role.MEMBER, member=world.silver)
    with pytest.raises(Forbidden):
        member_phone_code(session, Actor.for_account(other), world.gold.id, tokens)
    with pytest.raises(Forbidden):
        member_phone_code(session, world.actor(world.secretary), world.gold.id, tokens)


def test_suspended_card_gets_no_phone_code_and_says_why(client, session, world):
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "会员申请暂停")
    session.commit()
    open_home(client, session, world.gold)
    refused = client.get("/member/card/code")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "card_suspended"


def test_suspended_card_shows_no_qr_and_says_why(client, session, world):
    cards.suspend_card(session, factories.OPERATOR, world.gold_card.id, "会员申请暂停")
    session.commit()
    page = open_home(client, session, world.gold)
    assert "已暂停" in page
    assert "<svg" not in page
    assert "商家不会给予优惠" in page


def test_member_without_card_is_told_where_to_get_one(client, session, world):
    newcomer = factories.member(session, world.home, name="赵六")
    page = open_home(client, session, newcomer)
    assert "您还没有动力卡" in page
    assert stat(page, "all_time_points") == 0


def test_home_counts_the_members_pending_claims(client, session, world, clock):
    account = factories.account(session, Role.MEMBER, member=world.silver)
    for text in ("帮扶独居老人", "社区清扫"):
        claims.submit_claim(
            session,
            Actor.for_account(account),
            world.silver.id,
            world.category.id,
            text,
            clock.today - timedelta(days=1),
        )
    session.commit()
    sign_in(client, account)
    page = client.get("/member/").text
    assert "您有 2 条服务申报正在等待社区认定" in page


def test_member_sees_only_their_own_data(client, session, world):
    adjust(session, world.gold, 7, "金卡党员的私人记录")
    session.commit()
    page = open_home(client, session, world.silver)
    assert world.silver.name in page
    assert world.gold.name not in page
    assert format_card_number(world.gold_card.card_no) not in page
    assert "金卡党员的私人记录" not in page
    assert stat(page, "window_points") == 60


def test_overview_refuses_another_members_data(session, world):
    account = factories.account(session, Role.MEMBER, member=world.silver)
    with pytest.raises(Forbidden):
        member_overview(session, Actor.for_account(account), world.gold.id)


def test_secretary_of_another_community_cannot_read_a_members_overview(session, world):
    stranger = factories.account(session, Role.SECRETARY, community=world.other)
    with pytest.raises(NotFound):
        member_overview(session, Actor.for_account(stranger), world.gold.id)
    assert member_overview(session, world.actor(world.secretary), world.gold.id).standing.points


# -- the member's own data (services behind the member's pages and API) -----------------------


def test_my_data_holds_everything_about_me_and_nobody_else(session, world, clock):
    from rewards.services import member_data

    account = factories.account(session, Role.MEMBER, member=world.gold)
    session.commit()
    data = member_data.export(session, Actor.for_account(account))
    assert data["member"]["member_no"] == world.gold.member_no
    assert data["member"]["phone"] == world.gold.phone
    assert [c["card_no"] for c in data["cards"]] == [world.gold_card.card_no]
    assert sum(e["points"] for e in data["ledger"]) == 120
    assert world.silver.name not in str(data)
    import json

    json.dumps(data, ensure_ascii=False)  # JSON-ready


def test_the_directory_shows_my_discount_today_and_golds(session, world):
    from rewards.services import directory

    account = factories.account(session, Role.MEMBER, member=world.silver)
    session.commit()
    found = directory.merchant_directory(session, Actor.for_account(account))
    offer = next(o for o in found.offers.items if o.merchant.id == world.shop.id)
    assert (offer.mine.pay_percent, offer.gold.pay_percent) == (95, 88)
    plain = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    offer = directory.merchant_directory(session, Actor.for_account(plain)).offers.items[0]
    assert offer.mine is None and offer.gold.pay_percent == 88


def test_my_savings_count_completed_sales_per_month(session, world, tokens, clock):
    from rewards.services import card_use, checkout

    account = factories.account(session, Role.MEMBER, member=world.gold)
    cashier = world.actor(world.cashier)
    checkout.confirm(session, cashier, tokens, world.gold_card.card_no, "100.00", "savings-0001")
    voided, _ = checkout.confirm(
        session, cashier, tokens, world.gold_card.card_no, "50.00", "savings-0002"
    )
    checkout.void(session, world.actor(world.manager), voided.id, "退货")
    session.commit()
    me = Actor.for_account(account)
    savings = card_use.my_savings(session, me)
    assert savings.discount_fen == 1200 and savings.sales == 1
    assert savings.months[-1].month.month == clock.today.month
    assert card_use.my_card_use(session, me).total == 2
