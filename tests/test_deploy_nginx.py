"""The shipped nginx site (deploy/nginx/) in front of gunicorn with the shipped gunicorn.conf.py.

nginx runs in the foreground as an ordinary process on a free port, its pid, logs and temporary
files in the test's folder; the application runs with PROXY_FIX_HOPS=1 as deployed, its rate
limits in Redis (shared by the gunicorn workers). Clients come from different loopback addresses
(127.0.0.2, 127.0.0.3 …), as nginx would see different visitors.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid

import brotli
import pytest

from tests.conftest import SmtpSink, _Controller, free_port, valid_form
from tests.servers import (
    NGINX,
    REDIS_URL,
    ROOT,
    SLUG,
    Browser,
    answers,
    assert_site_answers,
    flask_cli,
    open_slow_sockets,
    redis_reachable,
    site_database,
    start_gunicorn,
    start_nginx,
    stop,
    wait_until,
    warm_up,
)

SIGN = f"/statements/{SLUG}/sign"
STATEMENT = f"/statements/{SLUG}"
SHARED_MAX_AGE = 3


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    if not NGINX:
        pytest.skip("nginx is not installed (Debian package nginx)")
    if not redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    tmp = tmp_path_factory.mktemp("proxied")
    smtp = SmtpSink(port=free_port())
    controller = _Controller(smtp, hostname=smtp.host, port=smtp.port)
    controller.start()
    app_port, nginx_port = free_port(), free_port()
    limiter_prefix = f"jointly-test-{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'proxied.db'}",
        "SECRET_KEY": "nginx-test",
        "PDF_DIR": str(tmp / "pdf"),
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "PUBLIC_BASE_URL": f"http://localhost:{nginx_port}",
        "PROXY_FIX_HOPS": "1",
        "SIGN_RATE_LIMIT": "3 per minute",
        "FLASK_RATELIMIT_STORAGE_URI": REDIS_URL,
        "FLASK_RATELIMIT_KEY_PREFIX": limiter_prefix,
        "GUNICORN_ACCESS_LOG": str(tmp / "gunicorn-access.log"),
        # Short, so that a test can see the page cache expire and revalidate.
        "PAGE_SHARED_MAX_AGE_SECONDS": str(SHARED_MAX_AGE),
        "PYTHONUNBUFFERED": "1",
    }
    processes = []
    try:
        site_database(tmp / "proxied.db", tmp_path_factory)  # migrated and seeded
        processes.append(start_gunicorn(env, app_port, tmp / "gunicorn.log"))
        wait_until(lambda: answers(f"http://127.0.0.1:{app_port}"), 30, "gunicorn")
        processes.append(start_nginx(tmp / "nginx", nginx_port, app_port))
        wait_until(lambda: answers(f"http://127.0.0.1:{nginx_port}"), 30, "nginx")
        warm_up(nginx_port)
        yield {"port": nginx_port, "tmp": tmp, "env": env, "smtp": smtp}
    finally:
        stop(processes)
        controller.stop()
        from redis import Redis

        connection = Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"{limiter_prefix}*"):
            connection.delete(key)
        connection.close()


def browser(proxied, source: str = "127.0.0.1") -> Browser:
    return Browser(f"http://127.0.0.1:{proxied['port']}", source=source)


def app_access_log(proxied) -> str:
    return (proxied["tmp"] / "gunicorn-access.log").read_text()


def stored_ips(proxied, email: str) -> list[str]:
    with sqlite3.connect(proxied["tmp"] / "proxied.db") as connection:
        rows = connection.execute(
            "SELECT submitted_ip FROM signatures WHERE email_normalised = ?", (email.lower(),)
        ).fetchall()
    return [ip for (ip,) in rows]


def test_pages_pass_through_and_static_files_come_from_nginx(proxied):
    client = browser(proxied)
    status, headers, page = client.request(f"/statements/{SLUG}")
    assert status == 200 and b"<html" in page
    assert headers["Content-Security-Policy"]  # the application's own headers came through

    css = (ROOT / "static" / "css" / "site.css").read_bytes()
    status, headers, body = client.request("/static/css/site.css")
    assert status == 200 and body == css
    assert headers["Content-Type"].startswith("text/css")
    assert headers["Cache-Control"] == "public, max-age=300"
    assert client.request("/static/css/missing.css")[0] == 404
    # As the pages link it: named by its content, kept for a year.
    fingerprinted = re.search(rb'href="(/static/css/site\.css\?v=[0-9a-f]{16})"', page).group(1)
    status, headers, body = client.request(fingerprinted.decode())
    assert status == 200 and body == css
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"

    # The application saw the page, and never a static file.
    log = wait_until(
        lambda: (text := app_access_log(proxied)) and f"/statements/{SLUG} " in text and text,
        10,
        "the page in gunicorn's access log",
    )
    assert "/static/" not in log


def test_html_and_css_are_compressed(proxied):
    client = browser(proxied)
    for path, expected in (
        (SIGN, b'name="organisation_name"'),
        ("/static/css/site.css", (ROOT / "static" / "css" / "site.css").read_bytes()),
        (f"/statements/{SLUG}/signatories.json", b'"signatories"'),
    ):
        status, headers, body = client.request(path, headers={"Accept-Encoding": "gzip"})
        assert status == 200, path
        assert headers.get("Content-Encoding") == "gzip", path
        assert "Accept-Encoding" in headers.get("Vary", ""), path
        assert expected in gzip.decompress(body), path
    # A client that does not ask for gzip gets plain bytes.
    status, headers, body = client.request(SIGN)
    assert "Content-Encoding" not in headers and b'name="organisation_name"' in body


def test_a_sign_form_posted_through_nginx_is_stored_with_the_clients_address(proxied):
    client = browser(proxied, source="127.0.0.4")
    form = valid_form(email="through-nginx@example.org", csrf_token=client.token(SIGN))
    status, headers, _ = client.request(SIGN, form)
    assert status == 302 and headers["Location"].endswith("/check-your-email")
    # Stored once, with the visitor's address (as nginx saw it), not the proxy's 127.0.0.1.
    assert stored_ips(proxied, "through-nginx@example.org") == ["127.0.0.4"]
    listing = flask_cli(proxied["env"], "signatures", "list", "--state", "pending_email")
    assert "through-nginx@example.org" in listing.stdout
    [message] = wait_until(
        lambda: proxied["smtp"].to("through-nginx@example.org"), 30, "the confirmation email"
    )
    # Emailed links follow PUBLIC_BASE_URL.
    assert (
        f"http://localhost:{proxied['port']}/confirm/" in message.get_body(("plain",)).get_content()
    )


def test_the_rate_limit_counts_each_visitor_not_the_proxy(proxied):
    # SIGN_RATE_LIMIT is 3 per minute here. X-Forwarded-For sent by the visitor is no way out:
    # nginx appends the real address, and the application trusts only that last hop.
    flooder = browser(proxied, source="127.0.0.2")
    statuses = []
    for n in range(5):
        form = valid_form(email=f"flood{n}@example.org", csrf_token=flooder.token(SIGN))
        spoofed = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
        statuses.append(flooder.request(SIGN, form, headers=spoofed)[0])
    assert statuses == [302, 302, 302, 429, 429]
    assert stored_ips(proxied, "flood0@example.org") == ["127.0.0.2"]
    assert stored_ips(proxied, "flood3@example.org") == []

    neighbour = browser(proxied, source="127.0.0.3")
    form = valid_form(email="neighbour@example.org", csrf_token=neighbour.token(SIGN))
    assert neighbour.request(SIGN, form)[0] == 302
    assert stored_ips(proxied, "neighbour@example.org") == ["127.0.0.3"]


def test_oversized_bodies_are_refused_at_the_door(proxied):
    client = browser(proxied)
    # Beyond the largest body the site takes (an import file of 5 MiB and its form).
    form = valid_form(csrf_token=client.token(SIGN), comment="x" * (7 * 1024 * 1024))
    seen_before = len(app_access_log(proxied))
    started = time.monotonic()
    status, _, _ = client.request(SIGN, form)
    assert status == 413
    assert time.monotonic() - started < 5
    time.sleep(0.5)
    assert f"POST {SIGN}" not in app_access_log(proxied)[seen_before:]


def nginx_access_log(proxied, last_line: str) -> str:
    """nginx's access log once it holds `last_line`: nginx writes a request's line once the
    answer has gone, and a busy machine lags."""
    path = proxied["tmp"] / "nginx" / "jointly.access.log"
    deadline = time.monotonic() + 5
    while last_line not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.read_text()


def test_emailed_tokens_stay_out_of_nginx_access_log(proxied):
    client = browser(proxied)
    secret = "Zm9vYmFyLXNlY3JldC10b2tlbi12YWx1ZQ"
    paths = [
        f"/confirm/{secret}?utm=1",
        f"/manage/email/{secret}",
        f"/de/manage/email/{secret}",
        f"/unsubscribe/{secret}",
        f"/manage/{secret}/withdraw",
        f"/withdraw/{urllib.parse.quote(secret)}",
    ]
    for path in paths:
        assert client.request(path)[0] in (200, 404, 405, 410), path
    log = nginx_access_log(proxied, "GET /withdraw/")
    for logged in (
        "GET /confirm/[token] ",
        "GET /manage/email/[token] ",
        "GET /de/manage/email/[token] ",
        "GET /unsubscribe/[token] ",
        "GET /manage/[token]/withdraw ",
        "GET /withdraw/[token] ",
    ):
        assert logged in log, logged
    assert secret not in log and "utm=1" not in log
    assert secret not in app_access_log(proxied)


def signed_in_moderator(proxied, email: str, source: str) -> Browser:
    """A moderator made with `flask staff create`, signed in through nginx from `source`."""
    password = "a long enough password for nginx"
    created = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "staff", "create", email]
        + ["--role", "moderator", "--password-stdin"],
        cwd=ROOT,
        env=proxied["env"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    staff = browser(proxied, source=source)
    form = {"email": email, "password": password}
    form["csrf_token"] = staff.token("/staff/login")
    status, headers, _ = staff.request("/staff/login", form)
    assert status == 302, headers
    return staff


def test_a_staff_search_leaves_no_address_or_name_in_either_access_log(proxied):
    staff = signed_in_moderator(proxied, "search@example.org", source="127.0.0.7")
    email, name = "Anna.Searched@wroclaw.example.pl", "Anna Searchedperson"
    for query in (
        {"q": email},
        {"q": name},
        f"q={email.replace('@', '%40')}",
        f"q={urllib.parse.quote(email, safe='@')}&state=",
    ):
        encoded = query if isinstance(query, str) else urllib.parse.urlencode(query)
        assert staff.request(f"/staff/signatures?{encoded}")[0] == 200, encoded
    # The export, from the results page: its Referer holds the search as well.
    referer = f"http://127.0.0.1:{proxied['port']}/staff/signatures?" + urllib.parse.urlencode(
        {"q": name}
    )
    export = "/staff/signatures.csv?" + urllib.parse.urlencode({"q": name})
    assert staff.request(export, headers={"Referer": referer})[0] == 200
    nginx_log = nginx_access_log(proxied, "GET /staff/signatures.csv ")
    assert nginx_log.count("GET /staff/signatures ") >= 4
    time.sleep(0.3)
    app_log = app_access_log(proxied)
    assert app_log.count('"GET /staff/signatures HTTP/1.1" 200') >= 4
    for log in (nginx_log, app_log):
        for secret in ("Searched", "searched", "wroclaw", "%40"):
            assert secret not in log, secret


def test_slow_header_sockets_against_nginx_do_not_stop_the_site(proxied):
    sockets = open_slow_sockets(proxied["port"], 8)
    try:
        time.sleep(0.5)
        assert_site_answers(proxied["port"])
    finally:
        for sock in sockets:
            sock.close()


# ---------------------------------------------------------------- the page cache


def app_requests(proxied, path: str, agent: dict) -> list[str]:
    """The lines of gunicorn's access log for GETs of that path with that User-Agent (the log
    keeps paths without their query string)."""
    wanted = f'"GET {path.split("?")[0]} '
    return [
        line
        for line in app_access_log(proxied).splitlines()
        if wanted in line and line.endswith(f'"{agent["User-Agent"]}"')
    ]


def fresh_statement_url() -> tuple[str, dict]:
    """The statement page under a cache key of its own (a query string the page ignores), and
    a User-Agent that finds its requests in gunicorn's access log (which leaves queries out)."""
    tag = f"test-{uuid.uuid4().hex[:12]}"
    return f"{STATEMENT}?from={tag}", {"User-Agent": f"jointly-{tag}"}


def test_a_second_anonymous_get_of_the_statement_page_is_a_cache_hit(proxied):
    url, agent = fresh_statement_url()
    first = browser(proxied).request(url, headers=agent)
    second = browser(proxied, source="127.0.0.5").request(url, headers=agent)
    assert first[0] == second[0] == 200
    assert first[1]["X-Cache-Status"] == "MISS"
    assert second[1]["X-Cache-Status"] == "HIT"
    assert second[2] == first[2] and b"Lost your link?" in second[2]
    assert second[1]["ETag"] == first[1]["ETag"]
    assert "Set-Cookie" not in second[1]
    # The application rendered it once.
    time.sleep(0.3)
    assert len(app_requests(proxied, url, agent)) == 1

    # Each encoding has its entry; a compressed copy decompresses to the same page.
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        answers = [
            browser(proxied).request(url, headers={"Accept-Encoding": f"{encoding}, deflate"})
            for _ in range(2)
        ]
        assert [a[1]["X-Cache-Status"] for a in answers] == ["MISS", "HIT"], encoding
        assert answers[1][1]["Content-Encoding"] == encoding
        assert decode(answers[1][2]) == first[2]
    # A browser that has the page revalidates against the cache: a 304, nothing sent again.
    status, headers, body = browser(proxied).request(
        url, headers={"If-None-Match": first[1]["ETag"]}
    )
    assert status == 304 and body == b"" and headers["X-Cache-Status"] == "HIT"


def test_an_expired_page_is_revalidated_with_its_etag(proxied):
    url, agent = fresh_statement_url()
    client = browser(proxied)
    assert [client.request(url, headers=agent)[1]["X-Cache-Status"] for _ in range(2)] == [
        "MISS",
        "HIT",
    ]
    time.sleep(SHARED_MAX_AGE + 1)  # past the application's s-maxage
    status, headers, _ = client.request(url, headers=agent)
    assert status == 200 and headers["X-Cache-Status"] in ("EXPIRED", "REVALIDATED", "STALE")
    # nginx asked the application with the ETag, and the application said 304.
    lines = wait_until(
        lambda: len(found := app_requests(proxied, url, agent)) == 2 and found,
        10,
        "the revalidation",
    )
    assert '" 304 ' in lines[1] or " 304 " in lines[1], lines[1]


def test_pages_with_a_form_and_staff_pages_never_come_from_the_cache(proxied):
    for path in (SIGN, f"{STATEMENT}/withdraw-link", "/staff/login", "/staff/"):
        statuses = [browser(proxied).request(path)[1].get("X-Cache-Status") for _ in range(3)]
        assert "HIT" not in statuses, (path, statuses)
    # /healthz (no caching headers: a monitor must see the live answer) neither.
    statuses = [browser(proxied).request("/healthz")[1].get("X-Cache-Status") for _ in range(3)]
    assert "HIT" not in statuses


def test_a_request_with_a_session_cookie_is_never_served_from_the_cache(proxied):
    staff = signed_in_moderator(proxied, "cache@example.org", source="127.0.0.6")
    queue = [staff.request("/staff/queue") for _ in range(2)]
    assert [q[0] for q in queue] == [200, 200]
    assert all(q[1].get("X-Cache-Status") != "HIT" for q in queue)

    # The statement page is in the cache for everyone…
    url, agent = fresh_statement_url()
    assert [
        browser(proxied).request(url, headers=agent)[1]["X-Cache-Status"] for _ in range(2)
    ] == [
        "MISS",
        "HIT",
    ]
    # …but a request carrying the session cookie goes to the application, every time.
    for _ in range(2):
        status, headers, _ = staff.request(url, headers=agent)
        assert status == 200 and headers["X-Cache-Status"] == "BYPASS"
    # So does a visitor whose session holds a form's CSRF token.
    visitor = browser(proxied)
    visitor.token(SIGN)
    assert visitor.request(url, headers=agent)[1]["X-Cache-Status"] == "BYPASS"
    time.sleep(0.3)
    assert (
        len(app_requests(proxied, url, agent)) == 4
    )  # the first MISS, the staff's two, the visitor's
