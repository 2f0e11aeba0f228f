"""Settings from the environment: keys, key rotation, the QR lifetime, the database URL."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeSerializer

from rewards import create_app
from rewards.config import DEFAULT_QR_TTL_SECONDS, ConfigError, load_settings, split_keys
from rewards.services.cards import CardTokens


def test_production_without_secret_key_refuses_to_start(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"REWARDS_ENV": "production"})
    assert "SECRET_KEY" in str(caught.value)
    assert not (tmp_path / "secret_key").exists()


def test_production_with_a_key_uses_secure_cookies(tmp_path: Path):
    settings = load_settings(tmp_path, {"REWARDS_ENV": "production", "SECRET_KEY": "k" * 40})
    assert settings["SECRET_KEY"] == "k" * 40
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_creates_a_key_file_once_and_reuses_it(tmp_path: Path):
    instance = tmp_path / "instance"
    first = load_settings(instance, {})
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY_FALLBACKS"] == []
    assert not first["SESSION_COOKIE_SECURE"]

    second = load_settings(instance, {})
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert key_file.read_text().strip() == first["SECRET_KEY"]


def test_development_keys_differ_between_instances(tmp_path: Path):
    a = load_settings(tmp_path / "a", {})["SECRET_KEY"]
    b = load_settings(tmp_path / "b", {})["SECRET_KEY"]
    assert a != b


def test_secret_key_list_puts_the_newest_first(tmp_path: Path):
    settings = load_settings(tmp_path, {"SECRET_KEY": "new,old"})
    assert settings["SECRET_KEY"] == "new"
    assert settings["SECRET_KEY_FALLBACKS"] == ["old"]
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_list_ignores_blanks_and_spaces():
    assert split_keys(" new , older ,, oldest ,") == ["new", "older", "oldest"]
    assert split_keys(" , ") == []


def test_the_app_signs_card_tokens_with_the_newest_key_and_accepts_fallbacks(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "newest-key,older-key")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.config["SECRET_KEY"] == "newest-key"
    assert app.config["SECRET_KEY_FALLBACKS"] == ["older-key"]
    tokens = app.extensions["rewards.card_tokens"]
    card = SimpleNamespace(card_no="812345678906", generation=1)
    signed = tokens.printed_token(card)
    assert URLSafeSerializer("newest-key", salt=CardTokens.PRINTED_SALT).loads(signed)["c"] == (
        "812345678906"
    )


def test_qr_ttl_defaults_to_sixty_seconds(tmp_path: Path):
    assert load_settings(tmp_path, {"SECRET_KEY": "k"})["REWARDS_QR_TTL"] == 60
    assert DEFAULT_QR_TTL_SECONDS == 60


@pytest.mark.parametrize(("raw", "seconds"), [("10", 10), ("45", 45), (" 90 ", 90), ("600", 600)])
def test_qr_ttl_is_parsed(tmp_path: Path, raw: str, seconds: int):
    env = {"SECRET_KEY": "k", "REWARDS_QR_TTL": raw}
    assert load_settings(tmp_path, env)["REWARDS_QR_TTL"] == seconds


@pytest.mark.parametrize("raw", ["9", "0", "-60", "601", "3600", "abc", "60s", "1.5", ""])
def test_qr_ttl_outside_bounds_or_not_a_number_is_refused(tmp_path: Path, raw: str):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"SECRET_KEY": "k", "REWARDS_QR_TTL": raw})
    assert "REWARDS_QR_TTL" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgres://u:p@db:5432/rewards", "postgresql+psycopg://u:p@db:5432/rewards"),
        ("postgresql://u@db/rewards", "postgresql+psycopg://u@db/rewards"),
        ("postgresql+psycopg://u@db/rewards", "postgresql+psycopg://u@db/rewards"),
        ("sqlite:////srv/rewards.sqlite3", "sqlite:////srv/rewards.sqlite3"),
    ],
)
def test_database_url_is_normalised_for_psycopg(tmp_path: Path, url: str, normalised: str):
    env = {"SECRET_KEY": "k", "DATABASE_URL": url}
    assert load_settings(tmp_path, env)["SQLALCHEMY_DATABASE_URI"] == normalised


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path: Path):
    uri = load_settings(tmp_path, {"SECRET_KEY": "k"})["SQLALCHEMY_DATABASE_URI"]
    assert uri == f"sqlite:///{tmp_path / 'rewards.sqlite3'}"


def test_unknown_environment_name_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError):
        load_settings(tmp_path, {"REWARDS_ENV": "prod"})
