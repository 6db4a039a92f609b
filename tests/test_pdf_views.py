"""The PDF's public routes (latest, versions, conditional GET and ranges) and the staff's PDF pages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from petition.statements.service import load_statement
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve, fetch, latest_pdf, pdf_text, versions
from tests.staff_helpers import post, signed_in

# ---------------------------------------------------------------- integer overflow in a URL


@pytest.mark.parametrize("number", ["99999999999", "1" + "0" * 25])
def test_pdf_version_number_beyond_the_database_integer_is_404(client, seeded, number):
    # 99999999999 overflowed PostgreSQL's int4, 10**25 SQLite's 64-bit integer: both were a 500.
    response = client.get(f"/statements/{seeded}/versions/{number}.pdf")
    assert response.status_code == 404
    assert client.head(f"/statements/{seeded}/versions/{number}.pdf").status_code == 404


def test_no_pdf_yet_is_a_clear_404_and_no_link(app, client, tmp_path):
    statement_md = (
        Path(__file__).parent.parent / "petition/content/interregional-innovation-investments.md"
    ).read_text()
    with app.app_context():
        load_statement(statement_md)
    page = client.get(f"/statements/{SLUG}").get_data(as_text=True)
    assert "statement.pdf" not in page
    response = fetch(client, f"/statements/{SLUG}/statement.pdf")
    assert response.status_code == 404
    assert "has not been generated yet" in response.get_data(as_text=True)


def test_statement_page_points_to_the_accessible_list_next_to_the_pdf(client, seeded):
    # The PDF is untagged (ReportLab writes no structure tree): the page says where to read instead.
    page = client.get(f"/statements/{seeded}").get_data(as_text=True)
    assert "statement.pdf" in page
    assert "is not tagged for screen readers" in page
    assert re.search(
        rf'the <a href="/statements/{seeded}/[^"]*">list of signatories</a> on this site is the '
        "accessible version",
        page,
    )


def test_conditional_get_head_and_ranges(app, client, seeded):
    url = f"/statements/{SLUG}/statement.pdf"
    full = fetch(client, url)
    etag = full.headers["ETag"]
    assert fetch(client, url, headers={"If-None-Match": etag}).status_code == 304
    assert (
        fetch(client, url, headers={"If-Modified-Since": full.headers["Last-Modified"]}).status_code
        == 304
    )
    assert fetch(client, url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    head = fetch(client, url, method="HEAD")
    assert head.status_code == 200
    assert head.data == b""
    assert int(head.headers["Content-Length"]) == len(full.data)
    assert head.headers["ETag"] == etag

    part = fetch(client, url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.data == full.data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.data)}"
    tail = fetch(client, url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == full.data[-50:]
    bad = fetch(client, url, headers={"Range": f"bytes={len(full.data) + 10}-"})
    assert bad.status_code == 416


def test_versions_page_sha_matches_downloads(app, client, seeded, tmp_path):
    sig = add_verified(app, "Politechnika Łódzka", city="Łódź")
    approve(app, sig)
    wait_jobs(app)
    rows = versions(app)
    assert [v.number for v in rows] == [1, 2]
    page = client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)
    for version in rows:
        data = fetch(client, f"/statements/{SLUG}/versions/{version.number}.pdf").data
        digest = hashlib.sha256(data).hexdigest()
        assert digest == version.file_sha256
        assert digest in page
    assert fetch(client, f"/statements/{SLUG}/versions/99.pdf").status_code == 404
    assert "Politechnika Łódzka" in pdf_text(latest_pdf(client), tmp_path)
    assert "Politechnika Łódzka" not in pdf_text(
        fetch(client, f"/statements/{SLUG}/versions/1.pdf").data, tmp_path
    )


@pytest.mark.parametrize(
    "path",
    [
        "/statements/nope/statement.pdf",
        "/statements/nope/versions",
        "/statements/nope/versions/1.pdf",
    ],
)
def test_unknown_statement_pdf_routes_are_404(client, path):
    assert fetch(client, path).status_code == 404


def test_staff_see_versions_and_build_log_and_can_queue_a_rebuild(app, seeded, monkeypatch):
    from petition.pdf import layout as pdf_package

    staff_client = signed_in(app, "mod@example.org", "moderator")
    real_render = pdf_package.render_statement_pdf

    def broken(*args, **kwargs):
        raise RuntimeError("disk quota <exceeded>")

    monkeypatch.setattr(pdf_package, "render_statement_pdf", broken)
    response = post(staff_client, "/staff/pdf/1/rebuild")
    assert response.status_code == 302
    wait_jobs(app)
    page = staff_client.get("/staff/pdf").get_data(as_text=True)
    assert "Failed" in page
    assert "disk quota &lt;exceeded&gt;" in page  # escaped, never raw markup
    assert "Staff asked for a rebuild" in page
    [first] = versions(app)
    assert first.file_sha256 in page
    assert "/staff/pdf/1/versions/1.pdf" in page  # staff download (also withdrawn, delivered ones)

    monkeypatch.setattr(pdf_package, "render_statement_pdf", real_render)
    post(staff_client, "/staff/pdf/1/rebuild")
    wait_jobs(app)
    assert len(versions(app)) == 2
    assert post(staff_client, "/staff/pdf/999/rebuild").status_code == 404
    assert staff_client.post("/staff/pdf/1/rebuild").status_code == 400  # no CSRF token
    assert app.test_client().get("/staff/pdf").status_code == 302  # anonymous: to sign-in


def test_hostile_slugs_on_the_pdf_route_are_404(client, seeded):
    for slug in ("x%00y", "%ff%fe", "a" * 500, "..%2F..%2Fetc%2Fpasswd", "<script>"):
        assert fetch(client, f"/statements/{slug}/statement.pdf").status_code == 404, slug
