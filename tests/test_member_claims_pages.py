"""The member's claim pages (服务申报): submit with up to three photos (checked by content, at
most 5 MB, location removed; a refused photo writes nothing), follow the status, read a
rejection reason, withdraw a pending claim; photos only for the member and their secretary."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from rewards.models import Claim, ClaimPhoto, ClaimStatus, Role
from rewards.services import claims, photos
from rewards.services.audit import Actor
from tests import factories
from tests.forms import once
from tests.test_auth import sign_in
from tests.test_photos import jpeg_with_location


@pytest.fixture(autouse=True)
def photos_in_tmp(app, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Claim photos are kept under the test's own folder, not the project's."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))


def stored_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "claim-photos").glob("*"))


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count(model.id)))


def field_error(html: str, field: str) -> str:
    found = re.search(rf'data-error-for="{field}"[^>]*>([^<]+)<', html)
    return found.group(1) if found else ""


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (20, 90, 200)).save(out, "PNG")
    return out.getvalue()


def signed_in_member(client, session, member):  # type: ignore[no-untyped-def]
    account = factories.account(session, Role.MEMBER, member=member)
    session.commit()
    sign_in(client, account)
    return account


def post_claim(client, world, clock, files=(), **fields):  # type: ignore[no-untyped-def]
    data = {
        **once(client, "/member/claims/new"),  # the form's one-time token, as a browser sends it
        "category": str(world.category.id),
        "occurred_on": (clock.today - timedelta(days=2)).isoformat(),
        "description": "帮独居老人打扫卫生",
        **fields,
    }
    data["photos"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/member/claims/new", data=data, content_type="multipart/form-data")


def claim_with_photo(session, world, member, tmp_path, clock):  # type: ignore[no-untyped-def]
    """A pending claim of ``member`` with one photo, as the member submits it (and the
    member's account)."""
    account = factories.account(session, Role.MEMBER, member=member)
    me = Actor.for_account(account)
    claim = claims.submit_claim(
        session, me, member.id, world.category.id, "扶老人过马路", clock.today
    )
    store = photos.PhotoStore(tmp_path / "claim-photos")
    [photo] = photos.attach_photos(
        session, me, claim, photos.check_photos([jpeg_with_location()]), store
    )
    session.commit()
    return claim, photo, account


# -- submitting ---------------------------------------------------------------------------------


def test_the_form_shows_each_category_with_its_default_and_maximum(client, session, world):
    signed_in_member(client, session, world.gold)
    page = client.get("/member/claims/new")
    assert page.status_code == 200
    assert f"{world.category.name}（默认 5 分，最多 20 分）" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert 'accept="image/jpeg,image/png"' in page.text and "multiple" in page.text


def test_a_claim_with_photos_is_kept_pending_with_the_default_points(
    client, session, world, clock, tmp_path
):
    signed_in_member(client, session, world.gold)
    response = post_claim(
        client,
        world,
        clock,
        [("现场.jpg", jpeg_with_location()), ("签到表.png", png())],
        points="20",  # the member cannot set points: the category's default is proposed
    )
    assert response.status_code == 303
    claim = session.scalar(select(Claim))
    assert response.headers["Location"].endswith(f"/member/claims/{claim.id}")
    assert (claim.status, claim.points, claim.member_id) == (ClaimStatus.PENDING, 5, world.gold.id)
    assert [p.content_type for p in claim.photos] == ["image/jpeg", "image/png"]
    assert len(stored_files(tmp_path)) == 4  # two photos, two thumbnails

    page = client.get(f"/member/claims/{claim.id}").text
    assert "待认定" in page and "撤回这条申报" in page
    for photo in claim.photos:
        assert f'src="/member/claims/photos/{photo.id}/thumb"' in page
        assert f'href="/member/claims/photos/{photo.id}"' in page


def test_the_location_is_removed_from_the_stored_photo(client, session, world, clock, tmp_path):
    signed_in_member(client, session, world.gold)
    post_claim(client, world, clock, [("现场.jpg", jpeg_with_location())])
    photo = session.scalar(select(ClaimPhoto))
    stored = photos.PhotoStore(tmp_path / "claim-photos").path(photo)
    with Image.open(stored) as image:
        assert image.format == "JPEG" and not image.getexif()
    served = client.get(f"/member/claims/photos/{photo.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(served.data)) as image:
        assert 0x8825 not in image.getexif()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("假照片.jpg", b"%PDF-1.4 not a photo", "不是有效的 JPEG 或 PNG 图片"),
        ("大照片.jpg", b"\xff\xd8\xff\xe0" + b"\0" * (6 * 1024 * 1024), "超过 5 MB"),
    ],
)
def test_a_fake_or_oversized_photo_is_refused_and_nothing_is_written(
    client, session, world, clock, tmp_path, name, content, message
):
    signed_in_member(client, session, world.gold)
    response = post_claim(
        client, world, clock, [("好照片.jpg", jpeg_with_location()), (name, content)]
    )
    assert response.status_code == 422
    assert "第 2 张照片" in field_error(response.text, "photos")
    assert message in field_error(response.text, "photos")
    assert "帮独居老人打扫卫生" in response.text  # what was typed is kept
    assert count(session, Claim) == count(session, ClaimPhoto) == 0
    assert stored_files(tmp_path) == []


def test_a_fourth_photo_is_refused(client, session, world, clock, tmp_path):
    signed_in_member(client, session, world.gold)
    response = post_claim(client, world, clock, [(f"{n}.png", png()) for n in range(4)])
    assert response.status_code == 422
    assert "最多上传 3 张照片" in field_error(response.text, "photos")
    assert count(session, Claim) == 0 and stored_files(tmp_path) == []


def test_a_request_over_the_size_limit_gets_the_form_back_with_a_message(
    client, session, world, clock, tmp_path, app
):
    signed_in_member(client, session, world.gold)
    too_big = b"\xff\xd8" + b"\0" * app.config["MAX_CONTENT_LENGTH"]
    response = post_claim(client, world, clock, [("巨大.jpg", too_big)])
    assert response.status_code == 413
    assert "照片太大，申报没有提交" in field_error(response.text, "photos")
    assert 'name="description"' in response.text  # the form, not a bare error page
    assert count(session, Claim) == 0 and stored_files(tmp_path) == []


def test_the_limit_lets_three_5_mb_photos_through(app):
    assert app.config["MAX_CONTENT_LENGTH"] > 3 * photos.MAX_PHOTO_BYTES + 1024 * 1024


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"occurred_on": "2099-01-01"}, "occurred_on", "不能晚于今天"),
        ({"occurred_on": "2000-01-01"}, "occurred_on", "一年以内"),
        ({"occurred_on": "明天"}, "occurred_on", "年-月-日"),
        ({"description": ""}, "description", "做了什么服务"),
        ({"category": ""}, "category", "请选择服务类别"),
        ({"category": "99999"}, "category", "不存在或已停用"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(
    client, session, world, clock, tmp_path, fields, field, message
):
    signed_in_member(client, session, world.gold)
    response = post_claim(client, world, clock, [("现场.jpg", jpeg_with_location())], **fields)
    assert response.status_code == 422
    assert message in field_error(response.text, field)
    assert count(session, Claim) == 0 and stored_files(tmp_path) == []


# -- following a claim --------------------------------------------------------------------------


def test_the_list_shows_status_certified_points_and_the_rejection_reason(
    client, session, world, clock, tmp_path
):
    signed_in_member(client, session, world.gold)
    secretary = world.actor(world.secretary)
    made = []
    for text in ("第一次服务", "第二次服务", "第三次服务"):
        post_claim(client, world, clock, description=text)
        made.append(session.scalar(select(Claim).where(Claim.description == text)))
    claims.certify_claim(session, secretary, made[0].id, points=12)
    claims.reject_claim(session, secretary, made[1].id, "服务日期与社区记录不符")
    session.commit()

    page = client.get("/member/claims").text
    ids = [int(n) for n in re.findall(r'data-claim="(\d+)"', page)]
    assert ids == [c.id for c in reversed(made)]
    assert "记入 12 分" in page and "驳回原因：服务日期与社区记录不符" in page
    pending = client.get("/member/claims?status=pending").text
    assert re.findall(r'data-claim="(\d+)"', pending) == [str(made[2].id)]
    rejected = client.get(f"/member/claims/{made[1].id}").text
    assert "服务日期与社区记录不符" in rejected and "撤回这条申报" not in rejected
    certified = client.get(f"/member/claims/{made[0].id}").text
    assert "已认定，记入 12 分" in certified


def test_only_a_pending_claim_can_be_withdrawn(client, session, world, clock):
    signed_in_member(client, session, world.gold)
    post_claim(client, world, clock, description="待撤回的服务")
    post_claim(client, world, clock, description="已认定的服务")
    pending = session.scalar(select(Claim).where(Claim.description == "待撤回的服务"))
    decided = session.scalar(select(Claim).where(Claim.description == "已认定的服务"))
    claims.certify_claim(session, world.actor(world.secretary), decided.id)
    session.commit()

    done = client.post(f"/member/claims/{pending.id}/withdraw")
    assert done.headers["Location"].endswith(f"/member/claims/{pending.id}")
    session.refresh(pending)
    assert pending.status is ClaimStatus.WITHDRAWN
    page = client.get(done.headers["Location"]).text
    assert "申报已撤回" in page and "已撤回" in page and "撤回这条申报" not in page

    again = client.post(f"/member/claims/{pending.id}/withdraw", follow_redirects=True)
    assert "已于" in again.text and "撤回，不能再处理" in again.text
    refused = client.post(f"/member/claims/{decided.id}/withdraw", follow_redirects=True)
    assert "积分已记入" in refused.text
    session.refresh(decided)
    assert decided.status is ClaimStatus.CERTIFIED


# -- only one's own -----------------------------------------------------------------------------


def test_another_members_claim_and_photos_are_not_found(client, session, world, clock, tmp_path):
    claim, photo, _ = claim_with_photo(session, world, world.gold, tmp_path, clock)
    signed_in_member(client, session, world.silver)
    assert client.get(f"/member/claims/{claim.id}").status_code == 404
    assert client.get(f"/member/claims/photos/{photo.id}").status_code == 404
    assert client.get(f"/member/claims/photos/{photo.id}/thumb").status_code == 404
    assert client.post(f"/member/claims/{claim.id}/withdraw").status_code == 404
    assert f'data-claim="{claim.id}"' not in client.get("/member/claims").text
    session.refresh(claim)
    assert claim.status is ClaimStatus.PENDING


def test_the_member_gets_their_photo_and_thumbnail_never_cached(
    client, session, world, clock, tmp_path
):
    _, photo, account = claim_with_photo(session, world, world.gold, tmp_path, clock)
    sign_in(client, account)
    full = client.get(f"/member/claims/photos/{photo.id}")
    thumb = client.get(f"/member/claims/photos/{photo.id}/thumb")
    for response in (full, thumb):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert max(image.size) <= photos.THUMBNAIL_PX
    with Image.open(io.BytesIO(full.data)) as image:
        assert image.size == (640, 480)


# -- the secretary's claim page -------------------------------------------------------------------


def test_the_secretary_sees_the_photos_as_thumbnails_opening_the_full_photo(
    client, session, world, clock, tmp_path
):
    claim, photo, _ = claim_with_photo(session, world, world.gold, tmp_path, clock)
    sign_in(client, world.secretary)
    page = client.get(f"/community/claims/{claim.id}").text
    assert f'src="/community/claims/photos/{photo.id}/thumb"' in page
    assert f'href="/community/claims/photos/{photo.id}"' in page
    thumb = client.get(f"/community/claims/photos/{photo.id}/thumb")
    full = client.get(f"/community/claims/photos/{photo.id}")
    assert thumb.status_code == full.status_code == 200
    assert full.headers["Cache-Control"] == "private, no-store"
    assert len(thumb.data) < len(full.data)


def test_another_communitys_secretary_cannot_see_the_photo(client, session, world, clock, tmp_path):
    _, photo, _ = claim_with_photo(session, world, world.gold, tmp_path, clock)
    outsider = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    sign_in(client, outsider)
    assert client.get(f"/community/claims/photos/{photo.id}").status_code == 404
    assert client.get(f"/community/claims/photos/{photo.id}/thumb").status_code == 404


def test_the_secretary_sees_a_withdrawn_claim_as_withdrawn_not_rejected(
    client, session, world, clock, tmp_path
):
    claim, _, account = claim_with_photo(session, world, world.gold, tmp_path, clock)
    claims.withdraw_claim(session, Actor.for_account(account), claim.id)
    session.commit()
    sign_in(client, world.secretary)
    page = client.get(f"/community/claims/{claim.id}").text
    assert "党员本人已撤回" in page and "已驳回" not in page
