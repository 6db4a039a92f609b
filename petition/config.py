"""Configuration read from the environment (and a `.env` file); defaults are the embedded set-up."""

from __future__ import annotations

import math
import os
import secrets
from email.utils import getaddresses
from pathlib import Path

import click
from email_validator import EmailNotValidError, validate_email


class ConfigError(click.ClickException):
    """Settings that do not parse: start-up stops and names each one with the form it expects.

    A ClickException, so that every `flask` command prints the message and exits 1 (wsgi.py
    does the same for gunicorn). All bad values are named at once, so one edit fixes them.
    """

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(
            "\n".join(
                f"{name}={value!r} is not valid: expected {what}" for name, value, what in problems
            )
        )
        self.problems = problems
        self.names = [name for name, _value, _what in problems]
        self.name = self.names[0]


class _Environment:
    """The environment being read, and what in it did not parse."""

    def __init__(self, env) -> None:
        self.env = env
        self.problems: list[tuple[str, str, str]] = []
        self.given: set[str] = set()

    def get(self, name: str, default=None):
        value = self.env.get(name)
        if value is None or not str(value).strip():
            return default if value is None else value
        self.given.add(name)
        return value

    def refuse(self, name: str, expected: str) -> None:
        self.problems.append((name, self.env.get(name), expected))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: _Environment, name: str, default: bool = False) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in _TRUE | _FALSE:
        env.refuse(name, "true or false (also 1/0, yes/no, on/off)")
        return default
    return value in _TRUE


def _int(env: _Environment, name: str, default: int, *, minimum: int = 0, unit: str = "") -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        what = f"a whole number{f' of {unit}' if unit else ''} of at least {minimum}"
        env.refuse(name, f"{what}, e.g. {max(default, minimum)}")
        return default
    return number


def _float(env: _Environment, name: str, default: float, *, unit: str = "seconds") -> float:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number < 0:
        env.refuse(name, f"a number of {unit} of at least 0, e.g. {default:g}")
        return default
    return number


def _mail_address(env: _Environment, name: str) -> str | None:
    """One email address, bare or with a display name ("Team <team@example.org>"); a value
    mail headers would carry wrongly (no @, two addresses, an unclosed <) stops start-up."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    pairs = getaddresses([value])
    address = pairs[0][1] if len(pairs) == 1 else ""
    if "<" in value and not (value.endswith(">") and value.count("<") == value.count(">") == 1):
        address = ""  # getaddresses forgives an unclosed <, a mail header would not
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        env.refuse(name, "one email address, e.g. team@example.org or Campaign <team@example.org>")
        return None
    return value


def load_secret_key(instance_path: Path) -> str:
    """A random key kept in instance/secret_key, so sessions survive restarts of `make run`."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def build_config(instance_path: Path, environ: os._Environ | dict | None = None) -> dict:
    """Every setting the application reads, as a dict for `app.config.update`.

    The one place that reads the environment. A value that does not parse raises ConfigError
    naming the variable and the form expected, instead of silently falling back to a default.
    """
    env = _Environment(os.environ if environ is None else environ)
    port = _int(env, "PORT", 5000, minimum=1)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'jointly.db'}"
    if database_url.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy wants the dialect spelled out.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    redis_url = env.get("REDIS_URL") or None
    mail_server = env.get("MAIL_SERVER") or None
    config = {
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "REDIS_URL": redis_url,
        "PORT": port,
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int(env, "MAIL_PORT", 25, minimum=1),
        "MAIL_USE_TLS": _bool(env, "MAIL_USE_TLS"),
        "MAIL_USE_SSL": _bool(env, "MAIL_USE_SSL"),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        # Unset: the sender and Reply-To set in the console's campaign identity page.
        "MAIL_DEFAULT_SENDER": _mail_address(env, "MAIL_DEFAULT_SENDER"),
        "MAIL_REPLY_TO": _mail_address(env, "MAIL_REPLY_TO"),
        # Generous: a relay slow to answer 250 after DATA may have taken the message, and giving
        # up early is what turns a slow relay into duplicates.
        "MAIL_TIMEOUT": _float(env, "MAIL_TIMEOUT", 60.0),
        "MAIL_DIR": str(instance_path / "mail"),
        # The relay takes addresses whose part before the @ is beyond ASCII (SMTPUTF8, RFC 6531):
        # the form accepts them, and they are sent with the SMTPUTF8 option (a relay that does
        # not announce it fails such a message at once). Off: the form refuses them.
        "MAIL_SMTPUTF8": _bool(env, "MAIL_SMTPUTF8"),
        # Minimum gap between two confirmation emails to the same signature.
        "MAIL_RESEND_INTERVAL_SECONDS": _int(
            env, "MAIL_RESEND_INTERVAL_SECONDS", 300, unit="seconds"
        ),
        "MAIL_MAX_ATTEMPTS": _int(env, "MAIL_MAX_ATTEMPTS", 8, minimum=1),
        # Anyone can make the site mail any address: mail a stranger's form submission triggers
        # (confirmation, already endorsed, lost link) goes to one recipient domain at most this
        # many times in any hour; more waits for the window (deferred, not dropped). 0: no cap.
        "MAIL_DOMAIN_HOURLY_LIMIT": _int(env, "MAIL_DOMAIN_HOURLY_LIMIT", 100),
        # Campaign mailings (petition/mailings): messages per minute, sent in batches of this
        # many a minute by the periodic sweep; and an address for List-Unsubscribe's mailto.
        "MAILING_RATE_PER_MINUTE": _int(env, "MAILING_RATE_PER_MINUTE", 60, minimum=1),
        "MAILING_UNSUBSCRIBE_MAILTO": env.get("MAILING_UNSUBSCRIBE_MAILTO") or None,
        # First wait after a temporary failure (doubled each attempt, capped at an hour).
        "MAIL_RETRY_BASE_SECONDS": _float(env, "MAIL_RETRY_BASE_SECONDS", 30.0),
        "TOKEN_MAX_AGE_DAYS": _int(env, "TOKEN_MAX_AGE_DAYS", 7, minimum=1, unit="days"),
        "PDF_DIR": env.get("PDF_DIR") or str(instance_path / "pdf"),
        # What the privacy notice promises; the periodic housekeeping enforces it.
        "UNCONFIRMED_RETENTION_DAYS": _int(
            env, "UNCONFIRMED_RETENTION_DAYS", 90, minimum=1, unit="days"
        ),
        "CONTACT_RETENTION_DAYS_AFTER_CLOSE": _int(
            env, "CONTACT_RETENTION_DAYS_AFTER_CLOSE", 365, minimum=1, unit="days"
        ),
        "PDF_DEBOUNCE_SECONDS": _float(env, "PDF_DEBOUNCE_SECONDS", 2.0),
        # Bytes of every PDF version younger than this are kept; older ones keep the last of each
        # day and every delivered one (prune_versions).
        "PDF_KEEP_DAYS": _int(env, "PDF_KEEP_DAYS", 30, unit="days"),
        # A build renews its lock every quarter of this; a lock not renewed for this long
        # belongs to a dead process and is taken over.
        "PDF_BUILD_LEASE_SECONDS": _float(env, "PDF_BUILD_LEASE_SECONDS", 60.0),
        # A failed build (e.g. a full disk) is retried by the periodic sweep after this long.
        "PDF_BUILD_RETRY_SECONDS": _float(env, "PDF_BUILD_RETRY_SECONDS", 300.0),
        "STAFF_REQUIRE_TOTP": _bool(env, "STAFF_REQUIRE_TOTP"),
        "STAFF_SESSION_IDLE_MINUTES": _int(
            env, "STAFF_SESSION_IDLE_MINUTES", 60, minimum=1, unit="minutes"
        ),
        # How long a staff invitation's set-password link works, and a password reset's.
        "STAFF_INVITE_HOURS": _int(env, "STAFF_INVITE_HOURS", 72, minimum=1, unit="hours"),
        "STAFF_RESET_MINUTES": _int(env, "STAFF_RESET_MINUTES", 60, minimum=5, unit="minutes"),
        # "thread" runs jobs in a thread of this process; "rq" with REDIS_URL; "sync" runs inline.
        "JOBS_MODE": env.get("JOBS_MODE") or ("rq" if redis_url else "thread"),
        # In-process jobs (mail, PDF builds) wait while the process answers requests, at most
        # this long past their due time: a spike of sign-ons first, its mail just after.
        "JOBS_YIELD_SECONDS": _float(env, "JOBS_YIELD_SECONDS", 30.0, unit="seconds"),
        # The worker process's niceness (0-19): on a host it shares with the web processes, the
        # web answers first and the worker catches up when they are idle.
        "WORKER_NICE": _int(env, "WORKER_NICE", 10, unit="niceness"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # A Redis outage must not fail requests: each process then limits in memory (generously,
        # every route) until Redis answers again, and any other storage error lets the request
        # through, logged (Flask-Limiter's own fallback).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_IN_MEMORY_FALLBACK": env.get("RATELIMIT_IN_MEMORY_FALLBACK") or "300 per minute",
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        # The periodic housekeeping (mail due, lost rebuilds, embargoes, digests, retention).
        "HOUSEKEEPING_INTERVAL_SECONDS": _float(env, "HOUSEKEEPING_INTERVAL_SECONDS", 60.0),
        # "production": every start-up checks the configuration first (petition/check_config.py).
        "JOINTLY_ENV": (env.get("JOINTLY_ENV") or "").strip().lower() or None,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Generous: a conference's shared wifi is many organisations behind one address; email
        # confirmation and moderation are the real gate, the limit only stops floods.
        "SIGN_RATE_LIMIT": env.get("SIGN_RATE_LIMIT") or "100 per hour;20 per minute",
        # Reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host); 0 trusts none.
        "PROXY_FIX_HOPS": _int(env, "PROXY_FIX_HOPS", 0),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 100,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": (env.get("PUBLIC_BASE_URL") or "").startswith("https://"),
        "PREFERRED_URL_SCHEME": "https"
        if (env.get("PUBLIC_BASE_URL") or "").startswith("https://")
        else "http",
        "SIGNATORIES_PER_PAGE": 50,
        # Public pages, open data and the PDF (core/caching.py): how long a browser, and a
        # shared cache (nginx, a CDN), may keep them before asking again with their ETag.
        "PAGE_MAX_AGE_SECONDS": _int(env, "PAGE_MAX_AGE_SECONDS", 60, unit="seconds"),
        "PAGE_SHARED_MAX_AGE_SECONDS": _int(env, "PAGE_SHARED_MAX_AGE_SECONDS", 60, unit="seconds"),
        # Rendered public pages (and the sign-on form around its CSRF token) each process keeps
        # by URL and ETag, so that a version is rendered once (core/caching.py); 0 keeps none.
        "PAGE_CACHE_ENTRIES": _int(env, "PAGE_CACHE_ENTRIES", 256),
        # For this long after a page's ETag was computed, the same URL is answered from the kept
        # page without the queries that make the ETag (a public page may be kept for its
        # max-age by any cache in front; this keeps it for a moment). 0: every request asks.
        "PAGE_FRESH_SECONDS": _float(env, "PAGE_FRESH_SECONDS", 0.0, unit="seconds"),
        # A static file requested without its content fingerprint (?v=…); with it, a year.
        "STATIC_MAX_AGE_SECONDS": _int(env, "STATIC_MAX_AGE_SECONDS", 300, unit="seconds"),
        # Strict-Transport-Security on responses served over https; 0 sends none.
        "HSTS_MAX_AGE_SECONDS": _int(env, "HSTS_MAX_AGE_SECONDS", 31_536_000, unit="seconds"),
        # Flask-Compress: brotli where the client takes it, else gzip; text formats only (the PDF
        # is compressed already) and nothing under 500 bytes. Not streamed responses: the
        # extension would drop their close() (an open file, a generator's clean-up); static
        # files are read whole instead (JointlyFlask.send_static_file).
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_STREAMS": False,
        "COMPRESS_MIMETYPES": [
            "text/html",
            "text/css",
            "text/csv",
            "text/plain",
            "text/javascript",
            "application/javascript",
            "application/json",
            "application/xml",
            "image/svg+xml",
            "image/vnd.microsoft.icon",
        ],
        "COMPRESS_MIN_SIZE": 500,
        # The first staff account `make run` creates (see staff.accounts.ensure_admin).
        "STAFF_ADMIN_EMAIL": env.get("STAFF_ADMIN_EMAIL") or "admin@localhost",
    }
    if env.problems:
        raise ConfigError(env.problems)
    # Which settings the environment gave, so that the production check (check_config.py) can
    # tell "DATABASE_URL not set" from its embedded default without reading the environment again.
    config["SETTINGS_FROM_ENVIRONMENT"] = frozenset(env.given)
    return config
