"""An unreachable database is an outage, told as one: 503 + Retry-After, never a stack trace,
and a form that was being sent can be sent again as typed.

The database here is really unreachable: a PostgreSQL address on which nothing listens.
(tests/test_faults.py restarts a real PostgreSQL under a running deployment.)
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy.exc import IntegrityError, ProgrammingError

from petition import create_app
from tests.conftest import _base_config, free_port, valid_form

SLUG = "interregional-innovation-investments"
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def dead_app(tmp_path):
    """The application on a database server that is down (connection refused)."""
    config = _base_config(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone", tmp_path)
    # Rate limiting on, as in production: its headers must not overwrite the outage's Retry-After.
    # (An hourly window: its reset would make Retry-After an hour.)
    config.update(
        WTF_CSRF_ENABLED=False,
        PROPAGATE_EXCEPTIONS=False,
        RATELIMIT_ENABLED=True,
        SIGN_RATE_LIMIT="100 per hour",
    )
    app = create_app(config)
    yield app
    app.extensions["jobs"].stop()
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def _assert_outage_page(response) -> str:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Please try again in a minute" in page
    assert "Traceback" not in page and "psycopg" not in page and "OperationalError" not in page
    return page


def test_a_page_read_during_an_outage_answers_503_with_retry_after(dead_app, caplog):
    client = dead_app.test_client()
    for path in (
        f"/statements/{SLUG}",
        f"/statements/{SLUG}/sign",
        f"/statements/{SLUG}/signatories",
    ):
        page = _assert_outage_page(client.get(path))
        assert "Reload this page in a minute" in page
        assert "nothing you sent was saved" not in page
    # Logged as an outage, in one line, without a traceback or the query's parameters.
    outage_lines = [r for r in caplog.records if "answered 503" in r.getMessage()]
    assert outage_lines and all(r.exc_info is None for r in outage_lines)


def test_open_data_during_an_outage_answers_json_503(dead_app):
    response = dead_app.test_client().get(f"/statements/{SLUG}/signatories.json")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert response.get_json() == {
        "error": "Please try again in a minute",
        "message": "This site could not reach its database just now. Please try again in a minute.",
        "status": 503,
        "saved": False,
    }


def test_a_sign_form_sent_during_an_outage_says_nothing_was_saved_and_keeps_what_was_typed(
    dead_app,
):
    typed = valid_form(
        organisation_name='Rada "Łódź" <Region> & Co',
        comment="Line one\nline two",
        csrf_token="the-token-of-the-form",
    )
    response = dead_app.test_client().post(f"/statements/{SLUG}/sign", data=typed)
    page = _assert_outage_page(response)
    assert "nothing you sent was saved" in page
    assert "Back button" in page
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form.group(1) == f"/statements/{SLUG}/sign"
    resent = {name: html.unescape(value) for name, value in HIDDEN_RE.findall(form.group(2))}
    assert resent == typed  # every field, the CSRF token included, exactly as typed
    assert "<Region>" not in page  # escaped, not markup


def test_a_password_is_never_written_back_into_the_outage_page(dead_app):
    response = dead_app.test_client().post(
        "/staff/login", data={"email": "a@example.org", "password": "hunter2-secret"}
    )
    page = _assert_outage_page(response)
    assert "hunter2-secret" not in page
    assert 'type="hidden"' not in page


@pytest.mark.config(PROPAGATE_EXCEPTIONS=False)
@pytest.mark.parametrize("error", [ProgrammingError, IntegrityError])
def test_a_bug_in_a_query_is_still_a_500_not_an_outage(app, client, seeded, monkeypatch, error):
    from petition.statements import views

    def broken(*_args, **_kwargs):
        raise error("SELECT broken", {}, Exception("a bug, not an outage"))

    monkeypatch.setattr(views, "statement_or_404", broken)
    response = client.get(f"/statements/{SLUG}")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
