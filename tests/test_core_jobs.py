"""Background jobs: the in-process thread runner and the RQ runner on a real Redis."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from flask import current_app

from petition import create_app
from petition.core import jobs
from tests.conftest import free_port
from tests.jobs_helper import write_marker, write_time
from tests.servers import ROOT

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# ---------------------------------------------------------------- thread runner


@pytest.fixture
def thread_app(app_config):
    app = create_app({**app_config, "JOBS_MODE": "thread", "JOBS_MARKER": "thread-app"})
    runner = jobs.runner(app)
    assert isinstance(runner, jobs.ThreadRunner)
    yield app
    runner.stop()
    from petition.extensions import db

    with app.app_context():
        db.engine.dispose()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def __call__(self, label: str) -> None:
        with self.lock:
            self.calls.append((label, current_app.config["JOBS_MARKER"], time.monotonic()))
            self.thread = threading.current_thread().name

    @property
    def labels(self) -> list[str]:
        return [c[0] for c in self.calls]


def test_thread_runner_runs_jobs_in_an_app_context(thread_app):
    record = Recorder()
    with thread_app.app_context():
        jobs.enqueue(record, "first")
        jobs.enqueue(record, "second")
        assert jobs.wait_idle(5)
    assert record.labels == ["first", "second"]
    assert {marker for _l, marker, _t in record.calls} == {"thread-app"}
    assert record.thread == "jointly-jobs"  # not the caller's thread


def test_thread_runner_resolves_dotted_names(thread_app, tmp_path):
    target = tmp_path / "marker.txt"
    runner = jobs.runner(thread_app)
    runner.enqueue("tests.jobs_helper:write_marker", str(target), "by-name")
    assert runner.wait_idle(5)
    assert target.read_text() == "by-name:thread-app"


def test_delayed_jobs_run_after_their_delay_and_not_before(thread_app):
    record = Recorder()
    runner = jobs.runner(thread_app)
    start = time.monotonic()
    runner.enqueue(record, "late", delay=1.0)
    runner.enqueue(record, "soon", delay=0.1)
    runner.enqueue(record, "now")
    # Waiting only for what is due returns while the delayed jobs still wait.
    assert runner.wait_idle(2, include_delayed=False)
    assert record.labels[0] == "now"
    assert "late" not in record.labels
    assert runner.pending() >= 1
    assert runner.wait_idle(5)
    assert record.labels == ["now", "soon", "late"]
    ran_at = {label: at - start for label, _m, at in record.calls}
    assert ran_at["soon"] >= 0.1
    assert ran_at["late"] >= 1.0
    assert runner.pending() == 0


def test_wait_idle_times_out_while_a_job_runs(thread_app):
    release = threading.Event()
    runner = jobs.runner(thread_app)
    runner.enqueue(release.wait, 5)
    assert runner.wait_idle(0.1) is False
    release.set()
    assert runner.wait_idle(5) is True


def test_a_failing_job_is_logged_and_the_next_one_still_runs(thread_app, caplog):
    def boom():
        raise RuntimeError("job exploded")

    record = Recorder()
    runner = jobs.runner(thread_app)
    with caplog.at_level(logging.ERROR, logger="petition.core.jobs"):
        runner.enqueue(boom)
        runner.enqueue(record, "after")
        assert runner.wait_idle(5)
    assert record.labels == ["after"]
    failure = next(r for r in caplog.records if "background job" in r.getMessage())
    assert "boom" in failure.getMessage()
    assert "job exploded" in str(failure.exc_info[1])


def test_a_keyed_job_is_queued_once_until_it_runs(thread_app):
    record = Recorder()
    runner = jobs.runner(thread_app)
    runner.enqueue(record, "a", delay=0.1, key="rebuild:1")
    runner.enqueue(record, "b", delay=0.1, key="rebuild:1")
    runner.enqueue(record, "c", delay=0.1, key="rebuild:2")
    assert runner.wait_idle(5)
    assert sorted(record.labels) == ["a", "c"]
    runner.enqueue(record, "d", key="rebuild:1")  # it ran, so the key is free again
    assert runner.wait_idle(5)
    assert record.labels[-1] == "d"


def test_stop_discards_pending_jobs_and_ends_the_thread(thread_app):
    record = Recorder()
    runner = jobs.runner(thread_app)
    runner.enqueue(record, "never", delay=30)
    thread = runner._thread
    assert thread.is_alive()
    runner.stop()
    assert not thread.is_alive()
    assert runner.pending() == 0
    assert record.labels == []


def _app_with_a_held_request(app_config, yield_seconds: float):
    """An app with a thread runner and a route that stays in flight until released."""
    app = create_app(
        {
            **app_config,
            "JOBS_MODE": "thread",
            "JOBS_MARKER": "held",
            "JOBS_YIELD_SECONDS": yield_seconds,
        }
    )
    inside, release = threading.Event(), threading.Event()

    @app.get("/held-request")
    def held():
        inside.set()
        release.wait(10)
        return "released"

    request = threading.Thread(target=lambda: app.test_client().get("/held-request"))
    request.start()
    assert inside.wait(5)
    return app, release, request


def test_a_due_job_waits_while_a_request_is_in_flight(app_config):
    """Requests first: a job that falls due during a request runs as soon as none is in flight."""
    app, release, request = _app_with_a_held_request(app_config, 30)
    runner = jobs.runner(app)
    record = Recorder()
    try:
        runner.enqueue(record, "mail")
        assert runner.wait_idle(0.5) is False
        assert record.labels == []
        released_at = time.monotonic()
        release.set()
        request.join(5)
        assert runner.wait_idle(2)
        assert record.labels == ["mail"]
        assert record.calls[0][2] >= released_at
    finally:
        release.set()
        runner.stop()


def test_a_job_gives_way_to_requests_for_jobs_yield_seconds_at_most(app_config):
    app, release, request = _app_with_a_held_request(app_config, 0.3)
    runner = jobs.runner(app)
    record = Recorder()
    try:
        queued_at = time.monotonic()
        runner.enqueue(record, "mail")
        assert runner.wait_idle(5)
        assert record.labels == ["mail"]
        assert record.calls[0][2] - queued_at >= 0.3
        assert request.is_alive()  # it ran with the request still in flight
    finally:
        release.set()
        request.join(5)
        runner.stop()


def test_the_worker_runs_at_a_lower_priority_and_never_raises_it(tmp_path):
    """`flask worker` lowers its own priority to WORKER_NICE (the web answers first); a
    process started nicer stays as nice."""
    script = (
        "import os; from petition.cli import _lower_priority as lower; "
        "print(lower(10), lower(5), os.getpriority(os.PRIO_PROCESS, 0))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10", "10", "10"]


def test_sync_runner_runs_inline(app_config):
    app = create_app({**app_config, "JOBS_MODE": "sync", "JOBS_MARKER": "sync-app"})
    record = Recorder()
    with app.app_context():
        jobs.enqueue(record, "inline", delay=10)
        assert record.labels == ["inline"]
        assert record.thread == threading.current_thread().name
        assert jobs.wait_idle(0) is True


def test_unknown_jobs_mode_is_refused(app_config):
    with pytest.raises(RuntimeError, match="JOBS_MODE must be one of"):
        create_app({**app_config, "JOBS_MODE": "celery"})


# ---------------------------------------------------------------- RQ on Redis


@pytest.fixture
def redis_connection():
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        connection.ping()
    except RedisError as exc:
        connection.close()
        pytest.skip(
            f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}); set TEST_REDIS_URL"
        )
    yield connection
    connection.close()


@pytest.fixture
def rq_app(app_config, redis_connection):
    queue_name = f"jointly-test-{uuid.uuid4().hex[:12]}"
    app = create_app(
        {
            **app_config,
            "JOBS_MODE": "rq",
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE": queue_name,
            "JOBS_MARKER": "rq-app",
        }
    )
    runner = jobs.runner(app)
    assert isinstance(runner, jobs.RQRunner)
    yield app
    _clean_redis(redis_connection, runner)
    runner.connection.close()
    from petition.extensions import db

    with app.app_context():
        db.engine.dispose()


def _clean_redis(connection, runner) -> None:
    """Delete this test's queue, registries, jobs and worker keys, and nothing else."""
    from rq.registry import (
        FailedJobRegistry,
        FinishedJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    queue = runner.queue
    job_ids = set(queue.get_job_ids())
    for registry in (
        FinishedJobRegistry,
        FailedJobRegistry,
        StartedJobRegistry,
        ScheduledJobRegistry,
    ):
        job_ids.update(registry(queue=queue).get_job_ids())
    for job_id in job_ids:
        for key in connection.scan_iter(f"rq:*{job_id}*"):
            connection.delete(key)
    for key in connection.scan_iter(f"*{queue.name}*"):
        connection.delete(key)
    connection.srem("rq:queues", queue.key)
    for member in connection.smembers("rq:workers"):
        if queue.name.encode() in member:
            connection.srem("rq:workers", member)


def _run_burst_worker(app, runner) -> None:
    """An RQ SimpleWorker in this process, in burst mode, with the app context the worker
    command gives its jobs."""
    from rq import SimpleWorker

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            worker = SimpleWorker(
                [runner.queue],
                connection=runner.connection,
                name=f"{runner.queue.name}-worker",
            )
            worker.work(burst=True, logging_level="WARNING")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_rq_runner_queues_a_job_that_a_worker_runs_in_an_app_context(rq_app, tmp_path):
    from rq.registry import FinishedJobRegistry

    target = tmp_path / "rq-marker.txt"
    runner = jobs.runner(rq_app)
    with rq_app.app_context():
        jobs.enqueue(write_marker, str(target), "from-rq")
    assert runner.pending() == 1
    assert not target.exists()  # queued, not run in this process
    [job] = runner.queue.get_jobs()
    assert job.func_name == "tests.jobs_helper.write_marker"
    assert job.args == (str(target), "from-rq")

    _run_burst_worker(rq_app, runner)
    assert target.read_text() == "from-rq:rq-app"
    assert runner.pending() == 0
    assert FinishedJobRegistry(queue=runner.queue).get_job_ids() == [job.id]


def test_rq_runner_schedules_delayed_jobs(rq_app, tmp_path):
    from rq.registry import ScheduledJobRegistry

    target = tmp_path / "rq-later.txt"
    runner = jobs.runner(rq_app)
    before = datetime.now(UTC)
    with rq_app.app_context():
        jobs.enqueue(write_marker, str(target), "later", delay=60)
    assert runner.pending() == 0  # not on the queue yet
    registry = ScheduledJobRegistry(queue=runner.queue)
    [job_id] = registry.get_job_ids()
    scheduled_for = registry.get_scheduled_time(job_id)
    assert 55 <= (scheduled_for - before).total_seconds() <= 65
    # A worker does not run it before its time.
    _run_burst_worker(rq_app, runner)
    assert not target.exists()
    assert registry.get_job_ids() == [job_id]


def test_rq_runner_survives_an_unreachable_redis(app_config, caplog):
    app = create_app(
        {**app_config, "JOBS_MODE": "rq", "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    runner = jobs.runner(app)
    with caplog.at_level(logging.ERROR, logger="petition.core.jobs"):
        with app.app_context():
            jobs.enqueue(write_marker, "/nonexistent/never", "x")
    assert any("could not queue" in r.getMessage() for r in caplog.records)
    runner.connection.close()


def test_rq_runner_queues_a_keyed_job_once_until_a_worker_starts_it(rq_app, tmp_path):
    """The sign-on burst asks for the delivery job at every batch: one waits in the queue, and
    once a worker has started it, the next request queues it again (work that arrives while it
    runs is not left behind)."""
    target = tmp_path / "keyed.txt"
    runner = jobs.runner(rq_app)
    with rq_app.app_context():
        for text in ("first", "second", "third"):
            jobs.enqueue(write_marker, str(target), text, key="marker")
        assert runner.pending() == 1
        [job] = runner.queue.get_jobs()
        assert job.args[1:] == (write_marker, str(target), "first")

        _run_burst_worker(rq_app, runner)
        assert target.read_text() == "first:rq-app"
        jobs.enqueue(write_marker, str(target), "after", key="marker")
        assert runner.pending() == 1
        # Another key is another job.
        jobs.enqueue(write_marker, str(target), "other", key="other")
        assert runner.pending() == 2
    _run_burst_worker(rq_app, runner)
    assert runner.pending() == 0


def test_rq_runner_waits_out_a_short_keyed_delay_in_the_worker(rq_app, tmp_path, monkeypatch):
    """A delivery job asked for with a short delay is queued at once (RQ's scheduler would
    start it a second or more late) and runs no earlier than its time; what is asked for in
    between joins it, and once it has started the key is free again."""
    from rq.registry import ScheduledJobRegistry

    target = tmp_path / "gathered.txt"
    runner = jobs.runner(rq_app)
    slept: list[float] = []
    real_sleep = jobs.time.sleep
    monkeypatch.setattr(jobs.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    with rq_app.app_context():
        asked = time.time()
        for _ in range(3):
            jobs.enqueue(write_time, str(target), key="gather", delay=jobs.SHORT_DELAY_SECONDS)
        assert runner.pending() == 1  # on the queue now, once
        assert ScheduledJobRegistry(queue=runner.queue).get_job_ids() == []
        _run_burst_worker(rq_app, runner)
        assert float(target.read_text()) >= asked + jobs.SHORT_DELAY_SECONDS
        assert len(slept) == 1 and 0 < slept[0] <= jobs.SHORT_DELAY_SECONDS
        jobs.enqueue(write_time, str(target), key="gather", delay=jobs.SHORT_DELAY_SECONDS)
        assert runner.pending() == 1
