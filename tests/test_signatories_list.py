"""The public signatory list: order, grouping, sorting, search (also by city), filters, pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petition.extensions import db
from tests.htmltree import parse
from tests.listing import FOUNDING, PUBLIC_ORDER, ROWS


def test_city_search_folds_accents_and_case_in_every_script(app, client, seeded):
    from tests.staff_helpers import make_signature

    make_signature(app, seeded, name="Uniwersytet Łódzki", email=None, city="Łódź")
    make_signature(app, seeded, name="Πανεπιστήμιο", email=None, city="ΘΕΣΣΑΛΟΝΊΚΗ", country="GR")
    make_signature(app, seeded, name="Політехніка", email=None, city="Київ", country="UA")
    from petition.core.db import write_transaction
    from petition.models import Signature, SignatureState

    @write_transaction
    def approve_all():
        for sig in db.session.scalars(select(Signature)):
            sig.state = SignatureState.APPROVED

    with app.app_context():
        approve_all()
    url = f"/statements/{seeded}/signatories"
    for query, expected in (
        ("lodz", "Uniwersytet Łódzki"),
        ("ŁÓDŹ", "Uniwersytet Łódzki"),
        ("θεσσαλονικη", "Πανεπιστήμιο"),
        ("київ", "Політехніка"),
        ("КИЇВ", "Політехніка"),
    ):
        page = client.get(url, query_string={"q": query}).get_data(as_text=True)
        assert expected in page, query
        assert "1 signatory" in page, query


pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def names_on(response) -> list[str]:
    assert response.status_code == 200
    return [span.text for span in parse(response.text).find_all("span", class_="org-name")]


def group_headings(response) -> list[str]:
    return [h.text for h in parse(response.text).find_all("h2", class_="group-heading")]


# ---------------------------------------------------------------- the signatory list


def test_list_order_and_grouping_by_type(client, listed):
    response = client.get(f"/statements/{listed}/signatories")
    assert names_on(response) == PUBLIC_ORDER
    assert group_headings(response) == [
        "Regions",
        "Cluster organisations",
        "Networks and associations",
    ]
    assert "10 signatories." in response.text


def test_sort_options(client, listed):
    url = f"/statements/{listed}/signatories"
    by_country = client.get(url, query_string={"sort": "country"})
    assert names_on(by_country) == [
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "UAS4Europe",
        "Vanguard Initiative",
        "Région Grand Est",
        "Zebra Cluster",
        "Ąbc Cluster Polska",
        "Bcd Cluster Polska",
        "Łódzkie Region",
        "Aragón Regional Government",
    ]
    assert group_headings(by_country) == ["Belgium", "France", "Germany", "Poland", "Spain"]
    by_name = client.get(url, query_string={"sort": "name"})
    assert names_on(by_name) == [
        "Ąbc Cluster Polska",
        "Aragón Regional Government",
        "Bcd Cluster Polska",
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "Łódzkie Region",
        "Région Grand Est",
        "UAS4Europe",
        "Vanguard Initiative",
        "Zebra Cluster",
    ]
    assert group_headings(by_name) == []
    recent = client.get(url, query_string={"sort": "recent"})
    assert names_on(recent) == [r["organisation_name"] for r in reversed(ROWS)] + list(
        reversed(FOUNDING)
    )
    assert group_headings(recent) == []
    # The chosen order is shown as selected.
    assert "selected" in parse(by_name.text).find("option", value="name").attrs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lodz"}, ["Łódzkie Region"]),
        ({"q": "ŁÓDZKIE"}, ["Łódzkie Region"]),
        ({"q": "region grand"}, ["Région Grand Est"]),
        ({"q": "aragon"}, ["Aragón Regional Government"]),
        ({"q": "abc"}, ["Ąbc Cluster Polska"]),
        ({"q": "zaragoza"}, ["Aragón Regional Government"]),  # by city
        ({"q": "BRUSSELS"}, PUBLIC_ORDER[6:]),
        ({"q": "%"}, []),
        ({"country": "PL"}, ["Łódzkie Region", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"country": "pl"}, ["Łódzkie Region", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"type": "cluster"}, ["Zebra Cluster", "Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        ({"type": "cluster", "country": "PL"}, ["Ąbc Cluster Polska", "Bcd Cluster Polska"]),
        (
            {"q": "cluster", "country": "PL", "sort": "name"},
            ["Ąbc Cluster Polska", "Bcd Cluster Polska"],
        ),
        ({"type": "university"}, []),
    ],
)
def test_search_and_filters(client, listed, query, expected):
    response = client.get(f"/statements/{listed}/signatories", query_string=query)
    assert names_on(response) == expected
    status = " ".join(parse(response.text).find("p", class_="result-count").text.split())
    if len(expected) == 1:
        assert status.startswith("1 signatory matches.")
    elif expected:
        assert status.startswith(f"{len(expected)} signatories match.")
    else:  # one message, not a count of nought and a second sentence below it
        assert status.startswith("No signatory matches.")
        assert response.text.count("No signatory matches") == 1
        assert "0 signatories" not in response.text


def test_filter_choices_show_counts(client, listed):
    tree = parse(client.get(f"/statements/{listed}/signatories").text)
    countries = [o.normalised_text for o in tree.by_id("country").find_all("option")]
    assert countries == [
        "All countries",
        "Belgium (4)",
        "France (1)",
        "Germany (1)",
        "Poland (3)",
        "Spain (1)",
    ]
    types = [o.normalised_text for o in tree.by_id("type").find_all("option")]
    assert types == [
        "All types",
        "Regions (3)",
        "Cluster organisations (3)",
        "Networks and associations (4)",
    ]


@pytest.mark.config(SIGNATORIES_PER_PAGE=4)
def test_pagination(client, listed):
    url = f"/statements/{listed}/signatories"
    pages = [client.get(url, query_string={"page": n}) for n in (1, 2, 3)]
    seen = [names_on(p) for p in pages]
    assert seen == [PUBLIC_ORDER[:4], PUBLIC_ORDER[4:8], PUBLIC_ORDER[8:]]
    assert "Page 2 of 3" in pages[1].text
    nav = parse(pages[1].text).find("nav", class_="pagination")
    assert nav.find("a", rel="prev").get("href") == f"{url}?page=1"
    assert nav.find("a", rel="next").get("href") == f"{url}?page=3"
    assert parse(pages[0].text).find("a", rel="prev") is None
    assert parse(pages[2].text).find("a", rel="next") is None
    # A group continuing on the next page gets its heading again.
    assert group_headings(pages[1]) == ["Cluster organisations", "Networks and associations"]
    # Out-of-range pages show the nearest real page.
    assert names_on(client.get(url, query_string={"page": 99})) == PUBLIC_ORDER[8:]
    assert names_on(client.get(url, query_string={"page": -3})) == PUBLIC_ORDER[:4]
    # Filters and order are kept by the page links.
    filtered = client.get(url, query_string={"sort": "name", "q": "a", "page": 1})
    next_href = parse(filtered.text).find("a", rel="next").get("href")
    assert "sort=name" in next_href and "q=a" in next_href and "page=2" in next_href
