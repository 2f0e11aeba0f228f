"""The claims pages (认定申报): the queue is scoped, paged and filtered; a claim is certified
with its points or edited ones up to the category's maximum, or rejected with a reason; many
are certified at once with one result line each; a claim decided meanwhile credits once."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from rewards.models import Claim, ClaimStatus, LedgerEntry, Member, Role
from rewards.services import claims
from tests import factories
from tests.test_auth import sign_in


def claim(
    session,  # type: ignore[no-untyped-def]
    world,
    member: Member,
    submitted_at: datetime,
    *,
    occurred_on: date | None = None,
    category=None,  # type: ignore[no-untyped-def]
    points: int = 5,
    description: str = "帮助社区完成志愿服务",
) -> Claim:
    made = claims.submit_claim(
        session,
        factories.OPERATOR,
        member.id,
        (category or world.category).id,
        description,
        occurred_on or submitted_at.date() - timedelta(days=1),
        points=points,
        now=submitted_at,
    )
    session.commit()
    return made


def rows(html: str) -> list[int]:
    """The claim ids of the queue's rows, in order."""
    return [int(n) for n in re.findall(r'<tr data-claim="(\d+)"', html)]


def entries(session, claim_id: int) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count(LedgerEntry.id)).where(LedgerEntry.idempotency_key == f"claim:{claim_id}")
    )


# -- the queue ----------------------------------------------------------------------------------


def test_queue_lists_own_community_pending_claims_oldest_first(client, session, world, clock):
    newer = claim(session, world, world.gold, clock.now - timedelta(hours=2))
    older = claim(session, world, world.silver, clock.now - timedelta(days=2))
    outsider = factories.member(session, world.other, name="郑外人")
    elsewhere = claim(session, world, outsider, clock.now - timedelta(days=5))
    sign_in(client, world.secretary)
    page = client.get("/community/claims").text
    assert rows(page) == [older.id, newer.id]
    assert elsewhere.id not in rows(page) and "郑外人" not in page
    assert world.silver.member_no in page  # member name and number
    assert "2 天前" in page and "2 小时前" in page  # how long each has waited


def test_queue_is_paged_not_capped(client, session, world, clock):
    made = [
        claim(session, world, world.gold, clock.now - timedelta(minutes=100 - n)) for n in range(35)
    ]
    sign_in(client, world.secretary)
    first = client.get("/community/claims").text
    second = client.get("/community/claims?page=2").text
    assert rows(first) == [c.id for c in made[:30]]
    assert rows(second) == [c.id for c in made[30:]]
    assert "共 35 条待认定" in first and "第 1 / 2 页" in first


def test_queue_filters_by_category_and_service_date(client, session, world, clock):
    other_category = factories.category(session)
    early = claim(
        session, world, world.gold, clock.now, occurred_on=clock.today - timedelta(days=20)
    )
    late = claim(session, world, world.gold, clock.now, occurred_on=clock.today - timedelta(days=2))
    kind = claim(session, world, world.silver, clock.now, category=other_category)
    sign_in(client, world.secretary)
    by_category = client.get(f"/community/claims?category={other_category.id}").text
    assert rows(by_category) == [kind.id]
    start = (clock.today - timedelta(days=25)).isoformat()
    end = (clock.today - timedelta(days=10)).isoformat()
    by_date = client.get(f"/community/claims?from={start}&to={end}").text
    assert rows(by_date) == [early.id]
    assert late.id not in rows(by_date)


def test_decided_claims_are_listed_by_status(client, session, world, clock):
    done = claim(session, world, world.gold, clock.now - timedelta(hours=3))
    waiting = claim(session, world, world.silver, clock.now - timedelta(hours=2))
    claims.certify_claim(session, world.actor(world.secretary), done.id, points=7)
    session.commit()
    sign_in(client, world.secretary)
    assert rows(client.get("/community/claims").text) == [waiting.id]
    certified = client.get("/community/claims?status=certified").text
    assert rows(certified) == [done.id] and "已认定 7 分" in certified
    assert set(rows(client.get("/community/claims?status=all").text)) == {done.id, waiting.id}


def test_district_admin_sees_every_community_and_filters_by_one(client, session, world, clock):
    here = claim(session, world, world.gold, clock.now - timedelta(hours=2))
    outsider = factories.member(session, world.other, name="郑外人")
    there = claim(session, world, outsider, clock.now - timedelta(hours=1))
    admin = factories.account(session, Role.DISTRICT_ADMIN)
    session.commit()
    sign_in(client, admin)
    assert rows(client.get("/community/claims").text) == [here.id, there.id]
    only_other = client.get(f"/community/claims?community={world.other.code}").text
    assert rows(only_other) == [there.id]
    assert client.get("/community/claims?community=ZZ9").status_code == 404


# -- one claim ------------------------------------------------------------------------------------


def test_claim_page_shows_the_category_default_and_maximum(client, session, world, clock):
    made = claim(
        session, world, world.gold, clock.now - timedelta(hours=1), description="陪护老人就医"
    )
    sign_in(client, world.secretary)
    page = client.get(f"/community/claims/{made.id}").text
    assert "陪护老人就医" in page and world.gold.member_no in page
    assert "默认 5 分，最多 20 分" in page
    assert 'name="points"' in page and 'value="5"' in page and 'max="20"' in page


def test_certify_with_edited_points_records_them_once(client, session, world, clock):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    response = client.post(f"/community/claims/{made.id}/certify", data={"points": "12"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Claim, made.id).certified_points == 12
    entry = session.scalar(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == f"claim:{made.id}")
    )
    assert entry.points == 12
    assert "已认定，记入 12 分" in client.get("/community/claims").text


def test_certify_above_the_category_maximum_is_refused_and_writes_nothing(
    client, session, world, clock
):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    response = client.post(f"/community/claims/{made.id}/certify", data={"points": "25"})
    assert response.status_code == 422
    assert "每次可得 1 到 20 分，填写的是 25 分" in response.text
    assert 'value="25"' in response.text  # the typed points stay to be corrected
    session.expire_all()
    assert session.get(Claim, made.id).status is ClaimStatus.PENDING
    assert entries(session, made.id) == 0


def test_certify_with_points_that_are_not_a_number_is_refused(client, session, world, clock):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    response = client.post(f"/community/claims/{made.id}/certify", data={"points": "十"})
    assert response.status_code == 422 and "整数" in response.text
    assert entries(session, made.id) == 0


def test_reject_without_a_reason_is_refused(client, session, world, clock):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    response = client.post(f"/community/claims/{made.id}/reject", data={"reason": "  "})
    assert response.status_code == 422
    assert "驳回必须填写原因，党员会看到这条原因" in response.text
    session.expire_all()
    assert session.get(Claim, made.id).status is ClaimStatus.PENDING


def test_reject_with_a_reason_says_the_member_will_read_it(client, session, world, clock):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    response = client.post(
        f"/community/claims/{made.id}/reject", data={"reason": "服务日期与社区记录不符"}
    )
    assert response.status_code == 302
    assert "党员会在自己的申报记录里看到驳回原因" in client.get("/community/claims").text
    session.expire_all()
    rejected = session.get(Claim, made.id)
    assert rejected.status is ClaimStatus.REJECTED
    assert rejected.rejection_reason == "服务日期与社区记录不符"
    assert "服务日期与社区记录不符" in client.get(f"/community/claims/{made.id}").text


def test_a_claim_decided_in_another_tab_says_so_and_credits_once(client, session, world, clock):
    made = claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    assert (
        client.post(f"/community/claims/{made.id}/certify", data={"points": "5"}).status_code == 302
    )
    again = client.post(
        f"/community/claims/{made.id}/certify", data={"points": "5"}, follow_redirects=True
    )
    assert "这条申报已于" in again.text and "没有重复记分" in again.text
    assert entries(session, made.id) == 1
    rejected = client.post(
        f"/community/claims/{made.id}/reject", data={"reason": "重复"}, follow_redirects=True
    )
    assert "已于" in rejected.text
    session.expire_all()
    assert session.get(Claim, made.id).status is ClaimStatus.CERTIFIED


def test_another_community_claim_is_not_found(client, session, world, clock):
    outsider = factories.member(session, world.other, name="郑外人")
    theirs = claim(session, world, outsider, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    assert client.get(f"/community/claims/{theirs.id}").status_code == 404
    certify = client.post(f"/community/claims/{theirs.id}/certify", data={"points": "5"})
    reject = client.post(f"/community/claims/{theirs.id}/reject", data={"reason": "不符"})
    assert certify.status_code == reject.status_code == 404
    assert "郑外人" not in certify.text
    session.expire_all()
    assert session.get(Claim, theirs.id).status is ClaimStatus.PENDING
    assert entries(session, theirs.id) == 0


# -- many at once ---------------------------------------------------------------------------------


def test_bulk_certify_gives_one_line_per_claim_including_one_decided_meanwhile(
    client, session, world, clock
):
    first = claim(session, world, world.gold, clock.now - timedelta(hours=3), points=6)
    decided = claim(session, world, world.silver, clock.now - timedelta(hours=2))
    last = claim(session, world, world.plain, clock.now - timedelta(hours=1), points=4)
    claims.certify_claim(session, world.actor(world.secretary), decided.id)  # in another tab
    session.commit()
    sign_in(client, world.secretary)
    response = client.post(
        "/community/claims/certify",
        data={"claim_ids": [first.id, decided.id, last.id], "next": "/community/claims"},
    )
    assert response.status_code == 302 and response.location.endswith("/community/claims")
    page = client.get("/community/claims").text
    lines = re.findall(
        r'<li class="(result-ok|result-failed)" data-claim="(\d+)">(.*?)</li>', page, re.S
    )
    assert [(kind, int(n)) for kind, n, _ in lines] == [
        ("result-ok", first.id),
        ("result-failed", decided.id),
        ("result-ok", last.id),
    ]
    assert "已认定 6 分" in lines[0][2] and "已认定 4 分" in lines[2][2]
    assert "没有重复记分" in lines[1][2] and "李四" in lines[1][2]
    assert "已认定 2 条，1 条未认定" in page
    assert [entries(session, c.id) for c in (first, decided, last)] == [1, 1, 1]
    assert "批量认定结果" not in client.get("/community/claims").text  # shown once


def test_bulk_certify_with_nothing_ticked_says_so(client, session, world, clock):
    claim(session, world, world.gold, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    page = client.post("/community/claims/certify", data={}, follow_redirects=True).text
    assert "请先勾选要认定的申报" in page


def test_bulk_certify_names_nothing_of_another_community(client, session, world, clock):
    outsider = factories.member(session, world.other, name="郑外人")
    theirs = claim(session, world, outsider, clock.now - timedelta(hours=1))
    sign_in(client, world.secretary)
    client.post("/community/claims/certify", data={"claim_ids": [theirs.id]})
    page = client.get("/community/claims").text
    assert "找不到这条积分申报" in page and "郑外人" not in page
    assert entries(session, theirs.id) == 0


def test_a_long_bulk_result_fits_the_session_cookie(client, session, world, clock):
    made = [
        claim(session, world, world.gold, clock.now - timedelta(minutes=60 - n)) for n in range(30)
    ]
    for c in made[::2]:
        claims.certify_claim(session, world.actor(world.secretary), c.id)
    session.commit()
    sign_in(client, world.secretary)
    response = client.post("/community/claims/certify", data={"claim_ids": [c.id for c in made]})
    cookie = response.headers["Set-Cookie"]
    assert len(cookie) < 4000
    page = client.get("/community/claims").text
    assert page.count('class="result-failed"') == 15 and page.count('class="result-ok"') == 15
