"""Staff sign-in under attack: a crafted `next` never breaks the redirect after a good password."""

from __future__ import annotations

import pytest

from tests.staff_helpers import PASSWORD, make_staff, page_token


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
