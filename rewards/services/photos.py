"""Photos attached to a claim (证明照片): at most three, JPEG or PNG by their content (not their
name), at most 5 MB each. Each is re-encoded without its EXIF data (so without the location a
phone records), and kept under the instance folder with a thumbnail for the secretary."""

from __future__ import annotations

import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from rewards.clock import utcnow
from rewards.errors import Forbidden, NotFound, ValidationFailed
from rewards.models import Claim, ClaimPhoto, ClaimStatus, Member, Role
from rewards.services.audit import Actor, record, require_community

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; more is a decompression bomb, not a phone
THUMBNAIL_PX = 320
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
PHOTO_NOT_FOUND = "找不到这张照片。"


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed the checks, re-encoded without EXIF, and its thumbnail."""

    data: bytes
    thumbnail: bytes
    content_type: str
    width: int
    height: int


def _refuse(number: int, why: str) -> ValidationFailed:
    message = f"第 {number} 张照片{why}"
    return ValidationFailed(message, fields={"photos": [message]})


def check_photo(data: bytes, number: int = 1) -> CheckedPhoto:
    """The photo cleaned of its EXIF data, or a refusal saying what is wrong with it."""
    if not data:
        raise _refuse(number, "是空文件。")
    if len(data) > MAX_PHOTO_BYTES:
        raise _refuse(number, f"超过 {MAX_PHOTO_BYTES // 1024 // 1024} MB，请压缩后再上传。")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if probe.width * probe.height > MAX_PIXELS:
                raise _refuse(number, "像素太多，请换一张普通手机照片。")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _refuse(number, "不是有效的 JPEG 或 PNG 图片。") from exc
    if kind not in FORMATS:
        raise _refuse(number, f"是 {kind} 格式；只接受 JPEG 或 PNG 图片。")
    # Turn it the way the phone meant, then write it afresh: no EXIF (no location) survives.
    image = ImageOps.exif_transpose(image)
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    clean = io.BytesIO()
    if kind == "JPEG":
        image.save(clean, "JPEG", quality=88, optimize=True)
    else:
        image.save(clean, "PNG", optimize=True)
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80)
    return CheckedPhoto(clean.getvalue(), small.getvalue(), FORMATS[kind], *image.size)


def check_photos(files: Sequence[bytes]) -> list[CheckedPhoto]:
    """Every photo checked before anything is stored; at most three."""
    if len(files) > MAX_PHOTOS:
        message = f"最多上传 {MAX_PHOTOS} 张照片。"
        raise ValidationFailed(message, fields={"photos": [message]})
    return [check_photo(data, n) for n, data in enumerate(files, start=1)]


class PhotoStore:
    """Where photo files live: ``<folder>/<name>`` and ``<folder>/<name>.thumb.jpg``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, photo: ClaimPhoto, thumbnail: bool = False) -> Path:
        name = f"{photo.stored_name}.thumb.jpg" if thumbnail else photo.stored_name
        return self.folder / name

    def write(self, stored_name: str, photo: CheckedPhoto) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / stored_name).write_bytes(photo.data)
        (self.folder / f"{stored_name}.thumb.jpg").write_bytes(photo.thumbnail)


def attach_photos(
    session: Session,
    actor: Actor,
    claim: Claim,
    photos: Sequence[CheckedPhoto],
    store: PhotoStore,
    now: datetime | None = None,
) -> list[ClaimPhoto]:
    """Keep checked photos with a pending claim just submitted (files first, then rows)."""
    now = now or utcnow()
    if claim.status is not ClaimStatus.PENDING:
        raise ValidationFailed("只能给待认定的申报附照片。")
    rows = []
    for photo in photos:
        extension = ".jpg" if photo.content_type == "image/jpeg" else ".png"
        stored_name = secrets.token_hex(16) + extension
        store.write(stored_name, photo)
        rows.append(
            ClaimPhoto(
                claim_id=claim.id,
                stored_name=stored_name,
                content_type=photo.content_type,
                byte_size=len(photo.data),
                width=photo.width,
                height=photo.height,
                created_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    if rows:
        record(session, actor, "claim.photos", "claim", claim.id, at=now, count=len(rows))
    return rows


def photo_in_reach(session: Session, actor: Actor, photo_id: int) -> ClaimPhoto:
    """A claim's photo, for the member who claimed or their community's secretary (and the
    district); anybody else's is not found."""
    photo = session.get(ClaimPhoto, photo_id)
    claim = session.get(Claim, photo.claim_id) if photo is not None else None
    if photo is None or claim is None:
        raise NotFound(PHOTO_NOT_FOUND)
    if actor.role is Role.MEMBER:
        if actor.member_id != claim.member_id:
            raise NotFound(PHOTO_NOT_FOUND)
        return photo
    if actor.role not in (Role.SECRETARY, Role.DISTRICT_ADMIN, None):
        raise Forbidden()
    member = session.get(Member, claim.member_id)
    assert member is not None
    require_community(actor, member.community_id, PHOTO_NOT_FOUND)
    return photo
