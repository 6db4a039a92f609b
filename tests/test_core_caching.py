"""Pages a browser, a proxy and a CDN can cache: no cookie for anonymous visitors, public pages
with ETags that change exactly when their content can, 304s without rendering, fingerprinted
static files, compression, robots.txt, sitemap.xml, favicon.ico and HSTS."""

from __future__ import annotations

import gzip
import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import brotli
import pytest
from flask import Response, render_template_string, session, template_rendered
from sqlalchemy import event
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

from petition.core.caching import etag_for, public_page
from petition.extensions import db
from tests.conftest import (
    CSRF_RE,
    links_in,
    submit_sign,
    valid_form,
    wait_jobs,
)
from tests.flows import confirm, import_approved, withdraw_by_manage_link
from tests.staff_helpers import post, signed_in, statement_id

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = re.compile(r"public, max-age=60, s-maxage=60(, must-revalidate)?")
PUBLIC_PDF = re.compile(r"public, max-age=60, s-maxage=0, must-revalidate")
#: GET pages that show a form, whose CSRF token lives in the session cookie.
FORM_PAGES = {"signing.sign", "signing.lost_link_form"}
#: GET routes that are not shared pages: a monitor's live answer, pages after a visitor's own
#: action, emailed-token pages, and static files (cached by their own rules, tested below).
NOT_SHARED = {
    "health.healthz",
    "signing.check_email",
    "signing.lost_link_sent",
    "signing.confirm",
    "signing.withdraw",
    "signing.manage",
    "signing.confirm_address",
    "mailings.unsubscribe",
    "static",
    "identity.favicon",
    "identity.logo",
}


def public_get_urls(app, slug: str) -> dict[str, str]:
    """Every GET route outside /staff, from the URL map (a new route is covered as it comes),
    with the real statement, its first PDF version and unknown tokens."""
    adapter = app.url_map.bind("localhost")
    urls = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/staff"):
            continue
        values: dict[str, object] = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if name == "slug":
                values[name] = slug
            elif name == "filename":
                values[name] = "css/site.css"
            elif isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                values[name] = 1
            elif isinstance(converter, PathConverter):
                values[name] = "x"
            else:
                values[name] = "unknown-token-0123456789abcdefghijklmnopqrstuvwxyz"
        urls[rule.endpoint] = adapter.build(rule.endpoint, values)
    return urls


def shared_urls(app, slug: str) -> dict[str, str]:
    urls = public_get_urls(app, slug)
    return {e: u for e, u in urls.items() if e not in FORM_PAGES | NOT_SHARED}


# ---------------------------------------------------------------- no cookie, public headers


def test_no_public_get_sets_a_cookie_for_a_fresh_visitor(app, seeded):
    urls = public_get_urls(app, seeded)
    assert {"statements.statement", "signatories.signatories_csv", "pdf.pdf_versions"} <= set(urls)
    for endpoint, url in urls.items():
        response = app.test_client().get(url)
        assert response.status_code < 500, url
        cookie = response.headers.get("Set-Cookie")
        if endpoint in FORM_PAGES:
            # The forms' CSRF token: the only public GETs that set one (so this test sees them).
            assert cookie and cookie.startswith("session="), url
        else:
            assert cookie is None, (url, cookie)
        response.close()


def test_public_pages_open_data_and_pdf_are_cacheable_by_everyone(app, seeded):
    urls = shared_urls(app, seeded)
    assert {
        "statements.index",
        "statements.statement",
        "statements.privacy",
        "statements.robots_txt",
        "statements.sitemap_xml",
        "signatories.signatory_list",
        "signatories.signatories_json",
        "signatories.signatories_csv",
        "pdf.statement_pdf",
        "pdf.pdf_versions",
        "pdf.pdf_version",
    } <= set(urls)
    for endpoint, url in urls.items():
        # A PDF is kept by shared caches too, but revalidated every time (a version leaves
        # public view the moment an organisation it lists withdraws).
        public = PUBLIC_PDF if endpoint in ("pdf.statement_pdf", "pdf.pdf_version") else PUBLIC
        response = app.test_client().get(url)
        assert response.status_code == 200, url
        assert public.fullmatch(response.headers["Cache-Control"]), url
        etag = response.headers["ETag"]
        again = app.test_client().get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag, url
        assert public.fullmatch(again.headers["Cache-Control"]), url
        for answer in (response, again):
            assert "Set-Cookie" not in answer.headers, url
            assert "cookie" not in answer.headers.get("Vary", "").lower(), url
            answer.close()


def test_a_revalidation_renders_nothing_and_costs_a_few_queries(app, listed):
    wait_jobs(app)  # the import's PDF rebuild: its queries are not the page's
    rendered: list[str] = []
    queries: list[str] = []

    def note(_sender, template, context, **_extra):
        rendered.append(template.name)

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            queries.append(statement)

    with app.app_context():
        engine = db.engine
    for url in (
        f"/statements/{listed}",
        f"/statements/{listed}/signatories?country=DE",
        f"/statements/{listed}/signatories.json",
        f"/statements/{listed}/versions",
        "/privacy",
    ):
        etag = app.test_client().get(url).headers["ETag"]
        rendered.clear()
        queries.clear()
        event.listen(engine, "before_cursor_execute", count)
        template_rendered.connect(note, app)
        try:
            # A weak tag (as a compressing proxy may send it) matches too.
            response = app.test_client().get(url, headers={"If-None-Match": f"W/{etag}"})
        finally:
            template_rendered.disconnect(note, app)
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 304, url
        assert rendered == [], url
        # The page's own state, plus the campaign's identity (one primary-key read a request).
        assert len(queries) <= 4, (url, queries)


def test_a_page_with_a_form_error_or_a_csrf_token_stays_private(app, client, seeded):
    sign = client.get(f"/statements/{seeded}/sign")
    assert sign.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in sign.headers
    token = CSRF_RE.search(sign.text).group(1)
    refused = client.post(f"/statements/{seeded}/sign", data={"csrf_token": token})
    assert refused.status_code == 422
    assert refused.headers["Cache-Control"] == "private, no-store"
    lost = client.post(
        f"/statements/{seeded}/withdraw-link", data={"csrf_token": token, "email": "nope"}
    )
    assert lost.status_code == 422 and lost.headers["Cache-Control"] == "private, no-store"


def test_a_public_response_that_reads_the_session_or_sets_a_cookie_is_made_private(app):
    """The last safeguard (core/caching.py): a shared cache never stores what is one visitor's."""

    @app.get("/test-reads-session")
    def reads_session():
        return public_page(
            "x", lambda: render_template_string("{{ session.get('who', 'nobody') }}")
        )

    @app.get("/test-sets-cookie")
    def sets_cookie():
        def render():
            session["who"] = "me"
            return "hello"

        return public_page("y", render)

    @app.get("/test-neither")
    def neither():
        return public_page("z", lambda: "hello")

    client = app.test_client()
    for path in ("/test-reads-session", "/test-sets-cookie"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path
    assert PUBLIC.fullmatch(app.test_client().get("/test-neither").headers["Cache-Control"])


def test_staff_pages_are_never_public(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    adapter = app.url_map.bind("localhost")
    sid = statement_id(app, seeded)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/staff"):
            continue
        values: dict[str, object] = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                values[name] = sid
            else:
                values[name] = seeded
        url = adapter.build(rule.endpoint, values)
        for client in (admin, app.test_client()):
            response = client.get(url)
            cache = response.headers.get("Cache-Control", "")
            assert "public" not in cache, (url, cache)
            if response.mimetype == "text/html":
                assert cache == "private, no-store", (url, cache)
            response.close()
            checked += 1
    assert checked >= 20


def test_a_staff_member_gets_public_pages_that_show_nothing_of_theirs(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert "Staff console" in moderator.get(f"/statements/{seeded}/sign").text
    page = moderator.get(f"/statements/{seeded}")
    # The same page as everyone's: no staff link, no cookie, so it may be shared.
    assert "Staff console" not in page.text
    assert PUBLIC.fullmatch(page.headers["Cache-Control"])
    assert "Set-Cookie" not in page.headers


# ---------------------------------------------------------------- what changes an ETag


def etags(app, slug: str) -> dict[str, str]:
    pages = {
        "statement": f"/statements/{slug}",
        "home": "/",
        "list": f"/statements/{slug}/signatories",
        "json": f"/statements/{slug}/signatories.json",
        "csv": f"/statements/{slug}/signatories.csv",
        "versions": f"/statements/{slug}/versions",
        "privacy": "/privacy",
        "sitemap": "/sitemap.xml",
    }
    return {name: app.test_client().get(url).headers["ETag"] for name, url in pages.items()}


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


LIST_PAGES = {"statement", "home", "list", "json", "csv"}


def test_etags_change_with_the_list_and_not_with_what_the_public_does_not_see(app, seeded, smtp):
    client = app.test_client()
    start = etags(app, seeded)
    assert etags(app, seeded) == start  # stable while nothing changes

    # A submission and its confirmation: nothing public yet.
    submit_sign(client, seeded)
    signature_id = confirm(app, client, valid_form()["email"])
    signed_in(app, "mod@example.org", "moderator").get("/staff/queue")
    assert etags(app, seeded) == start

    # Approval: the list, the open data and (with the rebuilt PDF) the statement page.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["signatures", "approve", str(signature_id)]).exit_code == 0
    wait_jobs(app)
    approved = etags(app, seeded)
    assert changed(start, approved) == LIST_PAGES | {"versions"}

    # A PDF rebuilt with the same list: its box and /versions change, the data does not.
    assert runner.invoke(args=["pdf", "rebuild", seeded]).exit_code == 0
    rebuilt = etags(app, seeded)
    assert changed(approved, rebuilt) == {"statement", "home", "versions"}

    # Withdrawal by the emailed link.
    manage_path = links_in(smtp.wait_for(1)[0])["manage"]
    assert withdraw_by_manage_link(client, manage_path).status_code == 200
    wait_jobs(app)
    withdrawn = etags(app, seeded)
    assert LIST_PAGES <= changed(rebuilt, withdrawn)


def test_etags_change_with_the_statement_and_campaign_content(app, seeded, tmp_path):
    admin = signed_in(app, "admin@example.org", "admin")
    sid = statement_id(app, seeded)
    start = etags(app, seeded)

    # A campaign update: a draft may change the ETag of the page that shows updates (it counts
    # every update, drafts too: a needless revalidation, never a stale page), and of no other.
    news = {"kind": "news", "title": "Signed in Brussels", "body": "Forty regions signed."}
    post(admin, f"/staff/statements/{sid}/updates", news)
    drafted = etags(app, seeded)
    assert changed(start, drafted) <= {"statement", "home"}
    with app.app_context():
        from petition.models import CampaignUpdate

        update_id = db.session.query(CampaignUpdate.id).order_by(CampaignUpdate.id.desc()).first()
    post(admin, f"/staff/updates/{update_id[0]}/publish")
    published = etags(app, seeded)
    assert changed(drafted, published) == {"statement", "home"}
    assert "Signed in Brussels" in app.test_client().get(f"/statements/{seeded}").text

    # Closing signing: every page of the statement (the sign button), not the open data.
    post(admin, f"/staff/statements/{sid}/close", {"confirm": "yes"})
    closed = etags(app, seeded)
    assert changed(published, closed) == {"statement", "home", "list", "versions"}

    # A new text of the statement (title and body): the open data names its version and title.
    source = (ROOT / "petition" / "content" / "interregional-innovation-investments.md").read_text()
    edited = source.replace("\ntitle:", "\ntitle: Revised —", 1) + "\nOne more sentence.\n"
    path = tmp_path / "statement.md"
    path.write_text(edited)
    result = app.test_cli_runner().invoke(args=["statements", "load", str(path)])
    assert result.exit_code == 0, result.output
    wait_jobs(app)
    assert changed(closed, etags(app, seeded)) == LIST_PAGES | {"versions"}

    # The privacy notice: its page only.
    before = etags(app, seeded)
    post(admin, "/staff/texts/privacy", {"body": "We keep very little."})
    assert changed(before, etags(app, seeded)) == {"privacy"}


def test_the_open_data_etag_does_not_change_when_the_pdf_is_rebuilt(app, seeded):
    import_approved(
        app,
        seeded,
        [{"organisation_name": "Rebuilt Org", "organisation_type": "ngo", "country": "FR"}],
    )
    wait_jobs(app)
    url = f"/statements/{seeded}/signatories.json"
    before = app.test_client().get(url).headers["ETag"]
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["pdf", "rebuild", seeded])
        assert result.exit_code == 0, result.output
        assert app.test_client().get(url).headers["ETag"] == before
        assert app.test_client().get(url, headers={"If-None-Match": before}).status_code == 304


# ---------------------------------------------------------------- static files


def fingerprint(relative: str) -> str:
    return hashlib.sha256((ROOT / "static" / relative).read_bytes()).hexdigest()[:16]


def test_static_urls_name_their_content_and_are_immutable(app, seeded):
    page = app.test_client().get(f"/statements/{seeded}").text
    css = f"/static/css/site.css?v={fingerprint('css/site.css')}"
    assert f'href="{css}"' in page

    response = app.test_client().get(css)
    assert response.status_code == 200
    assert response.data == (ROOT / "static" / "css" / "site.css").read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["ETag"] == f'"{fingerprint("css/site.css")}"'

    # Without the fingerprint, or with another release's: the file, but only for a while.
    for url in ("/static/css/site.css", "/static/css/site.css?v=0123456789abcdef"):
        other = app.test_client().get(url)
        assert other.status_code == 200 and other.data == response.data
        assert other.headers["Cache-Control"] == "public, max-age=300", url
    assert app.test_client().get("/static/css/missing.css").status_code == 404


# ---------------------------------------------------------------- compression


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(response.data)
    if encoding == "gzip":
        return gzip.decompress(response.data)
    assert encoding is None
    return response.data


def test_text_responses_are_compressed_with_brotli_or_gzip(app, listed):
    wait_jobs(app)  # the import's PDF rebuild would change the statement page's ETag midway
    drawing = "".join(f'<circle cx="{n}" cy="{n}" r="{n}"/>' for n in range(100))

    @app.get("/test-drawing.svg")
    def drawing_svg():
        svg = f'<svg xmlns="http://www.w3.org/2000/svg">{drawing}</svg>'
        return public_page("drawing", lambda: Response(svg, mimetype="image/svg+xml"))

    for url in (
        f"/statements/{listed}",
        f"/statements/{listed}/signatories.json",
        f"/statements/{listed}/signatories.csv",
        f"/static/css/site.css?v={fingerprint('css/site.css')}",
        "/test-drawing.svg",
    ):
        plain = app.test_client().get(url)
        assert "Content-Encoding" not in plain.headers, url
        etags_seen = {plain.headers["ETag"]}
        for encoding in ("br", "gzip"):
            response = app.test_client().get(url, headers={"Accept-Encoding": f"{encoding}"})
            assert response.headers["Content-Encoding"] == encoding, url
            assert "Accept-Encoding" in response.headers["Vary"], url
            assert len(response.data) < len(plain.data), url
            assert decoded(response) == plain.data, url
            # Each variant has its own ETag, and revalidates with it.
            etags_seen.add(response.headers["ETag"])
            again = app.test_client().get(
                url,
                headers={"Accept-Encoding": encoding, "If-None-Match": response.headers["ETag"]},
            )
            assert again.status_code == 304, url
        assert len(etags_seen) == 3, url
    # A client that takes both gets brotli.
    both = app.test_client().get(f"/statements/{listed}", headers={"Accept-Encoding": "gzip, br"})
    assert both.headers["Content-Encoding"] == "br"


def test_the_pdf_and_tiny_responses_are_not_compressed(app, seeded):
    tiny = f"/statements/{seeded}/count.json"  # a couple of hundred bytes
    for url in (f"/statements/{seeded}/statement.pdf", tiny, "/static/favicon.svg"):
        response = app.test_client().get(url, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers, url
        response.close()


# ---------------------------------------------------------------- robots, sitemap, favicon


def test_robots_txt_keeps_crawlers_out_of_the_console_and_token_links(app, seeded):
    response = app.test_client().get("/robots.txt")
    assert response.mimetype == "text/plain"
    lines = response.text.splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = [line.removeprefix("Disallow: ") for line in lines if line.startswith("Disallow")]
    assert "/staff/" in disallowed
    # Every route that takes an emailed token, whatever it is called.
    token_routes = [r.rule for r in app.url_map.iter_rules() if "token" in r.arguments]
    assert {
        "/confirm/<token>",
        "/withdraw/<token>",
        "/manage/<token>",
        "/manage/email/<token>",
    } <= set(token_routes)
    for rule in token_routes:
        assert any(rule.startswith(prefix) for prefix in disallowed), rule
        # and under each language's prefix, where the same page answers
        assert any(f"/de{rule}".startswith(prefix) for prefix in disallowed), rule
    # Public pages stay open to crawlers.
    public = [
        f"/statements/{seeded}",
        f"/statements/{seeded}/signatories",
        "/privacy",
        "/",
        f"/pl/statements/{seeded}",
    ]
    for path in public:
        assert not any(path.startswith(prefix) for prefix in disallowed if prefix != "/"), path
    assert "Sitemap: http://localhost/sitemap.xml" in lines


def test_sitemap_lists_the_public_pages_of_every_statement(app, seeded):
    response = app.test_client().get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    namespace = {
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "x": "http://www.w3.org/1999/xhtml",
    }
    urls = ET.fromstring(response.data).findall("s:url", namespace)
    locations = [url.find("s:loc", namespace).text for url in urls]
    base = f"http://localhost/statements/{seeded}"
    pages = {"/", "/privacy", base[16:], f"{base[16:]}/signatories", f"{base[16:]}/versions"}
    # Each page, unprefixed and in each language, every entry naming all of them.
    languages = ("en", "nl", "de", "fr", "es", "it", "pl")
    assert set(locations) == {
        f"http://localhost{prefix}{page}"
        for page in pages
        for prefix in ("", *(f"/{lang}" for lang in languages))
    }
    first = {
        link.get("hreflang"): link.get("href") for link in urls[0].findall("x:link", namespace)
    }
    assert first["x-default"] == "http://localhost/" and first["de"] == "http://localhost/de/"
    assert len(first) == len(languages) + 1
    for location in locations:
        page = app.test_client().get(location.removeprefix("http://localhost"))
        assert page.status_code == 200 and PUBLIC.fullmatch(page.headers["Cache-Control"])


def test_favicon_is_served_at_the_root(app):
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200
    # Before any statement or identity exists: the letter mark of the neutral name.
    assert response.mimetype == "image/svg+xml" and b">J</text>" in response.data
    assert response.headers["Cache-Control"] == "public, max-age=300"


# ---------------------------------------------------------------- HSTS


def test_hsts_is_sent_over_https_only(app, seeded):
    url = f"/statements/{seeded}"
    secure = app.test_client().get(url, base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = app.test_client().get(url)
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.config(PROXY_FIX_HOPS=1, HSTS_MAX_AGE_SECONDS=600)
def test_hsts_behind_a_proxy_follows_x_forwarded_proto(app, seeded):
    forwarded = app.test_client().get(
        "/privacy", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}
    )
    assert forwarded.headers["Strict-Transport-Security"] == "max-age=600"
    assert "Strict-Transport-Security" not in app.test_client().get("/privacy").headers


@pytest.mark.config(HSTS_MAX_AGE_SECONDS=0)
def test_hsts_can_be_switched_off(app, seeded):
    secure = app.test_client().get("/privacy", base_url="https://localhost")
    assert "Strict-Transport-Security" not in secure.headers


def test_etag_for_names_the_code_that_renders(app):
    with app.app_context():
        first = etag_for("x", 1)
        app.extensions["build_fingerprint"] = "another release"
        assert etag_for("x", 1) != first


# ---------------------------------------------------------------- byte ranges (issue 15.10)


def _ranges(client, url: str) -> tuple[bytes, list]:
    """The whole file, then the answers to two ranges, one range and a range past the end."""
    whole = client.get(url, buffered=True)
    assert whole.status_code == 200, url
    answers = [
        client.get(url, headers={"Range": header}, buffered=True)
        for header in ("bytes=0-1,5-9", "bytes=0-1", f"bytes={len(whole.data)}-")
    ]
    return whole.data, answers


@pytest.mark.parametrize(
    "url", ["/static/css/site.css", "/static/favicon.svg", "/favicon.ico", "/campaign/logo"]
)
def test_a_multi_range_request_gets_the_whole_file_and_a_bad_range_the_size(app, seeded, url):
    # RFC 9110 lets a server ignore Range, never answer 416 without saying the size.
    whole, (multi, single, beyond) = _ranges(app.test_client(), url)
    assert multi.status_code == 200 and multi.data == whole, multi.status_code
    if single.status_code == 206:  # a route that honours Range at all
        assert single.data == whole[:2]
        assert beyond.status_code == 416
        assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"
    else:
        assert single.status_code == 200 and beyond.status_code == 200


def test_the_uploaded_logo_as_favicon_takes_ranges_like_any_file(app, seeded):
    from tests.test_identity import configure, png, upload

    assert upload(configure(app), png(), "logo.png").status_code == 303
    for url in ("/favicon.ico", "/campaign/logo"):
        whole, (multi, single, beyond) = _ranges(app.test_client(), url)
        assert whole == png()
        assert multi.status_code == 200 and multi.data == whole, url
        assert single.status_code in (200, 206) and beyond.status_code in (200, 416), url
        if beyond.status_code == 416:
            assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"


def test_no_public_get_answers_416_without_the_size(app, seeded):
    """Every GET route, a new one included: a multi-range request never gets a bare 416."""
    for url in public_get_urls(app, seeded).values():
        response = app.test_client().get(url, headers={"Range": "bytes=0-1,5-9"})
        assert response.status_code != 416, (url, response.headers.get("Content-Range"))
        response.close()
