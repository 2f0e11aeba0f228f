"""The operator CLI: demo seed, accounts, roster import, cards, API keys, ledger check, stats."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from rewards import demo
from rewards.demo import sales as demo_sales
from rewards.errors import CardRevoked, CardSuspended, NoAgreement, TierNone
from rewards.extensions import db
from rewards.models import (
    Account,
    ApiKey,
    AuditEvent,
    Card,
    CardStatus,
    Community,
    LedgerEntry,
    Member,
    Redemption,
    Role,
    Tier,
)
from rewards.services import accounts, card_use, checkout, district_reports, redemptions, tiers
from rewards.services.audit import Actor
from rewards.services.cards import CardTokens, TokenKind
from rewards.services.merchants import authenticate_api_key
from tests import factories
from tests.conftest import empty_all_tables

SMALL = "300"


@pytest.fixture()
def runner(app: Flask, session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


def _seed(runner: FlaskCliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(args=["seed-demo", "--members", SMALL, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


# -- seed-demo --------------------------------------------------------------------------------


def test_seed_demo_cards_produce_each_checkout_outcome_at_m001(session, runner, tokens):
    summary = _seed(runner)
    outcomes = summary["checkout"]["outcomes"]
    assert set(outcomes) == set(demo.OUTCOMES)
    assert summary["checkout"]["merchant"]["code"] == "M001"
    cashier = session.scalar(select(Account).where(Account.username == "m001-cashier"))
    actor = Actor.for_account(cashier)

    def preview(outcome: str) -> checkout.Quote:
        return checkout.preview(session, actor, tokens, outcomes[outcome], "100.00")

    gold, silver = preview("gold"), preview("silver")
    assert gold.standing.tier is Tier.GOLD and gold.discount_fen > 0
    assert silver.standing.tier is Tier.SILVER and 0 < silver.discount_fen < gold.discount_fen
    for outcome, error in (
        ("tier_none", TierNone),
        ("card_suspended", CardSuspended),
        ("card_revoked", CardRevoked),
        ("no_agreement", NoAgreement),
    ):
        with pytest.raises(error):
            preview(outcome)


def test_seed_demo_has_the_source_shape_scaled_down(session, runner):
    summary = _seed(runner)
    counts = summary["counts"]
    gold, silver = demo.scaled_bands(int(SMALL))
    assert counts["tiers"] == {"gold": gold, "silver": silver, "none": int(SMALL) - gold - silver}
    assert _count(session, Community) == 21 and counts["merchants"] == 130
    assert _count(session, Member) == int(SMALL)
    assert _count(session, LedgerEntry) == counts["ledger_entries"] > 10 * int(SMALL)
    assert counts["reversals"] >= 0 and counts["claims"]["pending"] > 0
    live = Counter(tiers.evaluate_tiers(session, session.scalars(select(Member.id)).all()).values())
    assert (live[Tier.GOLD], live[Tier.SILVER]) == (gold, silver)
    # Every printed login signs in with the printed password.
    roles = {login["role"] for login in summary["logins"]}
    assert roles == {"district_admin", "secretary", "merchant_manager", "cashier", "member"}
    for login in summary["logins"]:
        assert accounts.authenticate(session, login["username"], login["password"]) is not None


def test_seed_demo_has_sales_to_show_at_the_counter_and_in_the_district(session, runner, clock):
    summary = _seed(runner)
    assert summary["counts"]["redemptions"]["voided"] == 1
    cashier = session.scalar(select(Account).where(Account.username == "m001-cashier"))
    today, yesterday = redemptions.own_recent_sales(
        session, Actor.for_account(cashier), clock.today
    )
    # The cashier's 我的结算: today's sales (one of them voided) and yesterday's.
    assert len(today.sales) == demo_sales.M001_TODAY and len(today.completed) == 3
    assert len(yesterday.completed) == demo_sales.M001_YESTERDAY
    assert all(sale.business_date == clock.today for sale in today.sales)
    # Every sale went through the checkout: the discount its snapshot terms give.
    for sale in session.scalars(select(Redemption)):
        assert sale.created_at <= clock.now and sale.discount_fen > 0
        assert sale.payable_fen == sale.amount_fen - sale.discount_fen
        assert (sale.cashier_id is None) != (sale.api_key_id is None)
    # c01-gold shopped today: the member's savings page has this year's discount.
    gold = session.scalar(select(Account).where(Account.username == "c01-gold"))
    assert card_use.my_savings(session, Actor.for_account(gold), at=clock.now).discount_fen > 0
    # The district's card-use statistics count sales at more merchants than M001 (over the
    # demo's weeks of sales, which may begin in the year before).
    admin = Actor.for_account(session.scalar(select(Account).where(Account.username == "admin")))
    first_day = clock.today - timedelta(days=demo_sales.SALE_DAYS)
    selling = {
        merchant.code
        for year in {first_day.year, clock.today.year}
        for merchant in district_reports.card_use(session, admin, year).top_merchants(200)
    }
    assert "M001" in selling and len(selling) > 10


def test_same_seed_gives_the_same_demo_and_another_seed_does_not(session, runner):
    first = _seed(runner, "--seed", "7")
    db.session.remove()
    empty_all_tables()
    second = _seed(runner, "--seed", "7")
    assert second == first
    db.session.remove()
    empty_all_tables()
    other = _seed(runner, "--seed", "8")
    assert other["checkout"]["outcomes"] != first["checkout"]["outcomes"]


def test_seeding_a_database_with_data_is_refused(world, session, runner):
    members_before = _count(session, Member)
    result = runner.invoke(args=["seed-demo", "--members", SMALL])
    assert result.exit_code == 1
    assert "已有数据" in result.output
    assert _count(session, Member) == members_before
    assert _count(session, Community) == 2


def test_seed_demo_if_empty_skips_quietly_when_data_exists(world, session, runner):
    result = runner.invoke(args=["seed-demo", "--members", SMALL, "--if-empty", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"seeded": False, "reason": "database already has data"}
    assert _count(session, Community) == 2


def test_make_run_shows_the_demo_logins_again_on_a_seeded_database(session, runner):
    _seed(runner)
    again = runner.invoke(args=["seed-demo", "--members", SMALL, "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "跳过演示数据" in again.output
    for username in ("admin", "c01-secretary", "m001-cashier", "m001-manager", "c01-gold"):
        assert username in again.output


def test_seed_demo_is_refused_in_production(app, session, runner, monkeypatch):
    monkeypatch.setitem(app.config, "REWARDS_ENV", "production")
    result = runner.invoke(args=["seed-demo", "--members", SMALL])
    assert result.exit_code == 1
    assert "生产环境" in result.output
    assert _count(session, Community) == 0


# -- users ------------------------------------------------------------------------------------


def test_users_create_takes_the_password_from_stdin(world, session, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "home-secretary",
            "--role",
            "secretary",
            "--community",
            world.home.code,
            "--name",
            "王书记",
            "--password-stdin",
        ],
        input="long-enough-pass\n",
    )
    assert result.exit_code == 0, result.output
    account = accounts.authenticate(session, "home-secretary", "long-enough-pass")
    assert account is not None
    assert (account.role, account.community_id, account.display_name) == (
        Role.SECRETARY,
        world.home.id,
        "王书记",
    )
    assert session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "account.create", AuditEvent.actor_label == "cli"
        )
    )


def test_users_create_prompts_twice_for_the_password(world, session, runner):
    result = runner.invoke(
        args=[
            *("users", "create", "--username", "shop-cashier", "--role", "cashier"),
            *("--merchant", world.shop.code),
        ],
        input="cashier-pass-1\ncashier-pass-1\n",
    )
    assert result.exit_code == 0, result.output
    assert accounts.authenticate(session, "shop-cashier", "cashier-pass-1").merchant_id == (
        world.shop.id
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "secretary"], "需要 --community"),
        (["--role", "cashier", "--community", "T01"], "--community 不适用于 cashier"),
        (["--role", "secretary", "--community", "Z99"], "找不到社区 Z99"),
    ],
)
def test_users_create_with_the_wrong_scope_creates_nothing(world, session, runner, extra, message):
    before = _count(session, Account)
    result = runner.invoke(
        args=["users", "create", "--username", "someone", *extra, "--password-stdin"],
        input="long-enough-pass\n",
    )
    assert result.exit_code == 1
    assert message in result.output
    assert _count(session, Account) == before


def test_users_create_refuses_a_short_password(world, session, runner):
    result = runner.invoke(
        args=[
            *("users", "create", "--username", "admin2", "--role", "district_admin"),
            "--password-stdin",
        ],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "密码至少" in result.output
    assert session.scalar(select(Account).where(Account.username == "admin2")) is None


# -- roster -----------------------------------------------------------------------------------


def test_roster_import_command_lists_row_errors_and_imports_nothing(
    world, session, runner, tmp_path: Path
):
    bad = tmp_path / "roster.csv"
    bad.write_text(
        "member_no,name,phone,joined_on\n"
        "YT0900001,赵一,13912345678,2015-03-01\n"
        "YT0900002,钱二,1391234,2015-03-01\n"
        "YT0900003,孙三,13912345679,2015-02-30\n",
        encoding="utf-8",
    )
    before = _count(session, Member)
    result = runner.invoke(args=["roster", "import", str(bad), "--community", world.home.code])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "第 4 行" in result.output
    assert "第 2 行" not in result.output
    assert "未导入任何记录" in result.output
    assert _count(session, Member) == before


def test_roster_import_command_imports_an_excel_workbook(world, session, runner, tmp_path: Path):
    from tests.test_roster_workbooks import filled_template

    book = tmp_path / "名册.xlsx"
    book.write_bytes(filled_template(("YT0900002", "钱二", "13912345679", "2016-04-01", "")))
    result = runner.invoke(args=["roster", "import", str(book), "--community", world.home.code])
    assert result.exit_code == 0, result.output
    assert "新增 1 人" in result.output
    member = session.scalar(select(Member).where(Member.member_no == "YT0900002"))
    assert (member.name, member.community_id) == ("钱二", world.home.id)


def test_roster_import_command_imports_a_good_file(world, session, runner, tmp_path: Path):
    good = tmp_path / "roster.csv"
    good.write_bytes(
        "党员编号,姓名,手机号,报到日期,工作单位\r\nYT0900001,赵一,13912345678,2015-03-01,开发区税务局\r\n".encode(
            "gbk"
        )
    )
    result = runner.invoke(args=["roster", "import", str(good), "--community", world.home.code])
    assert result.exit_code == 0, result.output
    assert "新增 1 人" in result.output
    member = session.scalar(select(Member).where(Member.member_no == "YT0900001"))
    assert (member.name, member.community_id, member.employer) == (
        "赵一",
        world.home.id,
        "开发区税务局",
    )


# -- cards ------------------------------------------------------------------------------------


def test_cards_issue_eligible_gives_cards_to_silver_and_above_without_one(session, runner):
    built = factories.build_world(session)
    newcomer = factories.member(session, built.home, name="周新")
    factories.points(session, newcomer, 70)
    below = factories.member(session, built.home, name="吴低")
    factories.points(session, below, 10)
    session.commit()

    result = runner.invoke(args=["cards", "issue", "--community", built.home.code, "--eligible"])
    assert result.exit_code == 0, result.output
    assert "共发卡 1 张" in result.output
    holders = set(session.scalars(select(Card.member_id).where(Card.status == CardStatus.ACTIVE)))
    assert newcomer.id in holders and below.id not in holders

    again = runner.invoke(args=["cards", "issue", "--community", built.home.code, "--eligible"])
    assert again.exit_code == 0 and "共发卡 0 张" in again.output


def test_cards_issue_one_member_and_refuse_a_second_current_card(world, session, runner):
    member = factories.member(session, world.home, name="郑新")
    session.commit()
    result = runner.invoke(args=["cards", "issue", "--member-no", member.member_no])
    assert result.exit_code == 0, result.output
    card = session.scalar(select(Card).where(Card.member_id == member.id))
    assert card.status is CardStatus.ACTIVE
    again = runner.invoke(args=["cards", "issue", "--member-no", member.member_no])
    assert again.exit_code == 1 and "已有一张在用的卡" in again.output
    assert _count(session, Card) == 4


def test_cards_issue_needs_a_member_or_a_community_with_eligible(world, session, runner):
    result = runner.invoke(args=["cards", "issue", "--community", world.home.code])
    assert result.exit_code == 1
    assert "--eligible" in result.output


@pytest.mark.parametrize(
    ("flag", "kind"), [([], TokenKind.PHONE), (["--printed"], TokenKind.PRINTED)]
)
def test_cards_token_prints_a_token_that_verifies(
    world, session, runner, tokens: CardTokens, flag, kind
):
    result = runner.invoke(args=["cards", "token", world.gold_card.card_no, *flag])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    verified = tokens.verify(session, token)
    assert verified.kind is kind
    assert verified.card.id == world.gold_card.id


def test_cards_token_refuses_a_number_with_a_wrong_check_digit(world, runner):
    number = world.gold_card.card_no
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    result = runner.invoke(args=["cards", "token", wrong])
    assert result.exit_code == 1
    assert "校验位" in result.output


# -- merchants --------------------------------------------------------------------------------


def test_api_key_is_printed_once_and_authenticates(world, session, runner):
    result = runner.invoke(args=["merchants", "api-key", world.shop.code, "--label", "1号收银台"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    api_key = authenticate_api_key(session, key)
    assert api_key is not None
    assert (api_key.merchant_id, api_key.label) == (world.shop.id, "1号收银台")
    assert key not in {row.key_hash for row in session.scalars(select(ApiKey))}


def test_api_key_for_an_unknown_merchant_is_refused(world, session, runner):
    result = runner.invoke(args=["merchants", "api-key", "M999"])
    assert result.exit_code == 1
    assert "M999" in result.output
    assert _count(session, ApiKey) == 0


# -- ledger -----------------------------------------------------------------------------------


def test_ledger_verify_passes_then_names_an_entry_tampered_in_sql(world, session, runner):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 条记录" in result.output

    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.member_id == world.silver.id))
    session.execute(
        text("UPDATE ledger_entries SET points = points + 100 WHERE id = :id"), {"id": entry.id}
    )
    session.commit()
    broken = runner.invoke(args=["ledger", "verify"])
    assert broken.exit_code == 1
    assert f"entry {entry.id}（" in broken.output


# -- stats ------------------------------------------------------------------------------------


def test_stats_json_equals_live_tiers_on_the_demo(session, runner):
    _seed(runner)
    result = runner.invoke(args=["stats", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    members = session.execute(select(Member.id, Member.community_id)).all()
    live = tiers.evaluate_tiers(session, [m for m, _ in members])
    codes = dict(session.execute(select(Community.id, Community.code)).all())
    expected_members: dict[str, Counter[str]] = {code: Counter() for code in codes.values()}
    for member_id, community_id in members:
        expected_members[codes[community_id]][live[member_id].value] += 1
    active = session.execute(
        select(Card.member_id, Member.community_id)
        .join(Member, Member.id == Card.member_id)
        .where(Card.status == CardStatus.ACTIVE)
    )
    expected_cards: dict[str, Counter[str]] = {code: Counter() for code in codes.values()}
    for member_id, community_id in active:
        expected_cards[codes[community_id]][live[member_id].value] += 1

    assert len(report["communities"]) == 21
    for row in report["communities"]:
        for tier in ("gold", "silver", "none"):
            assert row["members_by_tier"][tier] == expected_members[row["code"]][tier]
            assert row["active_cards"][tier] == expected_cards[row["code"]][tier]
    gold, silver = demo.scaled_bands(int(SMALL))
    assert report["district"]["members_by_tier"]["gold"] == gold
    assert report["district"]["members_by_tier"]["silver"] == silver
    assert report["district"]["members"] == int(SMALL)


def test_stats_table_shows_every_community_and_the_district(world, runner):
    result = runner.invoke(args=["stats"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith(world.home.code) for line in lines)
    district = next(line for line in lines if line.startswith("ALL"))
    assert district.split()[2:] == ["3", "1", "1", "1", "1", "1", "1"]
