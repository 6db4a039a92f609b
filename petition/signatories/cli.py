"""`flask signatories`: import and export approved signatories."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from ..core import jobs
from ..core.audit import Actor
from ..statements.cli import statement_or_exit
from . import imports
from . import service as signatories

signatories_cli = AppGroup("signatories", help="Import and export approved signatories.")


@signatories_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--statement", "slug", required=True, help="Slug of the statement.")
def signatories_import(file: Path, slug: str) -> None:
    """Import approved signatories from CSV or XLSX: all rows or none (one undoable batch)."""
    statement = statement_or_exit(slug)
    try:
        outcome = imports.import_file(
            statement, file.name, file.read_bytes(), Actor.cli("signatories import")
        )
    except imports.FileRejected as exc:
        click.echo(f"{file}: {exc}", err=True)
        click.echo("nothing imported", err=True)
        sys.exit(1)
    except imports.ImportRefused as exc:
        problems = exc.check.problems if exc.check is not None else []
        for problem in problems:
            where = f"{problem.column}: " if problem.column else ""
            click.echo(f"{file}:{problem.line}: {where}{problem.message}", err=True)
        click.echo(f"nothing imported: {len(problems)} error(s)", err=True)
        sys.exit(1)
    click.echo(f"imported {outcome.created} signatories ({outcome.skipped} already present)")
    jobs.finish()


@signatories_cli.command("export")
@click.option("--statement", "slug", required=True, help="Slug of the statement.")
@click.option("--all-fields", is_flag=True, help="Every stored field, contact details included.")
def signatories_export(slug: str, all_fields: bool) -> None:
    """CSV to stdout: the open-data columns, or every stored field."""
    statement = statement_or_exit(slug)
    lines = signatories.staff_csv(statement) if all_fields else signatories.open_data_csv(statement)
    for line in lines:
        click.echo(line, nl=False)
