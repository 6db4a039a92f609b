"""Data retention, as the privacy notice promises: unconfirmed endorsements and old contact details go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from .core.audit import Actor, record
from .core.db import rowcount, write_transaction
from .extensions import db
from .models import (
    AuditEvent,
    OutboxMessage,
    Signature,
    SignatureState,
    SignatureToken,
    Statement,
    TokenPurpose,
    utcnow,
)


@dataclass(frozen=True)
class RetentionResult:
    unconfirmed_deleted: int
    contacts_erased: int


def run(now: datetime | None = None) -> RetentionResult:
    """The periodic task (and `flask retention run`)."""
    now = now or utcnow()
    return RetentionResult(purge_unconfirmed(now), erase_old_contacts(now))


@write_transaction
def purge_unconfirmed(now: datetime) -> int:
    """Endorsements never confirmed by email within the retention period are deleted outright."""
    cutoff = now - timedelta(days=current_app.config["UNCONFIRMED_RETENTION_DAYS"])
    ids = select(Signature.id).where(
        Signature.state == SignatureState.PENDING_EMAIL, Signature.created_at < cutoff
    )
    count = db.session.scalar(select(func.count()).select_from(ids.subquery()))
    if not count:
        return 0
    # Their queued mail and tokens go with them; audit rows stay, without the address.
    _erase_audit_addresses(ids)
    db.session.execute(delete(SignatureToken).where(SignatureToken.signature_id.in_(ids)))
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.signature_id.in_(ids)))
    db.session.execute(delete(Signature).where(Signature.id.in_(ids)))
    record(
        Actor.system("retention"),
        "unconfirmed_purged",
        detail=f"{count} endorsement(s) never confirmed, submitted before {cutoff:%Y-%m-%d}",
    )
    return count


@write_transaction
def erase_old_contacts(now: datetime) -> int:
    """A year after a statement closed, its signatories' contact details are erased.

    The organisations' public entries stay: they are part of the statement's record.
    """
    cutoff = now - timedelta(days=current_app.config["CONTACT_RETENTION_DAYS_AFTER_CLOSE"])
    closed = select(Statement.id).where(
        Statement.signing_closes_at.is_not(None), Statement.signing_closes_at < cutoff
    )
    of_closed = select(Signature.id).where(Signature.statement_id.in_(closed))
    # The emails sent to the contact hold the same details (address, name, a withdrawal link).
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.signature_id.in_(of_closed), OutboxMessage.to_address != "")
        .values(to_address="", subject="", body_text="", body_html="", last_error="")
        .execution_options(synchronize_session=False)
    )
    _erase_audit_addresses(of_closed)
    # A new address still waiting for confirmation goes too, with the link that would set it.
    db.session.execute(
        delete(SignatureToken).where(
            SignatureToken.signature_id.in_(of_closed),
            SignatureToken.purpose == TokenPurpose.NEW_EMAIL,
        )
    )
    result = db.session.execute(
        update(Signature)
        .where(
            Signature.statement_id.in_(closed),
            (Signature.email.is_not(None))
            | (Signature.contact_name != "")
            | (Signature.new_email.is_not(None)),
        )
        .values(
            email=None,
            email_normalised=None,
            new_email=None,
            new_email_normalised=None,
            contact_name="",
            contact_role="",
            submitted_ip="",
            row_version=Signature.row_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(result):
        record(
            Actor.system("retention"),
            "contacts_erased",
            detail=f"contact details of {rowcount(result)} signature(s) of statements closed "
            f"before {cutoff:%Y-%m-%d}",
        )
    return rowcount(result)


def _erase_audit_addresses(signature_ids) -> None:
    """The audit row of a submission notes the network address it came from ("ip=…")."""
    db.session.execute(
        update(AuditEvent)
        .where(
            AuditEvent.signature_id.in_(signature_ids),
            AuditEvent.action == "submitted",
            AuditEvent.detail != "",
        )
        .values(detail="")
        .execution_options(synchronize_session=False)
    )
