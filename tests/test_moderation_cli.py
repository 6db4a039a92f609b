"""`flask signatures list/approve/reject`: moderation from the command line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.models import AuditEvent, OutboxMessage, Signature, SignatureState
from tests.flows import add_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def state_of(app, signature_id: int) -> SignatureState:
    with app.app_context():
        return SignatureState(db.session.get(Signature, signature_id).state)


# ---------------------------------------------------------------- signatures list / approve / reject


def test_signatures_list(app, runner, seeded):
    verified = add_signature(app, seeded, "Verified Org", SignatureState.VERIFIED, "v@example.org")
    pending = add_signature(
        app, seeded, "Pending Org", SignatureState.PENDING_EMAIL, "p@example.org"
    )
    result = runner.invoke(args=["signatures", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "id\tstate\tstatement\torganisation_name\temail"
    assert len(lines) == 1 + 6
    assert lines[1].split("\t")[1:] == ["approved", seeded, "Vanguard Initiative", ""]
    assert lines[-2] == f"{verified}\tverified\t{seeded}\tVerified Org\tv@example.org"
    assert lines[-1] == f"{pending}\tpending_email\t{seeded}\tPending Org\tp@example.org"

    only = runner.invoke(args=["signatures", "list", "--state", "verified"])
    assert only.output.splitlines() == [
        "id\tstate\tstatement\torganisation_name\temail",
        f"{verified}\tverified\t{seeded}\tVerified Org\tv@example.org",
    ]
    none = runner.invoke(args=["signatures", "list", "--state", "rejected", "--statement", seeded])
    assert none.output.splitlines() == ["id\tstate\tstatement\torganisation_name\temail"]
    bad_state = runner.invoke(args=["signatures", "list", "--state", "bogus"])
    assert bad_state.exit_code == 2
    bad_slug = runner.invoke(args=["signatures", "list", "--statement", "nope"])
    assert bad_slug.exit_code == 1

    as_json = runner.invoke(args=["signatures", "list", "--json", "--state", "pending_email"])
    assert json.loads(as_json.output) == [
        {
            "id": pending,
            "state": "pending_email",
            "statement": seeded,
            "organisation_name": "Pending Org",
            "email": "p@example.org",
        }
    ]


def test_signatures_approve(app, runner, client, seeded):
    first = add_signature(app, seeded, "First Org", SignatureState.VERIFIED, "first@example.org")
    second = add_signature(app, seeded, "Second Org", SignatureState.VERIFIED, "second@example.org")
    result = runner.invoke(args=["signatures", "approve", str(first), str(second)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{first}: approved", f"{second}: approved"]
    assert state_of(app, first) is SignatureState.APPROVED
    names = [
        s["organisation_name"]
        for s in client.get(f"/statements/{seeded}/signatories.json").get_json()["signatories"]
    ]
    assert "First Org" in names and "Second Org" in names
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.signature_id == first, AuditEvent.action == "approve"
            )
        )
        assert (event.actor_type, event.actor_label, event.from_state, event.to_state) == (
            "cli",
            "signatures approve",
            "verified",
            "approved",
        )
        approved_mail = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.to_address == "first@example.org")
        )
        assert approved_mail.kind == "approved"

    # Already decided: a message, no change, exit 0.
    with app.app_context():
        audit_before = db.session.scalar(select(func.count(AuditEvent.id)))
    again = runner.invoke(args=["signatures", "approve", str(first)])
    assert again.exit_code == 0
    assert again.output.strip() == f"{first}: unchanged — Already approved."
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id))) == audit_before

    # Unknown id: exit 1 with a message, and nothing done to the known ones given with it.
    third = add_signature(app, seeded, "Third Org", SignatureState.VERIFIED, "third@example.org")
    unknown = runner.invoke(args=["signatures", "approve", str(third), "987654"])
    assert unknown.exit_code == 1
    assert "no signature with id 987654" in unknown.output
    assert state_of(app, third) is SignatureState.VERIFIED


def test_signatures_approve_refuses_unconfirmed(app, runner, seeded):
    pending = add_signature(
        app, seeded, "Unconfirmed Org", SignatureState.PENDING_EMAIL, "u@example.org"
    )
    result = runner.invoke(args=["signatures", "approve", str(pending)])
    assert result.exit_code == 0
    assert (
        f"{pending}: unchanged — Signature {pending} is waiting for email confirmation; it cannot"
        " be approved." in result.output
    )
    assert state_of(app, pending) is SignatureState.PENDING_EMAIL


def test_signatures_reject_with_reason(app, runner, seeded):
    sig = add_signature(app, seeded, "Spam Org", SignatureState.VERIFIED, "spam@example.org")
    result = runner.invoke(
        args=["signatures", "reject", str(sig), "--reason", "Not an organisation"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{sig}: rejected"
    with app.app_context():
        row = db.session.get(Signature, sig)
        assert SignatureState(row.state) is SignatureState.REJECTED
        assert row.rejection_reason == "Not an organisation"
        assert row.decided_at is not None
        mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "rejected"))
        assert "Not an organisation" in mail.body_text
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reject"))
        assert event.detail == "Not an organisation"
    again = runner.invoke(args=["signatures", "reject", str(sig), "--reason", "twice"])
    assert again.exit_code == 0 and "unchanged — Already rejected." in again.output
    with app.app_context():
        assert db.session.get(Signature, sig).rejection_reason == "Not an organisation"
    assert runner.invoke(args=["signatures", "reject", "987654"]).exit_code == 1
