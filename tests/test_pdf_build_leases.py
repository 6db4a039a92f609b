"""Build locks are leases: a build whose process died is taken over; a full disk is retried (issue 15.3)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from petition.core import events
from petition.extensions import db
from petition.models import PdfBuildLog, Statement, utcnow
from petition.pdf import builds
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve, latest_pdf, pdf_text, versions
from tests.staff_helpers import signed_in

ROOT = Path(__file__).resolve().parent.parent

# A worker that starts the build, writes part of the file, reports, and hangs until killed.
CHILD = r"""
import sys, time
from pathlib import Path
from tests.conftest import _base_config
from petition import create_app
from petition.pdf import builds, layout

def hang(out, *args, **kwargs):
    out.write(b"%PDF-1.4 half a file")
    out.flush()
    print("RENDERING", flush=True)
    time.sleep(600)

layout.render_statement_pdf = hang
config = _base_config(sys.argv[1], Path(sys.argv[2]))
config.update(PDF_DIR=sys.argv[3], PDF_BUILD_LEASE_SECONDS=float(sys.argv[4]))
app = create_app(config)
with app.app_context():
    builds.build_statement_pdf(1, trigger="doomed worker")
"""


def _list_quiet_since(app, seconds: float) -> None:
    """The last list change happened `seconds` ago (past the debounce the sweep waits for)."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            update(Statement).values(list_changed_at=utcnow() - timedelta(seconds=seconds))
        )


def _statement(app) -> Statement:
    with app.app_context():
        statement = db.session.scalar(select(Statement))
        db.session.expunge(statement)
        return statement


def _logs(app) -> list[PdfBuildLog]:
    with app.app_context():
        rows = db.session.scalars(select(PdfBuildLog).order_by(PdfBuildLog.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _start_doomed_worker(app, tmp_path, lease: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            app.config["SQLALCHEMY_DATABASE_URI"],
            str(tmp_path / "child"),
            app.config["PDF_DIR"],
            str(lease),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = child.stdout.readline()
    if "RENDERING" not in line:
        child.kill()
        child.wait()
        pytest.fail(f"the worker did not start its build: {line!r}")
    return child


@pytest.mark.config(PDF_BUILD_LEASE_SECONDS=1.0)
def test_a_build_killed_with_sigkill_is_taken_over_and_the_list_rebuilt(
    app, client, seeded, tmp_path
):
    (tmp_path / "child").mkdir()
    with events.list_changed.muted():  # the list changes; only the doomed worker builds it
        approve(app, add_verified(app, "Survivor Systems"))
    before = len(versions(app))
    child = _start_doomed_worker(app, tmp_path, lease=1.0)
    try:
        # While the worker lives, its heartbeat keeps the lease: nobody takes it over.
        time.sleep(2.0)
        with app.app_context():
            assert builds.take_over_expired_builds() == 0
        held = _statement(app)
        assert held.pdf_building_since is not None and held.pdf_build_owner
        temp_files = [
            p for p in Path(app.config["PDF_DIR"]).iterdir() if p.name.startswith(".build-")
        ]
        assert len(temp_files) == 1 and temp_files[0].stat().st_size > 0
        assert temp_files[0].name.startswith(f".build-1-{held.pdf_build_owner}-")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert [log.ok for log in _logs(app)][-1] is None  # "running", and nobody will finish it

    time.sleep(1.5)  # the lease runs out without its heartbeat
    staff = signed_in(app, "mod@example.org", "moderator")
    assert "stopped answering" in staff.get("/staff/pdf").get_data(as_text=True)
    # The list changed a moment before the build started: the sweep that takes the build over
    # must request the rebuild itself, not wait for the list to be quiet (no later sweep would:
    # by then the dead build counts as a failure, retried only after a pause).
    _list_quiet_since(app, 1)
    with app.app_context():
        assert builds.rebuild_stale() == 1
    wait_jobs(app)

    logs = _logs(app)
    dead = next(log for log in logs if log.trigger == "doomed worker")
    assert dead.ok is False and dead.finished_at is not None
    assert "taken over" in dead.message
    assert logs[-1].ok is True
    assert not [p for p in Path(app.config["PDF_DIR"]).iterdir() if p.name.startswith(".build")]
    statement = _statement(app)
    assert statement.pdf_building_since is None and statement.pdf_build_owner is None
    assert statement.pdf_built_list_version == statement.list_version
    assert len(versions(app)) == before + 1
    assert "Survivor Systems" in pdf_text(latest_pdf(client), tmp_path)


@pytest.mark.config(PDF_BUILD_LEASE_SECONDS=0.4)
def test_a_live_build_longer_than_its_lease_keeps_its_lock(app, seeded, monkeypatch):
    from petition.pdf import layout as pdf_package

    real_render = pdf_package.render_statement_pdf

    def slow(*args, **kwargs):
        time.sleep(1.5)  # almost four leases
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pdf_package, "render_statement_pdf", slow)
    before = len(versions(app))
    with app.app_context():
        builds.request_rebuild(1, "slow", delay=0, force=True)
    time.sleep(1.0)
    with app.app_context():
        assert builds.take_over_expired_builds() == 0
        # A second build is refused while the first holds the renewed lease.
        assert builds.build_statement_pdf(1, "second").built is False
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    assert [log.ok for log in _logs(app)][-1] is True


@pytest.mark.config(PDF_BUILD_RETRY_SECONDS=1.0)
def test_a_full_disk_fails_the_build_visibly_and_it_is_retried_when_space_returns(
    app, client, seeded, monkeypatch, caplog, tmp_path
):
    real_fsync = os.fsync
    disk_full = True

    def fsync(fd):
        if disk_full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    served = latest_pdf(client)
    approve(app, add_verified(app, "Latecomer Logistics"))
    wait_jobs(app)
    failed = _logs(app)[-1]
    assert failed.ok is False and "No space left on device" in failed.message
    assert any("no space left on device" in r.getMessage() for r in caplog.records)
    assert not [p for p in Path(app.config["PDF_DIR"]).iterdir() if p.name.startswith(".")]
    assert latest_pdf(client) == served  # the previous version stays served

    _list_quiet_since(app, 120)
    health = json.loads(client.get("/healthz").get_data(as_text=True))
    assert health["status"] == "degraded"
    assert SLUG in health["pdf_stale"]
    with app.app_context():
        assert builds.rebuild_stale() == 0  # just failed: not retried on every tick

    disk_full = False  # space returns
    time.sleep(1.1)
    with app.app_context():
        assert builds.rebuild_stale() == 1
    wait_jobs(app)
    assert _logs(app)[-1].ok is True
    assert "Latecomer Logistics" in pdf_text(latest_pdf(client), tmp_path)
    health = json.loads(client.get("/healthz").get_data(as_text=True))
    assert "pdf_stale" not in health
