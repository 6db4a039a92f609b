"""The open-data page (issue 12.5): every field explained, the licence staff chose (on the page and
in a Link header of both files), the way to keep a copy up to date."""

from __future__ import annotations

import pytest

from petition.signatories.service import OPEN_DATA_FIELDS
from petition.signatories.views import FIELD_MEANINGS
from tests.htmltree import parse
from tests.staff_helpers import audit_rows, post, statement_id

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def test_the_page_explains_every_field_of_the_files(client, listed):
    assert [name for name, _meaning in FIELD_MEANINGS] == list(OPEN_DATA_FIELDS)
    response = client.get(f"/statements/{listed}/data")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public") and response.headers["ETag"]
    assert "Set-Cookie" not in response.headers
    tree = parse(response.get_data(as_text=True))
    documented = [row.find("code").text for row in tree.find_all("th", scope="row")]
    assert documented == list(OPEN_DATA_FIELDS)
    hrefs = [a.get("href") for a in tree.find_all("a")]
    assert f"/statements/{listed}/signatories.json" in hrefs
    assert f"/statements/{listed}/signatories.csv" in hrefs
    text = tree.normalised_text
    assert "If-None-Match" in text and "304" in text
    assert "10 organisations are in the list today." in text
    for code in ("region", "university", "network"):
        assert code in text


def test_statement_and_list_pages_link_to_it(client, listed):
    for path in (f"/statements/{listed}", f"/statements/{listed}/signatories"):
        hrefs = [
            a.get("href") for a in parse(client.get(path).get_data(as_text=True)).find_all("a")
        ]
        assert f"/statements/{listed}/data" in hrefs, path


def test_staff_choose_the_licence_and_every_file_names_it(app, client, listed, admin):
    page = parse(client.get(f"/statements/{listed}/data").get_data(as_text=True))
    assert page.find("a", rel="license").get("href") == CC0
    for name in ("signatories.json", "signatories.csv"):
        assert (
            client.get(f"/statements/{listed}/{name}").headers["Link"] == f'<{CC0}>; rel="license"'
        )
    etag = client.get(f"/statements/{listed}/signatories.json").headers["ETag"]

    sid = statement_id(app, listed)
    response = post(
        admin,
        f"/staff/statements/{sid}",
        {"is_open": "y", "data_licence": "CC-BY-4.0"},
        token_from=f"/staff/statements/{sid}",
    )
    assert response.status_code == 303
    [event] = audit_rows(app, action="statement_settings")
    assert event.before == {"data_licence": "CC0-1.0"} and event.after == {
        "data_licence": "CC-BY-4.0"
    }

    page = parse(client.get(f"/statements/{listed}/data").get_data(as_text=True))
    assert page.find("a", rel="license").get("href") == CC_BY
    assert "Please name the source" in page.normalised_text
    fresh = client.get(f"/statements/{listed}/signatories.json", headers={"If-None-Match": etag})
    assert fresh.status_code == 200, "a new licence is a new version of the files"
    assert fresh.headers["Link"] == f'<{CC_BY}>; rel="license"'
    assert (
        client.get(f"/statements/{listed}/signatories.csv").headers["Link"]
        == f'<{CC_BY}>; rel="license"'
    )

    # A licence that is not on the list is a form error, and changes nothing.
    refused = post(admin, f"/staff/statements/{sid}", {"is_open": "y", "data_licence": "MIT"})
    assert refused.status_code == 422
    assert (
        client.get(f"/statements/{listed}/signatories.csv").headers["Link"]
        == f'<{CC_BY}>; rel="license"'
    )


def test_unknown_statement_has_no_data_page(client, seeded):
    assert client.get("/statements/no-such-thing/data").status_code == 404
