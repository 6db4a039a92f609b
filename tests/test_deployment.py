"""The production topology end to end: gunicorn (2 workers) + `flask worker` on Redis (RQ) + SMTP,
and two `flask scheduler` processes (a second one must change nothing: each period runs once).

Everything is a real process talking over loopback, driven only through the public interface:
HTTP, the email actually received, the CLI, and the PDF's text.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import CSRF_RE, free_port
from tests.servers import (
    REDIS_URL,
    ROOT,
    SLUG,
    Browser,
    redis_reachable,
    site_database,
    wait_until,
)


@pytest.fixture
def deployment(tmp_path, tmp_path_factory, smtp):
    if not redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    port = free_port()
    queue = f"jointly-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.db'}",
        "REDIS_URL": REDIS_URL,
        "FLASK_RQ_QUEUE": queue,
        "SECRET_KEY": "deployment-test",
        "PDF_DIR": str(tmp_path / "pdf"),
        "PDF_DEBOUNCE_SECONDS": "0.5",
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "MAIL_DEFAULT_SENDER": "Campaign <campaign@example.org>",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FLASK_RATELIMIT_ENABLED": "false",
        "HOUSEKEEPING_INTERVAL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_URL", None)
    bin_dir = Path(sys.executable).parent

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    site_database(tmp_path / "deploy.db", tmp_path_factory, seeded=False)  # `flask db upgrade`
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = []
    try:
        for name in ("scheduler-1", "scheduler-2"):
            with open(logs / f"{name}.log", "w") as scheduler_log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                        cwd=ROOT,
                        env=env,
                        stdout=scheduler_log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        with open(logs / "worker.log", "w") as worker_log, open(logs / "web.log", "w") as web_log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            gunicorn = shutil.which("gunicorn", path=str(bin_dir)) or "gunicorn"
            processes.append(
                subprocess.Popen(
                    # Sync workers, as this test was written for, not ./gunicorn.conf.py: on
                    # SQLite under load the threaded workers made its direct writes wait out the
                    # busy timeout (to investigate; production runs PostgreSQL).
                    [gunicorn, "-c", "/dev/null", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                    cwd=ROOT,
                    env=env,
                    stdout=web_log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        seeded = cli("seed")
        assert seeded.returncode == 0, seeded.stderr
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_until(lambda: _healthy(browser), 30, "gunicorn to answer /healthz")
        yield browser, cli, smtp, logs
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        from redis import Redis

        connection = Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"rq:*{queue}*"):
            connection.delete(key)
        connection.close()


def _healthy(browser: Browser) -> bool:
    try:
        status, _headers, body = browser.request("/healthz")
    except OSError:
        return False
    return status == 200 and b'"queue": "ok"' in body


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "downloaded.pdf"
    path.write_bytes(data)
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
        return " ".join(out.stdout.decode().split())
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())


def test_sign_confirm_approve_and_the_worker_rebuilds_the_pdf(deployment, tmp_path):
    browser, cli, smtp, logs = deployment
    # The first PDF, built by the RQ worker from the seed's import.
    first = wait_until(
        lambda: browser.request(f"/statements/{SLUG}/statement.pdf")[0] == 200 or None,
        60,
        "the first PDF from the worker",
    )
    assert first
    # The worker yields the cores to the web (WORKER_NICE, 10 by default).
    assert "(niceness 10)" in (logs / "worker.log").read_text()

    sign_path = f"/statements/{SLUG}/sign"
    form = {
        "csrf_token": browser.token(sign_path),
        "organisation_name": "Київський політехнічний інститут",
        "organisation_type": "university",
        "country": "UA",
        "city": "Київ",
        "website": "https://kpi.ua",
        "contact_name": "Олена",
        "email": "olena@kpi.ua",
        "consent": "y",
    }
    status, headers, _ = browser.request(sign_path, form)
    assert status == 302, (logs / "web.log").read_text()[-3000:]
    assert headers["Location"].endswith("/check-your-email")

    [message] = smtp.wait_for(1, timeout=30)
    assert message["To"] == "olena@kpi.ua"
    links = {k: urllib.parse.urlsplit(v).path for k, v in links_in_base(message).items()}
    status, _, body = browser.request(links["confirm"])
    assert status == 200 and "Київський політехнічний інститут" in body.decode()
    status, _, body = browser.request(
        links["confirm"], {"csrf_token": CSRF_RE.search(body.decode()).group(1)}
    )
    assert "Your endorsement is confirmed" in body.decode()

    listing = cli("signatures", "list", "--state", "verified")
    signature_id = re.search(r"^(\d+)\tverified\t", listing.stdout, re.MULTILINE).group(1)
    approved = cli("signatures", "approve", signature_id)
    assert approved.returncode == 0, approved.stderr

    approval = smtp.wait_for(2, timeout=30)[1]
    assert "on the list" in approval["Subject"]

    def new_pdf():
        status, _, data = browser.request(f"/statements/{SLUG}/statement.pdf")
        return data if status == 200 and "Київський" in _pdf_text(data, tmp_path) else None

    data = wait_until(new_pdf, 60, "the worker to rebuild the PDF with the new signatory")
    text = _pdf_text(data, tmp_path)
    # The country is the subheading above the entry; the city follows the name.
    assert "Київський політехнічний інститут — Київ" in text
    assert "Ukraine" in text
    assert "Olena" not in text and "olena@kpi.ua" not in text
    status, _, versions = browser.request(f"/statements/{SLUG}/versions")
    assert hashlib.sha256(data).hexdigest() in versions.decode()


def links_in_base(message) -> dict[str, str]:
    """Confirmation and withdrawal links whatever the host and port in them."""
    body = message.get_body(("plain",)).get_content()
    found = {}
    for url in re.findall(r"https?://\S+/(?:confirm|withdraw)/[A-Za-z0-9_-]+", body):
        found.setdefault(urllib.parse.urlsplit(url).path.split("/")[1], url)
    return found


# ---------------------------------------------------------------- housekeeping on its schedule


def _local_app(tmp_path: Path):
    """An app object on the deployment's database, to set the scene and read the outcome."""
    from petition import create_app

    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "deployment-test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'deploy.db'}",
            "REDIS_URL": None,
            "JOBS_MODE": "sync",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def test_housekeeping_runs_once_per_period_across_processes(deployment, tmp_path):
    """Retention, mail left due and an ended embargo, each done once by the periodic housekeeping.

    Nothing here triggers them but the schedule: the endorsement is made old, the mail row is
    written straight into the outbox (as if its job had been lost), the embargo simply ends.
    """
    from datetime import timedelta

    from sqlalchemy import func, select

    from petition.extensions import db
    from petition.models import OutboxMessage, PdfVersion, Signature, Statement, utcnow

    browser, cli, smtp, logs = deployment
    wait_until(
        lambda: browser.request(f"/statements/{SLUG}/statement.pdf")[0] == 200 or None,
        60,
        "the first PDF from the worker",
    )
    sign_path = f"/statements/{SLUG}/sign"
    form = {
        "csrf_token": browser.token(sign_path),
        "organisation_name": "Never Confirmed Institute",
        "organisation_type": "university",
        "country": "BE",
        "city": "Gent",
        "website": "https://never.example.org",
        "contact_name": "Nobody",
        "email": "nobody@never.example.org",
        "consent": "y",
    }
    assert browser.request(sign_path, form)[0] == 302
    smtp.wait_for(1, timeout=30)

    from petition.core.db import transaction

    app = _local_app(tmp_path)
    # One write transaction as the application writes: on SQLite it takes the write lock at
    # BEGIN and waits its turn, where a read that turns into a write fails at once ("database
    # is locked") if a scheduler or the worker wrote in between.
    with app.app_context(), transaction("test scene"):
        statement = db.session.scalar(select(Statement).where(Statement.slug == SLUG))
        signature = db.session.scalar(
            select(Signature).where(Signature.email == "nobody@never.example.org")
        )
        signature.created_at = utcnow() - timedelta(
            days=app.config["UNCONFIRMED_RETENTION_DAYS"] + 1
        )
        db.session.add(
            OutboxMessage(
                kind="test",
                to_address="left-due@example.org",
                subject="Left due by a lost job",
                body_text="Sent by the periodic sweep.",
                next_attempt_at=utcnow() - timedelta(minutes=1),
            )
        )
        versions_before = db.session.scalar(
            select(func.count()).where(PdfVersion.statement_id == statement.id)
        )
        embargo_end = utcnow() + timedelta(seconds=2)
        statement.list_public_from = embargo_end
        db.session.flush()
        signature_id, statement_id = signature.id, statement.id

    def count_versions() -> int:
        with app.app_context():
            try:
                return db.session.scalar(
                    select(func.count()).where(PdfVersion.statement_id == statement_id)
                )
            finally:
                db.session.remove()

    def purged() -> bool:
        with app.app_context():
            try:
                return db.session.get(Signature, signature_id) is None
            finally:
                db.session.remove()

    # Within two periods (1 s each here), with slack for a machine loaded by parallel test runs
    # (one failure seen under load, not reproduced alone; the log's period list is the proof of
    # one run per period).
    wait_until(purged, 30, "retention to delete the old unconfirmed endorsement")
    wait_until(lambda: smtp.to("left-due@example.org"), 30, "the mail left due")
    wait_until(lambda: count_versions() > versions_before, 60, "the embargo's end to publish")
    # Several more periods with two schedulers running: nothing happens twice.
    import time

    time.sleep(4)
    assert len(smtp.to("left-due@example.org")) == 1
    assert count_versions() == versions_before + 1
    with app.app_context():
        newest = db.session.scalar(
            select(PdfVersion)
            .where(PdfVersion.statement_id == statement_id)
            .order_by(PdfVersion.number.desc())
            .limit(1)
        )
        assert newest.created_at >= embargo_end
        db.session.remove()
        db.engine.dispose()
    audit = cli("signatures", "list", "--statement", SLUG)
    assert "nobody@never.example.org" not in audit.stdout

    # Each period ran once for the whole deployment, whichever scheduler claimed it.
    periods = []
    for name in ("scheduler-1", "scheduler-2"):
        periods += re.findall(r"housekeeping: period (\d+)", (logs / f"{name}.log").read_text())
    assert len(periods) >= 5
    assert len(periods) == len(set(periods)), periods

    status, _, body = browser.request("/healthz")
    import json

    health = json.loads(body)["housekeeping"]
    assert status == 200 and health["overdue"] is False and health["last_started"]
    for log_file in logs.iterdir():
        assert "Traceback" not in log_file.read_text(), log_file.name
