"""The production configuration check: `flask check-config`, and every start-up with JOINTLY_ENV=production.

A production process must not start on the embedded defaults: a secret key generated on one host's
disk (other hosts reject its sessions), an SQLite file, jobs and rate limits that live in one
process, mail written to files nobody reads, or emailed links pointing at http://127.0.0.1. Every
problem is named at once, so one edit of the environment file fixes them all.

`flask check-config` also asks the mail relay, where a setting depends on what it announces
(`relay_checks`); start-ups do not, so a relay that is down never keeps the site from starting.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import click


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    #: Passed, but could not be verified (the relay did not answer): said, never refused.
    warning: bool = False

    def line(self) -> str:
        verdict = "WARN" if self.ok and self.warning else "OK  " if self.ok else "FAIL"
        return f"{verdict} {self.name}: {self.message}"


class ConfigurationRefused(click.ClickException):
    """Raised by the application factory in production; the Flask CLI prints it and exits 1."""

    def __init__(self, problems: list[Check]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p.name}: {p.message}" for p in problems)
        super().__init__(f"JOINTLY_ENV=production refuses to start; fix these settings:\n{lines}")


def _scheme(url: str) -> str:
    return url.split(":", 1)[0] if ":" in url else "(no scheme)"


def check(config: Mapping) -> list[Check]:
    """Each production requirement with its verdict, judged from the app's configuration."""
    results: list[Check] = []

    def ok(name: str, message: str) -> None:
        results.append(Check(name, True, message))

    def fail(name: str, message: str) -> None:
        results.append(Check(name, False, message))

    if str(config.get("SECRET_KEY") or "").strip():
        ok("SECRET_KEY", "set")
    else:
        fail(
            "SECRET_KEY",
            "not set (every host needs the same key; e.g. python -c "
            "'import secrets; print(secrets.token_hex(32))')",
        )

    given = config.get("SETTINGS_FROM_ENVIRONMENT", frozenset())
    database_url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if "DATABASE_URL" not in given:
        fail("DATABASE_URL", "not set (production needs PostgreSQL: postgresql+psycopg://…)")
    elif not database_url.startswith("postgresql"):
        fail(
            "DATABASE_URL",
            f"must be a PostgreSQL URL (postgresql+psycopg://…), not {_scheme(database_url)}:",
        )
    else:
        ok("DATABASE_URL", "PostgreSQL")

    redis_url = (config.get("REDIS_URL") or "").strip()
    if not redis_url:
        fail("REDIS_URL", "not set (the job queue, the scheduler and the rate limits need Redis)")
    elif _scheme(redis_url) not in {"redis", "rediss", "unix"}:
        fail(
            "REDIS_URL", f"must be a redis://, rediss:// or unix:// URL, not {_scheme(redis_url)}:"
        )
    else:
        ok("REDIS_URL", "Redis")

    mail_server = (config.get("MAIL_SERVER") or "").strip()
    if mail_server:
        ok("MAIL_SERVER", f"{mail_server}:{config.get('MAIL_PORT', 25)}")
    else:
        fail("MAIL_SERVER", "not set (without it mail is only written to instance/mail/)")

    base = str(config.get("PUBLIC_BASE_URL") or "")
    parts = urlsplit(base)
    if "PUBLIC_BASE_URL" not in given:
        fail("PUBLIC_BASE_URL", "not set (the https:// address used in emailed links)")
    elif parts.scheme != "https" or not parts.hostname:
        fail("PUBLIC_BASE_URL", f"must be an https:// URL with a host name, not {base!r}")
    else:
        ok("PUBLIC_BASE_URL", base)

    interval = float(config.get("HOUSEKEEPING_INTERVAL_SECONDS") or 0)
    if interval > 0:
        ok("HOUSEKEEPING_INTERVAL_SECONDS", f"{interval:g} s")
    else:
        fail("HOUSEKEEPING_INTERVAL_SECONDS", f"must be a positive number, not {interval:g}")
    return results


#: The longest the check waits for the relay, whatever MAIL_TIMEOUT allows a delivery.
RELAY_CHECK_TIMEOUT = 10.0


def relay_checks(config: Mapping) -> list[Check]:
    """What the configured relay must announce for the settings that rely on it (EHLO).

    MAIL_SMTPUTF8 lets the form take addresses beyond ASCII before the @ (`jöhn@…`); a relay
    without the SMTPUTF8 extension refuses every mail to them, which would then be accepted and
    never sent. A relay that cannot be reached is a warning: mail waits in the outbox meanwhile.
    """
    server = (config.get("MAIL_SERVER") or "").strip()
    if not config.get("MAIL_SMTPUTF8") or not server:
        return []
    port = int(config.get("MAIL_PORT") or 25)
    timeout = min(float(config.get("MAIL_TIMEOUT") or RELAY_CHECK_TIMEOUT), RELAY_CHECK_TIMEOUT)
    relay = f"{server}:{port}"
    try:
        smtp_class = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
        with smtp_class(server, port, timeout=timeout) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()  # the extensions after STARTTLS are the ones mail is sent with
            smtp.ehlo_or_helo_if_needed()
            announced = smtp.has_extn("smtputf8")
    except (smtplib.SMTPException, OSError) as exc:
        return [
            Check(
                "MAIL_SMTPUTF8",
                True,
                f"on, not verified: {relay} did not answer ({type(exc).__name__}: {exc})",
                warning=True,
            )
        ]
    if announced:
        return [Check("MAIL_SMTPUTF8", True, f"on, and {relay} announces SMTPUTF8")]
    return [
        Check(
            "MAIL_SMTPUTF8",
            False,
            f"on, but {relay} does not announce SMTPUTF8 in its EHLO answer: mail to an "
            "address beyond ASCII before the @ would be refused; turn MAIL_SMTPUTF8 off or "
            "use a relay that supports it",
        )
    ]


def is_production(config: Mapping) -> bool:
    return config.get("JOINTLY_ENV") == "production"
