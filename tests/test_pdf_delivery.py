"""Marking the delivered PDF version (issue 13.6): an admin records date, recipient and note; the
statement page and /versions say "Delivered to … on …"; the file is kept; every change is audited."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from petition.extensions import db
from petition.models import AuditEvent, PdfVersion, utcnow
from tests.pdf_helpers import SLUG, versions
from tests.staff_helpers import post, signed_in

URL = "/staff/pdf/1/versions/1/delivered"
FORM = "/staff/pdf/1/versions/1/delivery"
DELIVERY = {
    "delivered": "1",
    "delivered_on": "2026-11-30",
    "delivered_to": "European Commission, DG REGIO",
    "note": "Handed over at the Synergy Days",
}


def _version(app, number: int = 1) -> PdfVersion:
    with app.app_context():
        version = db.session.scalar(select(PdfVersion).where(PdfVersion.number == number))
        assert version is not None
        db.session.expunge(version)
        return version


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_an_admin_records_the_delivery_and_the_public_pages_say_so(app, client, seeded):
    statement = client.get(f"/statements/{SLUG}")
    etag = statement.headers["ETag"]
    assert "Delivered" not in _text(statement.get_data(as_text=True))
    admin = signed_in(app, "admin@example.org", "admin")
    form_page = admin.get(FORM)
    assert form_page.status_code == 200
    assert 'name="delivered_to"' in form_page.get_data(as_text=True)

    assert post(admin, URL, DELIVERY).status_code == 303

    version = _version(app)
    assert version.delivered is True
    assert version.delivered_on.isoformat() == "2026-11-30"
    assert version.delivered_to == "European Commission, DG REGIO"
    assert version.delivery_note == "Handed over at the Synergy Days"
    [event] = _audit(app, "pdf_version_delivered")
    assert event.actor_label == "admin@example.org"
    assert event.after["delivered_to"] == "European Commission, DG REGIO"
    assert event.before["delivered"] is False

    # A cached copy of the statement page is stale now: its ETag changed.
    again = client.get(f"/statements/{SLUG}", headers={"If-None-Match": etag})
    assert again.status_code == 200
    page = _text(again.get_data(as_text=True))
    assert "Delivered to European Commission, DG REGIO on 30 November 2026" in page
    listing = _text(client.get(f"/statements/{SLUG}/versions").get_data(as_text=True))
    assert "To European Commission, DG REGIO on 30 November 2026" in listing
    assert "Handed over at the Synergy Days" in listing
    assert "to European Commission, DG REGIO" in _text(
        admin.get("/staff/pdf").get_data(as_text=True)
    )


def test_a_correction_and_an_undo_are_audited_and_the_mark_leaves_the_public_pages(
    app, client, seeded
):
    admin = signed_in(app, "admin@example.org", "admin")
    post(admin, URL, DELIVERY)
    corrected = {**DELIVERY, "delivered_to": "European Parliament, REGI committee", "note": ""}
    assert post(admin, URL, corrected).status_code == 303
    version = _version(app)
    assert version.delivered_to == "European Parliament, REGI committee"
    assert version.delivery_note is None
    events = _audit(app, "pdf_version_delivered")
    assert [e.after["delivered_to"] for e in events] == [
        "European Commission, DG REGIO",
        "European Parliament, REGI committee",
    ]
    assert events[1].before["delivered_to"] == "European Commission, DG REGIO"

    assert post(admin, URL, {"delivered": "0"}).status_code == 303
    version = _version(app)
    assert version.delivered is False
    assert version.delivered_to is None and version.delivered_on is None
    [cleared] = _audit(app, "pdf_version_delivery_cleared")
    assert cleared.before["delivered_to"] == "European Parliament, REGI committee"
    assert "Delivered" not in _text(client.get(f"/statements/{SLUG}").get_data(as_text=True))


def test_only_admins_record_deliveries(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert moderator.get(FORM).status_code == 403
    assert post(moderator, URL, DELIVERY).status_code == 403
    assert post(moderator, URL, {"delivered": "0"}).status_code == 403
    assert _version(app).delivered is False
    assert "Mark delivered" not in moderator.get("/staff/pdf").get_data(as_text=True)


def test_bad_delivery_input_is_a_form_error_and_stores_nothing(app, client, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    tomorrow_but_one = (utcnow().date() + timedelta(days=2)).isoformat()
    cases = {
        "Enter the recipient.": {**DELIVERY, "delivered_to": "  "},
        "Give the date of the delivery.": {**DELIVERY, "delivered_on": ""},
        "Not a valid date value.": {**DELIVERY, "delivered_on": "30/11/2026"},
        "cannot be dated in the future": {**DELIVERY, "delivered_on": tomorrow_but_one},
        "line breaks": {**DELIVERY, "delivered_to": "DG REGIO\r\nBcc: x@example.org"},
        "at most 300 characters": {**DELIVERY, "delivered_to": "x" * 301},
        "at most 2000 characters": {**DELIVERY, "note": "n" * 2001},
    }
    for message, data in cases.items():
        response = post(admin, URL, data)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True), message
    # Without the CSRF token: refused before anything is looked at.
    assert admin.post(URL, data=DELIVERY).status_code == 400
    assert admin.post(URL, data={"delivered": "0"}).status_code == 400
    assert _version(app).delivered is False
    assert _audit(app, "pdf_version_delivered") == []


def test_the_recipient_is_escaped_on_every_page(app, client, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    hostile = {**DELIVERY, "delivered_to": '<script>alert(1)</script> "DG"', "note": "<b>x</b>"}
    assert post(admin, URL, hostile).status_code == 303
    for page in (
        client.get(f"/statements/{SLUG}"),
        client.get(f"/statements/{SLUG}/versions"),
        admin.get("/staff/pdf"),
        admin.get(FORM),
    ):
        html = page.get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<b>x</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [v.delivered for v in versions(app)] == [True]
