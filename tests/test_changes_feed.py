"""The public record of changes and the Atom feeds (issue 12.4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import update

from petition.extensions import db
from petition.models import CampaignUpdate
from tests.conftest import wait_jobs
from tests.flows import manage_link, sign_confirm_approve, withdraw_by_manage_link
from tests.htmltree import parse
from tests.staff_helpers import act, statement_id

ATOM = "{http://www.w3.org/2005/Atom}"


def record(client, slug: str, **query):
    response = client.get(f"/statements/{slug}/changes", query_string=query)
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def days(tree) -> list:
    return tree.find_all("section", class_="change-day")


def names_in(section) -> list[str]:
    return [el.text for el in section.find_all("span", class_="org-name")]


def feed(client, slug: str, name: str):
    response = client.get(f"/statements/{slug}/{name}")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert response.headers["ETag"] and response.headers["Cache-Control"].startswith("public")
    root = ET.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}id").text and root.find(f"{ATOM}updated").text
    rels = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert rels["self"].endswith(f"/statements/{slug}/{name}")
    return root


def test_joins_withdrawals_and_versions_by_day(app, client, seeded):
    sign_confirm_approve(
        app, client, seeded, email="one@changes.example", organisation_name="Joined Cluster One"
    )
    sign_confirm_approve(
        app, client, seeded, email="two@changes.example", organisation_name="Joined Region Two"
    )
    wait_jobs(app)
    [today, *_] = days(record(client, seeded))
    assert {"Joined Cluster One", "Joined Region Two"} <= set(names_in(today))
    text = today.normalised_text
    assert "Version 1 of the statement was published" in text
    assert "PDF version 1 was built" in text
    assert "withdrew" not in text

    withdraw_by_manage_link(client, manage_link(app, "two@changes.example"))
    [today, *_] = days(record(client, seeded))
    assert "Joined Region Two" not in names_in(today)
    assert "Joined Cluster One" in names_in(today)
    assert "1 organisation withdrew its endorsement." in today.normalised_text
    # The withdrawn organisation is named nowhere on the page.
    assert "Joined Region Two" not in record(client, seeded).normalised_text


def test_an_unpublished_organisation_leaves_its_day(app, client, seeded, admin):
    sid = sign_confirm_approve(
        app, client, seeded, email="gone@changes.example", organisation_name="Unpublished Org"
    )
    assert "Unpublished Org" in names_in(days(record(client, seeded))[0])
    response = act(admin, sid, "unpublish", expected_state="approved", reason="Not an organisation")
    assert response.status_code in (302, 303), response.status_code
    assert "Unpublished Org" not in record(client, seeded).normalised_text


def test_the_record_is_bounded_and_pages_back(client, seeded, app):
    tree = record(client, seeded, before="1999-01-01")
    assert days(tree) == [] and "Nothing has changed yet." in tree.normalised_text
    assert days(record(client, seeded, before="not-a-date"))  # ignored, not an error
    assert client.get("/statements/none-here/changes").status_code == 404


def test_signatories_feed_has_the_newest_approved_organisations(app, client, seeded):
    sign_confirm_approve(
        app,
        client,
        seeded,
        email="feed@changes.example",
        organisation_name="Feed Łódź Cluster",
        city="Łódź",
    )
    root = feed(client, seeded, "signatories.atom")
    entries = root.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert "Feed Łódź Cluster" in titles
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids))
    again = ET.fromstring(client.get(f"/statements/{seeded}/signatories.atom").data)
    assert [e.find(f"{ATOM}id").text for e in again.findall(f"{ATOM}entry")] == ids
    # Contact details never reach the feed.
    assert b"feed@changes.example" not in client.get(f"/statements/{seeded}/signatories.atom").data
    withdraw_by_manage_link(client, manage_link(app, "feed@changes.example"))
    titles = [
        e.find(f"{ATOM}title").text
        for e in feed(client, seeded, "signatories.atom").findall(f"{ATOM}entry")
    ]
    assert "Feed Łódź Cluster" not in titles


def test_updates_feed_has_published_updates_only(app, client, seeded):
    with app.app_context():
        published = db.session.query(CampaignUpdate).filter_by(is_published=True).count()
        drafts = [u.title for u in db.session.query(CampaignUpdate).filter_by(is_published=False)]
    root = feed(client, seeded, "updates.atom")
    titles = [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]
    assert len(titles) == published > 0
    assert not set(drafts) & set(titles)
    with app.app_context():
        db.session.execute(update(CampaignUpdate).values(is_published=False))
        db.session.commit()
    assert feed(client, seeded, "updates.atom").findall(f"{ATOM}entry") == []


def test_statement_page_links_the_record_and_the_feeds(client, seeded, app):
    html = client.get(f"/statements/{seeded}").get_data(as_text=True)
    tree = parse(html)
    alternates = [el.get("href") for el in tree.find_all("link", rel="alternate")]
    assert f"/statements/{seeded}/signatories.atom" in alternates
    assert f"/statements/{seeded}/updates.atom" in alternates
    hrefs = [a.get("href") for a in tree.find_all("a")]
    assert f"/statements/{seeded}/changes" in hrefs
    assert statement_id(app, seeded)
