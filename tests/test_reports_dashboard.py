"""The dashboard: counts, the chart and the outbox retry."""

from __future__ import annotations

from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus
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
