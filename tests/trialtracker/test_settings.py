"""Configuration from the environment: DATABASE_URL parsing and a clean deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from trialtracker.config import env_bool, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_empty_database_url_means_sqlite_file_with_immediate_transactions(tmp_path):
    config = parse_database_url("", default_sqlite_path=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_sqlite_url_names_the_file(tmp_path):
    config = parse_database_url("sqlite:////var/lib/tt/tt.sqlite3", default_sqlite_path=tmp_path / "x")
    assert config["NAME"] == "/var/lib/tt/tt.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_url_uses_psycopg_backend(tmp_path, scheme):
    config = parse_database_url(f"{scheme}://tt:s3cret@db.internal:5433/trials", default_sqlite_path=tmp_path / "x")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "trials",
        "tt",
        "s3cret",
        "db.internal",
        5433,
    )
    assert config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("url", ["mysql://u@h/db", "redis://localhost", "nonsense"])
def test_unsupported_database_url_is_refused_clearly(tmp_path, url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url(url, default_sqlite_path=tmp_path / "x")


def test_postgres_url_without_database_name_is_refused(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="database name"):
        parse_database_url("postgres://u@host:5432", default_sqlite_path=tmp_path / "x")


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", default=True)


def _manage(args, env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "trials.example.org",
    "DATABASE_URL": "postgres://tt@db.example.org:5432/trialtracker",
}


def test_check_deploy_is_clean_with_production_environment():
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_with_debug_off_stops_with_clear_message():
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    result = _manage(["check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_bad_database_url_stops_with_clear_message():
    result = _manage(["check"], {**PRODUCTION_ENV, "DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode != 0
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stderr


def test_production_keeps_djangos_strong_password_hashers():
    """The suite swaps in a fast hasher (tests/conftest.py); the app itself must not."""
    from django.conf import global_settings

    import trialtracker.settings as app_settings

    hashers = getattr(app_settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)
    assert hashers[0] in (
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    )
