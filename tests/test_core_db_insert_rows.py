"""core/db.py insert_rows: many rows in one statement, each stored as given.

On PostgreSQL the rows go as one JSON document (INSERT … SELECT … json_to_recordset); elsewhere as
SQLAlchemy's executemany. Either way every value, default and NULL must land as a row-by-row
INSERT would have put it."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, event, select

from petition.core.db import insert_rows, transaction
from petition.extensions import db
from petition.models import AuditEvent, OutboxMessage, OutboxStatus, utcnow

OUTBOX = cast(Table, OutboxMessage.__table__)
AUDIT = cast(Table, AuditEvent.__table__)
AWKWARD = ['{"a","b"}', "NULL", 'O\'Brien & "Sons", Ltd\\', "Ελλάδα, Київ", "a,b}{", ""]


def executions(app):
    """The statements sent, each with whether it was an executemany."""
    seen: list[tuple[str, bool]] = []

    def on_execute(_conn, _cursor, statement, _parameters, _context, executemany) -> None:
        seen.append((statement.split(None, 1)[0].upper(), executemany))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", on_execute)


def test_rows_land_as_given_with_defaults_and_their_ids_returned(app) -> None:
    due = utcnow() + timedelta(hours=1)
    rows = [
        {
            "kind": "test",
            "to_address": f"r{n}@example.org",
            "subject": subject,
            "body_text": subject * 2,
            "status": OutboxStatus.QUEUED,
            "next_attempt_at": due,
            "claimed_at": None,  # None in every row: NULL
        }
        for n, subject in enumerate(AWKWARD)
    ]
    with app.app_context():
        seen, stop = executions(app)
        try:
            with transaction():
                returned = insert_rows(OUTBOX, rows, returning=("id", "to_address"))
                ids = {address: message_id for message_id, address in returned}
        finally:
            stop()
        postgres = db.engine.dialect.name == "postgresql"
        inserts = [executemany for verb, executemany in seen if verb == "INSERT"]
        # PostgreSQL: one statement, one execution (arrays); elsewhere SQLAlchemy's own way.
        assert inserts == [False] if postgres else len(inserts) == 1
        stored = {m.to_address: m for m in db.session.scalars(select(OutboxMessage))}
    assert set(ids) == set(stored) == {row["to_address"] for row in rows}
    for row in rows:
        message = stored[row["to_address"]]
        assert message.id == ids[row["to_address"]]
        assert (message.subject, message.body_text) == (row["subject"], row["body_text"])
        assert message.status == OutboxStatus.QUEUED and message.next_attempt_at == due
        assert message.claimed_at is None
        # Left out: the columns' own defaults, as a row-by-row INSERT fills them.
        assert (message.body_html, message.attempts, message.last_error) == ("", 0, "")
        assert (message.unanswered_sends, message.capped_domain) == (0, "")


def test_json_values_and_empty_calls(app) -> None:
    rows = [
        {"actor_type": "system", "action": "test", "before": {"name": name}, "after": None}
        for name in AWKWARD
    ]
    plain = [{"actor_type": "system", "action": "plain", "before": None, "after": None}] * 3
    with app.app_context():
        with transaction():
            assert insert_rows(AUDIT, []) is None
            insert_rows(AUDIT, rows)
            insert_rows(AUDIT, plain)
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.before for e in events if e.action == "test"] == [{"name": n} for n in AWKWARD]
    assert [(e.before, e.after, e.detail) for e in events if e.action == "plain"] == [
        (None, None, "")
    ] * 3
    assert all(e.created_at is not None for e in events)
