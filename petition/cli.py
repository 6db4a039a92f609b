"""Flask commands: thin wrappers over the services, with the interface's output and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from .extensions import db
from .models import Signature, SignatureState, StaffRole, Statement
from .services import digest, jobs, mailer, moderation, pdf_builds, retention, signatories, staff
from .services.audit import Actor
from .services.seed import seed as run_seed
from .services.statements import StatementError, StatementNotFound, get_statement, load_statement

statements_cli = AppGroup("statements", help="Statements and their versions.")
signatories_cli = AppGroup("signatories", help="Import and export approved signatories.")
signatures_cli = AppGroup("signatures", help="List and moderate signatures.")
mail_cli = AppGroup("mail", help="The outgoing mail queue.")
staff_cli = AppGroup("staff", help="Staff accounts of the moderation console.")
pdf_cli = AppGroup("pdf", help="The statement PDF.")
retention_cli = AppGroup("retention", help="Data retention, as the privacy notice promises.")


def _statement_or_exit(slug: str) -> Statement:
    try:
        return get_statement(slug)
    except StatementNotFound:
        raise click.ClickException(f"no statement with slug {slug!r}") from None


def _finish_jobs() -> None:
    """Let in-process jobs (mail, PDF) finish before the command's process exits."""
    jobs.wait_idle(timeout=120)


@click.command("seed")
@with_appcontext
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
    elif result.current_changed:
        click.echo(
            f"statement {result.statement.slug} back at version {version.number} "
            f"({version.short_sha})"
        )
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
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
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


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff.check_password_strength(password)
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _staff_or_exit(email: str):
    user = staff.get_by_email(email)
    if user is None:
        raise click.ClickException(f"no staff account for {email!r}")
    return user


@staff_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    required=True,
    help="admin or moderator",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account; the password comes from a prompt or standard input."""
    try:
        email = staff.normalise_staff_email(email)
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    password = _read_password(password_stdin)
    try:
        user = staff.create_staff(email, password, role, Actor.cli("staff create"))
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {StaffRole(user.role).value} {user.email}")


@staff_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--reset-totp", is_flag=True, help="Also turn off two-factor sign-in (lost phone).")
def staff_reset_password(email: str, password_stdin: bool, generate: bool, reset_totp: bool):
    """Set a new password; this ends the account's sessions and lifts a lockout."""
    user = _staff_or_exit(email)
    password = staff.generate_password() if generate else _read_password(password_stdin)
    staff.set_password(user.id, password, Actor.cli("staff reset-password"), reset_totp=reset_totp)
    click.echo(
        f"password of {user.email} reset" + (" and two-factor sign-in off" if reset_totp else "")
    )
    if generate:
        click.echo(f"new password: {password}")


@staff_cli.command("list")
def staff_list() -> None:
    """A header line, then one line per staff account."""
    click.echo("email\trole\tactive\ttotp\tdigest\tlast_login")
    for user in staff.list_staff():
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "-"
        click.echo(
            f"{user.email}\t{StaffRole(user.role).value}\t{'yes' if user.is_active else 'no'}\t"
            f"{'on' if user.totp_enabled else 'off'}\t{'yes' if user.wants_digest else 'no'}\t{last}"
        )


@staff_cli.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable an account and end its session at once."""
    user = _staff_or_exit(email)
    try:
        staff.set_active(user.id, False, Actor.cli("staff disable"))
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"disabled {user.email}")


@staff_cli.command("enable")
@click.argument("email")
def staff_enable(email: str) -> None:
    """Enable a disabled account again."""
    user = _staff_or_exit(email)
    staff.set_active(user.id, True, Actor.cli("staff enable"))
    click.echo(f"enabled {user.email}")


@staff_cli.command("ensure-admin")
def staff_ensure_admin() -> None:
    """On a fresh install, create the first admin and print its password once."""
    from flask import current_app

    email = current_app.config["STAFF_ADMIN_EMAIL"]
    try:
        created = staff.ensure_admin(email, Actor.cli("staff ensure-admin"))
    except staff.StaffError as exc:
        raise click.ClickException(f"STAFF_ADMIN_EMAIL: {exc}") from None
    if created is None:
        click.echo("staff accounts exist; no admin created (staff list shows them)")
        return
    user, password = created
    base = current_app.config["PUBLIC_BASE_URL"]
    click.echo("")
    click.echo("  First staff admin created. This password is shown only this once:")
    click.echo(f"    email:    {user.email}")
    click.echo(f"    password: {password}")
    click.echo(f"  Sign in at {base}/staff/login")
    click.echo(f"  Lost it? flask --app wsgi staff reset-password {user.email}")
    click.echo("")


@staff_cli.command("send-digest")
@click.option("--force", is_flag=True, help="Ignore the per-person interval.")
def staff_send_digest(force: bool) -> None:
    """Email each staff member who asked for it the endorsements new in the queue."""
    result = digest.send_digests(force=force)
    click.echo(f"digests sent: {result.sent}, skipped: {result.skipped}")
    _finish_jobs()


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
