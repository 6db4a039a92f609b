"""Flask commands: each feature's group is registered here, beside the app-wide ones.

seed, mail, retention, worker, scheduler and check-config live here; every command is a thin wrapper over a service,
with the interface's output and exit codes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from . import housekeeping, retention
from .core import jobs, outbox
from .pdf import builds
from .seed import seed as run_seed

log = logging.getLogger(__name__)

# The worker checks every 20 s (RQ's default: 10 minutes) that RQ's scheduler subprocess is alive,
# leaving its blocking wait for a job at least every 10 s to do so.
WORKER_MAINTENANCE = 20
WORKER_DEQUEUE_TIMEOUT = 10
WORKER_RESTART_SECONDS = 2.0

mail_cli = AppGroup("mail", help="The outgoing mail queue.")
retention_cli = AppGroup("retention", help="Data retention, as the privacy notice promises.")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load the default statement, its founding signatories and campaign updates (idempotent)."""
    result = run_seed()
    verb = "created" if result.statement_created else "up to date"
    click.echo(f"statement {result.statement.slug}: {verb}")
    click.echo(f"founding signatories imported: {result.signatories_created}")
    click.echo(f"campaign updates added: {result.updates_created}")
    builds.ensure_built(result.statement)
    jobs.finish()
    latest = builds.latest_version(result.statement)
    if latest is not None:
        click.echo(f"PDF version {latest.number}: {latest.signatory_count} signatories")


@mail_cli.command("send-pending")
def mail_send_pending() -> None:
    """Send queued mail that is due now, retrying deferred messages."""
    counts = outbox.send_due()
    uncertain = f", uncertain {counts['uncertain']}" if counts["uncertain"] else ""
    click.echo(
        f"due {counts['due']}: sent {counts['sent']}, deferred {counts['deferred']}, "
        f"failed {counts['failed']}{uncertain}"
    )


@retention_cli.command("run")
def retention_run() -> None:
    """Delete unconfirmed endorsements past their time; erase old contact details."""
    result = retention.run()
    click.echo(
        f"unconfirmed endorsements deleted: {result.unconfirmed_deleted}; "
        f"contact details erased: {result.contacts_erased}"
    )


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the background worker (RQ on REDIS_URL); it outlives Redis outages."""
    from flask import current_app
    from redis.exceptions import RedisError
    from rq import SimpleWorker
    from rq.exceptions import StopRequested

    runner = jobs.runner()
    if not isinstance(runner, jobs.RQRunner):
        raise click.ClickException("set REDIS_URL to run a worker; without it jobs run in-process")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    niceness = _lower_priority(app.config["WORKER_NICE"])
    click.echo(f"worker listening on {runner.queue.name} (niceness {niceness})")

    stopping = threading.Event()

    # Jobs run in this process, one after another: RQ's default forks a process per job, which
    # held the mail queue to about six messages a second on two cores (bench/signon_bench.py). The
    # jobs keep no state between runs (each has its own application context, its state is in
    # the database), and a job that hangs is still stopped by its timeout (a signal here).
    class AppWorker(SimpleWorker):
        # Back within seconds of Redis returning, not minutes: RQ's wait between reconnection
        # attempts is capped, and the worker leaves its blocking wait for jobs every few
        # seconds to run its maintenance, which restarts RQ's scheduler subprocess (delayed
        # jobs such as the debounced PDF build) when a lost connection has killed it.
        max_connection_wait_time = 5.0
        dequeue_timeout = WORKER_DEQUEUE_TIMEOUT

        def perform_job(self, job, queue):
            with app.app_context():
                return super().perform_job(job, queue)

        def request_stop(self, signum, frame):
            stopping.set()
            super().request_stop(signum, frame)

    try:
        while not stopping.is_set():
            try:
                # Constructing a worker already talks to Redis (CLIENT SETNAME): inside the
                # try, so that a (re)start while Redis is down waits for it instead of exiting.
                worker = AppWorker(
                    [runner.queue],
                    connection=runner.connection,
                    maintenance_interval=WORKER_MAINTENANCE,
                )
                worker.work(with_scheduler=True)
            except RedisError as exc:
                log.warning("worker: Redis unavailable (%s); retrying", exc)
            # RQ gives up on some connection errors (outside its wait for jobs): start again.
            stopping.wait(WORKER_RESTART_SECONDS)
    except StopRequested:
        pass  # a signal between two attempts
    click.echo("worker: stopped")


def _lower_priority(niceness: int) -> int:
    """At least `niceness` for this process (never higher priority than it has); the result.

    The worker's jobs (mail, PDF builds) may lag a spike; the web's answers may not. With the
    web on the same host, the kernel then gives the worker the cores the web leaves idle.
    """
    current = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = min(max(niceness, current), 19)
    if wanted != current:
        os.setpriority(os.PRIO_PROCESS, 0, wanted)
    return wanted


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the periodic housekeeping for the whole deployment (one per deployment; more are harmless)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        log.info("scheduler: stopping on signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    click.echo(f"scheduler: housekeeping every {housekeeping.interval(app):g} s")
    housekeeping.serve(app, stop)
    click.echo("scheduler: stopped")


@click.command("check-config")
@with_appcontext
def check_config_command() -> None:
    """Check the production settings (and what the mail relay announces where a setting relies on
    it); exit 1, naming every problem, if one is missing or invalid."""
    from flask import current_app

    from .check_config import relay_checks

    checks = [*current_app.extensions["config_checks"], *relay_checks(current_app.config)]
    for item in checks:
        click.echo(item.line())
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise click.ClickException(f"configuration refused for production: {', '.join(failed)}")
    click.echo("configuration OK for production")


def register_commands(app: Flask) -> None:
    for command in (seed_command, worker_command, scheduler_command, check_config_command):
        app.cli.add_command(command)
    from .moderation.cli import signatures_cli
    from .pdf.cli import pdf_cli
    from .signatories.cli import signatories_cli
    from .staff.cli import staff_cli
    from .statements.cli import statements_cli

    for group in (
        statements_cli,
        signatories_cli,
        signatures_cli,
        mail_cli,
        pdf_cli,
        retention_cli,
        staff_cli,
    ):
        app.cli.add_command(group)
