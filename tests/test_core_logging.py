"""No log line carries an email address, a contact name or an emailed token (issue 15.9)."""

from __future__ import annotations

import http.cookiejar
import logging
import re
import urllib.parse
import urllib.request

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
