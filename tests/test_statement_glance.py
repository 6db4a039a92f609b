"""Who signed, at a glance, on the statement page (issue 12.6): the map of Europe coloured by
approved signatories per country, its table, the counts by type and the line over time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition.extensions import db
from petition.models import Signature, SignatureState, utcnow
from petition.signatories.glance import MAP_FILE, map_class
from tests.flows import manage_link, sign_confirm_approve, withdraw_by_manage_link
from tests.htmltree import parse
from tests.staff_helpers import make_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def glance_of(client, slug: str):
    tree = parse(client.get(f"/statements/{slug}").get_data(as_text=True))
    return tree.find("section", class_="glance")


def on_map(section) -> dict[str, tuple[int, str, str]]:
    """country → (count, class, title) of every shape and point of the map."""
    found = {}
    for el in [*section.find_all("path"), *section.find_all("circle")]:
        code = el.get("data-country")
        if code:
            title = el.find("title").text
            found[code] = (int(el.get("data-count")), el.get("class"), title)
    return found


def test_countries_are_coloured_by_their_approved_signatories(client, listed):
    section = glance_of(client, listed)
    shapes = on_map(section)
    # The founders (4 in Belgium) and tests/listing.py's rows: PL 3, FR, ES, DE 1 each.
    assert shapes["BE"] == (4, "c2", "Belgium: 4")
    assert shapes["PL"] == (3, "c2", "Poland: 3")
    assert shapes["FR"][:2] == (1, "c1") and shapes["DE"][:2] == (1, "c1")
    assert shapes["IT"] == (0, "c0", "Italy: 0")
    assert shapes["MT"][:2] == (0, "c0")  # a microstate is a point, still there
    assert {"UA", "NO", "CH", "GB", "TR", "XK", "LU", "CY"} <= set(shapes)
    table = {
        row.find("th").text: row.find("td").text
        for row in section.find("details", class_="glance-table").find_all("tr")
        if row.find("td") is not None
    }
    assert table == {"Belgium": "4", "Poland": "3", "France": "1", "Spain": "1", "Germany": "1"}
    svg = section.find("svg")
    assert svg.get("role") == "img" and svg.get("aria-labelledby")
    assert "10 signatories in 5 countries" in section.normalised_text


def test_only_approved_signatories_count(app, client, listed):
    for state in (SignatureState.VERIFIED, SignatureState.REJECTED, SignatureState.PENDING_EMAIL):
        make_signature(
            app,
            listed,
            name=f"Glance {state}",
            email=f"{state}@glance.example",
            state=state,
            country="IT",
        )
    assert on_map(glance_of(client, listed))["IT"][0] == 0
    sign_confirm_approve(
        app,
        client,
        listed,
        email="it@glance.example",
        country="IT",
        organisation_name="Glance Italia",
    )
    assert on_map(glance_of(client, listed))["IT"][:2] == (1, "c1")
    withdraw_by_manage_link(client, manage_link(app, "it@glance.example"))
    assert on_map(glance_of(client, listed))["IT"][0] == 0


def test_types_and_the_line_over_time(app, client, listed):
    section = glance_of(client, listed)
    bars = {
        li.get("data-type"): li.find("span", class_="type-count").text
        for li in section.find_all("li")
        if li.get("data-type")
    }
    assert bars == {"region": "3", "cluster": "3", "network": "4"}
    assert section.find("svg", class_="spark") is None  # one day: no line yet
    with app.app_context():
        ids = db.session.scalars(select(Signature.id).order_by(Signature.id)).all()
        for days_ago, signature_id in zip((30, 20, 10), ids, strict=False):
            db.session.execute(
                update(Signature)
                .where(Signature.id == signature_id)
                .values(approved_at=utcnow() - timedelta(days=days_ago))
            )
        db.session.execute(
            update(Signature.__table__.metadata.tables["statements"]).values(list_version=99)
        )
        db.session.commit()
    section = glance_of(client, listed)
    points = section.find("svg", class_="spark").find("polyline").get("points").split()
    assert len(points) == 4  # three earlier days and today
    heights = [float(p.split(",")[1]) for p in points]
    assert heights == sorted(heights, reverse=True)  # the cumulative count only rises
    assert "10 signatories since" in section.normalised_text


def test_nothing_while_the_list_is_embargoed_or_empty(app, client, seeded):
    with app.app_context():
        db.session.execute(update(Signature).values(state=SignatureState.VERIFIED))
        db.session.commit()
    assert glance_of(client, seeded) is None


def test_classes_and_the_shipped_map():
    assert [map_class(n) for n in (0, 1, 2, 4, 5, 9, 10, 24, 25, 10_000)] == [
        0,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
    ]
    assert MAP_FILE.stat().st_size < 60_000


def test_the_map_reads_well_in_chromium(browser, live_url):
    from tests.conftest import PHONE
    from tests.test_accessibility import DESKTOP, audit

    for viewport, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(live_url)
        box = page.locator(".glance-map svg").bounding_box()
        assert box and 0 < box["width"] <= viewport["width"]
        page.locator(".glance").screenshot(path=f"/tmp/glance-{name}.png")
        context.close()
    assert audit(browser, live_url) == []
