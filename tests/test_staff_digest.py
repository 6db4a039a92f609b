"""The moderators' digest email: once per interval, only to those who asked."""

from __future__ import annotations

from petition.extensions import db
from petition.models import StaffUser
from petition.staff import digest
from tests.staff_helpers import make_signature, make_staff

# ---------------------------------------------------------------- digest


def test_digest_goes_once_per_interval_to_those_who_asked(app, seeded, runner, smtp):
    make_staff(app, "wants@example.org")
    make_staff(app, "quiet@example.org")
    with app.app_context():
        db.session.execute(
            StaffUser.__table__.update()
            .where(StaffUser.email == "wants@example.org")
            .values(wants_digest=True)
        )
        db.session.commit()
    nothing = runner.invoke(args=["staff", "send-digest"])
    assert "digests sent: 0" in nothing.output
    make_signature(app, seeded, name="Digest Org", email="d@o.example")
    result = runner.invoke(args=["staff", "send-digest"])
    assert "digests sent: 1" in result.output, result.output
    [message] = smtp.wait_for(1)
    assert message["To"] == "wants@example.org"
    body = message.get_body(("plain",)).get_content()
    assert "Digest Org" in body and "http://localhost/staff/queue" in body
    make_signature(app, seeded, name="Later Org", email="l@o.example")
    assert "digests sent: 0" in runner.invoke(args=["staff", "send-digest"]).output
    with app.app_context():
        assert digest.send_digests(force=True).sent == 1
    smtp.wait_for(2)
    assert "Later Org" in smtp.messages[1].get_body(("plain",)).get_content()
    assert "Digest Org" not in smtp.messages[1].get_body(("plain",)).get_content()
