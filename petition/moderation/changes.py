"""Corrections that signatories propose to published endorsements: staff accept or reject them.

Until accepted, the public list and the PDF keep the approved details. Both decisions are
audited with the fields concerned; an accepted one changes the list like a staff edit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select, update

from ..core import events
from ..core.audit import Actor, record
from ..core.db import after_write, rowcount, write_transaction
from ..extensions import db
from ..models import ChangeState, SignatureChange, SignatureState, utcnow
from ..signing.manage import PUBLIC_FIELDS, snapshot, update_fields
from ..statements.service import bump_list_version


class ChangeResult(enum.Enum):
    DONE = "done"
    ALREADY_DECIDED = "already_decided"  # decided (or superseded) meanwhile: nothing done
    CONFLICT = "conflict"  # the endorsement changed while the decision was being written
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ChangeDecision:
    result: ChangeResult
    message: str = ""


def proposed_changes() -> list[SignatureChange]:
    """Every change waiting for staff, oldest first."""
    return list(
        db.session.scalars(
            select(SignatureChange)
            .where(SignatureChange.state == ChangeState.PROPOSED)
            .order_by(SignatureChange.created_at, SignatureChange.id)
        )
    )


def proposed_count() -> int:
    return (
        db.session.scalar(
            select(func.count(SignatureChange.id)).where(
                SignatureChange.state == ChangeState.PROPOSED
            )
        )
        or 0
    )


def _close(change: SignatureChange, state: ChangeState, actor: Actor, reason: str) -> bool:
    """Mark the change decided if it is still proposed; False if someone else was first."""
    result = db.session.execute(
        update(SignatureChange)
        .where(SignatureChange.id == change.id, SignatureChange.state == ChangeState.PROPOSED)
        .values(state=state, decided_at=utcnow(), decided_by=actor.label, reason=reason[:1000])
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


class _Conflict(Exception):
    """The endorsement changed between reading it and writing the accepted values."""


@write_transaction
def accept_change(change_id: int, actor: Actor) -> ChangeDecision:
    """Apply the proposed values; the list and the PDF follow as after a staff edit."""
    change = db.session.get(SignatureChange, change_id)
    if change is None:
        return ChangeDecision(ChangeResult.NOT_FOUND, f"No proposed change {change_id}.")
    signature = change.signature
    if not _close(change, ChangeState.ACCEPTED, actor, ""):
        return ChangeDecision(ChangeResult.ALREADY_DECIDED, "This change was already decided.")
    after = {k: v for k, v in change.after.items() if k in PUBLIC_FIELDS}
    before = snapshot(signature, tuple(after))
    if not update_fields(signature, after):
        raise _Conflict  # the transaction helper rolls the closing of the change back too
    public = SignatureState(signature.state) is SignatureState.APPROVED
    if public:
        bump_list_version(signature.statement_id)
    record(actor, "change_accepted", signature=signature, before=before, after=after)
    if public:
        statement_id = signature.statement_id
        after_write(lambda: events.signatory_list_changed(statement_id, reason="correction"))
    return ChangeDecision(ChangeResult.DONE, f"Accepted: {signature.organisation_name}.")


def accept(change_id: int, actor: Actor) -> ChangeDecision:
    """accept_change, with a row edited at the same moment reported instead of raised."""
    try:
        return accept_change(change_id, actor)
    except _Conflict:
        return ChangeDecision(
            ChangeResult.CONFLICT,
            "The endorsement changed at the same moment; nothing was applied. Try again.",
        )


@write_transaction
def reject_change(change_id: int, actor: Actor, reason: str = "") -> ChangeDecision:
    """Keep the approved details; the audit log records what was proposed and why it was not taken."""
    change = db.session.get(SignatureChange, change_id)
    if change is None:
        return ChangeDecision(ChangeResult.NOT_FOUND, f"No proposed change {change_id}.")
    if not _close(change, ChangeState.REJECTED, actor, reason.strip()):
        return ChangeDecision(ChangeResult.ALREADY_DECIDED, "This change was already decided.")
    signature = change.signature
    record(
        actor,
        "change_rejected",
        signature=signature,
        before=change.before,
        after=change.after,
        detail=reason.strip(),
    )
    return ChangeDecision(
        ChangeResult.DONE, f"Rejected the change of {signature.organisation_name}."
    )
