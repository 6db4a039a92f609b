"""Statements in the console: create one, edit its text (a new version), its initiators.

The text is Markdown; publishing an edit makes a new version with its own SHA-256, and every
signature keeps the version it endorsed (the PDF and the exports mark signatures of earlier
versions). `flask statements load` shares the same rules (service.make_current).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select

from ..core import events
from ..core.audit import Actor, record
from ..core.db import after_write, write_transaction
from ..extensions import db
from ..models import Signature, SignatureState, Statement, StatementVersion, split_initiators
from .service import (
    LoadResult,
    StatementError,
    StatementFile,
    body_sha256,
    bump_list_version,
    join_initiators,
    make_current,
    normalise_body,
)

MAX_BODY = 100_000
MAX_INITIATORS = 50


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "gap"
    text: str


def diff_lines(old: str, new: str, context: int = 2) -> list[DiffLine]:
    """What changes between two texts, line by line, with a little context around each change."""
    lines: list[DiffLine] = []
    before, after = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", line) for line in before[i1:i2]]
                continue
            lines += [DiffLine("removed", line) for line in before[i1:i2]]
            lines += [DiffLine("added", line) for line in after[j1:j2]]
    return lines


def clean_body(text: str | None) -> str:
    body = normalise_body(text or "")
    if not body.strip():
        raise StatementError("The statement text is empty.")
    if len(body) > MAX_BODY:
        raise StatementError(f"The statement text must be at most {MAX_BODY:,} characters.")
    return body


def signatures_by_version(statement: Statement) -> dict[int, int]:
    """Approved and waiting signatures per version number: what a new version leaves behind."""
    rows = db.session.execute(
        select(StatementVersion.number, func.count(Signature.id))
        .join(Signature, Signature.statement_version_id == StatementVersion.id)
        .where(
            Signature.statement_id == statement.id,
            Signature.state.in_(
                (SignatureState.APPROVED, SignatureState.VERIFIED, SignatureState.PENDING_EMAIL)
            ),
        )
        .group_by(StatementVersion.number)
    ).all()
    return {number: count for number, count in rows}


@write_transaction
def create_statement(fields: StatementFile, actor: Actor) -> Statement:
    """A new statement, closed for signing until staff open it (its settings come first)."""
    if db.session.scalar(select(Statement.id).where(Statement.slug == fields.slug)) is not None:
        raise StatementError(f"A statement with the address {fields.slug} already exists.")
    statement = Statement(
        slug=fields.slug,
        title=fields.title,
        subtitle=fields.subtitle,
        language=fields.language,
        campaign=fields.campaign,
        initiators=join_initiators(fields.initiators),
        is_open=False,
    )
    db.session.add(statement)
    db.session.flush()
    make_current(statement, clean_body(fields.body), actor, created=True)
    return statement


@write_transaction
def publish_text(statement_id: int, body: str, based_on_sha: str, actor: Actor) -> LoadResult:
    """The edited text becomes the current version, unless someone published another meanwhile
    (`based_on_sha` is the version the editor started from)."""
    statement = db.session.get(Statement, statement_id, with_for_update=True)
    if statement is None:
        raise StatementError("There is no such statement.")
    current = statement.current_version
    if current is not None and current.sha256 != based_on_sha:
        raise StatementError(
            f"Version {current.number} was published while you were editing: "
            "review your changes against it and publish again."
        )
    body = clean_body(body)
    if current is not None and body_sha256(body) == current.sha256:
        raise StatementError("The text is the same as the current version: nothing to publish.")
    return make_current(statement, body, actor, created=False)


@write_transaction
def set_initiators(statement_id: int, names: list[str], actor: Actor) -> bool:
    """The "An initiative of" names, in order. True when they changed."""
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise StatementError("There is no such statement.")
    cleaned = [" ".join(name.split()) for name in names if name.strip()]
    if len(cleaned) > MAX_INITIATORS:
        raise StatementError(f"At most {MAX_INITIATORS} initiators.")
    if any(len(name) > 300 for name in cleaned):
        raise StatementError("An initiator's name must be at most 300 characters.")
    before = split_initiators(statement.initiators)
    if before == cleaned:
        return False
    statement.initiators = join_initiators(cleaned)
    # The PDF's letterhead names them: a new build.
    bump_list_version(statement.id)
    after_write(lambda: events.signatory_list_changed(statement_id, reason="initiators"))
    record(
        actor,
        "statement_initiators_changed",
        statement_id=statement.id,
        before={"initiators": before},
        after={"initiators": cleaned},
    )
    return True
