"""Background jobs behind one `enqueue()` API: a thread of this process by default, RQ with REDIS_URL."""

from __future__ import annotations

import contextvars
import heapq
import importlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app

from . import db as database

log = logging.getLogger(__name__)

JobFunc = Callable[..., Any] | str


def _resolve(func: JobFunc) -> Callable[..., Any]:
    if callable(func):
        return func
    module_name, _, attr = func.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class ThreadRunner:
    """Runs jobs one at a time in a daemon thread, each inside an application context.

    Jobs are scheduled on a heap by due time so that retries with backoff and debounced
    rebuilds need no other scheduler. Requests come first: a due job waits while this process
    answers requests, for at most JOBS_YIELD_SECONDS past its due time (a spike of sign-ons
    is answered at full speed and its mail follows it; under load that never pauses, the mail
    still goes, that much late). What is pending is lost if the process dies; every
    job here is therefore idempotent and its state is in the database (the mail outbox,
    the PDF list version), from which `mail send-pending` or the next change recovers.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._heap: list[tuple[float, int, Callable[..., Any], tuple, dict, str | None]] = []
        self._pending_keys: set[str] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = 0
        self._stopped = False
        self.periodic = False
        #: Requests in flight in this process (RequestCounter), and how long a due job gives
        #: way to them.
        self._requests = 0
        self.yield_seconds = float(app.config.get("JOBS_YIELD_SECONDS", 0.0))

    def request_started(self) -> None:
        with self._cond:
            self._requests += 1

    def request_finished(self) -> None:
        with self._cond:
            self._requests -= 1
            if not self._requests and self._heap:
                self._cond.notify_all()

    def enqueue(
        self, func: JobFunc, *args: Any, delay: float = 0.0, key: str | None = None, **kwargs: Any
    ) -> None:
        fn = _resolve(func)
        with self._cond:
            if key is not None:
                if key in self._pending_keys:
                    return  # the same job is already waiting to run
                self._pending_keys.add(key)
            due = time.monotonic() + max(delay, 0.0)
            heapq.heappush(self._heap, (due, next(self._seq), fn, args, kwargs, key))
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(target=self._loop, name="jointly-jobs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        due, now = self._heap[0][0], time.monotonic()
                        if due > now:
                            self._cond.wait(timeout=due - now)
                        elif self._requests and due + self.yield_seconds > now:
                            # Woken when the last request in flight ends.
                            self._cond.wait(timeout=due + self.yield_seconds - now)
                        else:
                            break
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _due, _seq, fn, args, kwargs, key = heapq.heappop(self._heap)
                self._pending_keys.discard(key)
                self._running += 1
            try:
                with self.app.app_context():
                    fn(*args, **kwargs)
            except Exception:
                log.exception("background job %s failed", getattr(fn, "__qualname__", fn))
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._running

    def queued(self, func: Callable[..., Any]) -> int:
        """How many jobs of `func` wait to run (tests: a debounced job is queued once)."""
        with self._cond:
            return sum(1 for job in self._heap if job[2] is func)

    def wait_idle(self, timeout: float = 30.0, include_delayed: bool = True) -> bool:
        """Block until no job is queued or running (tests, CLI commands before exit)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                busy = self._running or (
                    self._heap
                    if include_delayed
                    else [j for j in self._heap if j[0] <= time.monotonic()]
                )
                if not busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.05))

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._pending_keys.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._pending_keys.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)


class SyncRunner:
    """Runs each job inline, at once (delays ignored); for scripts that must finish their work."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def enqueue(
        self, func: JobFunc, *args: Any, delay: float = 0.0, key: str | None = None, **kwargs: Any
    ) -> None:
        fn = _resolve(func)

        def run() -> None:
            # Its own application context, hence its own database session: a job queued from
            # a commit hook must not reuse the session that is still committing.
            with self.app.app_context():
                fn(*args, **kwargs)

        database.after_write(lambda: contextvars.Context().run(run))

    def pending(self) -> int:
        return 0

    def wait_idle(self, timeout: float = 30.0, include_delayed: bool = True) -> bool:
        return True

    def clear(self) -> None:
        pass

    def stop(self) -> None:
        pass


#: How long a queued keyed job keeps others of its key out (beyond its delay): should the job
#: be lost with its queue, the same job can be queued again after this.
KEYED_JOB_SECONDS = 300
#: A keyed job asked for with a delay up to this long is queued at once and waits the delay
#: out in the worker (run_keyed_after): RQ's scheduler looks for due jobs once a second.
SHORT_DELAY_SECONDS = 0.25


def run_keyed(marker: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """An RQ job queued with a key: the key is free again as it starts, so that work arriving
    while it runs queues it again (what it reads, it reads after this)."""
    rq_runner = runner()
    assert isinstance(rq_runner, RQRunner), "queued on RQ, run by its worker"
    rq_runner.connection.delete(marker)
    return func(*args, **kwargs)


def run_keyed_after(
    marker: str, due: float, func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """`run_keyed`, not before `due` (a time.time(), at most SHORT_DELAY_SECONDS away): the key
    stays taken until then, so that what is asked for meanwhile is done by this run. A worker
    that is behind starts the job past its time and does not wait at all."""
    wait = due - time.time()
    if wait > 0:
        time.sleep(min(wait, SHORT_DELAY_SECONDS))
    return run_keyed(marker, func, *args, **kwargs)


class RQRunner:
    """Jobs on an RQ queue in Redis, run by `flask --app wsgi worker`."""

    def __init__(self, app: Flask) -> None:
        from redis import Redis
        from rq import Queue

        self.app = app
        self.connection = Redis.from_url(app.config["REDIS_URL"])
        self.queue = Queue(app.config.get("RQ_QUEUE", "jointly"), connection=self.connection)

    def enqueue(
        self, func: JobFunc, *args: Any, delay: float = 0.0, key: str | None = None, **kwargs: Any
    ) -> None:
        # Jobs here are idempotent and check the database; duplicates cost a little, no more.
        from redis.exceptions import RedisError

        fn = _resolve(func)
        try:
            if key is not None:
                # A keyed job is queued once until it starts (as ThreadRunner does): a burst of
                # sign-ons asks for the delivery job hundreds of times a second.
                marker = f"{self.queue.name}:pending:{key}"
                expires = int(delay) + KEYED_JOB_SECONDS
                if not self.connection.set(marker, 1, nx=True, ex=expires):
                    return
                if 0 < delay <= SHORT_DELAY_SECONDS:
                    args, delay = (marker, time.time() + delay, fn, *args), 0.0
                    fn = run_keyed_after
                else:
                    args = (marker, fn, *args)
                    fn = run_keyed
            if delay > 0:
                self.queue.enqueue_in(timedelta(seconds=delay), fn, *args, **kwargs)
            else:
                self.queue.enqueue(fn, *args, **kwargs)
        except RedisError as exc:
            # The work is recorded in the database (outbox, list version); the periodic
            # housekeeping picks it up (it needs only the database). The user's change must
            # not fail, and an outage is no bug in the code: one line, no traceback.
            log.error(
                "could not queue %s (%s: %s); the periodic housekeeping will do it",
                fn.__qualname__,
                type(exc).__name__,
                exc,
            )

    def pending(self) -> int:
        return self.queue.count

    def wait_idle(self, timeout: float = 30.0, include_delayed: bool = True) -> bool:
        # The worker is another process; nothing in this one to wait for.
        return True

    def clear(self) -> None:
        self.queue.empty()

    def stop(self) -> None:
        pass


class RequestCounter:
    """WSGI middleware: tells the in-process runner when requests are in flight."""

    def __init__(self, wsgi_app: Callable[..., Any], runner: ThreadRunner) -> None:
        self.wsgi_app = wsgi_app
        self.runner = runner

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        self.runner.request_started()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            self.runner.request_finished()


def init_app(app: Flask) -> None:
    mode = app.config.get("JOBS_MODE", "thread")
    runners = {"thread": ThreadRunner, "sync": SyncRunner, "rq": RQRunner}
    if mode not in runners:
        raise RuntimeError(f"JOBS_MODE must be one of {sorted(runners)}, not {mode!r}")
    runner = app.extensions["jobs"] = runners[mode](app)
    if isinstance(runner, ThreadRunner):
        app.wsgi_app = RequestCounter(app.wsgi_app, runner)  # type: ignore[method-assign]


def runner(app: Flask | None = None) -> ThreadRunner | SyncRunner | RQRunner:
    return (app or current_app).extensions["jobs"]


def enqueue(
    func: JobFunc, *args: Any, delay: float = 0.0, key: str | None = None, **kwargs: Any
) -> None:
    """Run `func(*args, **kwargs)` in the background, after `delay` seconds.

    Call it after the transaction that the job depends on has committed. With `key`, a job
    whose key is already waiting is not queued again: a keyed job with a delay gathers what is
    asked for during the delay into one run.
    """
    runner().enqueue(func, *args, delay=delay, key=key, **kwargs)


def wait_idle(timeout: float = 30.0) -> bool:
    return runner().wait_idle(timeout)


def finish(timeout: float = 120.0) -> None:
    """Let in-process jobs (mail, PDF) finish before a CLI command's process exits."""
    wait_idle(timeout)
