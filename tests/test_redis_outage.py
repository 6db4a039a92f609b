"""A Redis outage on the production topology (issue 15, item 2): nothing fails, nothing is lost.

The test runs its own redis-server on a free port (the shared one is never touched), gunicorn with
two processes and rate limiting on, `flask worker`, `flask scheduler` and a real SMTP server. Redis
is shut down for a few seconds while organisations sign and a moderator approves; then it comes
back on the same port, with no traffic needed for the background to recover.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import CSRF_RE, free_port
from tests.servers import ROOT, SLUG, Browser, flask_cli, start_gunicorn, stop, wait_until

REDIS_SERVER = shutil.which("redis-server")
# A drill of its own processes on its own Redis and SQLite file, whichever backend the suite runs
# on: it runs once, with the other fault drills (make test-faults), not twice in make test.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
]


class OwnRedis:
    """A throwaway redis-server: no persistence, so a restart comes back empty (the worst case)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.answers, 15, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            return bool(Redis.from_url(self.url, socket_timeout=1).ping())
        except RedisError:
            return False

    def shutdown(self) -> None:
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            Redis.from_url(self.url, socket_timeout=2).shutdown(nosave=True)
        except RedisConnectionError:
            pass  # the server closes the connection as it goes
        assert self.process is not None
        self.process.wait(timeout=15)
        assert not self.answers()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _sign(browser: Browser, name: str, email: str) -> int:
    path = f"/statements/{SLUG}/sign"
    status, _headers, body = browser.request(path)
    assert status == 200, body[:500]
    form = {
        "csrf_token": CSRF_RE.search(body.decode()).group(1),
        "organisation_name": name,
        "organisation_type": "university",
        "country": "PL",
        "city": "Łódź",
        "website": f"https://{email.split('@')[1]}",
        "contact_name": "Contact",
        "email": email,
        "consent": "y",
    }
    return browser.request(path, form)[0]


def _confirm_path(message) -> str:
    body = message.get_body(("plain",)).get_content()
    url = re.search(r"https?://\S+/confirm/[A-Za-z0-9_-]+", body).group(0)
    return urllib.parse.urlsplit(url).path


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "downloaded.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def test_a_redis_outage_loses_no_sign_up_mail_or_rebuild(tmp_path, smtp):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    logs = tmp_path / "logs"
    logs.mkdir()
    redis = OwnRedis(free_port(), logs / "redis.log")
    redis.start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'outage.db'}",
        "REDIS_URL": redis.url,
        "SECRET_KEY": "redis-outage-test",
        "PDF_DIR": str(tmp_path / "pdf"),
        "PDF_DEBOUNCE_SECONDS": "0.5",
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "MAIL_DEFAULT_SENDER": "Campaign <campaign@example.org>",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HOUSEKEEPING_INTERVAL_SECONDS": "2",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("TEST_DATABASE_URL", "JOINTLY_ENV", "FLASK_RATELIMIT_ENABLED"):
        env.pop(name, None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    processes: list[subprocess.Popen] = []
    try:
        assert flask_cli(env, "db", "upgrade").returncode == 0
        processes.append(_start([*flask, "worker"], env, logs / "worker.log"))
        processes.append(_start([*flask, "scheduler"], env, logs / "scheduler.log"))
        processes.append(start_gunicorn(env, port, logs / "web.log"))
        seeded = flask_cli(env, "seed")
        assert seeded.returncode == 0, seeded.stderr
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_until(
            lambda: browser.request(f"/statements/{SLUG}/statement.pdf")[0] == 200 or None,
            60,
            "the first PDF from the worker",
        )

        # Before the outage: one organisation signs and confirms, waiting for moderation.
        assert _sign(browser, "Politechnika Łódzka", "office@p.lodz.pl") == 302
        [first] = smtp.wait_for(1, timeout=30)
        path = _confirm_path(first)
        status, _, body = browser.request(path)
        token = CSRF_RE.search(body.decode()).group(1)
        assert "confirmed" in browser.request(path, {"csrf_token": token})[2].decode()
        listing = flask_cli(env, "signatures", "list", "--state", "verified")
        verified_id = re.search(r"^(\d+)\tverified\t", listing.stdout, re.MULTILINE).group(1)

        redis.shutdown()
        outage_started = time.monotonic()
        # During the outage: sign-ups are answered and stored, a moderator approves.
        during = [f"contact@outage-{n}.example.org" for n in range(5)]
        for n, email in enumerate(during):
            assert _sign(browser, f"Outage University {n}", email) == 302, (
                logs / "web.log"
            ).read_text()[-3000:]
        approved = flask_cli(env, "signatures", "approve", verified_id)
        assert approved.returncode == 0, approved.stderr
        status, _, body = browser.request("/healthz")
        assert status == 503 and b'"queue": "error' in body
        assert time.monotonic() - outage_started < 20  # the outage is kept to seconds
        redis.start()
        back = time.monotonic()

        listing = flask_cli(env, "signatures", "list", "--state", "pending_email")
        for email in during:
            assert listing.stdout.count(f"\t{email}") == 1, listing.stdout

        # Within a minute of Redis returning, with no traffic: every mail, the rebuild.
        def delivered() -> bool:
            return all(smtp.to(email) for email in during) and smtp.to("office@p.lodz.pl")[1:]

        wait_until(delivered, 60, "the confirmation and approval mails")

        def rebuilt():
            status, _, data = browser.request(f"/statements/{SLUG}/statement.pdf")
            return status == 200 and "Politechnika Łódzka" in _pdf_text(data, tmp_path)

        wait_until(rebuilt, max(5.0, 60 - (time.monotonic() - back)), "the approved PDF")

        # RQ's own scheduler (delayed jobs: the debounced rebuilds) is back too.
        from redis import Redis
        from rq import Queue

        marker = tmp_path / "delayed-job.txt"
        queue = Queue("jointly", connection=Redis.from_url(redis.url))
        queue.enqueue_in(
            timedelta(seconds=1), "tests.jobs_helper.write_marker", str(marker), "after"
        )
        wait_until(marker.exists, 60, "a delayed job after the outage")

        time.sleep(3)  # a few more periods: still exactly one mail each
        for email in during:
            assert len(smtp.to(email)) == 1, email
        assert len(smtp.to("office@p.lodz.pl")) == 2
        status, _, body = browser.request("/healthz")
        assert status == 200 and b'"queue": "ok"' in body
        web_log = (logs / "web.log").read_text()
        assert "falling back to in-memory storage" in web_log
        assert "Something went wrong" not in web_log
        for process in processes:
            assert process.poll() is None, process.args  # recovered, not restarted
        stop(processes)
        for process in processes:
            assert process.returncode == 0, process.args  # an orderly stop on SIGTERM
        assert (logs / "worker.log").read_text().rstrip().endswith("worker: stopped")
        assert (logs / "scheduler.log").read_text().rstrip().endswith("scheduler: stopped")
    finally:
        stop(processes)
        redis.stop()
