"""Faults on the production topology: nothing lost, users told the truth.

One private topology for the module (tests/faults.py: its own PostgreSQL cluster and Redis
server on free ports, an SMTP server, gunicorn -w 2, `flask worker`, `flask scheduler`). Each test
breaks one thing for a few seconds while traffic flows, then checks: every accepted submission
stored once, every confirmation mail delivered exactly once (or marked failed after a 5xx), the
PDF eventually matches the list, every process recovered without a restart, and whoever hit the
outage got a 503 with Retry-After and their form back, never a stack trace.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.faults import (
    Submission,
    assert_told_the_truth,
    confirm_and_approve,
    confirmation_mails,
    fault_tools_missing,
    pdf_matches_list,
    pdf_text,
    sign_form,
    stored_once,
    submit,
    topology,
    unexpected_tracebacks,
    wait_for_mail_once,
)
from tests.servers import wait_until

# A drill of its own (`make test-faults`, run by CI): its outages take minutes of waiting.
pytestmark = [pytest.mark.slow, pytest.mark.faults]


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    missing = fault_tools_missing()
    if missing:
        pytest.skip(missing)
    with topology(tmp_path_factory.mktemp("faults")) as running:
        yield running


def assert_recovered(topo) -> None:
    """No process died (none was restarted but the one a test killed), no stray traceback."""
    assert topo.all_alive() == {}, topo.log_text()[-5000:]
    assert unexpected_tracebacks(topo.log_text()) == []


class Stream:
    """Sign-form submissions one after another from one browser, until stopped."""

    def __init__(self, topo, prefix: str) -> None:
        self.browser = topo.browser
        self.template = sign_form(self.browser, f"{prefix}-0@example.org", "x")
        self.prefix = prefix
        self.results: list[Submission] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            form = {
                **self.template,
                "email": f"{self.prefix}-{n}@example.org",
                "organisation_name": f"{self.prefix.title()} Organisation {n}",
            }
            self.results.append(submit(self.browser, form))
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        wait_until(lambda: len(self.results) >= count, timeout, f"{count} submissions")


def test_postgres_restarted_during_submissions(topo):
    with Stream(topo, "pgrestart") as stream:
        stream.wait_for(3)
        topo.postgres.stop()
        time.sleep(2)
        during = len(stream.results)
        topo.postgres.start()
        stream.wait_for(during + 1)
        wait_until(
            lambda: sum(r.status == 302 for r in stream.results[during:]) >= 2,
            30,
            "submissions to be accepted again after the restart",
        )
    accepted, refused = assert_told_the_truth(stream.results)
    assert refused, "no submission met the outage: the test did not test it"
    stored_once(topo, accepted)
    assert topo.query("SELECT count(*) FROM signatures WHERE email = ANY(%(e)s)", e=refused) == [
        (0,)
    ]
    wait_for_mail_once(topo, accepted)
    assert not any(confirmation_mails(topo, e) for e in refused)
    # The worker and the scheduler outlived the restart: a new submission is mailed as usual.
    wait_until(topo.healthy, 30, "/healthz after the restart")
    assert_recovered(topo)


def test_redis_stopped_during_submissions_and_restarted(topo):
    with Stream(topo, "redisdown") as stream:
        stream.wait_for(3)
        topo.redis.stop()
        before = len(stream.results)
        time.sleep(3)
        during = len(stream.results)
        # Staff act during the outage too: the rebuild it requests must not be lost.
        first = stream.results[0].email
        wait_for_mail_once(topo, [first])
        confirm_and_approve(topo, first)
        topo.redis.start()
        stream.wait_for(during + 4)
    accepted, refused = assert_told_the_truth(stream.results)
    # Redis is not needed to store a submission: those sent while it was down were accepted
    # (rate limiting fell back to memory) and are mailed once it is back.
    in_outage = stream.results[before + 1 : during]
    assert in_outage and all(r.status == 302 for r in in_outage), [r.status for r in in_outage]
    stored_once(topo, accepted)
    wait_for_mail_once(topo, accepted, timeout=90)
    # The rebuild asked for while Redis was down happens once it is back.
    wait_until(
        lambda: "Redisdown Organisation 1" in (pdf_text(topo) or ""),
        90,
        "the PDF to list the organisation approved during the outage",
    )
    assert pdf_matches_list(topo)
    wait_until(topo.healthy, 60, "/healthz with the queue reachable again")
    assert_recovered(topo)


def test_smtp_451_then_550_then_refused_then_back(topo):
    sink = topo.smtp.sink
    browser = topo.browser
    template = sign_form(browser, "x@example.org", "x")

    def send(email: str) -> None:
        form = {**template, "email": email, "organisation_name": f"Mail {email.split('@')[0]}"}
        assert_told_the_truth([submit(browser, form)])

    sink.reject_all = "451 4.3.0 Try again later"
    send("smtp-451@example.org")
    time.sleep(3)  # several attempts, each deferred
    assert not confirmation_mails(topo, "smtp-451@example.org")
    [(attempts, status)] = topo.query(
        "SELECT attempts, status FROM outbox_messages WHERE to_address = %(e)s",
        e="smtp-451@example.org",
    )
    assert attempts >= 2 and status == "queued"

    sink.reject_all = "550 5.1.1 No such user here"
    send("smtp-550@example.org")
    wait_until(
        lambda: (
            topo.query(
                "SELECT status FROM outbox_messages WHERE to_address = %(e)s",
                e="smtp-550@example.org",
            )
            == [("failed",)]
        ),
        30,
        "the 550 to mark the message failed",
    )

    sink.reject_all = None
    topo.smtp.refuse_connections()
    send("smtp-refused@example.org")
    time.sleep(3)
    topo.smtp.start()

    # Back: the deferred messages are delivered, once each; the permanent failure stays failed.
    delivered = ["smtp-refused@example.org"]
    [(status_451,)] = topo.query(
        "SELECT status FROM outbox_messages WHERE to_address = %(e)s", e="smtp-451@example.org"
    )
    if status_451 != "failed":  # it may have met the 550 phase: then it is failed, not sent
        delivered.append("smtp-451@example.org")
    wait_for_mail_once(topo, delivered, timeout=60)
    assert not confirmation_mails(topo, "smtp-550@example.org")
    rows = dict(
        topo.query("SELECT to_address, status FROM outbox_messages WHERE to_address LIKE 'smtp-%%'")
    )
    assert rows["smtp-550@example.org"] == "failed"
    assert all(rows[e] == "sent" for e in delivered)
    assert_recovered(topo)


def test_worker_killed_during_a_pdf_build(topo):
    import psycopg

    browser = topo.browser
    email = "killed-build@example.org"
    form = {**sign_form(browser, email, "x"), "organisation_name": "Killed Build Institute"}
    assert_told_the_truth([submit(browser, form)])
    wait_for_mail_once(topo, [email])
    url = topo.postgres.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as watch:

        def building() -> bool:
            """A build has started and not finished: its log row is open."""
            row = watch.execute(
                "SELECT count(*) FROM pdf_build_logs WHERE finished_at IS NULL"
            ).fetchone()
            return row[0] > 0

        # The approval requests a rebuild, which the worker starts while the command may still
        # be exiting: watch from before it runs.
        approval = threading.Thread(target=confirm_and_approve, args=(topo, email))
        approval.start()
        deadline = time.monotonic() + 30
        while not building():
            assert time.monotonic() < deadline, "the worker never started the build"
            time.sleep(0.005)
        topo.kill("worker", signal.SIGKILL)
        assert building(), "the build finished before the kill: the test did not test it"
        approval.join(timeout=60)
    topo.start_worker()
    wait_until(
        lambda: "Killed Build Institute" in (pdf_text(topo) or ""),
        60,
        "a build after the dead worker's, listing the approved organisation",
    )
    assert pdf_matches_list(topo)
    [(running,)] = topo.query("SELECT count(*) FROM pdf_build_logs WHERE finished_at IS NULL")
    assert running == 0
    assert_recovered(topo)
