"""`flask statements`: load a statement file as a new version."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ..core import jobs
from ..core.audit import Actor
from ..models import Statement
from . import translations
from .service import StatementError, StatementNotFound, get_statement, load_statement

statements_cli = AppGroup("statements", help="Statements and their versions.")


def statement_or_exit(slug: str) -> Statement:
    try:
        return get_statement(slug)
    except StatementNotFound:
        raise click.ClickException(f"no statement with slug {slug!r}") from None


def read_utf8(file: Path) -> str:
    """A text file given to a command; one that is not UTF-8 is refused with its name."""
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text") from None


@statements_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def statements_load(file: Path) -> None:
    """Create a statement, or a new version of its body, from a Markdown file with front matter."""
    text = read_utf8(file)
    try:
        result = load_statement(text, Actor.cli("statements load"))
    except StatementError as exc:
        raise click.ClickException(str(exc)) from None
    version = result.statement.current_version
    assert version is not None, "a loaded statement has a current version"
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
    jobs.finish()


@statements_cli.command("translate")
@click.argument("slug")
@click.argument("lang")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def statements_translate(slug: str, lang: str, file: Path) -> None:
    """Add or replace the statement's translation in LANG from a Markdown file whose front
    matter has its title (and subtitle). The original text stays the one organisations endorse."""
    statement = statement_or_exit(slug)
    try:
        text = translations.parse_translation_file(read_utf8(file))
        found, changed = translations.save_translation(
            statement, lang, text, Actor.cli("statements translate")
        )
    except StatementError as exc:
        raise click.ClickException(str(exc)) from None
    version = statement.current_version
    number = version.number if version else "?"
    if changed:
        click.echo(f"translation {found.lang} of {statement.slug} saved (of version {number})")
    else:
        click.echo(f"translation {found.lang} of {statement.slug} unchanged")


@statements_cli.command("untranslate")
@click.argument("slug")
@click.argument("lang")
def statements_untranslate(slug: str, lang: str) -> None:
    """Remove the statement's translation in LANG."""
    statement = statement_or_exit(slug)
    if translations.delete_translation(
        statement, lang.lower(), Actor.cli("statements untranslate")
    ):
        click.echo(f"translation {lang.lower()} of {statement.slug} removed")
    else:
        raise click.ClickException(f"{statement.slug} has no translation in {lang!r}")
