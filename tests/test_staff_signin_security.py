"""Staff sign-in under attack: a crafted `next` never breaks the redirect after a good password."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.models import AuditEvent, StaffUser
from tests.staff_helpers import PASSWORD, login, make_staff, page_token, post, signed_in


@pytest.mark.parametrize(
    "target",
    [
        "/staff/queue\r\nSet-Cookie: x=1",
        "/staff/queue\nLocation: https://evil.example",
        "/staff/\r",
        "/staff/\x00queue",
        "/staff/ queue",
        "/staff/\tqueue",
        "/staff/\u2028queue",
    ],
)
def test_control_characters_in_next_fall_back_to_the_dashboard(app, seeded, target):
    make_staff(app, "mod@example.org")
    client = app.test_client()
    response = client.post(
        "/staff/login",
        data={
            "email": "mod@example.org",
            "password": PASSWORD,
            "next": target,
            "csrf_token": page_token(client),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert "Set-Cookie: x" not in str(response.headers)
    # Signed in all the same.
    assert client.get("/staff/").status_code == 200


def test_guessing_the_current_password_is_counted_and_locks(app, seeded):
    """A stolen session cannot guess the password without limit at /staff/account/password."""
    client = signed_in(app, "mod@example.org")
    threshold = app.config.get("STAFF_LOCKOUT_THRESHOLD", 5)
    for attempt in range(threshold):
        response = post(
            client,
            "/staff/account/password",
            {
                "current": f"guess {attempt}",
                "new": "a brand new passphrase",
                "confirm": "a brand new passphrase",
            },
        )
        assert response.status_code == 422
        assert "current password is not right" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == "mod@example.org"))
        assert user.locked_until is not None
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "staff_locked")
            )
            == 1
        )
    # Locked: even the right current password changes nothing until the lock ends.
    response = post(
        client,
        "/staff/account/password",
        {"current": PASSWORD, "new": "a brand new passphrase", "confirm": "a brand new passphrase"},
    )
    assert response.status_code == 422
    assert "locked" in response.get_data(as_text=True)
    assert login(app.test_client(), "mod@example.org", "a brand new passphrase").status_code == 401
