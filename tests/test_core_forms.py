"""Every POST takes browser form bodies only: JSON bodies and file parts are a 400, never a 500."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.models import Signature
from tests.conftest import csrf_token, valid_form
from tests.staff_helpers import make_signature, page_token, signed_in

# ---------------------------------------------------------------- bodies that are not browser forms


@pytest.mark.parametrize(
    "body", ["[1]", '"x"', '{"email": 5, "password": "x"}', '{"email": {"a": 1}, "password": 3}']
)
def test_json_body_on_the_staff_sign_in_is_400(app, body):
    # Anyone can take a CSRF token from the login page; Flask-WTF then read the JSON as the form.
    client = app.test_client()
    response = client.post(
        "/staff/login",
        data=body,
        headers={"Content-Type": "application/json", "X-CSRFToken": page_token(client)},
    )
    assert response.status_code == 400


def _a_file():
    return (io.BytesIO(b"not text"), "upload.txt")


@pytest.mark.parametrize("field", ["organisation_name", "email", "comment", "fax_number"])
def test_a_file_in_the_sign_on_form_is_400_and_stores_nothing(app, client, seeded, field):
    url = f"/statements/{seeded}/sign"
    data = {**valid_form(), "csrf_token": csrf_token(client, url), field: _a_file()}
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Signature.id)).where(Signature.email != "")) == 0


def test_a_file_in_the_lost_link_and_staff_forms_is_400(app, client, seeded):
    url = f"/statements/{seeded}/withdraw-link"
    response = client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "email": _a_file()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400

    anonymous = app.test_client()
    response = anonymous.post(
        "/staff/login",
        data={"email": _a_file(), "password": "x" * 12, "csrf_token": page_token(anonymous)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400

    admin = signed_in(app, "admin@example.org", "admin")
    signature_id = make_signature(app, seeded, email="queued@example.org")
    token = page_token(admin, "/staff/account")
    for url, data in [
        (f"/staff/signatures/{signature_id}/reject", {"reason": _a_file()}),
        (
            "/staff/signatures/bulk",
            {"action": "approve", "ids": str(signature_id), "next": _a_file()},
        ),
        (f"/staff/signatures/{signature_id}/edit", {"organisation_name": _a_file()}),
        ("/staff/users", {"email": _a_file(), "role": "moderator"}),
        ("/staff/account/password", {"current": _a_file(), "new": "x", "confirm": "x"}),
    ]:
        response = admin.post(
            url, data={**data, "csrf_token": token}, content_type="multipart/form-data"
        )
        assert response.status_code == 400, url
