"""Secrets kept at rest (加密存储): encrypted with keys derived from the app's secret keys, so
the database alone never reveals them (the offline card codes' TOTP secrets)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _fernet_key(secret_key: str) -> bytes:
    # Domain-separated: the box's key is not the key that signs sessions and card tokens.
    digest = hashlib.sha256(b"rewards.secretbox\x00" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


class SecretBox:
    """Encrypts with the newest secret key and decrypts with any configured one (oldest to
    newest, as itsdangerous takes them), so keys rotate like ``SECRET_KEY``."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self._box = MultiFernet([Fernet(_fernet_key(k)) for k in reversed(secret_keys)])

    def seal(self, plain: str) -> str:
        """The encrypted, authenticated form of ``plain`` (text, safe to store)."""
        return self._box.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The plain text, or None when no configured key opens it (a retired key)."""
        try:
            return self._box.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None
