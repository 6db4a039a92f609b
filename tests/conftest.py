"""Fixtures: the app on a migrated SQLite (or TEST_DATABASE_URL PostgreSQL) database, a real SMTP sink."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, create_engine, make_url, text
from werkzeug.routing.rules import Rule
from werkzeug.serving import make_server

from petition import create_app
from petition.core import caching as core_caching
from petition.core import db as core_db
from petition.core import events
from petition.extensions import db

# Every test builds an application of its own, and Werkzeug compiled each of its 109 routes' URL
# builders anew (ast + compile: half of create_app). A builder depends only on the rule's parsed
# parts, its defaults and whether unknown arguments are appended (the converters are reached
# through the rule it is bound to), so one compiled per such key serves every application.
_compile_builder = Rule._compile_builder
_builders: dict[tuple, object] = {}


def _shared_builder(self: Rule, append_unknown: bool = True):
    defaults = self.defaults or {}
    key = (
        tuple(self._trace),
        append_unknown,
        tuple(
            (name, repr(value), type(self._converters.get(name)).__qualname__)
            for name, value in sorted(defaults.items())
        ),
    )
    builder = _builders.get(key)
    if builder is None:
        builder = _builders[key] = _compile_builder(self, append_unknown)
    return builder


Rule._compile_builder = _shared_builder  # type: ignore[method-assign]

# Each application also made an engine of its own for the same database, and every statement was
# compiled anew on it (SQLAlchemy caches compiled SQL per engine): about a quarter of what a test's
# seed and first PDF cost. Applications with the same engine settings share one engine here; each
# test still disposes of its connections (the `app` fixture), and the engine's SQLite set-up
# (petition.core.db.configure_engine) is done once per engine.
_make_engine = SQLAlchemy._make_engine
_engines: dict[str, Engine] = {}


def _shared_engine(self, bind_key, options, app):
    key = repr((bind_key, sorted(options.items())))
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = _make_engine(self, bind_key, options, app)
    return engine


SQLAlchemy._make_engine = _shared_engine  # type: ignore[method-assign]
_configure_engine = core_db.configure_engine
_configured: set[int] = set()


def _configure_once(engine: Engine) -> None:
    if id(engine) not in _configured:
        _configured.add(id(engine))
        _configure_engine(engine)


core_db.configure_engine = _configure_once

# And each application read and hashed the ~230 files of the code, templates and static folder to
# fingerprint the build and the static files (petition/core/caching.py), half of create_app's time:
# the files do not change during a test run, so each folder list is hashed once per process.
_fingerprinted: dict[tuple[str, str], object] = {}


def _once_per_run(function):
    def fingerprint(folders):
        key = (function.__name__, repr(folders))
        if key not in _fingerprinted:
            _fingerprinted[key] = function(folders)
        return _fingerprinted[key]

    return fingerprint


core_caching._fingerprints = _once_per_run(core_caching._fingerprints)
core_caching._build_fingerprint = _once_per_run(core_caching._build_fingerprint)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
STRICT_SKIPS = os.environ.get("JOINTLY_STRICT_SKIPS") == "1"
# "gw0", "gw1" … in a pytest-xdist worker; empty in a plain run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Skips whose reason starts with this are expected in one of the two CI runs (SQLite, PostgreSQL).
BACKEND_SKIP = "[backend]"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a test may skip only because it targets the other database backend."""
    outcome = yield
    report = outcome.get_result()
    if STRICT_SKIPS and report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if BACKEND_SKIP not in reason:
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where everything must run: {reason}"


# The modules that take longest, longest first (seconds of one run, SQLite or PostgreSQL, on two
# cores). `make test` hands whole modules to its workers in collection order
# (--no-loadscope-reorder): the long ones start first and the many short ones fill the gaps, where
# xdist's own order (most tests first) left the few-test, many-process modules to the end, one
# worker busy with them while the others had finished.
LONGEST_FIRST = (
    "test_accessibility",
    "test_deployment",
    "test_slow_clients",
    "test_app_entry_point",
    "test_moderation_console",
    "test_deploy_nginx",
    "test_core_caching",
    "test_pdf_design",
    "test_signing_form",
    "test_signing_manage",
    "test_staff_auth",
    "test_check_config",
    "test_staff_signin_delays",
    "test_deploy_serve",
    "test_identity",
    "test_languages",
    "test_pdf_builds",
    "test_signatories_import_console",
    "test_core_outbox_maybe_sent",
    "test_search_folding",
    "test_mailing_browser",
)


def _module_order(items) -> None:
    """The LONGEST_FIRST modules in that order, then the others by their number of tests."""

    def module(item) -> str:
        return item.nodeid.split("::", 1)[0]

    counts: dict[str, int] = {}
    for item in items:
        counts[module(item)] = counts.get(module(item), 0) + 1
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}

    def key(item):
        name = module(item)
        return (rank.get(Path(name).stem, len(rank)), -counts[name], name)

    items.sort(key=key)


def pytest_collection_modifyitems(config, items):
    _module_order(items)
    for item in items:
        if item.get_closest_marker("postgres_only") and not is_postgres_url(TEST_DATABASE_URL):
            item.add_marker(pytest.mark.skip(reason=f"{BACKEND_SKIP} PostgreSQL-only test"))
        if item.get_closest_marker("sqlite_only") and is_postgres_url(TEST_DATABASE_URL):
            item.add_marker(pytest.mark.skip(reason=f"{BACKEND_SKIP} SQLite-only test"))


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: runs only when TEST_DATABASE_URL is set")
    config.addinivalue_line("markers", "sqlite_only: runs only on the embedded SQLite database")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line(
        "markers", "faults: fault-injection drills on their own services (make test-faults)"
    )
    config.addinivalue_line("markers", "config(**settings): app config overrides for one test")


def is_postgres_url(url: str) -> bool:
    return url.startswith("postgres")


# ---------------------------------------------------------------- database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """This session's database: a SQLite file, or TEST_DATABASE_URL's PostgreSQL database.

    Under pytest-xdist each worker gets its own: the SQLite file sits in the worker's temporary
    folder, and on PostgreSQL the worker creates `<database>_<worker>` on the same server (and
    drops it at the end), so workers never truncate each other's rows.
    """
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'jointly-test.db'}"
        return
    url = TEST_DATABASE_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not XDIST_WORKER:
        _fresh_schema(url)
        yield url
        return
    base = make_url(url)
    worker_url = base.set(database=f"{base.database}_{XDIST_WORKER}")
    name = worker_url.database
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A test database needs no durability: its commits do not wait for the disk.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    try:
        yield worker_url.render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _fresh_schema(url: str) -> None:
    """A fresh schema per run: the migrations must build it from nothing."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated(database_url, tmp_path_factory) -> str:
    """Apply the Alembic migrations once per session (so they are tested on every backend)."""
    from flask_migrate import upgrade

    app = create_app(_base_config(database_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    app.extensions["jobs"].stop()
    return database_url


def _base_config(database_url: str, tmp: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_SERVER": None,
        "MAIL_DIR": str(tmp / "mail"),
        "MAIL_SUPPRESS_SEND": False,
        "PDF_DIR": str(tmp / "pdf"),
        "PDF_DEBOUNCE_SECONDS": 0.2,
        "PUBLIC_BASE_URL": "http://localhost",
        "SERVER_NAME": "localhost",
        "RATELIMIT_ENABLED": False,
        "JOBS_MODE": "thread",
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_RESEND_INTERVAL_SECONDS": 300,
        # Every request computes its page's ETag (tests change content and look at once);
        # tests/test_core_page_cache.py covers the moment a page is taken as current.
        "PAGE_FRESH_SECONDS": 0,
    }


def truncate_all(engine) -> None:
    """Every table emptied, children first, and on PostgreSQL every sequence back to 1.

    DELETE rather than TRUNCATE: a test leaves a few rows, and PostgreSQL's TRUNCATE of every
    table costs about 0.2 s whatever they hold (new files for each table), twice per test.
    """
    statements = [
        "UPDATE statements SET current_version_id = NULL",
        *(f"DELETE FROM {t.name}" for t in reversed(db.metadata.sorted_tables)),
    ]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # One round trip (no parameters: psycopg sends several statements at once).
            statements.append(
                "SELECT setval(c.oid, 1, false) FROM pg_class c"
                " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
            )
            conn.exec_driver_sql("; ".join(statements))
        else:
            for statement in statements:
                conn.exec_driver_sql(statement)


# ---------------------------------------------------------------- SMTP sink


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free local port that records what it accepts."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    peers: list[tuple] = field(default_factory=list)  # of each message accepted
    refused_peers: list[tuple] = field(default_factory=list)  # of each refused by fail_next
    fail_next: list[str] = field(default_factory=list)  # SMTP replies to give instead of 250
    reject_all: str | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):
        with self._cond:
            if self.reject_all:
                return self.reject_all
            if self.fail_next:
                self.refused_peers.append(session.peer)
                return self.fail_next.pop(0)
            msg = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(msg)
            self.peers.append(session.peer)  # the client's address and port: its connection
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            if len(self.messages) < count:
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in m["To"].lower()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Controller(Controller):
    def factory(self):
        return SMTPServer(self.handler, enable_SMTPUTF8=True)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = _Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# ---------------------------------------------------------------- app


@pytest.fixture
def app_config(request, migrated, tmp_path) -> dict:
    config = _base_config(migrated, tmp_path)
    if "smtp" in request.fixturenames:
        sink = request.getfixturevalue("smtp")
        config.update(MAIL_SERVER=sink.host, MAIL_PORT=sink.port, MAIL_TIMEOUT=5)
    marker = request.node.get_closest_marker("config")
    if marker:
        config.update(marker.kwargs)
    return config


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        truncate_all(db.engine)
    yield app
    app.extensions["jobs"].stop()
    with app.app_context():
        db.session.remove()
        truncate_all(db.engine)
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def seeded(app):
    """The default statement, its founding signatories, campaign updates and first PDF.

    The PDF is built here, directly, instead of by the debounced job that seed() triggers:
    the same file without sleeping out the debounce in every test (test_pdf_builds tests that
    path). Where the module mutes PDF rebuilds (`no_pdf_rebuilds`), no PDF is built.
    """
    from petition.pdf import builds
    from petition.seed import seed

    if events.list_changed.is_muted:
        with app.app_context():
            return seed().statement.slug
    with app.app_context():
        with events.list_changed.muted():
            result = seed()
        slug, statement_id = result.statement.slug, result.statement.id
        builds.build_statement_pdf(statement_id, trigger="seed")
    wait_jobs(app)
    return slug


@pytest.fixture
def no_pdf_rebuilds():
    """Mute the PDF rebuild signal where PDFs are not the subject: the tests stay quick.

    A module opts in with `pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")`.
    """
    with events.list_changed.muted():
        yield


@pytest.fixture
def list_events():
    """Statement ids for which 'signatory list changed' was sent, in order."""
    received: list[tuple[int, str]] = []

    def receiver(sender, reason):
        received.append((sender, reason))

    events.list_changed.connect(receiver)
    yield received
    events.list_changed.disconnect(receiver)


@pytest.fixture
def listed(app, seeded):
    """The seeded statement with the approved signatories of tests/listing.py next to the founders."""
    from tests.flows import import_approved
    from tests.listing import ROWS

    import_approved(app, seeded, ROWS)
    return seeded


@pytest.fixture
def moderator(app, seeded):
    """A test client signed in to the console as a moderator."""
    from tests.staff_helpers import signed_in

    return signed_in(app, "mod@example.org", "moderator")


@pytest.fixture
def admin(app, seeded):
    """A test client signed in to the console as an admin."""
    from tests.staff_helpers import signed_in

    return signed_in(app, "admin@example.org", "admin")


def wait_jobs(app, timeout: float = 30.0) -> None:
    assert app.extensions["jobs"].wait_idle(timeout), "background jobs did not finish"


# ---------------------------------------------------------------- helpers for forms

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def valid_form(**overrides) -> dict:
    data = {
        "organisation_name": "Łódzkie Region",
        "organisation_type": "region",
        "country": "PL",
        "city": "Łódź",
        "website": "https://www.lodzkie.pl",
        "contact_name": "Anna Nowak",
        "contact_role": "Communications officer",
        "email": "anna.nowak@lodzkie.pl",
        "comment": "",
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit_sign(client, slug: str, **overrides):
    url = f"/statements/{slug}/sign"
    data = valid_form(**overrides)
    data.setdefault("csrf_token", csrf_token(client, url))
    return client.post(url, data=data)


LINK_RE = re.compile(r"http://localhost(/(?:confirm|withdraw|manage)/[A-Za-z0-9_-]+)")


def links_in(message: EmailMessage) -> dict[str, str]:
    """Paths of the confirm, manage (and old withdraw) links in a message's plain-text part."""
    body = message.get_body(("plain",)).get_content()
    found = {}
    for path in LINK_RE.findall(body):
        found.setdefault(path.split("/")[1], path)
    return found


def post_button(client, path: str):
    """Press the single button of a confirm/withdraw page, as a browser would.

    A page that no longer shows the button (already confirmed) is posted with the session's
    token from another form (the staff sign-in): a second tab, a double click.
    """
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    token = match.group(1) if match else csrf_token(client, "/staff/login")
    return client.post(path, data={"csrf_token": token})


# ---------------------------------------------------------------- a real browser

CHROMIUM_PATHS = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
# Chromium's headless shell (Debian's chromium-headless-shell, built from the same source) renders
# as the browser does without its windowing layer: half the CPU of `chromium --headless`.
CHROMIUM = next(
    (path for path in map(Path, CHROMIUM_PATHS) if path.exists()), Path(CHROMIUM_PATHS[-1])
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    """One Chromium per test process: each test opens its own context (cookies, storage, viewport)
    and closes it, so nothing carries from one test to the next but the running browser."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"Chromium not installed at {CHROMIUM} "
            "(apt-get install chromium-headless-shell, or chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_url(app, seeded):
    """The app served over HTTP by werkzeug in a thread, as `flask run` would."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Requests arrive for 127.0.0.1, and emailed links must point there too.
    app.config.update(SERVER_NAME=None, PUBLIC_BASE_URL=base)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        with events.list_changed.muted():  # no PDF rebuilds needed here
            yield f"{base}/statements/{seeded}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
