"""Moderation rules held once, in the service: a rejection needs a reason, an approval always notifies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petition.core.audit import Actor
from petition.extensions import db
from petition.models import OutboxMessage, SignatureState
from petition.moderation import service as moderation
from tests.conftest import wait_jobs
from tests.staff_helpers import audit_rows, get_signature, make_signature, post, signed_in


def _mail_kinds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))


def test_the_cli_refuses_a_rejection_without_a_reason(app, runner, seeded):
    sid = make_signature(app, seeded)
    for args in (
        ["signatures", "reject", str(sid)],
        ["signatures", "reject", str(sid), "--reason", "  "],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        assert "a rejection needs a reason" in result.output
        assert "--reason" in result.output
    assert get_signature(app, sid).state is SignatureState.VERIFIED
    assert audit_rows(app, sid, "reject") == []
    assert _mail_kinds(app) == []
    done = runner.invoke(args=["signatures", "reject", str(sid), "--reason", "Not an organisation"])
    assert done.exit_code == 0 and done.output.strip() == f"{sid}: rejected"


def test_the_service_refuses_a_rejection_without_a_reason(app, seeded):
    sid = make_signature(app, seeded)
    with app.app_context():
        with pytest.raises(moderation.ReasonRequired):
            moderation.decide(sid, "reject", Actor.cli("test"), reason=" \n ")
        with pytest.raises(moderation.ReasonRequired):
            moderation.decide_bulk([sid], "reject", Actor.cli("test"), limit=10)
    assert get_signature(app, sid).state is SignatureState.VERIFIED
    assert audit_rows(app, sid, "reject") == []


def test_the_console_bulk_rejection_without_a_reason_changes_nothing(app, seeded):
    moderator = signed_in(app, "mod@example.org")
    ids = [make_signature(app, seeded, email=f"r{i}@example.org") for i in range(2)]
    response = post(moderator, "/staff/signatures/bulk", {"ids": ids, "action": "reject"})
    assert response.status_code == 303
    assert "Give a reason to reject" in moderator.get(response.headers["Location"]).text
    assert [get_signature(app, i).state for i in ids] == [SignatureState.VERIFIED] * 2


def test_an_approval_always_notifies_the_contact(app, seeded):
    sid = make_signature(app, seeded)
    with app.app_context():
        decision = moderation.decide(sid, "approve", Actor.cli("test"), notify=False)
    assert decision.result is moderation.DecisionResult.DONE
    wait_jobs(app)
    assert _mail_kinds(app) == ["approved"]


def test_a_rejection_is_emailed_only_when_asked(app, seeded):
    quiet, loud = (make_signature(app, seeded, email=f"{n}@example.org") for n in ("q", "l"))
    with app.app_context():
        moderation.decide(quiet, "reject", Actor.cli("test"), reason="Spam", notify=False)
        moderation.decide(loud, "reject", Actor.cli("test"), reason="Spam", notify=True)
    wait_jobs(app)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.kind, OutboxMessage.signature_id)).all()
    assert [(kind, sig) for kind, sig in rows] == [("rejected", loud)]


def test_bulk_over_the_limit_is_refused_before_any_change(app, seeded):
    ids = [make_signature(app, seeded, email=f"b{i}@example.org") for i in range(3)]
    with app.app_context():
        with pytest.raises(moderation.TooManySelected):
            moderation.decide_bulk(ids, "approve", Actor.cli("test"), limit=2)
        outcome = moderation.decide_bulk(ids, "approve", Actor.cli("test"), limit=3)
    assert outcome.summary() == [("success", "3 approved.")]
    assert [get_signature(app, i).state for i in ids] == [SignatureState.APPROVED] * 3
    wait_jobs(app)
