"""Settings from the environment, with safe defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULT_QR_TTL_SECONDS = 60
BUSINESS_TIMEZONE = "Asia/Shanghai"

# No pool_pre_ping: it costs a round trip on every request (about a tenth of a checkout's CPU).
# Instead each pooled connection is checked at checkout without a round trip (one poll of its
# socket, rewards.extensions.closed_by_the_server): a connection that PostgreSQL ended (restart,
# pg_terminate_backend) is replaced before a request uses it. Connections are also replaced
# after 30 minutes, before idle timeouts on the way (firewalls, NAT) can cut them silently.
POOL_RECYCLE_SECONDS = 1800
# Three claim photos of 5 MB each and the form around them; each upload checks its own limit.
MAX_REQUEST_BYTES = 20 * 1024 * 1024


class ConfigError(RuntimeError):
    """The environment does not describe a runnable deployment."""


def split_keys(raw: str) -> list[str]:
    """Split ``SECRET_KEY`` (newest first, comma separated) into a list of keys."""
    return [key.strip() for key in raw.split(",") if key.strip()]


def _instance_secret(instance_path: Path) -> str:
    """Read, or create once, the development key kept in the instance folder (outside git)."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def load_settings(instance_path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    mode = env.get("REWARDS_ENV", "development")
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"REWARDS_ENV must be development, production or testing, not {mode!r}")

    keys = split_keys(env.get("SECRET_KEY", ""))
    if not keys:
        if mode == "production":
            raise ConfigError("SECRET_KEY must be set in production (REWARDS_ENV=production)")
        keys = [_instance_secret(instance_path)]

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'rewards.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    try:
        qr_ttl = int(env.get("REWARDS_QR_TTL", DEFAULT_QR_TTL_SECONDS))
    except ValueError as exc:
        raise ConfigError("REWARDS_QR_TTL must be a whole number of seconds") from exc
    if not 10 <= qr_ttl <= 600:
        raise ConfigError("REWARDS_QR_TTL must be between 10 and 600 seconds")

    production = mode == "production"
    return {
        "REWARDS_ENV": mode,
        "SECRET_KEY": keys[0],
        "SECRET_KEY_FALLBACKS": keys[1:],
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": POOL_RECYCLE_SECONDS},
        "REWARDS_QR_TTL": qr_ttl,
        "BUSINESS_TIMEZONE": BUSINESS_TIMEZONE,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # The largest request is a claim with three 5 MB photos; a bigger one is refused unread
        # (413). The roster import keeps its own 5 MB limit.
        "MAX_CONTENT_LENGTH": MAX_REQUEST_BYTES,
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": BUSINESS_TIMEZONE,
        "API_TITLE": "红色动力双赢卡 API（收银系统与人员接口）",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
