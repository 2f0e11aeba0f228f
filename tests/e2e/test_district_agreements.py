"""The district's agreements (发展协议) in a real browser at 1280 px: the list with today's terms in
折, the agreements about to run out, signing for one community (a bad 折 first, then right),
amending from a date with the versions side by side, ending; and the secretary's read-only list
at 1280 px and 390 px."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from rewards.extensions import db
from rewards.models import Account, Agreement, AgreementVersion, Community, Merchant, Role
from rewards.services import agreements
from rewards.services.agreements import TermsInput
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.e2e.conftest import VIEWPORTS, Shop, fits_the_width, screenshot, sign_in

pytestmark = pytest.mark.e2e

HOME = "/community/"
ADMIN = Actor(label="tests-admin", role=Role.DISTRICT_ADMIN)


@dataclass
class Office:
    """What the browser tests need to know about the agreements behind the server."""

    admin: str
    home_id: int
    home_code: str
    other_name: str
    new_shop: str  # a merchant without any agreement yet
    new_shop_code: str
    expiring_shop: str


def seed_agreements(shop: Shop) -> Office:
    """Merchants with real-looking names: one district-wide, one that runs out in 20 days, one
    of the other community only, one amended from next month; and one without an agreement."""
    with shop.app.app_context():
        admin = factories.account(db.session, Role.DISTRICT_ADMIN)
        admin.display_name = "区办老周"
        secretary = db.session.scalar(select(Account).where(Account.username == shop.secretary))
        home = db.session.get(Community, secretary.community_id)
        home.name = "长江路社区"
        other = db.session.scalar(select(Community).where(Community.id != home.id))
        other.name = "黄河路社区"
        db.session.get(Merchant, shop.merchant_id).name = "福满楼饺子馆"
        start = today() - timedelta(days=270)

        def merchant(name: str, category: str) -> Merchant:
            made = factories.merchant(db.session, name=name)
            made.category = category
            return made

        chain = merchant("红旗大药房", "药店")
        agreements.sign_agreements(db.session, ADMIN, chain.id, None, TermsInput(90, 96, start))
        fruit = merchant("鲜果时光水果店", "生鲜")
        agreements.sign_agreements(
            db.session,
            ADMIN,
            fruit.id,
            [home.id],
            TermsInput(85, 95, start, today() + timedelta(days=20), 3000, 2000),
        )
        barber = merchant("新潮理发店", "美发")
        agreements.sign_agreements(
            db.session, ADMIN, barber.id, [other.id], TermsInput(88, 95, start)
        )
        books = merchant("书香文具店", "文具")
        (first,) = agreements.sign_agreements(
            db.session, ADMIN, books.id, [home.id], TermsInput(92, 98, start)
        )
        agreements.amend_agreement(
            db.session,
            ADMIN,
            first.agreement_id,
            TermsInput(88, 95, today() + timedelta(days=31), note="续签，折扣加大"),
        )
        new_shop = merchant("好邻居便利店", "超市")
        db.session.commit()
        office = Office(
            admin=admin.username,
            home_id=home.id,
            home_code=home.code,
            other_name=other.name,
            new_shop=new_shop.name,
            new_shop_code=new_shop.code,
            expiring_shop=fruit.name,
        )
        db.session.remove()
    return office


def versions(shop: Shop, merchant_code: str) -> list[tuple[int, int, int, date, date | None]]:
    with shop.app.app_context():
        rows = db.session.execute(
            select(
                AgreementVersion.version,
                AgreementVersion.gold_pay_percent,
                AgreementVersion.silver_pay_percent,
                AgreementVersion.valid_from,
                AgreementVersion.valid_until,
            )
            .join(Agreement, Agreement.id == AgreementVersion.agreement_id)
            .join(Merchant, Merchant.id == Agreement.merchant_id)
            .where(Merchant.code == merchant_code)
            .order_by(AgreementVersion.version)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_the_list_and_the_agreements_about_to_run_out(browser, live_shop):
    office = seed_agreements(live_shop)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    sign_in(page, live_shop, office.admin, home=HOME)
    page.click("nav.topnav >> text=发展协议")
    page.wait_for_url("**/district/agreements")
    table = page.locator("[data-testid=agreements]")
    assert table.locator("tbody tr").count() == 5
    fruit = table.locator("tr", has_text=office.expiring_shop)
    assert "85折" in fruit.inner_text() and "20 天后到期" in fruit.inner_text()
    assert "全部社区" in table.locator("tr", has_text="红旗大药房").inner_text()
    assert "9折" in table.locator("tr", has_text="红旗大药房").inner_text()
    assert fits_the_width(page)
    screenshot(page, "district-agreements-list-desktop")

    page.select_option("#community", office.home_code)
    page.click("form.filter button[type=submit]")
    page.wait_for_url(f"**/district/agreements?*community={office.home_code}*")
    names = page.locator("[data-testid=agreements] tbody tr").all_inner_texts()
    assert len(names) == 4 and not any("新潮理发店" in row for row in names)
    screenshot(page, "district-agreements-list-filtered-desktop")

    page.click("[data-testid=expiring-link]")
    page.wait_for_url("**/district/agreements/expiring")
    rows = page.locator("[data-testid=expiring] tbody tr")
    assert rows.count() == 1 and office.expiring_shop in rows.inner_text()
    assert (today() + timedelta(days=20)).isoformat() in rows.inner_text()
    assert fits_the_width(page)
    screenshot(page, "district-agreements-expiring-desktop")
    page.close()


def test_sign_for_a_community_with_a_bad_zhe_then_right_amend_and_end(browser, live_shop):
    office = seed_agreements(live_shop)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_shop, office.admin, home=HOME)
    page.goto(f"{live_shop.url}/district/agreements")
    page.click("[data-testid=new-agreement]")
    page.select_option("#merchant", office.new_shop_code)
    page.check(f"input[name=communities][value='{office.home_id}']")
    page.fill("#gold", "120")
    page.fill("#silver", "95")
    assert "须在 1 到 100 之间" in page.inner_text("#gold-reads")
    page.fill("#cap", "50")
    page.fill("#min_spend", "10.00")
    page.click("#sign-form button[type=submit]")
    error = page.locator(".has-error .field-error")
    error.first.wait_for()
    assert "折扣必须在 1 到 100 之间" in error.first.inner_text()
    assert page.input_value("#cap") == "50" and page.is_checked(
        f"input[name=communities][value='{office.home_id}']"
    )
    assert versions(live_shop, office.new_shop_code) == []
    assert fits_the_width(page)
    screenshot(page, "district-agreements-new-refused-desktop")

    page.fill("#gold", "88")
    assert "88折" in page.inner_text("#gold-reads")
    page.click("#sign-form button[type=submit]")
    page.wait_for_url("**/district/agreements/*")
    assert "已与 好邻居便利店 签订 1 份协议" in page.inner_text(".flash")
    assert versions(live_shop, office.new_shop_code) == [(1, 88, 95, today(), None)]
    assert page.locator("[data-testid=in-force-mark]").count() == 1
    screenshot(page, "district-agreements-signed-desktop")

    # Amend from next week: a second version, today's still the first.
    next_week = today() + timedelta(days=7)
    page.fill("#amend-gold", "85")
    page.fill("#amend-silver", "93")
    page.fill("#amend-valid_from", next_week.isoformat())
    page.fill("#amend-note", "银卡折扣加大")
    page.click("#amend-form button[type=submit]")
    page.wait_for_selector("tr[data-version='2']")
    assert "已修订：第 2 版" in page.inner_text(".flash")
    current = page.locator("tr[aria-current=true]")
    assert current.get_attribute("data-version") == "1"
    second = page.locator("tr[data-version='2']").inner_text()
    assert "85折" in second and "93折" in second and "待生效" in second and "区办老周" in second
    assert fits_the_width(page)
    screenshot(page, "district-agreements-amended-desktop")

    # A backdated amendment is refused next to its date, and nothing is written.
    page.fill("#amend-valid_from", (today() - timedelta(days=1)).isoformat())
    page.click("#amend-form button[type=submit]")
    page.locator("#amend .field-error").first.wait_for()
    assert "修订不能追溯" in page.inner_text("#amend")
    assert len(versions(live_shop, office.new_shop_code)) == 2

    # End on the last day of next month.
    page.goto(page.url.rsplit("/amend", 1)[0])
    last_day = today() + timedelta(days=40)
    page.fill("#last_day", last_day.isoformat())
    page.fill("#end_note", "商家搬迁")
    page.click("#end-form button[type=submit]")
    page.wait_for_selector("tr[data-version='3']")
    assert f"协议将于 {last_day.isoformat()} 终止" in page.inner_text(".flash")
    assert versions(live_shop, office.new_shop_code)[-1] == (3, 85, 93, next_week, last_day)
    assert "40 天后到期" in page.inner_text(".page-head")
    assert fits_the_width(page)
    screenshot(page, "district-agreements-ended-desktop")
    page.close()


def test_signing_a_community_already_signed_points_to_amend(browser, live_shop):
    office = seed_agreements(live_shop)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    sign_in(page, live_shop, office.admin, home=HOME)
    with live_shop.app.app_context():
        code = db.session.get(Merchant, live_shop.merchant_id).code
        db.session.remove()
    page.goto(f"{live_shop.url}/district/agreements/new?merchant={code}")
    signed = page.locator(f"label.community[data-code='{office.home_code}'] [data-signed-mark]")
    assert signed.is_visible()
    page.check(f"input[name=communities][value='{office.home_id}']")
    page.fill("#gold", "88")
    page.fill("#silver", "95")
    page.click("#sign-form button[type=submit]")
    page.locator("[data-testid=communities-error]").wait_for()
    assert "请在该协议上修订" in page.inner_text("[data-testid=communities-error]")
    screenshot(page, "district-agreements-new-taken-desktop")
    page.click("text=修订已有协议")
    page.wait_for_url("**/district/agreements/*#amend")
    page.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_secretary_reads_their_communitys_agreements(browser, live_shop, viewport):
    seed_agreements(live_shop)
    page = browser.new_page(viewport=VIEWPORTS[viewport])
    sign_in(page, live_shop, live_shop.secretary, home=HOME)
    page.click("nav.topnav >> text=发展协议")
    page.wait_for_url("**/community/agreements")
    rows = page.locator("[data-testid=agreements] tbody tr")
    texts = rows.all_inner_texts()
    assert len(texts) == 4  # home's three and the district-wide one; not the other community's
    assert not any("新潮理发店" in text for text in texts)
    books = page.locator("tr", has_text="书香文具店").inner_text()
    assert "92折" in books and (today() + timedelta(days=31)).isoformat() in books
    assert page.locator("main form").count() == 0  # read-only
    assert page.locator("main button").count() == 0
    assert fits_the_width(page)
    screenshot(page, f"community-agreements-{viewport}")
    # A district page is not for the secretary.
    refused = page.goto(f"{live_shop.url}/district/agreements/new")
    assert refused.status == 403
    page.close()
