"""Findings of a security review: each test failed before its fix (some only on PostgreSQL)."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from petition import retention
from petition.core.db import write_transaction
from petition.extensions import db
from petition.models import AuditEvent, OutboxMessage, Signature, SiteText, Statement, utcnow
from petition.signing import service as signing
from petition.staff import accounts
from tests.conftest import csrf_token, links_in, submit_sign, valid_form, wait_jobs
from tests.staff_helpers import (
    audit_rows,
    login,
    make_signature,
    page_token,
    post,
    signed_in,
    statement_id,
)

# ---------------------------------------------------------------- integer overflow in a URL


@pytest.mark.parametrize("number", ["99999999999", "1" + "0" * 25])
def test_pdf_version_number_beyond_the_database_integer_is_404(client, seeded, number):
    # 99999999999 overflowed PostgreSQL's int4, 10**25 SQLite's 64-bit integer: both were a 500.
    response = client.get(f"/statements/{seeded}/versions/{number}.pdf")
    assert response.status_code == 404
    assert client.head(f"/statements/{seeded}/versions/{number}.pdf").status_code == 404


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


def test_privacy_text_with_a_control_character_is_refused(app, client, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/texts/privacy", {"body": "We keep\x00 nothing."})
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SiteText, "privacy") is None
    # Line breaks and tabs are text, not control characters.
    response = post(admin, "/staff/texts/privacy", {"body": "# Privacy\r\n\r\nWe\tkeep little."})
    assert response.status_code == 303
    assert "We\tkeep little." in client.get("/privacy").get_data(as_text=True)


def test_audit_filters_with_nul_or_the_last_date_answer(app):
    admin = signed_in(app, "admin@example.org", "admin")
    for query in ("actor=%00&action=%00", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
        assert admin.get(f"/staff/audit?{query}").status_code == 200, query
        assert admin.get(f"/staff/audit.csv?{query}").status_code == 200, query
    # The last date is "no upper bound": today's sign-in is in it.
    body = admin.get("/staff/audit.csv?to=9999-12-31").get_data(as_text=True)
    assert "staff_signed_in" in body


# ---------------------------------------------------------------- digits that int() refuses


@pytest.mark.parametrize(
    "query", ["page=%C2%B2", "statement=%C2%B2", "q=%C2%B2", "per_page=%E2%91%A0"]
)
def test_console_lists_with_non_ascii_digits_answer(app, seeded, query):
    # "²".isdigit() is True but int("²") raises: the queue, list and dashboard were a 500.
    admin = signed_in(app, "admin@example.org", "admin")
    for path in ("/staff/queue", "/staff/signatures", "/staff/", "/staff/audit"):
        assert admin.get(f"{path}?{query}").status_code == 200, path


def test_console_actions_with_non_ascii_digits_are_400_and_change_nothing(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    signature_id = make_signature(app, seeded, email="queued@example.org")
    response = post(admin, "/staff/signatures/bulk", {"action": "approve", "ids": ["²"]})
    assert response.status_code == 400
    response = post(
        admin,
        "/staff/signatures/bulk",
        {"action": "approve", "ids": [str(signature_id)], "statement_id": "²"},
    )
    assert response.status_code == 400
    response = post(admin, f"/staff/signatures/{signature_id}/approve", {"statement_id": "²"})
    assert response.status_code == 400
    assert not audit_rows(app, signature_id, "approve")
    # The ordinary digits still work.
    response = post(
        admin,
        f"/staff/signatures/{signature_id}/approve",
        {"statement_id": str(statement_id(app, seeded))},
    )
    assert response.status_code == 303
    assert audit_rows(app, signature_id, "approve")


# ---------------------------------------------------------------- tokens in the error log


@pytest.mark.config(PROPAGATE_EXCEPTIONS=False)
def test_an_unexpected_error_on_a_token_page_does_not_log_the_token(
    app, client, seeded, caplog, monkeypatch
):
    submit_sign(client, seeded)
    wait_jobs(app)
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "confirm"))
        body = message.body_text
    from email.message import EmailMessage

    mail = EmailMessage()
    mail.set_content(body)
    links = links_in(mail)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(signing, "signature_for_confirmation", broken)
    monkeypatch.setattr(signing, "signature_for_withdrawal", broken)
    caplog.set_level(logging.INFO)
    for path in (links["confirm"], links["withdraw"]):
        token = path.rsplit("/", 1)[1]
        caplog.clear()
        assert client.get(path).status_code == 500
        assert "the database went away" in caplog.text  # the error is logged …
        assert token not in caplog.text  # … but not the secret in the address
        assert f"/{path.split('/')[1]}/[token]" in caplog.text


# ---------------------------------------------------------------- retention


@write_transaction
def _close_statement(days_ago: int) -> None:
    db.session.scalar(select(Statement)).signing_closes_at = utcnow() - timedelta(days=days_ago)


@write_transaction
def _age(email: str, days: int) -> None:
    sig = db.session.scalar(select(Signature).where(Signature.email == email))
    sig.created_at = utcnow() - timedelta(days=days)


def test_erasing_contact_details_also_erases_them_from_sent_mail_and_the_audit_ip(
    app, client, seeded
):
    # The privacy notice promises the contact details go a year after signing closes; the
    # emails sent to the contact (address, name, a withdrawal link that never expires) and
    # the network address noted on the submission stayed.
    submit_sign(client, seeded, email="kept.too.long@example.org", contact_name="Zofia Kowalska")
    wait_jobs(app)
    with app.app_context():
        signature_id = db.session.scalar(
            select(Signature.id).where(Signature.email == "kept.too.long@example.org")
        )
        assert "ip=" in audit_rows(app, signature_id, "submitted")[0].detail
        _close_statement(days_ago=366)
        assert retention.run().contacts_erased == 1
        mails = list(
            db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.signature_id == signature_id)
            )
        )
        assert mails  # the history of what was sent stays …
        for mail in mails:
            text = " ".join([mail.to_address, mail.subject, mail.body_text, mail.body_html])
            assert "kept.too.long@example.org" not in text  # … without the details
            assert "Zofia" not in text and "/withdraw/" not in text
        details = [e.detail for e in audit_rows(app, signature_id)]
        assert not any("ip=" in d or "127.0.0.1" in d for d in details)


def test_purging_unconfirmed_endorsements_leaves_no_address_in_the_audit_log(app, client, seeded):
    submit_sign(client, seeded, email="never.confirmed@example.org")
    wait_jobs(app)
    with app.app_context():
        _age("never.confirmed@example.org", 91)
        assert retention.run().unconfirmed_deleted == 1
        submitted = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "submitted")
        ).all()
        assert submitted and not any("ip=" in d for d in submitted)
