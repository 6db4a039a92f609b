"""The privacy notice: the built-in text, the configured periods, and the admin's own version."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import AuditEvent, SiteText
from tests.htmltree import parse
from tests.staff_helpers import post, signed_in


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


def test_admin_edits_the_privacy_notice_with_an_audit_trail(app, client, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    assert admin.get("/staff/texts/privacy").status_code == 200
    saved = post(
        admin,
        "/staff/texts/privacy",
        {"body": "## Who we are\n\nThe campaign <script>alert(1)</script> **controls** your data."},
        token_from="/staff/texts/privacy",
    )
    assert saved.status_code == 303
    page = client.get("/privacy").get_data(as_text=True)
    assert "<h2>Who we are</h2>" in page
    assert "<strong>controls</strong>" in page
    assert "<script>alert(1)</script>" not in page
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "site_text_changed")
        )
        assert event.before["body"] is None
        assert "Who we are" in event.after["body"]
        assert event.actor_label == "admin@example.org"

    # Emptying it returns to the built-in notice.
    post(admin, "/staff/texts/privacy", {"body": "  "}, token_from="/staff/texts/privacy")
    with app.app_context():
        assert db.session.get(SiteText, "privacy") is None
    assert "Who is responsible" in client.get("/privacy").get_data(as_text=True)

    too_long = post(
        admin, "/staff/texts/privacy", {"body": "x" * 20_001}, token_from="/staff/texts/privacy"
    )
    assert too_long.status_code == 422
    assert "at most 20,000 characters" in too_long.get_data(as_text=True)


def test_moderators_cannot_edit_site_texts(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert moderator.get("/staff/texts/privacy").status_code == 403
    refused = post(moderator, "/staff/texts/privacy", {"body": "mine now"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.get(SiteText, "privacy") is None
    assert app.test_client().get("/staff/texts/privacy").status_code == 302


pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- privacy and health


@pytest.mark.config(TOKEN_MAX_AGE_DAYS=3)
def test_privacy_notice(app, client, seeded):
    page = client.get("/privacy")
    assert page.status_code == 200
    text = parse(page.text).find("main").normalised_text
    assert (
        "The data controller is the organisation that runs"
        " Interregional Innovation Investments joint statement." in text
    )
    assert "Publishing your organisation's endorsement" in text and "Moderation records" in text
    assert (
        "These details are never shown on the public pages, in the open data or in the PDF." in text
    )
    assert "A confirmation link is valid for 3 days." in text
    assert "Your rights" in text
    # The periods come from the configuration: the notice says they are current, not dated.
    assert (
        "The periods under “How long we keep it” are always the ones the site applies now." in text
    )
    # Staff can replace it with their own Markdown, which is sanitised like the statement.
    with app.app_context():
        db.session.add(
            SiteText(key="privacy", body="## Our notice\n\n<script>alert(1)</script> Kept 5 years.")
        )
        db.session.commit()
    custom = client.get("/privacy").text
    assert "<h2>Our notice</h2>" in custom and "Kept 5 years." in custom
    assert "How long we keep it" not in custom  # staff's own periods: no claim about them
    assert "<script>alert(1)" not in custom


def test_privacy_notice_without_any_statement(client):
    assert (
        "The data controller is the organisation that runs Jointly." in client.get("/privacy").text
    )
