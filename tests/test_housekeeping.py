"""The periodic housekeeping: one run per period whoever asks, failures contained, /healthz told."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from flask import current_app

from petition import housekeeping
from petition.extensions import db
from petition.models import HousekeepingRun, utcnow
from tests.servers import ROOT, wait_until


def record_call() -> None:
    # Through the app: importlib may load this module a second time under another name.
    current_app.config["HOUSEKEEPING_CALLS"].append("ran")


def failing_task() -> None:
    raise RuntimeError("this task always fails")


def test_each_period_is_claimed_once_however_many_processes_try(app):
    every = housekeeping.interval(app)
    slot = housekeeping.slot_at(time.time(), every)
    won: list[bool] = []
    barrier = threading.Barrier(8)

    def contender() -> None:
        with app.app_context():
            barrier.wait()
            won.append(housekeeping.claim(slot))
            db.session.remove()

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(won) == [False] * 7 + [True]
    with app.app_context():
        assert housekeeping.claim(slot) is False
        assert housekeeping.claim(slot - 1) is False  # a host whose clock is behind
        assert housekeeping.claim(slot + 1) is True
        assert db.session.get(HousekeepingRun, housekeeping.NAME).slot == slot + 1


def test_a_failing_task_does_not_stop_the_others_and_is_reported(app, client, monkeypatch):
    monkeypatch.setattr(
        housekeeping,
        "TASKS",
        ["tests.test_housekeeping:failing_task", "tests.test_housekeeping:record_call"],
    )
    app.config["HOUSEKEEPING_CALLS"] = []
    now = time.time()
    with app.app_context():
        assert housekeeping.run_if_due(now) is True
        assert housekeeping.run_if_due(now) is False  # the same period: not again
    assert app.config["HOUSEKEEPING_CALLS"] == ["ran"]
    health = client.get("/healthz").get_json()
    assert health["housekeeping"]["failed_tasks"] == ["tests.test_housekeeping:failing_task"]
    assert health["housekeeping"]["last_finished"] is not None
    assert health["housekeeping"]["overdue"] is False


def test_healthz_reports_the_last_run_and_when_it_is_overdue(app, client):
    data = client.get("/healthz").get_json()
    assert data["housekeeping"]["last_started"] is None
    assert data["housekeeping"]["overdue"] is False
    with app.app_context():
        assert housekeeping.run_if_due() is True
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok"
    assert data["housekeeping"]["overdue"] is False
    assert data["housekeeping"]["age_seconds"] <= 5
    assert data["housekeeping"]["interval_seconds"] == 60

    with app.app_context():
        row = db.session.get(HousekeepingRun, housekeeping.NAME)
        row.started_at = utcnow() - timedelta(seconds=3 * 60 + 5)
        db.session.commit()
    response = client.get("/healthz")
    data = response.get_json()
    assert response.status_code == 200  # still serving: the web is fine, the schedule is not
    assert data["status"] == "degraded"
    assert data["housekeeping"]["overdue"] is True
    assert data["housekeeping"]["age_seconds"] >= 185


@pytest.mark.sqlite_only  # a SQLite file it can make unreadable
def test_the_scheduler_outlives_a_broken_database_and_stops_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'scheduler.db'}",
        "SECRET_KEY": "scheduler-test",
        "PDF_DIR": str(tmp_path / "pdf"),
        "HOUSEKEEPING_INTERVAL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "TEST_DATABASE_URL", "JOINTLY_ENV", "MAIL_SERVER"):
        env.pop(name, None)
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "w") as log_file:
        # Started before the schema exists: every period fails until the migration has run.
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "housekeeping could not run this period" in log_path.read_text(),
            30,
            "the scheduler to meet the missing schema",
        )
        upgrade = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        wait_until(
            lambda: log_path.read_text().count("housekeeping: period") >= 2,
            30,
            "the scheduler to run two periods once the schema exists",
        )
        assert scheduler.poll() is None
        os.killpg(scheduler.pid, signal.SIGTERM)
        assert scheduler.wait(timeout=15) == 0
    finally:
        if scheduler.poll() is None:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait(10)
    text = log_path.read_text()
    assert "scheduler: housekeeping every 1 s" in text
    assert text.rstrip().endswith("scheduler: stopped")
    assert "Traceback" not in text
