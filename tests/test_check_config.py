"""`flask check-config` and the production start-up that runs it (JOINTLY_ENV=production)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from petition import create_app
from petition.check_config import ConfigurationRefused
from tests.servers import ROOT

REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "PUBLIC_BASE_URL")
GOOD = {
    "SECRET_KEY": "a-long-random-secret-shared-by-every-host",
    "DATABASE_URL": "postgresql://jointly@db.internal:5432/jointly",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MAIL_SERVER": "smtp.internal",
    "PUBLIC_BASE_URL": "https://statement.example.org",
}


def clean_env(tmp_path, **values: str) -> dict:
    """The test's environment without any setting the check reads, plus `values`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in REQUIRED
        and not k.startswith(("FLASK_", "MAIL_", "JOINTLY_", "HOUSEKEEPING_", "TEST_"))
    }
    # A .env in the repository must not fill in what the test leaves out.
    env["PDF_DIR"] = str(tmp_path / "pdf")
    env.update(values)
    return env


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=tmp_cwd(env),
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def tmp_cwd(env: dict) -> str:
    # Run from a folder without a .env file (python-dotenv searches from the working directory).
    return os.path.dirname(env["PDF_DIR"])


def test_check_config_accepts_a_production_configuration(tmp_path):
    result = flask(clean_env(tmp_path, **GOOD), "check-config")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in REQUIRED:
        assert any(line.startswith(f"OK   {name}:") for line in lines), (name, lines)
    assert "FAIL" not in result.stdout
    assert lines[-1] == "configuration OK for production"
    # The secret itself and the database password are never printed.
    assert GOOD["SECRET_KEY"] not in result.stdout


def test_check_config_names_every_invalid_setting_at_once(tmp_path):
    env = clean_env(
        tmp_path,
        SECRET_KEY="set",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        MAIL_SERVER="smtp.internal",
        PUBLIC_BASE_URL="http://statement.example.org",
        HOUSEKEEPING_INTERVAL_SECONDS="0",  # parses, but is no period (one that does not parse: test_config_parsing)
    )
    result = flask(env, "check-config")
    assert result.returncode == 1
    failed = {
        line.split()[1].rstrip(":")
        for line in result.stdout.splitlines()
        if line.startswith("FAIL")
    }
    assert failed == {
        "DATABASE_URL",
        "REDIS_URL",
        "PUBLIC_BASE_URL",
        "HOUSEKEEPING_INTERVAL_SECONDS",
    }
    assert "FAIL REDIS_URL: not set" in result.stdout
    assert "OK   SECRET_KEY: set" in result.stdout
    assert "OK   MAIL_SERVER: smtp.internal:25" in result.stdout
    assert "must be a PostgreSQL URL" in result.stdout
    assert "must be an https:// URL" in result.stdout
    assert (
        "configuration refused for production: DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL, "
        "HOUSEKEEPING_INTERVAL_SECONDS" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_production_start_up_refuses_naming_every_missing_setting(tmp_path):
    env = clean_env(tmp_path, JOINTLY_ENV="production")
    for args in (("check-config",), ("routes",)):
        result = flask(env, *args)
        assert result.returncode != 0
        assert "JOINTLY_ENV=production refuses to start" in result.stderr
        for name in REQUIRED:
            # "not set", not a verdict on an embedded default (the SQLite file, http://127.0.0.1).
            assert f"  {name}: not set" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr


def test_production_start_up_refuses_a_single_missing_setting(tmp_path):
    env = clean_env(tmp_path, JOINTLY_ENV="production", **GOOD)
    assert flask(env, "routes").returncode == 0
    del env["MAIL_SERVER"]
    result = flask(env, "routes")
    assert result.returncode == 1
    assert "  MAIL_SERVER: not set" in result.stderr
    assert "SECRET_KEY" not in result.stderr
    result = flask({**env, "MAIL_SERVER": "smtp.internal", "REDIS_URL": "memcached://c"}, "routes")
    assert result.returncode == 1
    assert "  REDIS_URL: must be a redis://, rediss:// or unix:// URL" in result.stderr


def test_the_wsgi_application_is_not_created_in_production_without_its_settings(
    monkeypatch, tmp_path
):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOINTLY_ENV", "production")
    monkeypatch.setenv("REDIS_URL", GOOD["REDIS_URL"])
    with pytest.raises(ConfigurationRefused) as refused:
        create_app({"TESTING": True})
    assert [p.name for p in refused.value.problems] == [
        "SECRET_KEY",
        "DATABASE_URL",
        "MAIL_SERVER",
        "PUBLIC_BASE_URL",
    ]


# ---------------------------------------------------------------- what the relay announces


@pytest.fixture(params=[True, False], ids=["relay-with-smtputf8", "relay-without"])
def relay(request):
    """A real SMTP server that announces SMTPUTF8 in its EHLO answer, or does not."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP as SMTPServer

    from tests.conftest import SmtpSink, free_port

    class RelayController(Controller):
        def factory(self):
            return SMTPServer(self.handler, enable_SMTPUTF8=request.param)

    sink = SmtpSink(port=free_port())
    controller = RelayController(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink, request.param
    finally:
        controller.stop()


def test_the_relay_is_asked_for_smtputf8_only_when_the_setting_is_on(relay):
    from petition.check_config import relay_checks

    sink, announces = relay
    config = {"MAIL_SERVER": sink.host, "MAIL_PORT": sink.port, "MAIL_TIMEOUT": 5}
    assert relay_checks(config) == []  # off: the relay is not asked
    [check] = relay_checks({**config, "MAIL_SMTPUTF8": True})
    relay_address = f"{sink.host}:{sink.port}"
    if announces:
        assert check.ok and not check.warning
        assert check.line() == f"OK   MAIL_SMTPUTF8: on, and {relay_address} announces SMTPUTF8"
    else:
        assert not check.ok
        assert check.line().startswith(
            f"FAIL MAIL_SMTPUTF8: on, but {relay_address} does not announce"
        )


@pytest.mark.parametrize("relay", [False], indirect=True, ids=["relay-without"])
def test_check_config_refuses_smtputf8_when_the_relay_does_not_announce_it(tmp_path, relay):
    sink, _announces = relay
    env = clean_env(tmp_path, **{**GOOD, "MAIL_SERVER": sink.host, "MAIL_PORT": str(sink.port)})
    result = flask({**env, "MAIL_SMTPUTF8": "true"}, "check-config")
    assert result.returncode == 1
    assert f"FAIL MAIL_SMTPUTF8: on, but {sink.host}:{sink.port} does not announce" in (
        result.stdout
    )
    assert "configuration refused for production: MAIL_SMTPUTF8" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_relay_that_does_not_answer_is_a_warning_not_a_refusal(tmp_path):
    from petition.check_config import relay_checks
    from tests.conftest import free_port

    port = free_port()  # nothing listens there
    [check] = relay_checks(
        {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_SMTPUTF8": True, "MAIL_TIMEOUT": 5}
    )
    assert check.ok and check.warning
    assert check.line().startswith(
        f"WARN MAIL_SMTPUTF8: on, not verified: 127.0.0.1:{port} did not answer"
    )
    env = clean_env(
        tmp_path, **{**GOOD, "MAIL_SERVER": "127.0.0.1"}, MAIL_PORT=str(port), MAIL_SMTPUTF8="true"
    )
    # A production start-up never asks the relay: it starts while the relay is down.
    assert flask({**env, "JOINTLY_ENV": "production"}, "routes").returncode == 0
