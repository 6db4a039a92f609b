"""Flask commands: thin wrappers over the services, with the interface's output and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .extensions import db
from .models import Signature, SignatureState, Statement
from .services import jobs, mailer, moderation, pdf_builds, signatories
from .services.audit import Actor
from .services.seed import seed as run_seed
from .services.statements import StatementError, StatementNotFound, get_statement, load_statement

statements_cli = AppGroup("statements", help="Statements and their versions.")
signatories_cli = AppGroup("signatories", help="Import and export approved signatories.")
signatures_cli = AppGroup("signatures", help="List and moderate signatures.")
mail_cli = AppGroup("mail", help="The outgoing mail queue.")
pdf_cli = AppGroup("pdf", help="The statement PDF.")


def _statement_or_exit(slug: str) -> Statement:
    try:
        return get_statement(slug)
    except StatementNotFound:
        raise click.ClickException(f"no statement with slug {slug!r}") from None


def _finish_jobs() -> None:
    """Let in-process jobs (mail, PDF) finish before the command's process exits."""
    jobs.wait_idle(timeout=120)


@click.command("seed")
def seed_command() -> None:
    """Load the default statement, its founding signatories and campaign updates (idempotent)."""
    result = run_seed()
    verb = "created" if result.statement_created else "up to date"
    click.echo(f"statement {result.statement.slug}: {verb}")
    click.echo(f"founding signatories imported: {result.signatories_created}")
    click.echo(f"campaign updates added: {result.updates_created}")
    pdf_builds.ensure_built(result.statement)
    _finish_jobs()
    latest = pdf_builds.latest_version(result.statement)
    if latest is not None:
        click.echo(f"PDF version {latest.number}: {latest.signatory_count} signatories")


@statements_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def statements_load(file: Path) -> None:
    """Create a statement, or a new version of its body, from a Markdown file with front matter."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text") from None
    try:
        result = load_statement(text, Actor.cli("statements load"))
    except StatementError as exc:
        raise click.ClickException(str(exc)) from None
    version = result.statement.current_version
    if result.created:
        click.echo(f"created statement {result.statement.slug} (version 1, {version.short_sha})")
    elif result.new_version:
        click.echo(f"new version {version.number} of {result.statement.slug} ({version.short_sha})")
    else:
        click.echo(f"statement {result.statement.slug} unchanged (version {version.number})")
    _finish_jobs()


@signatories_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--statement", "slug", required=True, help="Slug of the statement.")
def signatories_import(file: Path, slug: str) -> None:
    """Import approved signatories from CSV: all rows or none."""
    statement = _statement_or_exit(slug)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text") from None
    try:
        result = signatories.import_signatories(statement, text, Actor.cli("signatories import"))
    except signatories.ImportError_ as exc:
        for line, message in exc.errors:
            click.echo(f"{file}:{line}: {message}", err=True)
        click.echo(f"nothing imported: {len(exc.errors)} error(s)", err=True)
        sys.exit(1)
    click.echo(f"imported {result.created} signatories ({result.skipped} already present)")
    _finish_jobs()


@signatories_cli.command("export")
@click.option("--statement", "slug", required=True, help="Slug of the statement.")
@click.option("--all-fields", is_flag=True, help="Every stored field, contact details included.")
def signatories_export(slug: str, all_fields: bool) -> None:
    """CSV to stdout: the open-data columns, or every stored field."""
    statement = _statement_or_exit(slug)
    lines = signatories.staff_csv(statement) if all_fields else signatories.open_data_csv(statement)
    for line in lines:
        click.echo(line, nl=False)


@signatures_cli.command("list")
@click.option(
    "--state", type=click.Choice([s.value for s in SignatureState]), help="Only this state."
)
@click.option("--statement", "slug", help="Only this statement.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def signatures_list(state: str | None, slug: str | None, as_json: bool) -> None:
    """A header line, then id, state, statement, organisation and email per signature."""
    query = select(Signature, Statement.slug).join(Statement).order_by(Signature.id)
    if state:
        query = query.where(Signature.state == SignatureState(state))
    if slug:
        query = query.where(Signature.statement_id == _statement_or_exit(slug).id)
    rows = db.session.execute(query)
    if as_json:
        items = [
            {
                "id": sig.id,
                "state": SignatureState(sig.state).value,
                "statement": st_slug,
                "organisation_name": sig.organisation_name,
                "email": sig.email,
            }
            for sig, st_slug in rows
        ]
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    click.echo("id\tstate\tstatement\torganisation_name\temail")
    for sig, st_slug in rows:
        name = sig.organisation_name.replace("\t", " ")
        click.echo(
            f"{sig.id}\t{SignatureState(sig.state).value}\t{st_slug}\t{name}\t{sig.email or ''}"
        )


def _moderate(ids: tuple[int, ...], action: str, reason: str = "") -> None:
    missing = [i for i in ids if db.session.get(Signature, i) is None]
    db.session.rollback()
    if missing:
        raise click.ClickException(f"no signature with id {', '.join(map(str, missing))}")
    actor = Actor.cli(f"signatures {action}")
    for decision in moderation.decide_many(ids, action, actor, reason=reason):
        if decision.result is moderation.DecisionResult.DONE:
            click.echo(f"{decision.signature_id}: {decision.state.value}")
        else:
            click.echo(f"{decision.signature_id}: unchanged — {decision.message}")
    _finish_jobs()


@signatures_cli.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
def signatures_approve(ids: tuple[int, ...]) -> None:
    """Approve verified signatures."""
    _moderate(ids, "approve")


@signatures_cli.command("reject")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", default="", help="Why (kept, and emailed to the signatory).")
def signatures_reject(ids: tuple[int, ...], reason: str) -> None:
    """Reject verified signatures."""
    _moderate(ids, "reject", reason)


@signatures_cli.command("reopen")
@click.argument("ids", nargs=-1, type=int, required=True)
def signatures_reopen(ids: tuple[int, ...]) -> None:
    """Return rejected signatures to the moderation queue."""
    _moderate(ids, "reopen")


@signatures_cli.command("unpublish")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", default="", help="Why (kept in the audit log).")
def signatures_unpublish(ids: tuple[int, ...], reason: str) -> None:
    """Take approved signatures off the public list."""
    _moderate(ids, "unpublish", reason)


@mail_cli.command("send-pending")
def mail_send_pending() -> None:
    """Send queued mail that is due now, retrying deferred messages."""
    counts = mailer.send_due()
    click.echo(
        f"due {counts['due']}: sent {counts['sent']}, deferred {counts['deferred']}, "
        f"failed {counts['failed']}"
    )


@pdf_cli.command("rebuild")
@click.argument("slug")
def pdf_rebuild(slug: str) -> None:
    """Rebuild the statement's PDF now."""
    statement = _statement_or_exit(slug)
    outcome = pdf_builds.build_statement_pdf(statement.id, trigger="pdf rebuild (cli)")
    if not outcome.built:
        raise click.ClickException(outcome.reason)
    version = outcome.version
    click.echo(
        f"PDF version {version.number} of {slug}: {version.signatory_count} signatories, "
        f"{version.pages} pages, {version.size} bytes, sha256 {version.file_sha256}"
    )
    _finish_jobs()


@click.command("worker")
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
    for group in (statements_cli, signatories_cli, signatures_cli, mail_cli, pdf_cli):
        app.cli.add_command(group)
