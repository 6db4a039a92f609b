"""`flask pdf`: rebuild a statement's PDF now."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..core import jobs
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
