"""Statement administration in the console: embargo, closing and opening, campaign updates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from petition.extensions import db
from petition.models import CampaignUpdate, Statement, utcnow
from tests.staff_helpers import audit_rows, flashes, list_version, post, statement_id

# ---------------------------------------------------------------- statements and updates


def test_embargo_change_bumps_the_list_version_and_emits(app, seeded, admin, list_events):
    sid = statement_id(app, seeded)
    version = list_version(app, seeded)
    future = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    response = post(
        admin,
        f"/staff/statements/{sid}",
        {"is_open": "y", "list_public_from": future},
        token_from=f"/staff/statements/{sid}",
    )
    assert response.status_code == 303
    assert list_version(app, seeded) == version + 1
    assert list_events == [(sid, "embargo")]
    listing = app.test_client().get(f"/statements/{seeded}/signatories.json").get_json()
    assert listing["count"] == 0
    # Saving the same values changes nothing and emits nothing.
    post(admin, f"/staff/statements/{sid}", {"is_open": "y", "list_public_from": future})
    assert len(list_events) == 1
    closes_before_opens = post(
        admin,
        f"/staff/statements/{sid}",
        {"signing_opens_at": "2030-01-02T00:00", "signing_closes_at": "2030-01-01T00:00"},
    )
    assert closes_before_opens.status_code == 422
    [event] = audit_rows(app, action="statement_settings")
    assert list(event.after) == ["list_public_from"]


def test_close_and_open_signing(app, seeded, admin):
    sid = statement_id(app, seeded)
    post(admin, f"/staff/statements/{sid}/close")
    assert "closed to new signatures" in app.test_client().get(f"/statements/{seeded}").get_data(
        as_text=True
    )
    with app.app_context():
        assert not db.session.scalar(select(Statement.is_open).where(Statement.id == sid))
    post(admin, f"/staff/statements/{sid}/open")
    with app.app_context():
        assert db.session.scalar(select(Statement.is_open).where(Statement.id == sid))


def test_campaign_updates_lifecycle(app, seeded, admin):
    sid = statement_id(app, seeded)
    url = f"/staff/statements/{sid}/updates"
    bad = post(
        admin,
        url,
        {"kind": "event", "title": "Register", "link_url": "javascript:alert(1)"},
        token_from=url,
    )
    assert bad.status_code == 422
    assert "http:// or https://" in bad.get_data(as_text=True)
    created = post(
        admin,
        url,
        {
            "kind": "event",
            "title": "Synergy Days 2024 <b>",
            "body": "Join us.",
            "link_url": "https://synergy.example/register",
            "link_label": "Register",
            "published_on": "2024-05-01",
        },
    )
    assert created.status_code == 303
    with app.app_context():
        update = db.session.scalar(
            select(CampaignUpdate).where(CampaignUpdate.title == "Synergy Days 2024 <b>")
        )
        update_id, published = update.id, update.is_published
    assert not published
    public = app.test_client()
    assert "Synergy Days 2024" not in public.get(f"/statements/{seeded}").get_data(as_text=True)
    post(admin, f"/staff/updates/{update_id}/publish")
    page = public.get(f"/statements/{seeded}").get_data(as_text=True)
    assert "Synergy Days 2024 &lt;b&gt;" in page
    assert 'href="https://synergy.example/register"' in page
    refused = post(admin, f"/staff/updates/{update_id}/delete")
    assert "Unpublish the update before deleting it" in flashes(admin, refused)
    edited = post(
        admin,
        f"/staff/updates/{update_id}",
        {"kind": "news", "title": "Synergy Days 2024", "link_url": "http://ok.example"},
        token_from=f"/staff/updates/{update_id}",
    )
    assert edited.status_code == 303
    post(admin, f"/staff/updates/{update_id}/unpublish")
    post(admin, f"/staff/updates/{update_id}/delete")
    with app.app_context():
        assert db.session.get(CampaignUpdate, update_id) is None
    actions = [e.action for e in audit_rows(app) if e.action.startswith("update_")]
    assert actions == [
        "update_created",
        "update_published",
        "update_edited",
        "update_unpublished",
        "update_deleted",
    ]
