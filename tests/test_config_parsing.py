"""Configuration fails loudly: a value that does not parse stops start-up, naming the variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from petition import create_app
from petition.config import ConfigError, build_config

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **values: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "MAIL_", "REDIS", "JOBS_", "PUBLIC_BASE", "PDF_"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "TOKEN_MAX_AGE_DAYS")
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'config.db'}", SECRET_KEY="config-test")
    env.update(values)
    return env


def _flask(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "staff", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_refuses_to_start_with_a_value_that_does_not_parse(tmp_path):
    bad = _flask(_env(tmp_path, TOKEN_MAX_AGE_DAYS="seven"))
    assert bad.returncode != 0
    assert "TOKEN_MAX_AGE_DAYS='seven'" in bad.stderr
    assert "whole number of days" in bad.stderr
    assert "Traceback" not in bad.stderr  # one clear line, not a stack
    good = _flask(_env(tmp_path, TOKEN_MAX_AGE_DAYS="7"))
    assert good.returncode == 0, good.stderr
    assert "reset-password" in good.stdout


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOKEN_MAX_AGE_DAYS", "seven", "whole number of days"),
        ("TOKEN_MAX_AGE_DAYS", "0", "at least 1"),
        ("TOKEN_MAX_AGE_DAYS", "7.5", "whole number"),
        ("PORT", "http", "whole number"),
        ("MAIL_PORT", "-25", "at least 1"),
        ("MAIL_TIMEOUT", "ten", "number of seconds"),
        ("PDF_DEBOUNCE_SECONDS", "nan", "number of seconds"),
        ("PDF_DEBOUNCE_SECONDS", "-1", "at least 0"),
        ("MAIL_USE_TLS", "maybe", "true or false"),
        ("STAFF_REQUIRE_TOTP", "enabled", "true or false"),
        ("CONTACT_RETENTION_DAYS_AFTER_CLOSE", "a year", "whole number of days"),
        ("PAGE_MAX_AGE_SECONDS", "a minute", "whole number of seconds"),
        ("PAGE_SHARED_MAX_AGE_SECONDS", "-60", "at least 0"),
        ("HSTS_MAX_AGE_SECONDS", "1y", "whole number of seconds"),
        ("PAGE_CACHE_ENTRIES", "many", "whole number"),
        ("PAGE_FRESH_SECONDS", "a moment", "number of seconds"),
        ("MAIL_DEFAULT_SENDER", "jointly", "one email address"),
        ("MAIL_DEFAULT_SENDER", "Campaign <team@example.org", "one email address"),
        ("MAIL_REPLY_TO", "team@example.org, press@example.org", "one email address"),
        ("MAIL_REPLY_TO", "team at example.org", "one email address"),
    ],
)
def test_each_bad_value_is_named_with_the_form_expected(tmp_path, name, value, expected):
    with pytest.raises(ConfigError) as caught:
        build_config(tmp_path, {name: value})
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}={value!r} is not valid: expected")
    assert expected in str(caught.value)


def test_good_values_parse_and_empty_ones_take_the_default(tmp_path):
    config = build_config(
        tmp_path,
        {
            "TOKEN_MAX_AGE_DAYS": " 14 ",
            "MAIL_USE_TLS": "Yes",
            "MAIL_USE_SSL": "off",
            "PDF_DEBOUNCE_SECONDS": "0.5",
            "PORT": "",
            "MAIL_DEFAULT_SENDER": '"Regions, for Recovery" <statement@regions-network.eu>',
            "MAIL_REPLY_TO": " team@regions-network.eu ",
        },
    )
    assert config["MAIL_DEFAULT_SENDER"] == '"Regions, for Recovery" <statement@regions-network.eu>'
    assert config["MAIL_REPLY_TO"] == "team@regions-network.eu"
    assert config["TOKEN_MAX_AGE_DAYS"] == 14
    assert config["MAIL_USE_TLS"] is True and config["MAIL_USE_SSL"] is False
    assert config["PDF_DEBOUNCE_SECONDS"] == 0.5
    assert config["PORT"] == 5000


def test_the_staff_admin_email_comes_from_the_one_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("STAFF_ADMIN_EMAIL", "first.admin@example.org")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    app = create_app({"TESTING": True})
    try:
        assert app.config["STAFF_ADMIN_EMAIL"] == "first.admin@example.org"
    finally:
        app.extensions["jobs"].stop()
    assert build_config(tmp_path, {})["STAFF_ADMIN_EMAIL"] == "admin@localhost"


def test_every_bad_value_is_named_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        build_config(
            tmp_path, {"TOKEN_MAX_AGE_DAYS": "seven", "MAIL_USE_TLS": "maybe", "PORT": "80"}
        )
    assert caught.value.names == ["MAIL_USE_TLS", "TOKEN_MAX_AGE_DAYS"]
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("MAIL_USE_TLS='maybe' is not valid")
    assert lines[1].startswith("TOKEN_MAX_AGE_DAYS='seven' is not valid")


def test_check_config_too_stops_on_a_value_that_does_not_parse(tmp_path):
    env = _env(tmp_path, HOUSEKEEPING_INTERVAL_SECONDS="often", MAIL_REPLY_TO="team@")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "check-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "HOUSEKEEPING_INTERVAL_SECONDS='often' is not valid" in result.stderr
    assert "MAIL_REPLY_TO='team@' is not valid: expected one email address" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_environment_example_shows_each_commented_setting_at_its_default(tmp_path):
    """deploy/jointly.env.example's `#NAME=value` lines are the defaults, as README and
    docs/interface.md give them: uncommenting one changes nothing."""
    from tests.servers import ROOT

    example = (ROOT / "deploy" / "jointly.env.example").read_text()
    commented = re.findall(r"^#([A-Z][A-Z0-9_]+)=(.*)$", example, re.MULTILINE)
    assert ("MAIL_DOMAIN_HOURLY_LIMIT", "100") in commented
    defaults = build_config(tmp_path, {})
    for name, value in commented:
        config = build_config(tmp_path, {name: value})
        changed = {
            key
            for key in config
            if key != "SETTINGS_FROM_ENVIRONMENT" and config[key] != defaults[key]
        }
        assert not changed, (name, value, changed)
