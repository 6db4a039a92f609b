"""Retention: what the privacy notice promises is what the periodic task does."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from petition import retention
from petition.core.db import write_transaction
from petition.extensions import db
from petition.models import (
    AuditEvent,
    OutboxMessage,
    Signature,
    SignatureState,
    SignatureToken,
    Statement,
    TokenPurpose,
    utcnow,
)
from tests.conftest import CSRF_RE, submit_sign, valid_form, wait_jobs
from tests.flows import manage_link
from tests.staff_helpers import audit_rows, make_signature


@write_transaction
def _age(signature_id: int, days: int) -> None:
    db.session.get(Signature, signature_id).created_at = utcnow() - timedelta(days=days)


@write_transaction
def _close_statement(days_ago: int) -> None:
    db.session.scalar(select(Statement)).signing_closes_at = utcnow() - timedelta(days=days_ago)


def test_unconfirmed_endorsements_are_deleted_after_the_period(app, client, seeded):
    submit_sign(client, seeded, email="old@example.org")
    submit_sign(client, seeded, email="recent@example.org")
    wait_jobs(app)
    with app.app_context():
        old = db.session.scalar(select(Signature.id).where(Signature.email == "old@example.org"))
        _age(old, 91)
        verified = make_signature(app, seeded, name="Verified Org", email="v@example.org")
        _age(verified, 400)  # confirmed ones are never purged for age
        result = retention.run()
        assert result.unconfirmed_deleted == 1
        remaining = set(db.session.scalars(select(Signature.email)))
        assert "old@example.org" not in remaining
        assert {"recent@example.org", "v@example.org"} <= remaining
        assert (
            db.session.scalar(
                select(func.count(SignatureToken.id)).where(SignatureToken.signature_id == old)
            )
            == 0
        )
        assert (
            db.session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.to_address == "old@example.org"
                )
            )
            == 0
        )
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "unconfirmed_purged")
        )
        assert "1 endorsement" in event.detail and "old@example.org" not in event.detail
        assert retention.run().unconfirmed_deleted == 0


def test_contact_details_are_erased_a_year_after_signing_closed(app, client, seeded, runner):
    signature_id = make_signature(
        app, seeded, name="Closed Campaign Org", state=SignatureState.APPROVED
    )
    with app.app_context():
        _close_statement(days_ago=100)
        assert retention.run().contacts_erased == 0  # not yet a year
        _close_statement(days_ago=366)
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "contact details erased: 1" in result.output
    with app.app_context():
        sig = db.session.get(Signature, signature_id)
        assert (sig.email, sig.contact_name, sig.contact_role, sig.submitted_ip) == (
            None,
            "",
            "",
            "",
        )
        assert sig.organisation_name == "Closed Campaign Org"
        assert sig.state == SignatureState.APPROVED  # the public record stays
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert "Closed Campaign Org" in [s["organisation_name"] for s in listing["signatories"]]


def test_privacy_notice_states_the_configured_periods(client, seeded):
    page = client.get("/privacy").get_data(as_text=True)
    assert "deleted after 90 days" in page
    assert "erased 365 days after it closes" in page


# ---------------------------------------------------------------- nothing left behind


def test_erasing_contact_details_also_erases_them_from_sent_mail_and_the_audit_ip(
    app, client, seeded
):
    # The privacy notice promises the contact details go a year after signing closes; the
    # emails sent to the contact (address, name, a withdrawal link that never expires) and
    # the network address noted on the submission stayed.
    submit_sign(client, seeded, email="kept.too.long@example.org", contact_name="Zofia Kowalska")
    wait_jobs(app)
    # A new address given on the manage page, never confirmed.
    manage = manage_link(app, "kept.too.long@example.org")
    page = client.get(manage).get_data(as_text=True)
    form = valid_form(email="moved.too@example.org", contact_name="Zofia Kowalska")
    form.pop("consent")
    form["csrf_token"] = CSRF_RE.search(page).group(1)
    form["row_version"] = re.search(r'name="row_version" type="hidden" value="(\d+)"', page)[1]
    assert client.post(manage, data=form).status_code == 303
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
            assert "moved.too@example.org" not in text
            assert "Zofia" not in text and "/manage/" not in text
        row = db.session.get(Signature, signature_id)
        assert (row.email, row.new_email, row.new_email_normalised) == (None, None, None)
        assert not db.session.scalar(
            select(SignatureToken.id).where(SignatureToken.purpose == TokenPurpose.NEW_EMAIL)
        )
        details = [e.detail for e in audit_rows(app, signature_id)]
        assert not any("ip=" in d or "127.0.0.1" in d for d in details)


def test_purging_unconfirmed_endorsements_leaves_no_address_in_the_audit_log(app, client, seeded):
    submit_sign(client, seeded, email="never.confirmed@example.org")
    wait_jobs(app)
    with app.app_context():
        signature_id = db.session.scalar(
            select(Signature.id).where(Signature.email == "never.confirmed@example.org")
        )
        _age(signature_id, 91)
        assert retention.run().unconfirmed_deleted == 1
        submitted = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "submitted")
        ).all()
        assert submitted and not any("ip=" in d for d in submitted)
