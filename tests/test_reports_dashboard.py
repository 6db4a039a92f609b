"""The dashboard: counts, the chart and the outbox retry."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from petition.core import outbox
from petition.extensions import db
from petition.models import AuditEvent, OutboxMessage, OutboxStatus
from tests.conftest import wait_jobs
from tests.staff_helpers import flashes, make_signature, post

# ---------------------------------------------------------------- dashboard and outbox


def test_dashboard_counts_chart_and_outbox_retry(app, seeded, moderator):
    make_signature(app, seeded, name="Waiting One", email="w1@x.example")
    make_signature(app, seeded, name="Waiting Two", email="w2@x.example", country="DE")
    with app.app_context():
        message = OutboxMessage(
            kind="approved",
            to_address="bounce@x.example",
            subject="s",
            body_text="b",
            status=OutboxStatus.FAILED,
            attempts=8,
            last_error="550 no such user",
        )
        db.session.add(message)
        db.session.commit()
        message_id = message.id
    page = moderator.get("/staff/").get_data(as_text=True)
    assert "<strong>2</strong> awaiting a decision" in page
    assert "<strong>4</strong> approved" in page  # the founding signatories
    assert '<svg class="chart"' in page and "<rect" in page
    assert "Germany" in page and "Regions" in page
    assert "550 no such user" in page
    response = post(moderator, f"/staff/outbox/{message_id}/retry")
    assert response.status_code == 303
    assert f"Message {message_id} is queued again" in flashes(moderator, response)
    wait_jobs(app)
    with app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        assert row.status == OutboxStatus.SENT  # no MAIL_SERVER: written to instance/mail
    unknown = post(moderator, "/staff/outbox/424242/retry")
    assert "nothing to retry" in flashes(moderator, unknown)


# ---------------------------------------------------------------- uncertain mail


def _uncertain(app, address: str) -> int:
    with app.app_context():
        message = OutboxMessage(
            kind="confirm",
            to_address=address,
            subject="Confirm",
            body_text="Hello",
            status=OutboxStatus.UNCERTAIN,
            attempts=2,
            unanswered_sends=2,
            message_id=f"<uncertain.{address}>",
            last_error="MaybeSent: no reply after the message was sent: timed out",
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_uncertain_mail_is_shown_and_staff_send_it_again_or_mark_it_sent(app, seeded, moderator):
    again_id = _uncertain(app, "again@x.example")
    arrived_id = _uncertain(app, "arrived@x.example")
    page = moderator.get("/staff/").get_data(as_text=True)
    assert "<strong>2</strong> uncertain" in page
    assert "May have been delivered" in page
    for message_id in (again_id, arrived_id):
        assert f"/staff/outbox/{message_id}/retry" in page
        assert f"/staff/outbox/{message_id}/mark-sent" in page
    assert "&lt;uncertain.again@x.example&gt;" in page  # the Message-ID, to look up at the relay

    # Send again: queued, delivered (here: written to instance/mail) with the same Message-ID.
    response = post(moderator, f"/staff/outbox/{again_id}/retry")
    assert f"Message {again_id} is queued again" in flashes(moderator, response)
    wait_jobs(app)
    with app.app_context():
        row = db.session.get_one(OutboxMessage, again_id)
        assert (row.status, row.attempts, row.unanswered_sends) == (OutboxStatus.SENT, 1, 0)
    [written] = Path(app.config["MAIL_DIR"]).glob(f"*-{again_id:06d}-confirm.eml")
    sent = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert sent["Message-ID"] == "<uncertain.again@x.example>"
    [event] = _audit(app, "mail_sent_again")
    assert event.actor_label == "mod@example.org"
    assert f"Email {again_id} (Confirmation link): Maybe delivered → Queued" == event.detail

    # Mark as sent: sent, never transmitted again.
    response = post(moderator, f"/staff/outbox/{arrived_id}/mark-sent")
    assert f"Message {arrived_id} is marked as sent" in flashes(moderator, response)
    wait_jobs(app)
    with app.app_context():
        row = db.session.get_one(OutboxMessage, arrived_id)
        assert row.status == OutboxStatus.SENT and row.sent_at is not None
        assert outbox.send_due()["due"] == 0
    assert not list(Path(app.config["MAIL_DIR"]).glob(f"*-{arrived_id:06d}-*.eml"))
    [event] = _audit(app, "mail_marked_sent")
    assert f"Email {arrived_id} (Confirmation link): Maybe delivered → Sent" == event.detail
    assert "arrived@x.example" not in event.detail

    # Neither action applies twice, nor "mark as sent" to a message that is not uncertain.
    again = post(moderator, f"/staff/outbox/{arrived_id}/mark-sent")
    assert "not an uncertain message" in flashes(moderator, again)
    assert "nothing to retry" in flashes(
        moderator, post(moderator, f"/staff/outbox/{again_id}/retry")
    )
    assert len(_audit(app, "mail_marked_sent")) == 1 and len(_audit(app, "mail_sent_again")) == 1
