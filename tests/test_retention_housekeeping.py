"""Retention happens on its own: the periodic housekeeping deletes and erases what the notice promises.

Written against the housekeeping entry point and what it leaves in the database, not against the
list of tasks, so that it holds whatever the scheduler looks like.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from petition import housekeeping
from petition.core.db import write_transaction
from petition.extensions import db
from petition.models import AuditEvent, Signature, SignatureState, Statement, utcnow
from tests.conftest import submit_sign, wait_jobs
from tests.staff_helpers import make_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


@write_transaction
def _make_old(email: str, days: int) -> None:
    signature = db.session.scalar(select(Signature).where(Signature.email == email))
    signature.created_at = utcnow() - timedelta(days=days)


@write_transaction
def _close_signing(days_ago: int) -> None:
    statement = db.session.scalar(select(Statement))
    statement.signing_closes_at = utcnow() - timedelta(days=days_ago)


def _emails(app) -> set[str | None]:
    with app.app_context():
        return set(db.session.scalars(select(Signature.email)))


def test_the_periodic_housekeeping_deletes_endorsements_never_confirmed(app, client, seeded):
    submit_sign(client, seeded, email="forgotten@example.org")
    submit_sign(client, seeded, email="recent@example.org")
    wait_jobs(app)
    with app.app_context():
        _make_old("forgotten@example.org", app.config["UNCONFIRMED_RETENTION_DAYS"] + 1)
        assert housekeeping.run_if_due(time.time()) is True
    emails = _emails(app)
    assert "forgotten@example.org" not in emails
    assert "recent@example.org" in emails
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert "unconfirmed_purged" in actions


def test_the_periodic_housekeeping_erases_contacts_a_year_after_signing_closed(app, seeded):
    signature_id = make_signature(
        app, seeded, name="Closed Campaign Org", state=SignatureState.APPROVED
    )
    with app.app_context():
        _close_signing(days_ago=app.config["CONTACT_RETENTION_DAYS_AFTER_CLOSE"] + 1)
        assert housekeeping.run_if_due(time.time()) is True
        signature = db.session.get(Signature, signature_id)
        assert (signature.email, signature.contact_name) == (None, "")
        assert signature.organisation_name == "Closed Campaign Org"
