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
    post(admin, f"/staff/statements/{sid}/close", {"confirm": "yes"})
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


# ---------------------------------------------------------------- seeded content that works


def test_the_source_decides_what_is_published_at_seed():
    from petition.models import UpdateKind
    from petition.seed import parse_campaign_page

    items = parse_campaign_page(
        "## Read more: recovery\n\n"
        "## Synergy Days 2025\n\nRegister: [Synergy Days 2025](https://synergy.example/2025)\n\n"
        "## A voice\n\n“We are in.” – Ada Lovelace, Analyst\n\n"
        "## More soon\n\nWe are very pleased to inform you"
    )
    read_more, event, quote, cut_off = items
    assert cut_off.draft
    assert read_more.draft and read_more.link_url == ""  # a pointer without its target
    assert event.kind is UpdateKind.EVENT and not event.draft
    assert event.link_url == "https://synergy.example/2025" and event.link_label == "Register"
    assert quote.kind is UpdateKind.QUOTE and not quote.draft
    assert quote.body == "“We are in.”" and quote.attribution == "Ada Lovelace, Analyst"


def _seeded_update(app, title: str) -> int:
    with app.app_context():
        return db.session.scalar(select(CampaignUpdate.id).where(CampaignUpdate.title == title))


def test_a_seeded_event_waits_for_its_link_then_shows_date_place_and_link(app, seeded, admin):
    event_id = _seeded_update(app, "Synergy Days 2023")
    refused = post(admin, f"/staff/updates/{event_id}/publish")
    assert "Add a link before publishing" in flashes(admin, refused)
    public = app.test_client()
    assert "Synergy Days 2023" not in public.get(f"/statements/{seeded}").text
    edited = post(
        admin,
        f"/staff/updates/{event_id}",
        {
            "kind": "event",
            "title": "Synergy Days 2023",
            "link_url": "https://synergy.example/register",
            "link_label": "Register",
            "event_date": "2023-06-14",
            "place": "Brussels",
        },
        token_from=f"/staff/updates/{event_id}",
    )
    assert edited.status_code == 303
    post(admin, f"/staff/updates/{event_id}/publish")
    page = public.get(f"/statements/{seeded}").text
    assert 'href="https://synergy.example/register"' in page
    assert '<time datetime="2023-06-14">14 June 2023</time> · Brussels' in page


def test_staff_preview_a_draft_as_the_public_will_see_it(app, seeded, admin):
    draft_id = _seeded_update(app, "3DP Business Innovators Meeting")
    preview = admin.get(f"/staff/updates/{draft_id}/preview")
    assert preview.status_code == 200
    assert "It is a draft: the public does not see it yet." in preview.text
    assert '<article class="update update-news">' in preview.text
    assert "<h3>3DP Business Innovators Meeting</h3>" in preview.text
    assert "We are very pleased to inform you" in preview.text
    # The public header and footer, as on the statement page.
    assert (
        "Interregional Innovation Investments joint statement" in preview.text.split("</header>")[0]
    )
    assert "3DP Business" not in app.test_client().get(f"/statements/{seeded}").text
    quote_id = _seeded_update(app, "Green Deal & Digitalization")
    assert "It is published." in admin.get(f"/staff/updates/{quote_id}/preview").text
