"""`flask signatures`: list and moderate signatures."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..core import jobs
from ..core.audit import Actor
from ..extensions import db
from ..models import Signature, SignatureState, Statement
from ..statements.cli import statement_or_exit
from . import service as moderation

signatures_cli = AppGroup("signatures", help="List and moderate signatures.")


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
        query = query.where(Signature.statement_id == statement_or_exit(slug).id)
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
    if missing:
        raise click.ClickException(f"no signature with id {', '.join(map(str, missing))}")
    actor = Actor.cli(f"signatures {action}")
    try:
        decisions = moderation.decide_many(ids, action, actor, reason=reason)
    except moderation.ReasonRequired:
        raise click.ClickException(
            'a rejection needs a reason: add --reason "…" (it is kept and emailed)'
        ) from None
    for decision in decisions:
        if decision.result is moderation.DecisionResult.DONE:
            assert decision.state is not None  # a decision that was made names the new state
            click.echo(f"{decision.signature_id}: {decision.state.value}")
        else:
            click.echo(f"{decision.signature_id}: unchanged — {decision.message}")
    jobs.finish()


@signatures_cli.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
def signatures_approve(ids: tuple[int, ...]) -> None:
    """Approve verified signatures."""
    _moderate(ids, "approve")


@signatures_cli.command("reject")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", default="", help="Why (required; kept, and emailed to the signatory).")
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
