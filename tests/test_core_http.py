"""HTTP behaviour of every route: security headers, bogus arguments, 404s, 405s."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- headers and routes


def assert_security_headers(response, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "object-src 'none'" in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    # Each once: a header the view set itself (a public page's Cache-Control) is not repeated.
    for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert len(headers.getlist(name)) == 1, (where, name)
    assert len(headers.getlist("Cache-Control")) <= 1, where
    if response.mimetype == "text/html":
        cache = headers.get("Cache-Control", "")
        if response.status_code in (200, 304) and headers.get("ETag"):
            # A page every visitor gets alike (core/caching.py), revalidated by its ETag.
            assert re.fullmatch(r"public, max-age=\d+, s-maxage=\d+", cache), where
        else:
            assert cache == "private, no-store", where


def test_security_headers_on_public_responses(client, listed):
    json_url = f"/statements/{listed}/signatories.json"
    etag = client.get(json_url).headers["ETag"]
    responses = {
        "statement": client.get(f"/statements/{listed}"),
        "index": client.get("/"),
        "sign": client.get(f"/statements/{listed}/sign"),
        "list": client.get(f"/statements/{listed}/signatories"),
        "json": client.get(json_url),
        "json 304": client.get(json_url, headers={"If-None-Match": etag}),
        "csv": client.get(f"/statements/{listed}/signatories.csv"),
        "privacy": client.get("/privacy"),
        "healthz": client.get("/healthz"),
        "404": client.get("/no/such/page"),
        "405": client.post(f"/statements/{listed}"),
        "400": client.post(f"/statements/{listed}/sign", data={}),
        "static": client.get("/static/css/site.css"),
    }
    assert responses["json 304"].status_code == 304
    assert responses["400"].status_code == 400
    for where, response in responses.items():
        assert_security_headers(response, where)
        response.close()


def _bogus_values(rule) -> dict:
    from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[name] = 987654
        elif isinstance(converter, PathConverter):
            values[name] = "no/such/file.txt"
        elif name == "token":
            values[name] = "bogus-token-that-is-long-enough-to-look-real-0123456789"
        else:
            values[name] = "no-such-" + name
    return values


def test_every_route_survives_bogus_arguments(app, client, seeded):
    """Walk the URL map: every route, unknown slugs, tokens and ids → a 4xx page, never a 5xx."""
    adapter = app.url_map.bind("localhost")
    checked = []
    for rule in app.url_map.iter_rules():
        values = _bogus_values(rule)
        path = adapter.build(rule.endpoint, values, force_external=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code < 500, (method, path, response.status_code)
            assert_security_headers(response, f"{method} {path}")
            response.close()
            checked.append((method, rule.rule))
        if "GET" in rule.methods and "slug" in rule.arguments and rule.endpoint != "static":
            # And with the real statement.
            real = adapter.build(rule.endpoint, {**values, "slug": seeded})
            response = client.get(real)
            assert response.status_code < 500, (real, response.status_code)
            response.close()
    paths = {rule for _m, rule in checked}
    assert {
        "/",
        "/statements/<slug>",
        "/statements/<slug>/sign",
        "/confirm/<token>",
        "/withdraw/<token>",
        "/statements/<slug>/signatories",
        "/statements/<slug>/signatories.json",
        "/statements/<slug>/signatories.csv",
        "/privacy",
        "/healthz",
    } <= paths


def test_unknown_statement_pages_are_404(client, seeded):
    for suffix in ("", "/signatories", "/signatories.json", "/signatories.csv", "/sign"):
        response = client.get(f"/statements/no-such-statement{suffix}")
        assert response.status_code == 404, suffix
    page = client.get("/statements/no-such-statement")
    assert "There is no statement at this address." in page.text
    data = client.get("/statements/no-such-statement/signatories.json")
    assert data.get_json() == {
        "error": "Page not found",
        "message": "There is no statement at this address.",
        "status": 404,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/statements/%00",
        "/statements/a%00b/signatories",
        "/statements/%00/signatories.json",
        "/statements/%00/sign",
        "/statements/" + "a" * 5000,
        "/statements/%F0%9F%98%80/signatories.csv",
        "/statements/SLUG-IN-CAPITALS",
    ],
)
def test_junk_slugs_are_404_on_every_backend(client, seeded, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/statements/{slug}", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/statements/{slug}/sign", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("DELETE", "/statements/{slug}/signatories", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/statements/{slug}/signatories.json", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", "/privacy", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
        (
            "DELETE",
            "/confirm/bogus-token-that-is-long-enough-0123456789",
            {"GET", "HEAD", "OPTIONS", "POST"},
        ),
    ],
)
def test_wrong_method_is_405(client, seeded, method, path, allowed):
    response = client.open(path.format(slug=seeded), method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    if path.endswith(".json") or path == "/healthz":
        assert response.get_json()["status"] == 405
    else:
        assert "Method not allowed" in response.text


def test_staff_pages_send_no_store_and_security_headers(app, seeded, moderator):
    response = moderator.get("/staff/queue")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert re.search(r'<meta name="robots" content="noindex', response.get_data(as_text=True))
