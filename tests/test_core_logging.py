"""No log line carries an email address, a contact name or an emailed token (issue 15.9)."""

from __future__ import annotations

import http.cookiejar
import logging
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from petition.core.db import transaction
from petition.core.logging import ACCESS_LOG_FORMAT, RedactingFilter, redact
from petition.extensions import db
from petition.models import OutboxMessage, Signature, SignatureSource, SignatureState
from tests.conftest import CSRF_RE, valid_form, wait_jobs

EMAIL = "Johanna.Secret-Person@lodzkie.pl"
NAME = "Jöhanna Secretperson"


def _browser():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _get(opener, url: str) -> str:
    with opener.open(url, timeout=10) as response:
        return response.read().decode()


def _post(opener, url: str, data: dict) -> str:
    body = urllib.parse.urlencode(data).encode()
    with opener.open(url, data=body, timeout=10) as response:
        return response.read().decode()


def _link_path(app, kind: str) -> str:
    with app.app_context():
        bodies = db.session.scalars(select(OutboxMessage.body_text)).all()
    return next(path for body in bodies for path in re.findall(rf"/{kind}/[A-Za-z0-9_-]+", body))


def _logged_text(caplog) -> str:
    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    lines += [caplog.text]
    return "\n".join(lines)


def test_a_signing_journey_logs_no_address_name_or_token(app, live_url, caplog):
    caplog.set_level(logging.DEBUG)
    base = live_url.rsplit("/statements/", 1)[0]
    browser = _browser()
    sign = live_url + "/sign"
    token = CSRF_RE.search(_get(browser, sign)).group(1)
    form = valid_form(email=EMAIL, contact_name=NAME)
    _post(browser, sign, {**form, "csrf_token": token})
    wait_jobs(app)
    confirm_path = _link_path(app, "confirm")
    page = _get(browser, base + confirm_path)
    _post(browser, base + confirm_path, {"csrf_token": CSRF_RE.search(page).group(1)})
    manage_path = _link_path(app, "manage")
    page = _get(browser, base + manage_path)
    # A correction with a new address (the address page's link is a token too), then withdrawal.
    version = re.search(r'name="row_version" type="hidden" value="(\d+)"', page).group(1)
    correction = {k: v for k, v in form.items() if k != "consent"}
    correction.update(email="new." + EMAIL, row_version=version)
    _post(browser, base + manage_path, {**correction, "csrf_token": CSRF_RE.search(page).group(1)})
    wait_jobs(app)
    address_path = _link_path(app, "manage/email")
    page = _get(browser, base + address_path)
    _post(browser, base + address_path, {"csrf_token": CSRF_RE.search(page).group(1)})
    page = _get(browser, base + manage_path)
    _post(browser, base + manage_path + "/withdraw", {"csrf_token": CSRF_RE.search(page).group(1)})
    # A wrong token and a query string are logged masked as well.
    with pytest.raises(urllib.error.HTTPError):
        _get(browser, base + "/confirm/" + "x" * 43 + "?email=" + EMAIL)
    wait_jobs(app)

    logged = _logged_text(caplog)
    # The journey was logged (werkzeug's request lines reached the capture)...
    assert '"GET /confirm/[token]' in logged
    assert '"POST /manage/[token]' in logged
    # ...and nothing personal or secret in any of it.
    tokens = [
        confirm_path.rsplit("/", 1)[1],
        manage_path.rsplit("/", 1)[1],
        address_path.rsplit("/", 1)[1],
        "x" * 43,
    ]
    for secret in [EMAIL, EMAIL.lower(), NAME, "Secretperson", *tokens]:
        assert secret.lower() not in logged.lower(), secret
    assert "@lodzkie.pl" not in logged


def test_a_failed_insert_logs_neither_its_parameters_nor_the_address(app, seeded, caplog):
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("petition.test")
    with app.app_context():
        try:
            with transaction():
                # No statement: the NOT NULL constraint refuses the row with all its values.
                db.session.add(
                    Signature(
                        statement_id=None,
                        organisation_name="Secret Organisation",
                        organisation_type="region",
                        country="PL",
                        contact_name=NAME,
                        email=EMAIL,
                        email_normalised=EMAIL.casefold(),
                        state=SignatureState.PENDING_EMAIL,
                        source=SignatureSource.FORM,
                    )
                )
                db.session.flush()
        except IntegrityError as exc:
            log.exception("insert failed")
            # PostgreSQL's own message quotes the failing row; only the log line is masked.
            assert "NOT NULL" in str(exc).upper() or "not-null" in str(exc)
        else:
            pytest.fail("the insert should have failed")
    logged = _logged_text(caplog)
    assert "insert failed" in logged and "IntegrityError" in logged
    for secret in (NAME, "Secret Organisation", EMAIL, EMAIL.casefold()):
        assert secret not in logged, secret


def test_masking_covers_formats_configured_elsewhere():
    assert redact('1.2.3.4 "GET /confirm/abcDEF_123-x?x=1 HTTP/1.1" 200') == (
        '1.2.3.4 "GET /confirm/[token] HTTP/1.1" 200'
    )
    assert redact("POST /withdraw/abc HTTP/1.1") == "POST /withdraw/[token] HTTP/1.1"
    assert redact("mail to jöhn@exämple.org failed") == "mail to [email] failed"
    assert redact("/statements/x/sign") == "/statements/x/sign"
    assert redact("DETAIL:  Failing row contains (5, Anna Nowak, a).\nnext") == (
        "DETAIL:  [values hidden]\nnext"
    )
    # gunicorn's access-log record: a format and a dict of atoms.
    record = logging.LogRecord(
        "gunicorn.access",
        logging.INFO,
        __file__,
        1,
        ACCESS_LOG_FORMAT,
        {
            "h": "127.0.0.1",
            "t": "[now]",
            "m": "GET",
            "U": "/confirm/SECRETTOKEN",
            "H": "HTTP/1.1",
            "s": "200",
            "B": "10",
            "L": "0.01",
            "a": "curl",
        },
        None,
    )
    assert RedactingFilter().filter(record)
    assert "SECRETTOKEN" not in record.getMessage()
    assert re.search(r'"GET /confirm/\[token\] HTTP/1.1" 200', record.getMessage())


# ---------------------------------------------------------------- every token route, both logs

SECRET = "Zm9vYmFyLXNlY3JldC10b2tlbi12YWx1ZQ"
NGINX_SITE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "jointly.conf.template"


def _nginx_map(source: str, target: str) -> tuple[re.Pattern[str], str]:
    """A map of the shipped nginx site as a Python pattern and replacement (its one regex line)."""
    block = re.search(
        rf"map \${source} \${target} \{{(.*?)\n\}}", NGINX_SITE.read_text(), re.DOTALL
    )
    assert block, f"no map ${source} ${target} in {NGINX_SITE.name}"
    pattern, value = re.search(r'"~([^"]+)"\s+"?([^";]+)"?;', block.group(1)).groups()
    # PCRE's (?<name>…) is Python's (?P<name>…); nginx's ${name} and $name are \g<name>.
    pattern = re.sub(r"\(\?<(?=[a-z_])", "(?P<", pattern)
    value = re.sub(r"\$\{?([a-z_]+)\}?", r"\\g<\1>", value)
    return re.compile(pattern), value


def nginx_logged_uri(request_uri: str) -> str:
    """What nginx's `log_format jointly` writes for this $request_uri."""
    # A map's value is the matching line's value, its captures filled in; else its default.
    path_pattern, path_value = _nginx_map("request_uri", "jointly_request_path")
    path = path_pattern.search(request_uri).expand(path_value)
    token_pattern, token_value = _nginx_map("jointly_request_path", "jointly_logged_uri")
    match = token_pattern.search(path)
    return match.expand(token_value) if match else path


def _token_paths(app) -> list[str]:
    """A request path for every route with a token in it, the token being SECRET."""
    paths = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        tokens = [name for name in rule.arguments if "token" in name.lower()]
        if not tokens:
            continue
        values = {name: SECRET if name in tokens else "1" for name in rule.arguments}
        paths.append(adapter.build(rule.endpoint, values, method=next(iter(rule.methods))))
    return sorted(set(paths))


def test_every_token_route_is_masked_in_the_apps_and_nginxs_access_logs(app):
    from petition.core.i18n import available_languages

    paths = _token_paths(app)
    # The walk finds the routes it must (a renamed argument would hide them).
    for known in ("/confirm/", "/withdraw/", "/manage/email/", "/unsubscribe/", "/password/set/"):
        assert any(known in path for path in paths), known
    prefixes = ["", *(f"/{code}" for code in available_languages())]
    for path in paths:
        for prefix in prefixes:
            uri = f"{prefix}{path}?utm_source=mail&t={SECRET}"
            line = f'127.0.0.1 - - [04/Dec/2026:05:00:00 +0000] "GET {uri} HTTP/1.1" 200 1234'
            assert SECRET not in redact(line), line
            assert "[token]" in redact(line), line
            logged = nginx_logged_uri(uri)
            assert SECRET not in logged and "[token]" in logged, (uri, logged)
    # Other paths pass through nginx's map unchanged, without their query string.
    assert nginx_logged_uri("/statements/x/sign?lang=de") == "/statements/x/sign"
    assert nginx_logged_uri("/manage") == "/manage"


def test_query_strings_and_encoded_addresses_are_kept_out_of_request_lines():
    line = '127.0.0.1 - - [now] "GET /staff/signatures?q=Anna+Nowak&state=all HTTP/1.1" 200 -'
    assert redact(line) == '127.0.0.1 - - [now] "GET /staff/signatures HTTP/1.1" 200 -'
    assert redact("redirect to /staff/signatures?q=anna%40example.org") == "redirect to [email]"
    assert redact("j%C3%B6hn%40ex%C3%A4mple.org bounced") == "[email] bounced"
    assert redact("100% of 20%") == "100% of 20%"


def test_a_staff_search_logs_neither_the_address_nor_the_name(app, live_url, caplog):
    from tests.staff_helpers import PASSWORD, make_staff

    caplog.set_level(logging.DEBUG)
    base = live_url.rsplit("/statements/", 1)[0]
    make_staff(app, "searcher@example.org")
    browser = _browser()
    token = CSRF_RE.search(_get(browser, base + "/staff/login")).group(1)
    _post(
        browser,
        base + "/staff/login",
        {"email": "searcher@example.org", "password": PASSWORD, "csrf_token": token},
    )
    searches = {"q": EMAIL}, {"q": NAME}, {"q": "Secretperson", "state": ""}
    for query in searches:
        page = _get(browser, base + "/staff/signatures?" + urllib.parse.urlencode(query))
        assert "sign out" in page.lower()
    # The filtered export too.
    _get(browser, base + "/staff/signatures.csv?" + urllib.parse.urlencode({"q": EMAIL}))
    # Typed into the address bar, with the @ percent-encoded or not.
    _get(browser, base + "/staff/signatures?q=" + EMAIL.replace("@", "%40"))
    _get(browser, base + "/staff/signatures?q=" + urllib.parse.quote(EMAIL, safe="@"))

    logged = _logged_text(caplog)
    assert '"GET /staff/signatures HTTP/1.1" 200' in logged
    for secret in (EMAIL, EMAIL.lower(), NAME, "Secretperson", "Secret-Person", "lodzkie"):
        assert secret.lower() not in logged.lower(), secret
    assert urllib.parse.quote(NAME).lower() not in logged.lower()


def test_nginx_never_caches_a_token_route(app):
    """Every page an emailed link opens is personal: nginx's cache map names each of them (and
    the staff console), under every language prefix, as robots.txt does."""
    from petition.core.i18n import available_languages

    private, _value = _nginx_map("request_uri", "jointly_private_path")
    prefixes = ["", *(f"/{code}" for code in available_languages())]
    for path in [*_token_paths(app), "/staff/signatures"]:
        for prefix in prefixes:
            assert private.search(f"{prefix}{path}"), f"{prefix}{path}"
    assert not private.search("/statements/x/sign")
