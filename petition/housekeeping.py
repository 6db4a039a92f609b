"""Periodic housekeeping: the tasks, and the schedule that runs them once per period.

Every HOUSEKEEPING_INTERVAL_SECONDS (60) one process of the whole deployment sends the mail that is
due (retries, and rows whose process died or whose job was lost with Redis), requests the PDF
rebuilds that were lost, publishes lists whose embargo ended, drops the bytes of PDF versions past
their retention, sends the staff digests, enforces the retention periods of the privacy notice and
deletes the staff sign-in failure records that have expired.

Who runs it: with REDIS_URL, `flask --app wsgi scheduler` (one per deployment; more are harmless);
without it, a thread of each web process. Either way a period's run is claimed in the database
first (`housekeeping_runs.slot` moved forward with a compare-and-set), so however many schedulers,
web processes and hosts try, each period runs once, and every host's /healthz sees when it last
ran. The claim needs only the database: a Redis outage does not stop the sweep that makes up for it.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .core.db import rowcount, write_transaction
from .extensions import db
from .models import HousekeepingRun, utcnow

log = logging.getLogger(__name__)

# Each a "module:function" called with no arguments inside an application context.
TASKS: list[str] = [
    "petition.core.outbox:send_due",
    "petition.pdf.builds:check_embargoes",
    "petition.pdf.builds:rebuild_stale",
    "petition.pdf.builds:prune_versions",
    "petition.retention:run",
    "petition.staff.digest:send_digests",
    "petition.staff.accounts:prune_signin_failures",
    "petition.signatories.imports:discard_stale_previews",
]
NAME = "periodic"
DEFAULT_INTERVAL = 60.0
# Overdue when no run has started for this many periods (two periods missed in a row).
OVERDUE_PERIODS = 3


def interval(app: Flask | None = None) -> float:
    value = float((app or current_app).config.get("HOUSEKEEPING_INTERVAL_SECONDS", 0) or 0)
    return value if value > 0 else DEFAULT_INTERVAL


def slot_at(timestamp: float, every: float) -> int:
    """The number of the period that `timestamp` (seconds since the epoch) falls in."""
    return int(timestamp // every)


def _resolve(task: str) -> Callable[[], Any]:
    module_name, _, attr = task.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


@write_transaction
def claim(slot: int, now: datetime | None = None) -> bool:
    """Claim period `slot` for this process; False if this or a later period was claimed already."""
    now = now or utcnow()
    moved = db.session.execute(
        update(HousekeepingRun)
        .where(HousekeepingRun.name == NAME, HousekeepingRun.slot < slot)
        .values(slot=slot, started_at=now, runner=_runner_name())
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) == 1:
        return True
    if db.session.get(HousekeepingRun, NAME) is not None:
        return False
    # No row yet (a database emptied by hand): the first to insert it wins.
    try:
        with db.session.begin_nested():
            db.session.add(
                HousekeepingRun(
                    name=NAME,
                    slot=slot,
                    started_at=now,
                    runner=_runner_name(),
                    failed_tasks="",
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


@write_transaction
def _record_finish(slot: int, failed: list[str]) -> None:
    db.session.execute(
        update(HousekeepingRun)
        .where(HousekeepingRun.name == NAME, HousekeepingRun.slot == slot)
        .values(finished_at=utcnow(), failed_tasks=" ".join(failed))
        .execution_options(synchronize_session=False)
    )


def run_tasks() -> list[str]:
    """Run every task once, here and now; a failing task does not stop the others."""
    failed = []
    for task in TASKS:
        try:
            _resolve(task)()
        except Exception:  # noqa: BLE001 - one failing task must not stop the others
            log.exception("housekeeping task %s failed", task)
            failed.append(task)
        finally:
            db.session.remove()  # each task starts from a fresh session
    return failed


def run_if_due(timestamp: float | None = None) -> bool:
    """Run this period's housekeeping unless another process has; True if this call ran it."""
    timestamp = time.time() if timestamp is None else timestamp
    slot = slot_at(timestamp, interval())
    if not claim(slot):
        return False
    log.info("housekeeping: period %d", slot)
    failed = run_tasks()
    _record_finish(slot, failed)
    return True


def status(now: datetime | None = None) -> dict:
    """When the housekeeping last ran and whether it is overdue, for /healthz."""
    now = now or utcnow()
    every = interval()
    row = db.session.get(HousekeepingRun, NAME)
    result: dict = {
        "interval_seconds": every,
        "last_started": None,
        "last_finished": None,
        "age_seconds": None,
        "overdue": False,
        "failed_tasks": [],
    }
    if row is None:
        return result
    reference = row.started_at or row.created_at
    age = (now - reference).total_seconds()
    result.update(
        last_started=row.started_at.isoformat() if row.started_at else None,
        last_finished=row.finished_at.isoformat() if row.finished_at else None,
        age_seconds=round(age) if row.started_at else None,
        overdue=age > OVERDUE_PERIODS * every,
        failed_tasks=row.failed_tasks.split() if row.failed_tasks else [],
    )
    return result


def _tick_safely(app: Flask) -> None:
    with app.app_context():
        try:
            run_if_due()
        except Exception as exc:  # noqa: BLE001 - the schedule outlives a database outage
            log.warning("housekeeping could not run this period: %s: %s", type(exc).__name__, exc)
        finally:
            db.session.remove()


def seconds_to_next_period(every: float, timestamp: float | None = None) -> float:
    timestamp = time.time() if timestamp is None else timestamp
    return (slot_at(timestamp, every) + 1) * every - timestamp


def serve(app: Flask, stop: threading.Event) -> None:
    """The `scheduler` command's loop: at each period's start, run it if no one else has."""
    every = interval(app)
    _tick_safely(app)  # the current period, if it has not run yet (e.g. after a restart)
    while not stop.wait(seconds_to_next_period(every)):
        _tick_safely(app)


def _thread_tick() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        run_if_due()
    except Exception as exc:  # noqa: BLE001
        log.warning("housekeeping could not run this period: %s: %s", type(exc).__name__, exc)
    from .core import jobs

    jobs.enqueue(_thread_tick, delay=seconds_to_next_period(interval(app)) + 0.05)


def start_in_process(app: Flask) -> None:
    """Without Redis: run the schedule in this process's job thread (each web process does)."""
    from .core import jobs

    job_runner = jobs.runner(app)
    if isinstance(job_runner, jobs.ThreadRunner) and not getattr(job_runner, "periodic", False):
        job_runner.periodic = True
        job_runner.enqueue(_thread_tick, delay=1.0)
