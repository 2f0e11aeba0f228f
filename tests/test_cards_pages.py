"""The community portal's cards pages (动力卡): the list, newly eligible members and bulk issue,
a card's page with its status changes (each with a reason), and the printable A4 sheet; another
community's cards are not found."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from rewards.errors import CardRevoked
from rewards.models import Card, CardStatus, Role
from rewards.services import cards
from rewards.services.cards import format_card_number
from tests import factories
from tests.forms import minted, once
from tests.test_auth import sign_in


def eligible(session, world, *names: str):  # type: ignore[no-untyped-def]
    """Members of ``home`` at silver (60 points) without a card."""
    made = []
    for name in names:
        member = factories.member(session, world.home, name=name)
        factories.points(session, member, 60)
        made.append(member)
    session.commit()
    return made


@pytest.fixture()
def outsider_card(session, world):  # type: ignore[no-untyped-def]
    member = factories.member(session, world.other, name="郑外人")
    factories.points(session, member, 500)
    card = factories.card(session, member)
    session.commit()
    return card


def card_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-card="(\d+)">', html)


def status_of(session, card_id: int) -> CardStatus:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Card, card_id).status


def forms_on(html: str) -> set[str]:
    return set(re.findall(r'class="card action-(\w+)"', html))


# -- the list ----------------------------------------------------------------------------------


def test_secretary_lists_only_own_communitys_cards(client, session, world, outsider_card):
    sign_in(client, world.secretary)
    page = client.get("/community/cards").text
    assert sorted(card_rows(page)) == sorted(
        c.card_no for c in (world.gold_card, world.silver_card, world.plain_card)
    )
    assert "郑外人" not in page


def test_list_filters_by_status_and_searches_number_member_number_and_name(client, session, world):
    cards.suspend_card(session, world.actor(world.secretary), world.silver_card.id, "挂失")
    session.commit()
    sign_in(client, world.secretary)
    assert card_rows(client.get("/community/cards?status=suspended").text) == [
        world.silver_card.card_no
    ]
    spaced = format_card_number(world.gold_card.card_no)
    assert card_rows(client.get("/community/cards", query_string={"q": spaced}).text) == [
        world.gold_card.card_no
    ]
    by_number = client.get("/community/cards", query_string={"q": world.plain.member_no}).text
    assert card_rows(by_number) == [world.plain_card.card_no]
    assert card_rows(client.get("/community/cards", query_string={"q": "李四"}).text) == [
        world.silver_card.card_no
    ]


def test_list_only_offers_active_cards_for_printing(client, session, world):
    cards.suspend_card(session, world.actor(world.secretary), world.silver_card.id, "挂失")
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/cards").text
    ticks = set(re.findall(r'name="card_ids" value="(\d+)"', page))
    assert ticks == {str(world.gold_card.id), str(world.plain_card.id)}


def test_admin_sees_every_community_and_filters_by_one(client, session, world, outsider_card):
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    assert len(card_rows(client.get("/community/cards").text)) == 4
    other = client.get(f"/community/cards?community={world.other.code}").text
    assert card_rows(other) == [outsider_card.card_no]
    assert f'<option value="{world.other.code}" selected>' in other
    assert client.get("/community/cards?community=C99").status_code == 404


def test_secretary_asking_for_another_community_is_not_found(client, session, world):
    sign_in(client, world.secretary)
    assert client.get(f"/community/cards?community={world.other.code}").status_code == 404
    assert client.get(f"/community/cards/eligible?community={world.other.code}").status_code == 404


def test_other_roles_cannot_open_the_cards_pages(client, session, world):
    sign_in(client, world.cashier)
    assert client.get("/community/cards").status_code == 403


# -- a card's page -------------------------------------------------------------------------------


def test_another_communitys_card_is_not_found(client, session, world, outsider_card):
    sign_in(client, world.secretary)
    assert client.get(f"/community/cards/{outsider_card.id}").status_code == 404
    for action in ("suspend", "revoke", "reissue"):
        refused = client.post(
            f"/community/cards/{outsider_card.id}/{action}", data={f"{action}-reason": "试一试"}
        )
        assert refused.status_code == 404
    assert status_of(session, outsider_card.id) is CardStatus.ACTIVE
    assert client.get(f"/community/cards/print?card_ids={outsider_card.id}").status_code == 404
    assert client.get("/community/cards/999999").status_code == 404


def test_card_page_shows_holder_status_generation(client, session, world):
    sign_in(client, world.secretary)
    page = client.get(f"/community/cards/{world.gold_card.id}").text
    assert world.gold.name in page and world.gold.member_no in page
    assert format_card_number(world.gold_card.card_no) in page
    assert "第 1 张" in page and "正常" in page


def test_a_reason_is_required_and_nothing_changes_without_one(client, session, world):
    sign_in(client, world.secretary)
    for reason in ("", "   "):
        response = client.post(
            f"/community/cards/{world.gold_card.id}/suspend", data={"suspend-reason": reason}
        )
        assert response.status_code == 422
        assert "请填写原因。" in response.text
    assert status_of(session, world.gold_card.id) is CardStatus.ACTIVE


def test_only_the_actions_the_status_allows_are_offered(client, session, world):
    sign_in(client, world.secretary)
    url = f"/community/cards/{world.gold_card.id}"
    assert forms_on(client.get(url).text) == {"suspend", "reissue", "revoke"}
    client.post(f"{url}/suspend", data={"suspend-reason": "挂失"})
    assert forms_on(client.get(url).text) == {"resume", "reissue", "revoke"}
    client.post(f"{url}/revoke", data={"revoke-reason": "迁出本社区"})
    page = client.get(url).text
    assert forms_on(page) == set() and "已注销" in page


def test_an_action_the_status_does_not_allow_is_refused(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/cards/{world.gold_card.id}/resume",
        data={"resume-reason": "没有暂停过"},
        follow_redirects=True,
    )
    assert "不能执行此操作" in response.text
    assert status_of(session, world.gold_card.id) is CardStatus.ACTIVE
    assert client.post(f"/community/cards/{world.gold_card.id}/melt").status_code == 404


def test_suspend_then_resume_keeps_each_reason_in_the_history(client, session, world):
    sign_in(client, world.secretary)
    url = f"/community/cards/{world.gold_card.id}"
    suspended = client.post(f"{url}/suspend", data={"suspend-reason": "本人挂失"})
    assert suspended.status_code == 302
    assert status_of(session, world.gold_card.id) is CardStatus.SUSPENDED
    client.post(f"{url}/resume", data={"resume-reason": "卡已找回"})
    assert status_of(session, world.gold_card.id) is CardStatus.ACTIVE
    history = client.get(url).text.split('class="history"')[1]
    assert history.index("原因：本人挂失") < history.index("原因：卡已找回")
    assert history.index("暂停使用") < history.index("恢复使用")


def test_reissue_shows_the_new_card_and_kills_the_old_printed_code(client, session, world, tokens):
    old_token = tokens.printed_token(world.gold_card)
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/cards/{world.gold_card.id}/reissue", data={"reissue-reason": "卡片遗失"}
    )
    new = cards.current_card(session, world.gold.id)
    assert new.id != world.gold_card.id and new.generation == 2
    assert response.location.endswith(f"/community/cards/{new.id}")
    assert "第 2 张" in client.get(response.location).text
    with pytest.raises(CardRevoked):
        tokens.verify(session, old_token)
    old_page = client.get(f"/community/cards/{world.gold_card.id}").text
    assert "已补办换新" in old_page and format_card_number(new.card_no) in old_page


# -- newly eligible members and bulk issue -------------------------------------------------------


def test_eligible_list_shows_silver_or_better_without_a_card_with_tier(client, session, world):
    waiting = eligible(session, world, "赵一", "钱二")
    factories.member(session, world.home, name="孙三")  # no points: not eligible
    session.commit()
    sign_in(client, world.secretary)
    page = client.get("/community/cards/eligible").text
    listed = re.findall(r'<tr data-member="(\w+)">', page)
    assert listed == [m.member_no for m in waiting]
    assert "孙三" not in page and world.gold.name not in page  # gold already holds a card
    assert page.count("tier tier-silver") == 2


def test_bulk_issue_issues_every_ticked_member_and_offers_to_print(client, session, world):
    waiting = eligible(session, world, "赵一", "钱二", "孙三")
    sign_in(client, world.secretary)
    response = client.post(
        "/community/cards/issue",
        data={"member_ids": [m.id for m in waiting], **once(client, "/community/cards/eligible")},
    )
    assert response.status_code == 303 and "/community/cards/issued" in response.location
    issued = client.get(response.location).text
    assert "已为 3 名党员发卡" in issued
    assert all(cards.current_card(session, m.id) is not None for m in waiting)
    print_link = re.search(r'href="(/community/cards/print\?[^"]+)"', issued).group(1)
    assert print_link.count("card_ids=") == 3


def test_bulk_issue_is_all_or_nothing(client, session, world):
    waiting = eligible(session, world, "赵一", "钱二")
    sign_in(client, world.secretary)
    ids = [waiting[0].id, world.gold.id, waiting[1].id]  # gold already holds a card
    response = client.post(
        "/community/cards/issue",
        data={"member_ids": ids, **once(client, "/community/cards/eligible")},
        follow_redirects=True,
    )
    assert f"{world.gold.name}（{world.gold.member_no}）" in response.text
    assert "整批未发卡" in response.text
    session.expire_all()
    assert all(cards.current_card(session, m.id) is None for m in waiting)


def test_bulk_issue_without_a_tick_says_so(client, session, world):
    sign_in(client, world.secretary)
    response = client.post(
        "/community/cards/issue",
        data=minted(),
        follow_redirects=True,
    )
    assert "请先勾选要发卡的党员" in response.text


def test_bulk_issue_for_another_communitys_member_is_not_found(client, session, world):
    outsider = factories.member(session, world.other, name="郑外人")
    factories.points(session, outsider, 60)
    session.commit()
    sign_in(client, world.secretary)
    response = client.post(
        "/community/cards/issue",
        data={"member_ids": [outsider.id], **minted()},
    )
    assert response.status_code == 404
    assert cards.current_card(session, outsider.id) is None


# -- the printable sheet ---------------------------------------------------------------------


def test_print_page_lists_the_cards_eight_to_a_sheet(client, session, world, tokens):
    waiting = eligible(session, world, *(f"党员{n}" for n in range(1, 7)))
    for member in waiting:
        factories.card(session, member)
    session.commit()
    ids = session.scalars(select(Card.id).where(Card.status == CardStatus.ACTIVE)).all()
    assert len(ids) == 9
    sign_in(client, world.secretary)
    response = client.get("/community/cards/print", query_string={"card_ids": ids})
    page = response.text
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert page.count('<section class="sheet"') == 2
    assert page.count('class="power-card"') == 9 and page.count("<svg") == 9
    assert page.count("红色联盟 · 红色动力双赢卡") == 9
    for card in session.scalars(select(Card).where(Card.id.in_(ids))):
        assert format_card_number(card.card_no) in page and card.member.name in page
    assert "data-print" in page and "print.css" in page


def test_print_refuses_a_card_that_is_not_active(client, session, world):
    cards.suspend_card(session, world.actor(world.secretary), world.silver_card.id, "挂失")
    session.commit()
    sign_in(client, world.secretary)
    response = client.get(f"/community/cards/print?card_ids={world.silver_card.id}")
    assert response.status_code == 409 and "不能打印" in response.text
    assert client.get("/community/cards/print").status_code == 422  # nothing ticked


def test_nothing_is_written_by_viewing_the_pages(client, session, world):
    sign_in(client, world.secretary)
    before = session.scalar(select(func.count(Card.id)))
    for url in (
        "/community/cards",
        "/community/cards/eligible",
        f"/community/cards/{world.gold_card.id}",
    ):
        assert client.get(url).status_code == 200
    assert session.scalar(select(func.count(Card.id))) == before
