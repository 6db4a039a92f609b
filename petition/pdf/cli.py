"""`flask pdf`: rebuild a statement's PDF now."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from ..core import jobs
from ..core.audit import Actor
from ..core.validation import InvalidValue
from ..statements.cli import statement_or_exit
from . import builds

pdf_cli = AppGroup("pdf", help="The statement PDF.")


@pdf_cli.command("rebuild")
@click.argument("slug")
def pdf_rebuild(slug: str) -> None:
    """Rebuild the statement's PDF now."""
    statement = statement_or_exit(slug)
    outcome = builds.build_statement_pdf(statement.id, trigger="pdf rebuild (cli)")
    if not outcome.built:
        raise click.ClickException(outcome.reason)
    version = outcome.version
    assert version is not None, "a build that succeeded made a version"
    click.echo(
        f"PDF version {version.number} of {slug}: {version.signatory_count} signatories, "
        f"{version.pages} pages, {version.size} bytes, sha256 {version.file_sha256}"
    )
    jobs.finish()


@pdf_cli.command("letter")
@click.argument("slug")
@click.option("--addressee", help='The "To:" line, e.g. "European Commission". Empty: none.')
@click.option("--place", help='Place before the date, e.g. "Brussels". Empty: none.')
@click.option(
    "--date",
    "when",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The letter's date (YYYY-MM-DD). Omitted: the date of each build.",
)
def pdf_letter(slug: str, addressee: str | None, place: str | None, when) -> None:
    """Set the PDF's addressee, place and date lines; options left out are cleared.

    A change is audited and rebuilds the PDF (after the usual debounce)."""
    statement = statement_or_exit(slug)
    day: date | None = when.date() if when else None
    try:
        changed = builds.set_letter_lines(
            statement.id, addressee, place, day, Actor.cli("pdf letter")
        )
    except InvalidValue as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"PDF letter lines of {slug}: addressee {addressee or '(none)'}, "
        f"place {place or '(none)'}, date {day.isoformat() if day else '(date of each build)'}"
        + ("; the PDF is rebuilt." if changed else " (unchanged).")
    )
    jobs.finish()
