"""Staff accounts: what an address may contain, and who may create one."""

from __future__ import annotations

import pytest

from petition.staff import accounts
from tests.staff_helpers import login, post, signed_in

# ---------------------------------------------------------------- NUL and control characters


def test_staff_email_with_a_control_character_is_not_an_email(app):
    with app.app_context():
        for value in ("a\x00b@localhost", "a\x01b@example.org", "a\x7f@example.org"):
            with pytest.raises(accounts.StaffError):
                accounts.normalise_staff_email(value)
        assert accounts.normalise_staff_email("Admin@Example.org") == "admin@example.org"


def test_nul_in_the_sign_in_email_is_refused_like_any_wrong_address(app):
    # On PostgreSQL the look-up with a NUL in the parameter raised: a 500 for anyone.
    client = app.test_client()
    response = login(client, "a\x00b@localhost")
    assert response.status_code == 401


def test_admin_cannot_create_a_staff_account_with_nul_in_the_email(app):
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/users", {"email": "a\x00b@localhost", "role": "moderator"})
    assert response.status_code == 422
    with app.app_context():
        assert [u.email for u in accounts.list_staff()] == ["admin@example.org"]
