"""The outbox: rows written with the change, sent after commit, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus, utcnow
from tests.conftest import wait_jobs

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- mail


def test_mail_send_pending(app, runner, seeded, smtp):
    now = utcnow()
    with app.app_context():
        for index, due in enumerate(
            (now - timedelta(minutes=1), now - timedelta(hours=2), now + timedelta(hours=1))
        ):
            db.session.add(
                OutboxMessage(
                    kind="test",
                    to_address=f"queued{index}@example.org",
                    subject=f"Queued {index}",
                    body_text="Hello",
                    status=OutboxStatus.QUEUED,
                    next_attempt_at=due,
                )
            )
        db.session.commit()
    result = runner.invoke(args=["mail", "send-pending"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "due 2: sent 2, deferred 0, failed 0"
    assert sorted(m["To"] for m in smtp.wait_for(2)) == [
        "queued0@example.org",
        "queued1@example.org",
    ]
    with app.app_context():
        statuses = dict(
            db.session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all()
        )
    assert statuses == {
        "queued0@example.org": OutboxStatus.SENT,
        "queued1@example.org": OutboxStatus.SENT,
        "queued2@example.org": OutboxStatus.QUEUED,  # not due yet
    }
    again = runner.invoke(args=["mail", "send-pending"])
    assert again.output.strip() == "due 0: sent 0, deferred 0, failed 0"
    wait_jobs(app)
    assert len(smtp.messages) == 2
