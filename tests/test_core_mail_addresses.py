"""Addresses mail can never reach are refused at the form; a message that cannot be encoded fails at once."""

from __future__ import annotations

import time

from sqlalchemy import select

from petition.core import outbox
from petition.core.db import transaction
from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus, Signature
from tests.conftest import submit_sign, wait_jobs


def test_non_ascii_local_part_is_refused_at_the_form(app, client, seeded, smtp):
    response = submit_sign(client, seeded, email="jöhn@example.org")
    assert response.status_code == 422
    assert "part before the @" in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(Signature).where(Signature.email == "jöhn@example.org"))
            is None
        )
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_international_domain_is_still_accepted_and_delivered(app, client, seeded, smtp):
    response = submit_sign(client, seeded, email="anna@łódzkie.pl")
    assert response.status_code == 302
    message = smtp.wait_for(1)[0]
    assert "anna@" in message["To"]


def test_a_message_that_cannot_be_encoded_fails_after_one_attempt(app, seeded, smtp):
    # A row queued before the form refused such addresses (or imported): retrying cannot help.
    with app.app_context():
        with transaction():
            message = outbox.queue_email(
                "test",
                "jöhn@example.org",
                "withdraw_link",
                statement=None,
                signature=None,
                withdraw_url="http://localhost/withdraw/x",
            )
            message_id = message.id
    wait_jobs(app)
    deadline = time.monotonic() + 10
    while True:
        with app.app_context():
            row = db.session.get_one(OutboxMessage, message_id)
            if row.status != OutboxStatus.QUEUED or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 1
    assert "Unicode" in row.last_error or "codec" in row.last_error
    assert smtp.messages == []
