"""Claim photos: JPEG or PNG by content, at most 5 MB and three, the location (EXIF) removed,
refused before anything is stored; only the claimant and their secretary can see them."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from rewards.errors import NotFound, ValidationFailed
from rewards.models import Role
from rewards.services import claims, photos
from rewards.services.audit import Actor
from tests import factories


def jpeg_with_location(size=(640, 480)) -> bytes:  # type: ignore[no-untyped-def]
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (37.0, 30.0, 0.0), 4: (121.0, 24.0, 0.0)}  # GPSInfo: latitude, longitude
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_the_location_is_removed_from_a_photo():
    original = jpeg_with_location()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)
    checked = photos.check_photo(original)
    cleaned = Image.open(io.BytesIO(checked.data))
    assert not cleaned.getexif()  # no GPS, no maker: nothing
    assert (checked.content_type, checked.width, checked.height) == ("image/jpeg", 640, 480)
    assert max(Image.open(io.BytesIO(checked.thumbnail)).size) <= photos.THUMBNAIL_PX


def test_a_png_is_accepted_and_a_fake_image_is_refused():
    png = io.BytesIO()
    Image.new("RGBA", (50, 50)).save(png, "PNG")
    assert photos.check_photo(png.getvalue()).content_type == "image/png"
    for fake in (b"GIF89a not really", b"%PDF-1.4", b"\xff\xd8\xff\xe0 truncated jpeg"):
        with pytest.raises(ValidationFailed) as caught:
            photos.check_photo(fake, 2)
        assert "第 2 张照片" in caught.value.message


def test_a_gif_is_refused_by_its_content_whatever_its_name():
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(ValidationFailed) as caught:
        photos.check_photo(gif.getvalue())
    assert "GIF" in caught.value.message


def test_an_oversized_photo_and_a_fourth_photo_are_refused():
    with pytest.raises(ValidationFailed):
        photos.check_photo(b"\xff" * (photos.MAX_PHOTO_BYTES + 1))
    with pytest.raises(ValidationFailed):
        photos.check_photos([jpeg_with_location()] * 4)


def test_photos_are_stored_with_the_claim_and_seen_only_by_claimant_and_secretary(
    world, session, tmp_path, clock
):
    account = factories.account(session, Role.MEMBER, member=world.plain)
    session.commit()
    me = Actor.for_account(account)
    claim = claims.submit_claim(
        session, me, world.plain.id, world.category.id, "扶老人", clock.today
    )
    store = photos.PhotoStore(tmp_path)
    [row] = photos.attach_photos(
        session, me, claim, photos.check_photos([jpeg_with_location()]), store
    )
    session.commit()
    assert store.path(row).exists() and store.path(row, thumbnail=True).exists()
    assert photos.photo_in_reach(session, me, row.id).id == row.id
    assert photos.photo_in_reach(session, world.actor(world.secretary), row.id).id == row.id
    other = factories.account(session, Role.MEMBER, member=world.gold)
    outsider = factories.account(session, Role.SECRETARY, community=world.other)
    session.commit()
    for actor in (Actor.for_account(other), Actor.for_account(outsider)):
        with pytest.raises(NotFound):
            photos.photo_in_reach(session, actor, row.id)
