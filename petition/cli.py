"""Flask commands: each feature's group is registered here, beside the app-wide ones.

seed, mail, retention and worker live here; every command is a thin wrapper over a service,
with the interface's output and exit codes.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from . import retention
from .core import jobs, outbox
from .pdf import builds
from .seed import seed as run_seed

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
    click.echo(
        f"due {counts['due']}: sent {counts['sent']}, deferred {counts['deferred']}, "
        f"failed {counts['failed']}"
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
    """Run the background worker (RQ on REDIS_URL)."""
    from flask import current_app
    from rq import Worker

    runner = jobs.runner()
    if not isinstance(runner, jobs.RQRunner):
        raise click.ClickException("set REDIS_URL to run a worker; without it jobs run in-process")
    click.echo(f"worker listening on {runner.queue.name} at {current_app.config['REDIS_URL']}")
    app = current_app._get_current_object()

    class AppWorker(Worker):
        def perform_job(self, job, queue):
            with app.app_context():
                return super().perform_job(job, queue)

    def housekeeping() -> None:
        # The worker process also runs the periodic tasks that web processes run in thread mode.
        import time

        while True:
            time.sleep(current_app.config.get("PERIODIC_SECONDS", jobs.PERIODIC_SECONDS))
            with app.app_context():
                jobs.run_periodic()

    import threading

    threading.Thread(target=housekeeping, name="jointly-housekeeping", daemon=True).start()
    AppWorker([runner.queue], connection=runner.connection).work(with_scheduler=True)


def register_commands(app: Flask) -> None:
    for command in (seed_command, worker_command):
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
