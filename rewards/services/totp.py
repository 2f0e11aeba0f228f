"""RFC 6238 time-based one-time codes (TOTP: HMAC-SHA1, 30 s periods, 6 digits), the second
half of the offline phone code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime

PERIOD_SECONDS = 30
DIGITS = 6
ALGORITHM = "SHA1"


def totp(secret_b32: str, period: int) -> str:
    """The RFC 6238 code of a base32 secret for counter ``period`` (Unix time // 30)."""
    key = base64.b32decode(secret_b32, casefold=True)
    digest = hmac.new(key, struct.pack(">Q", period), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def period_of(at: datetime) -> int:
    """The TOTP counter at instant ``at``."""
    return int(at.timestamp()) // PERIOD_SECONDS
