"""The audit trail: one append-only row per state change or edit, written in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert

from ..extensions import db
from ..models import AuditEvent, Signature, utcnow
from .db import insert_rows


@dataclass(frozen=True)
class Actor:
    """Who did it: a signatory (by token), a staff member, a CLI operator or the system."""

    type: str
    label: str = ""
    staff_id: int | None = None

    @classmethod
    def signatory(cls) -> Actor:
        return cls("signatory", "signatory")

    @classmethod
    def cli(cls, label: str = "cli") -> Actor:
        return cls("cli", label)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls("system", label)

    @classmethod
    def staff(cls, user) -> Actor:
        return cls("staff", user.email, user.id)


#: Built once; each row's values come as parameters (no statement to build per row).
_AUDIT = cast(Table, AuditEvent.__table__)
_INSERT = insert(_AUDIT)


def record(actor: Actor, action: str, **fields: Any) -> None:
    """Write the row now, in the caller's transaction (one INSERT: the ORM's unit of work has
    nothing to add to an append-only row, and a sign-on's write turn stays short). `fields`:
    those of `event_row`."""
    db.session.execute(_INSERT, event_row(actor, action, **fields))


def record_rows(rows: list[dict]) -> None:
    """Several rows made by `event_row`, in one statement, in the caller's transaction."""
    insert_rows(_AUDIT, rows)


def event_row(
    actor: Actor,
    action: str,
    *,
    signature: Signature | None = None,
    statement_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
) -> dict:
    """The values of one audit row, as `record` writes it."""
    return dict(
        created_at=utcnow(),
        actor_type=actor.type,
        actor_label=actor.label,
        actor_id=actor.staff_id,
        action=action,
        signature_id=signature.id if signature is not None else None,
        statement_id=statement_id
        if statement_id is not None
        else (signature.statement_id if signature is not None else None),
        from_state=str(from_state) if from_state is not None else None,
        to_state=str(to_state) if to_state is not None else None,
        before=before,
        after=after,
        detail=detail,
    )
