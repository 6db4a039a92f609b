"""Open data (JSON and CSV), embargoes, and contact details that never become public."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition.extensions import db
from petition.models import Statement, utcnow
from petition.signatories.service import OPEN_DATA_FIELDS
from tests.flows import import_approved, read_csv, sign_confirm_approve
from tests.htmltree import parse
from tests.listing import PUBLIC_ORDER, ROWS

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- open data


def test_json_open_data_format(app, client, listed):
    response = client.get(f"/statements/{listed}/signatories.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert set(data) == {"statement", "count", "updated_at", "signatories"}
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == listed))
        sha = statement.current_version.sha256
    assert data["statement"] == {
        "slug": listed,
        "title": "Innovation investments in interregional value chains",
        "version_sha256": sha,
    }
    assert len(sha) == 64
    assert data["count"] == 10 == len(data["signatories"])
    assert [s["organisation_name"] for s in data["signatories"]] == PUBLIC_ORDER
    for row in data["signatories"]:
        assert set(row) == set(OPEN_DATA_FIELDS)
    lodz = data["signatories"][1]
    assert {k: v for k, v in lodz.items() if k != "approved_at"} == {
        "organisation_name": "Łódzkie Region",
        "organisation_type": "region",
        "organisation_type_label": "Regions",
        "country": "PL",
        "country_name": "Poland",
        "city": "Łódź",
        "website": "",
        "comment": "",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", lodz["approved_at"])
    assert data["updated_at"] == max(s["approved_at"] for s in data["signatories"])
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_json_etag_and_conditional_get(app, client, listed):
    url = f"/statements/{listed}/signatories.json"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    # Proxies that compress turn ETags weak; If-None-Match compares weakly (RFC 9110 13.1.2).
    assert client.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # The same validator serves the CSV (same list).
    assert (
        client.get(url.replace(".json", ".csv"), headers={"If-None-Match": etag}).status_code == 304
    )

    import_approved(
        app, listed, [{"organisation_name": "New Org", "organisation_type": "sme", "country": "IT"}]
    )
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["count"] == 11


def test_csv_open_data(app, client, listed):
    import_approved(
        app,
        listed,
        [
            {
                "organisation_name": '=HYPERLINK("http://evil.example","click")',
                "organisation_type": "company",
                "country": "IT",
                "city": "+39 Milano",
                "comment": "@everyone -1 is fine",
            },
            {
                "organisation_name": 'Comma, Quote " Org',
                "organisation_type": "company",
                "country": "IT",
                "city": "-Roma",
            },
        ],
    )
    response = client.get(f"/statements/{listed}/signatories.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="signatories-{listed}.csv"'
    )
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # a BOM, so spreadsheets read it as UTF-8
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(OPEN_DATA_FIELDS)
    rows = read_csv(raw)
    assert len(rows) == 12
    json_rows = client.get(f"/statements/{listed}/signatories.json").get_json()["signatories"]
    by_name = {r["organisation_name"]: r for r in rows}
    evil = by_name['\'=HYPERLINK("http://evil.example","click")']
    assert evil["city"] == "'+39 Milano"
    assert evil["comment"] == "'@everyone -1 is fine"
    assert by_name['Comma, Quote " Org']["city"] == "'-Roma"
    assert by_name["Łódzkie Region"]["city"] == "Łódź"
    # Same rows and order as the JSON, apart from the apostrophes.
    assert [r["organisation_name"].removeprefix("'") for r in rows] == [
        r["organisation_name"] for r in json_rows
    ]


def test_contact_details_are_never_public(app, client, seeded):
    secret_name = "Zbigniew Kontaktowy-Ukryty"
    secret_role = "Pełnomocnik Tajny Qwerty"
    secret_email = "hidden.contact.xyzzy@lodzkie.pl"
    sign_confirm_approve(
        app,
        client,
        seeded,
        contact_name=secret_name,
        contact_role=secret_role,
        email=secret_email,
        comment="Public words only",
    )
    import_approved(
        app,
        seeded,
        [
            {
                "organisation_name": "Imported Org",
                "organisation_type": "ngo",
                "country": "SE",
                "email": "imported.secret.plugh@example.org",
                "contact_name": "Imported Secret Person",
                "note": "internal note frobozz",
            }
        ],
    )
    secrets = [
        secret_name,
        secret_role,
        secret_email,
        "hidden.contact.xyzzy",
        "imported.secret.plugh",
        "Imported Secret Person",
        "frobozz",
    ]
    urls = [
        "/",
        f"/statements/{seeded}",
        f"/statements/{seeded}/signatories",
        f"/statements/{seeded}/signatories?sort=recent",
        f"/statements/{seeded}/signatories?q=Zbigniew",
        f"/statements/{seeded}/signatories?q=hidden.contact",
        f"/statements/{seeded}/signatories.json",
        f"/statements/{seeded}/signatories.csv",
        "/privacy",
    ]
    published = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert {"Łódzkie Region", "Imported Org"} <= {
        s["organisation_name"] for s in published["signatories"]
    }
    for url in urls:
        body = client.get(url).get_data().decode("utf-8")
        for secret in secrets:
            assert secret not in body, (url, secret)
            assert html.escape(secret) not in body, (url, secret)
        assert "contact_name" not in body and "contact_role" not in body, url
    for url in urls[6:8]:
        body = client.get(url).get_data().decode("utf-8")
        assert '"email"' not in body and ",email" not in body and "@" not in body, url
    # Searching by a contact's name finds nothing.
    assert (
        "No signatory matches."
        in client.get(f"/statements/{seeded}/signatories", query_string={"q": "Zbigniew"}).text
    )


def _embargo(app, slug: str, until) -> None:
    with app.app_context():
        db.session.execute(
            update(Statement).where(Statement.slug == slug).values(list_public_from=until)
        )
        db.session.commit()


def test_embargo_hides_the_list_everywhere(app, client, listed):
    etag_before = client.get(f"/statements/{listed}/signatories.json").headers["ETag"]
    until = (utcnow() + timedelta(days=10)).replace(hour=12)
    _embargo(app, listed, until)
    statement = client.get(f"/statements/{listed}").text
    assert f"The list of signatories will be published on {until.day} {until:%B %Y}." in statement
    assert "organisations have endorsed" not in statement
    assert "Latest signatories" not in statement
    assert "Sign the statement" in statement  # signing continues during the embargo
    listing = client.get(f"/statements/{listed}/signatories").text
    assert "will be published on" in listing
    for url in (
        f"/statements/{listed}",
        f"/statements/{listed}/signatories",
        f"/statements/{listed}/signatories?q=lodz",
        f"/statements/{listed}/signatories.csv",
        f"/statements/{listed}/signatories.json",
    ):
        body = client.get(url).get_data().decode("utf-8")
        for row in ROWS:
            assert row["organisation_name"] not in body, (url, row["organisation_name"])
    data = client.get(f"/statements/{listed}/signatories.json")
    assert data.get_json()["count"] == 0 and data.get_json()["signatories"] == []
    assert data.get_json()["updated_at"] is None
    assert data.headers["ETag"] != etag_before
    assert read_csv(client.get(f"/statements/{listed}/signatories.csv").get_data()) == []

    _embargo(app, listed, utcnow() - timedelta(seconds=1))
    assert client.get(f"/statements/{listed}/signatories.json").get_json()["count"] == 10
    count = parse(client.get(f"/statements/{listed}").text).find("p", class_="count")
    assert count.normalised_text == "10 organisations have endorsed this statement"
