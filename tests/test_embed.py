"""The counter other sites frame (/statements/<slug>/embed) and count.json (issue 12.3)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port
from tests.flows import manage_link, sign_confirm_approve, withdraw_by_manage_link
from tests.htmltree import parse

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def count_shown(html: str) -> str:
    return parse(html).find("p", class_="embed-count").find("strong").text.strip()


def test_embed_page_shows_count_title_and_a_sign_button_for_a_new_tab(client, listed):
    response = client.get(f"/statements/{listed}/embed")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert count_shown(page) == "10"
    assert "Innovation investments in interregional value chains" in page
    tree = parse(page)
    button = tree.find("a", class_="embed-button")
    assert button.get("href").endswith(f"/statements/{listed}/sign")
    assert button.get("target") == "_blank" and button.get("rel") == "noopener"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["ETag"]


def test_only_the_embed_page_may_be_framed(client, listed):
    embed = client.get(f"/statements/{listed}/embed")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers
    for path in (f"/statements/{listed}", f"/statements/{listed}/sign", "/staff/login"):
        other = client.get(path)
        assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"], path
        assert other.headers["X-Frame-Options"] == "DENY", path


def test_theme_and_language_options(client, listed):
    dark = client.get(f"/statements/{listed}/embed?theme=dark").get_data(as_text=True)
    assert 'class="embed embed-dark"' in dark
    for odd in ("?theme=%3Cscript%3E", "?theme=", "?lang=xx-%00", "?lang=" + "d" * 500):
        response = client.get(f"/statements/{listed}/embed{odd}")
        assert response.status_code == 200
        assert 'class="embed embed-light"' in response.get_data(as_text=True)
        assert "<script" not in response.get_data(as_text=True)
    assert client.get("/statements/no-such-statement/embed").status_code == 404


def test_count_json_is_readable_by_any_site_and_follows_the_list(app, client, listed):
    response = client.get(f"/statements/{listed}/count.json")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    data = response.get_json()
    assert data["count"] == 10
    assert data["statement"]["slug"] == listed
    assert data["url"].endswith(f"/statements/{listed}")
    assert data["updated_at"].endswith("Z")
    etag = response.headers["ETag"]
    assert (
        client.get(f"/statements/{listed}/count.json", headers={"If-None-Match": etag}).status_code
        == 304
    )

    sign_confirm_approve(
        app, client, listed, email="new@counter.example", organisation_name="Counter Cluster"
    )
    after = client.get(f"/statements/{listed}/count.json", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.get_json()["count"] == 11
    assert count_shown(client.get(f"/statements/{listed}/embed").get_data(as_text=True)) == "11"

    withdraw_by_manage_link(client, manage_link(app, "new@counter.example"))
    assert client.get(f"/statements/{listed}/count.json").get_json()["count"] == 10
    assert client.get("/statements/nothing-here/count.json").status_code == 404


def test_the_console_shows_the_snippet_to_copy(admin, listed):
    from tests.staff_helpers import statement_id

    page = admin.get(f"/staff/statements/{statement_id(admin.application, listed)}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    snippet = parse(text).by_id("embed-snippet").text
    assert snippet.startswith("<iframe src=") and f"/statements/{listed}/embed" in snippet


# ---------------------------------------------------------------- in a browser, framed by another origin


class _PartnerSite(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def partner_site():
    """A page on another origin (another port) that frames what the test gives it."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _PartnerSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_partner_site_frames_the_counter_but_not_the_statement(browser, live_url, partner_site):
    from tests.test_accessibility import audit

    _PartnerSite.page = (
        "<!doctype html><title>Partner</title>"
        f'<iframe id="counter" name="counter" src="{live_url}/embed?theme=dark" width="360" height="220"></iframe>'
        f'<iframe id="page" name="page" src="{live_url}" width="360" height="220"></iframe>'
    ).encode()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{partner_site.server_port}/", wait_until="load")
        counter = page.frame(name="counter")
        assert counter is not None
        counter.wait_for_selector(".embed-count strong")
        expected = page.evaluate(
            "url => fetch(url).then(r => r.json()).then(d => String(d.count))",
            f"{live_url}/count.json",
        )
        assert counter.inner_text(".embed-count strong").strip() == expected
        # Chromium replaces a refused frame with its error page: the statement never loads.
        blocked = page.frame(name="page")
        assert blocked is None or blocked.query_selector(".site-header") is None
    finally:
        page.close()
    for theme in ("light", "dark"):
        assert audit(browser, f"{live_url}/embed?theme={theme}") == [], theme


def test_open_data_from_the_kept_page_keeps_its_cors_header(app, client, listed):
    """Within PAGE_FRESH_SECONDS a page is answered before its view runs: the header must be kept."""
    app.extensions["page_cache"].fresh_seconds = 5
    for path in ("count.json", "signatories.json", "embed"):
        first = client.get(f"/statements/{listed}/{path}")
        again = client.get(f"/statements/{listed}/{path}")
        assert again.get_data() == first.get_data()
        if path != "embed":
            assert again.headers.get("Access-Control-Allow-Origin") == "*", path
        else:
            assert "X-Frame-Options" not in again.headers
