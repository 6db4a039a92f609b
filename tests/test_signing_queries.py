"""The sign-on POST issues a fixed, small number of SQL statements (issue 10.2).

Not a timing test: a count. A statement added to the hot path (a reload after a commit, a query
per field, a check that could be part of an INSERT) shows up here before it shows up in
bench/signon_bench.py's submissions per second.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from petition.extensions import db
from petition.models import OutboxMessage, Signature, SignatureToken
from tests.conftest import csrf_token, valid_form, wait_jobs

SLUG = "interregional-innovation-investments"
SIGN = f"/statements/{SLUG}/sign"

# What one new endorsement needs. Before the write: the statement and the campaign identity (for
# the email; kept for PAGE_FRESH_SECONDS, see below). In the write transaction: whether the
# statement takes signatures and the address has signed it (one query), the signature, the audit
# row, both tokens in one INSERT, the recipient domain's hourly cap and the outbox row; and
# BEGIN (the read) and BEGIN IMMEDIATE on SQLite, the cap's advisory lock on PostgreSQL.
MAX_STATEMENTS = 10
#: The same with the statement and the identity kept (PAGE_FRESH_SECONDS, as in production).
MAX_STATEMENTS_KEPT = 7


@contextmanager
def statements_of_this_thread(app) -> Iterator[list[str]]:
    """Every SQL statement this thread sends (the jobs thread's mail delivery is not counted)."""
    seen: list[str] = []
    me = threading.get_ident()

    def count(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == me:
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_one_sign_on_post_issues_at_most_a_fixed_number_of_statements(app, seeded, client):
    token = csrf_token(client, SIGN)
    with statements_of_this_thread(app) as seen:
        response = client.post(SIGN, data={**valid_form(), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    listing = "\n".join(f"{i}. {s[:120]}" for i, s in enumerate(seen, 1))
    assert len(seen) <= MAX_STATEMENTS, f"{len(seen)} statements:\n{listing}"
    # The count is of a submission that did all its work: the row, both links, the mail.
    signature_id = _count(app, Signature, Signature.email_normalised == "anna.nowak@lodzkie.pl")
    assert signature_id == 1
    assert _count(app, SignatureToken) >= 2
    wait_jobs(app)
    assert _count(app, OutboxMessage, OutboxMessage.kind == "confirm") == 1
    inserts = [s for s in seen if s.upper().startswith("INSERT")]
    assert len(inserts) == 4, listing  # signature, tokens, audit, outbox


def test_the_form_page_reads_the_statement_its_pdf_versions_and_the_identity_only(
    app, seeded, client
):
    client.get(SIGN)  # the first visitor's GET renders the page
    with statements_of_this_thread(app) as seen:
        page = app.test_client().get(SIGN)
    assert page.status_code == 200
    selects = [s for s in seen if s.upper().startswith("SELECT")]
    assert len(selects) <= 3, "\n".join(seen)


@pytest.mark.config(PAGE_FRESH_SECONDS=60)
def test_with_kept_reads_a_sign_on_is_its_write_transaction_alone(app, seeded, client):
    token = csrf_token(client, SIGN)
    client.post(SIGN, data={**valid_form(email="first@example.org"), "csrf_token": token})
    with statements_of_this_thread(app) as seen:
        response = client.post(SIGN, data={**valid_form(), "csrf_token": token})
    assert response.status_code == 302
    listing = "\n".join(f"{i}. {s[:120]}" for i, s in enumerate(seen, 1))
    assert len(seen) <= MAX_STATEMENTS_KEPT, f"{len(seen)} statements:\n{listing}"
    assert not [s for s in seen if "FROM campaign_identity" in s or "statements.slug" in s]
    assert _count(app, Signature, Signature.email_normalised == "anna.nowak@lodzkie.pl") == 1
