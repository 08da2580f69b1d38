"""Settings from the environment: the embedded default with nothing set, and production hardening."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from panel.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = """
import django, json
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "secret": settings.SECRET_KEY,
    "cache": settings.CACHES["default"]["BACKEND"],
    "currency": settings.PANEL_CURRENCY,
    "markup": str(settings.DEFAULT_MARKUP_PERCENT),
}))
"""


def _run(code_or_args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "panel.settings",
    }
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_falls_back_to_the_embedded_default_with_nothing_set():
    result = _run(["-c", PRINT_SETTINGS])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"] == str(ROOT / "var" / "db.sqlite3")
    assert seen["broker"] == "filesystem://"
    assert seen["debug"] is True
    assert seen["secret"] == (ROOT / "var" / "dev-secret-key").read_text().strip() and len(seen["secret"]) >= 50
    assert seen["cache"].endswith("LocMemCache")
    assert (seen["currency"], seen["markup"]) == ("USD", "50")


def test_it_reads_every_setting_from_the_environment():
    result = _run(
        ["-c", PRINT_SETTINGS],
        DATABASE_URL="postgres://u@db.example:5432/panel",
        CELERY_BROKER_URL="redis://cache.example:6379/0",
        REDIS_URL="redis://cache.example:6379/1",
        DEBUG="false",
        SECRET_KEY="s" * 60,
        PANEL_CURRENCY="eur",
        DEFAULT_MARKUP_PERCENT="35.5",
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["engine"], seen["name"]) == ("django.db.backends.postgresql", "panel")
    assert seen["broker"] == "redis://cache.example:6379/0" and seen["cache"].endswith("RedisCache")
    assert (seen["debug"], seen["currency"], seen["markup"]) == (False, "EUR", "35.5")


def test_it_refuses_to_start_in_production_without_a_secret():
    result = _run(["-c", PRINT_SETTINGS], DEBUG="false")
    assert result.returncode != 0 and "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_refuses_a_negative_default_markup():
    result = _run(["-c", PRINT_SETTINGS], DEFAULT_MARKUP_PERCENT="-5")
    assert result.returncode != 0 and "never sells below cost" in result.stderr


def _production(**env: str) -> dict[str, str]:
    """Complete production settings, with `env` changed (an empty value leaves the variable unset)."""
    complete = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "panel.example.com",
        "EMAIL_URL": "smtp+tls://panel:secret@smtp.example.com:587",
        "REDIS_URL": "redis://cache.example:6379/1",
        "CELERY_BROKER_URL": "redis://cache.example:6379/0",
    }
    return {name: value for name, value in {**complete, **env}.items() if value}


def test_it_passes_the_deployment_checks_with_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **_production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["EMAIL_URL", "REDIS_URL", "CELERY_BROKER_URL"])
def test_it_refuses_to_start_in_production_without_an_outside_service(missing):
    result = _run(["manage.py", "check", "--deploy"], **_production(**{missing: ""}))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "(panel.E" in line]
    assert len(errors) == 1 and f"{missing} must" in errors[0], result.stderr


def test_it_takes_the_embedded_default_services_while_debugging():
    result = _run(["manage.py", "check"], DEBUG="true")
    assert result.returncode == 0 and "no issues" in result.stdout, result.stdout + result.stderr


PRINT_HSTS = """
import django
django.setup()
from django.conf import settings
print(settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_PRELOAD)
"""


def test_hsts_preload_is_off_unless_asked_for():
    result = _run(["-c", PRINT_HSTS], **_production())
    assert result.stdout.split() == ["31536000", "False"], result.stderr
    asked = _run(["-c", PRINT_HSTS], **_production(SECURE_HSTS_PRELOAD="true"))
    assert asked.stdout.split() == ["31536000", "True"], asked.stderr
    checked = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **_production(SECURE_HSTS_PRELOAD="true")
    )
    assert checked.returncode == 0 and "no issues" in checked.stdout, checked.stdout + checked.stderr


def test_it_uses_the_configured_cache_which_is_redis_in_ci():
    if os.environ.get("CI"):
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    cache.set("settings-test", {"ok": True}, timeout=10)
    assert cache.get("settings-test") == {"ok": True}


def test_it_reaches_the_configured_celery_broker():
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        assert connection.connected
