"""Moderation decisions: approve, reject, reopen, unpublish — compare-and-set on the state, audited."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Signature, SignatureState, utcnow
from . import events, mailer
from .audit import Actor, record
from .database import write_transaction
from .signing import public_url
from .statements import bump_list_version


class DecisionResult(enum.Enum):
    DONE = "done"
    NO_CHANGE = "no_change"  # already in the target state: idempotent
    CONFLICT = "conflict"  # decided otherwise (by someone else) meanwhile
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Decision:
    signature_id: int
    result: DecisionResult
    state: SignatureState | None = None
    message: str = ""


# target action -> (states it may start from, state it leads to)
_TRANSITIONS: dict[str, tuple[tuple[SignatureState, ...], SignatureState]] = {
    "approve": ((SignatureState.VERIFIED,), SignatureState.APPROVED),
    "reject": ((SignatureState.VERIFIED,), SignatureState.REJECTED),
    "unpublish": ((SignatureState.APPROVED,), SignatureState.REJECTED),
    "reopen": ((SignatureState.REJECTED,), SignatureState.VERIFIED),
}


@write_transaction
def decide(
    signature_id: int,
    action: str,
    actor: Actor,
    *,
    reason: str = "",
    notify: bool = True,
    expected_state: SignatureState | None = None,
) -> Decision:
    """Apply one moderation action in its own transaction.

    `expected_state` is the state the moderator saw: if the row moved on since, the action
    is refused with CONFLICT rather than applied to something they did not look at.
    """
    sources, target = _TRANSITIONS[action]
    signature = db.session.get(Signature, signature_id)
    if signature is None:
        db.session.rollback()
        return Decision(
            signature_id, DecisionResult.NOT_FOUND, message=f"No signature {signature_id}."
        )
    current = SignatureState(signature.state)
    if current is target:
        db.session.rollback()
        return Decision(
            signature_id, DecisionResult.NO_CHANGE, current, f"Already {current.value}."
        )
    if current not in sources or (expected_state is not None and current is not expected_state):
        db.session.rollback()
        return Decision(
            signature_id,
            DecisionResult.CONFLICT,
            current,
            f"Signature {signature_id} is {current.value}; it cannot be {_past(action)}.",
        )
    now = utcnow()
    values: dict = {"state": target, "decided_at": now, "row_version": Signature.row_version + 1}
    if target is SignatureState.APPROVED:
        values["approved_at"] = now
    if target is SignatureState.REJECTED:
        values["rejection_reason"] = reason[:1000]
    if action == "reopen":
        values["rejection_reason"] = ""
    result = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.state == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(signature)
        return Decision(
            signature_id,
            DecisionResult.CONFLICT,
            SignatureState(signature.state),
            f"Signature {signature_id} was decided by someone else meanwhile.",
        )
    list_changed = SignatureState.APPROVED in (current, target)
    if list_changed:
        bump_list_version(signature.statement_id)
    record(
        actor,
        action,
        signature=signature,
        from_state=current,
        to_state=target,
        detail=reason,
    )
    db.session.refresh(signature)
    if notify and signature.email:
        if action == "approve":
            mailer.queue_email(
                "approved",
                signature.email,
                "approved",
                signature_id=signature.id,
                signature=signature,
                statement=signature.statement,
                list_url=public_url(f"/statements/{signature.statement.slug}/signatories"),
                pdf_url=public_url(f"/statements/{signature.statement.slug}/statement.pdf"),
            )
        elif action == "reject" and reason:
            mailer.queue_email(
                "rejected",
                signature.email,
                "rejected",
                signature_id=signature.id,
                signature=signature,
                statement=signature.statement,
                reason=reason,
            )
    db.session.commit()
    if list_changed:
        events.signatory_list_changed(signature.statement_id, reason=action)
    return Decision(signature_id, DecisionResult.DONE, target)


def _past(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "unpublish": "unpublished"}.get(
        action, "reopened"
    )


def decide_many(
    ids: Iterable[int], action: str, actor: Actor, *, reason: str = "", notify: bool = True
) -> list[Decision]:
    """Bulk actions: each row is its own decision, so one conflict does not undo the others."""
    return [decide(i, action, actor, reason=reason, notify=notify) for i in ids]


def queue(statement_id: int | None = None) -> list[Signature]:
    query = select(Signature).where(Signature.state == SignatureState.VERIFIED)
    if statement_id is not None:
        query = query.where(Signature.statement_id == statement_id)
    return list(db.session.scalars(query.order_by(Signature.verified_at, Signature.id)))
