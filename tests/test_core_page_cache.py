"""Rendered once per version (issue 10.2): public pages and the sign-on form are kept in the
process by URL and ETag; SQLite writers queue for their turn instead of polling."""

from __future__ import annotations

import threading
import time

from flask import render_template_string, template_rendered
from sqlalchemy import event

from petition.core.caching import public_page
from petition.core.db import SQLiteWriters
from petition.extensions import db
from tests.conftest import CSRF_RE, valid_form
from tests.flows import import_approved


class Rendered:
    """The templates an app renders while the block runs."""

    def __init__(self, app) -> None:
        self.app = app
        self.names: list[str] = []

    def _note(self, _sender, template, context, **_extra) -> None:
        self.names.append(template.name)

    def __enter__(self) -> list[str]:
        template_rendered.connect(self._note, self.app)
        return self.names

    def __exit__(self, *exc) -> None:
        template_rendered.disconnect(self._note, self.app)


def test_a_public_page_is_rendered_once_per_version(app, seeded):
    url = f"/statements/{seeded}/signatories"
    first = app.test_client().get(url)
    with Rendered(app) as rendered:
        again = app.test_client().get(url)
    assert rendered == []
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    # Another query string is another page.
    with Rendered(app) as rendered:
        filtered = app.test_client().get(url + "?country=DE")
    assert rendered == ["public/signatories.html"] and filtered.data != first.data
    # A change to what the page shows is a new version: rendered again, with the change.
    import_approved(
        app,
        seeded,
        [
            {
                "organisation_name": "Kept Out Of Date Org",
                "organisation_type": "ngo",
                "country": "DE",
            }
        ],
    )
    with Rendered(app) as rendered:
        changed = app.test_client().get(url)
    assert rendered == ["public/signatories.html"]
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert "Kept Out Of Date Org" in changed.text


def test_a_page_that_read_the_session_is_not_kept(app):
    calls: list[str] = []

    @app.get("/test-personal")
    def personal():
        def render():
            calls.append("render")
            return render_template_string("{{ session.get('who', 'nobody') }}")

        return public_page("personal", render)

    client = app.test_client()
    with client.session_transaction() as stored:
        stored["who"] = "alice"
    assert client.get("/test-personal").text == "alice"
    # Someone else: rendered for them, never alice's copy.
    assert app.test_client().get("/test-personal").text == "nobody"
    assert calls == ["render", "render"]


def test_the_sign_on_form_is_rendered_once_and_each_visitor_gets_their_own_token(app, seeded):
    url = f"/statements/{seeded}/sign"
    alice, bob = app.test_client(), app.test_client()
    alice_page = alice.get(url)
    with Rendered(app) as rendered:
        bob_page = bob.get(url)
    assert rendered == []
    alice_token = CSRF_RE.search(alice_page.text).group(1)
    bob_token = CSRF_RE.search(bob_page.text).group(1)
    assert alice_token != bob_token
    assert bob_page.headers["Cache-Control"] == "private, no-store"
    assert "Set-Cookie" in bob_page.headers
    # Bob's page is Alice's but for the token: the same HTML around it.
    assert bob_page.text.replace(bob_token, "") == alice_page.text.replace(alice_token, "")
    # Each token works with its own session only (CSRFProtect refuses the other's: 400).
    crossed = bob.post(url, data={**valid_form(), "csrf_token": alice_token})
    assert crossed.status_code == 400
    signed = bob.post(url, data={**valid_form(), "csrf_token": bob_token})
    assert signed.status_code == 302


def test_a_visitor_with_more_than_a_token_in_the_session_gets_a_page_of_their_own(app, seeded):
    url = f"/statements/{seeded}/sign"
    app.test_client().get(url)
    client = app.test_client()
    with client.session_transaction() as stored:
        stored["_flashes"] = [("message", "Only for this visitor")]
    with Rendered(app) as rendered:
        page = client.get(url)
    assert rendered == ["signing/sign.html"]
    assert "Only for this visitor" in page.text
    assert "Only for this visitor" not in app.test_client().get(url).text


def test_no_page_is_kept_when_the_cache_has_no_room(app, seeded):
    app.extensions["page_cache"].entries = 0
    url = f"/statements/{seeded}"
    app.test_client().get(url)
    with Rendered(app) as rendered:
        app.test_client().get(url)
    assert rendered == ["public/statement.html"]


def _statements_sent(app, call) -> list[str]:
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_for_a_moment_a_page_is_answered_without_a_query(app, seeded):
    app.extensions["page_cache"].fresh_seconds = 0.5
    url = f"/statements/{seeded}/signatories"
    first = app.test_client().get(url)
    answers = []
    assert _statements_sent(app, lambda: answers.append(app.test_client().get(url))) == []
    assert answers[0].data == first.data and answers[0].headers["ETag"] == first.headers["ETag"]
    assert "public" in answers[0].headers["Cache-Control"]
    revalidated = []
    _statements_sent(
        app,
        lambda: revalidated.append(
            app.test_client().get(url, headers={"If-None-Match": first.headers["ETag"]})
        ),
    )
    assert revalidated[0].status_code == 304
    import_approved(
        app,
        seeded,
        [{"organisation_name": "Seen A Moment Later", "organisation_type": "ngo", "country": "DE"}],
    )
    # Within the moment: the page as it was (any cache in front may keep it for its max-age).
    assert "Seen A Moment Later" not in app.test_client().get(url).text
    time.sleep(0.6)
    later = app.test_client().get(url)
    assert "Seen A Moment Later" in later.text
    assert later.headers["ETag"] != first.headers["ETag"]


def test_for_a_moment_the_sign_on_form_needs_no_query_and_keeps_tokens_apart(app, seeded):
    app.extensions["page_cache"].fresh_seconds = 5
    url = f"/statements/{seeded}/sign"
    first = app.test_client().get(url)
    visitor = app.test_client()
    pages = []
    assert _statements_sent(app, lambda: pages.append(visitor.get(url))) == []
    token = CSRF_RE.search(pages[0].text).group(1)
    assert token != CSRF_RE.search(first.text).group(1)
    assert pages[0].headers["Cache-Control"] == "private, no-store"
    assert visitor.post(url, data={**valid_form(), "csrf_token": token}).status_code == 302
    # A staff member's session holds more than a token: their page is rendered for them.
    staff = app.test_client()
    with staff.session_transaction() as stored:
        stored["_flashes"] = [("message", "Only for this visitor")]
    assert "Only for this visitor" in staff.get(url).text


def test_sqlite_writers_take_turns_across_processes_and_threads(tmp_path):
    database = str(tmp_path / "turns.db")
    first, other_process = (
        SQLiteWriters(database, timeout=0.3),
        SQLiteWriters(database, timeout=0.3),
    )
    held = first.acquire()
    assert held == (True, True)
    # Another process's writer (its own open file) waits for the turn, then goes ahead without
    # it after its timeout, leaving the last word to SQLite's busy timeout.
    started = time.monotonic()
    assert other_process.acquire() == (True, False)
    assert time.monotonic() - started >= 0.25
    other_process.release((True, False))
    # A thread of this process waits until the turn is released, then has it.
    got: list[tuple[bool, bool]] = []
    waiter = threading.Thread(target=lambda: got.append(first.acquire()))
    waiter.start()
    time.sleep(0.1)
    assert got == []
    first.release(held)
    waiter.join(timeout=5)
    assert got == [(True, True)]
    first.release(got[0])
    assert other_process.acquire() == (True, True)
    other_process.release((True, True))
