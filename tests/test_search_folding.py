"""Search that finds: accents, case, hyphens and apostrophes folded in the public and staff search,
"#5" as signature 5, counts in the right number, one empty message, open data with the filter."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from petition.models import SignatureState
from tests.flows import read_csv
from tests.htmltree import parse
from tests.staff_helpers import make_signature

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

ILE = "Conseil régional d’Île-de-France"
ARAGON = "Fundación d'Aragon"
OUEN = "Mairie de Saint-Ouen"


@pytest.fixture
def places(app, seeded):
    """Three approved signatories whose names and cities have accents, hyphens and apostrophes."""
    approved = SignatureState.APPROVED
    ids = {
        ILE: make_signature(
            app, seeded, name=ILE, email=None, country="FR", city="Paris", state=approved
        ),
        ARAGON: make_signature(
            app, seeded, name=ARAGON, email=None, country="ES", city="Zaragoza", state=approved
        ),
        OUEN: make_signature(
            app, seeded, name=OUEN, email=None, country="FR", city="Saint-Ouen", state=approved
        ),
    }
    return seeded, ids


def public_names(client, slug, **query) -> list[str]:
    response = client.get(f"/statements/{slug}/signatories", query_string=query)
    assert response.status_code == 200
    return [s.text for s in parse(response.text).find_all("span", class_="org-name")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ile de france", [ILE]),
        ("Île-de-France", [ILE]),
        ("ILE-DE-FRANCE", [ILE]),
        ("d'ile", [ILE]),
        ("regional d ile", [ILE]),
        ("d Aragon", [ARAGON]),
        ("d'Aragon", [ARAGON]),
        ("d’aragon", [ARAGON]),
        ("fundacion", [ARAGON]),
        ("saint ouen", [OUEN]),  # name and city both say it: listed once
        ("Saint-Ouen", [OUEN]),
        ("saint  -  ouen", [OUEN]),
        ("paris", [ILE]),  # by city
        ("france paris", []),  # never across the name and the city
        ("-", []),  # punctuation alone names nothing
    ],
)
def test_public_search_folds_accents_hyphens_and_apostrophes(client, places, query, expected):
    slug, _ = places
    assert public_names(client, slug, q=query) == expected


def test_staff_search_folds_too(moderator, places):
    slug, ids = places
    for query, expected in (("ile de france", ILE), ("saint ouen", OUEN), ("d aragon", ARAGON)):
        page = moderator.get("/staff/signatures", query_string={"q": query}).get_data(as_text=True)
        rows = parse(page).find("table", class_="moderation-table").find("tbody").find_all("tr")
        assert [r.get("id") for r in rows] == [f"row-{ids[expected]}"], query


def staff_rows(moderator, query: str) -> list[str]:
    page = moderator.get("/staff/signatures", query_string={"q": query}).get_data(as_text=True)
    table = parse(page).find("table", class_="moderation-table")
    if table is None:
        assert "No signature matches." in page
        return []
    return [r.get("id") for r in table.find("tbody").find_all("tr")]


def test_hash_number_finds_that_signature_only(app, seeded, moderator):
    first = make_signature(app, seeded, name="Alpha Org", email="a@alpha.example")
    numbered = [
        make_signature(app, seeded, name=f"Cluster {first} Plus", email=f"c{i}@c{i}.example")
        for i in range(2)
    ]
    assert staff_rows(moderator, f"#{first}") == [f"row-{first}"]
    assert staff_rows(moderator, f"# {numbered[1]}") == [f"row-{numbered[1]}"]
    # A bare number is still looked for in the names as well.
    assert set(staff_rows(moderator, str(first))) == {f"row-{i}" for i in [first, *numbered]}
    assert staff_rows(moderator, "#999999") == []
    assert staff_rows(moderator, "#12345678901234567890") == []


def result_count(client, slug, **query) -> str:
    response = client.get(f"/statements/{slug}/signatories", query_string=query)
    return " ".join(parse(response.text).find("p", class_="result-count").text.split())


def test_counts_in_the_singular_and_plural_and_one_empty_message(client, places):
    slug, _ = places
    assert result_count(client, slug, q="saint ouen").startswith("1 signatory matches.")
    assert result_count(client, slug, country="FR").startswith("2 signatories match.")
    total = result_count(client, slug)
    assert total.split()[1] == "signatories." and "match" not in total
    empty = client.get(f"/statements/{slug}/signatories", query_string={"q": "zzz"}).text
    assert result_count(client, slug, q="zzz").startswith("No signatory matches.")
    assert empty.count("No signatory matches") == 1
    assert "0 signatories" not in empty


def open_data_links(client, slug, **query) -> dict[str, str]:
    response = client.get(f"/statements/{slug}/signatories", query_string=query)
    status = parse(response.text).find("p", class_="result-count")
    return {a.text: a.get("href") for a in status.find_all("a") if a.text in ("JSON", "CSV")}


def test_open_data_links_carry_the_filter_and_the_endpoints_honour_it(client, places):
    slug, _ = places
    everything = client.get(f"/statements/{slug}/signatories.json").get_json()
    assert everything["count"] >= 3 and len(everything["signatories"]) == everything["count"]

    links = open_data_links(client, slug, q="ile de france", country="FR", sort="name")
    for href in links.values():
        args = parse_qs(urlsplit(href).query)
        assert args == {"q": ["ile de france"], "country": ["FR"]}, href
    filtered = client.get(links["JSON"])
    data = json.loads(filtered.get_data(as_text=True))
    # The documented format, only fewer rows.
    assert set(data) == set(everything) and data["statement"] == everything["statement"]
    assert data["count"] == 1 and [r["organisation_name"] for r in data["signatories"]] == [ILE]
    assert set(data["signatories"][0]) == set(everything["signatories"][0])
    assert (
        filtered.headers["ETag"]
        != client.get(f"/statements/{slug}/signatories.json").headers["ETag"]
    )
    rows = read_csv(client.get(links["CSV"]).get_data())
    assert [r["organisation_name"] for r in rows] == [ILE]
    by_type = read_csv(
        client.get(f"/statements/{slug}/signatories.csv", query_string={"q": "saint-ouen"}).data
    )
    assert [r["organisation_name"] for r in by_type] == [OUEN]
    # Without a filter, the links are the plain ones and the data is the whole list.
    plain = open_data_links(client, slug)
    assert all("?" not in href for href in plain.values())
    assert len(read_csv(client.get(plain["CSV"]).get_data())) == everything["count"]


def test_the_search_key_follows_every_write(app, client, seeded, moderator):
    """Signed on the form, corrected by staff: the search finds what is stored now, not before."""
    from tests.conftest import valid_form
    from tests.flows import confirm, post_form
    from tests.staff_helpers import get_signature, post

    form = valid_form(email="key@example.org", organisation_name="Ville d’Évry-Courcouronnes")
    assert post_form(client, seeded, form).status_code == 302
    sid = confirm(app, client, "key@example.org")
    assert staff_rows(moderator, "evry courcouronnes") == [f"row-{sid}"]
    response = post(
        moderator,
        f"/staff/signatures/{sid}/edit",
        {
            "organisation_name": "Communauté d’agglomération Grand Paris Sud",
            "organisation_type": form["organisation_type"],
            "country": form["country"],
            "city": "Saint-Denis",
            "website": form["website"],
            "comment": "",
            "note": "",
            "row_version": str(get_signature(app, sid).row_version),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert staff_rows(moderator, "evry courcouronnes") == []
    assert staff_rows(moderator, "communaute d agglomeration") == [f"row-{sid}"]
    assert staff_rows(moderator, "saint denis") == [f"row-{sid}"]
