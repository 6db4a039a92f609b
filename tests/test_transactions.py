"""One transaction style: only the outermost write transaction commits; after-commit work follows it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from petition.core import events
from petition.core.audit import Actor
from petition.core.db import (
    after_write,
    after_write_held,
    in_write_transaction,
    transaction,
    write_transaction,
)
from petition.extensions import db
from petition.models import AuditEvent, Signature, SignatureState, Statement
from petition.moderation.service import DecisionResult, withdraw_on_request
from tests.conftest import wait_jobs


class Boom(Exception):
    pass


def _approved_id() -> int:
    return db.session.scalar(
        select(Signature.id).where(Signature.state == SignatureState.APPROVED).limit(1)
    )


def _committed(column: str, signature_id: int) -> str:
    """The row as another connection sees it: only committed data.

    A raw DBAPI connection, so that no write lock is asked for while the test holds one.
    """
    conn = db.engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT {column} FROM signatures WHERE id = {int(signature_id)}")
        value = cursor.fetchone()[0]
        cursor.close()
        conn.rollback()
        return value
    finally:
        conn.close()


def _committed_state(signature_id: int) -> str:
    return _committed("state", signature_id)


@pytest.fixture
def list_changes():
    seen: list[tuple[int, str]] = []

    def receiver(statement_id, reason=""):
        seen.append((statement_id, reason))

    events.list_changed.connect(receiver)
    yield seen
    events.list_changed.disconnect(receiver)


def test_a_nested_withdrawal_does_not_commit_the_outer_transaction(app, seeded, list_changes):
    with app.app_context():
        signature_id = _approved_id()
        statement_id = db.session.get(Signature, signature_id).statement_id
        list_version = db.session.get(Statement, statement_id).list_version
        audits = db.session.scalar(select(func.count(AuditEvent.id)))

        @write_transaction
        def outer():
            decision = withdraw_on_request(signature_id, Actor.cli("test"), reason="asked")
            assert decision.result is DecisionResult.DONE
            # Joined, not committed: another connection still sees the approved row ...
            assert _committed_state(signature_id) == SignatureState.APPROVED.value
            # ... and nobody was told the list changed.
            assert list_changes == []
            raise Boom

        with pytest.raises(Boom):
            outer()
        db.session.remove()
        signature = db.session.get(Signature, signature_id)
        assert SignatureState(signature.state) is SignatureState.APPROVED
        assert signature.withdrawn_at is None
        assert db.session.get(Statement, statement_id).list_version == list_version
        assert db.session.scalar(select(func.count(AuditEvent.id))) == audits
    assert list_changes == []  # a rolled-back change announces nothing


def test_a_nested_withdrawal_is_announced_once_after_the_outer_commit(app, seeded, list_changes):
    with app.app_context():
        signature_id = _approved_id()

        @write_transaction
        def outer():
            withdraw_on_request(signature_id, Actor.cli("test"))
            assert list_changes == []

        outer()
        assert _committed_state(signature_id) == SignatureState.WITHDRAWN.value
        statement_id = db.session.get(Signature, signature_id).statement_id
    assert list_changes == [(statement_id, "withdrawal")]
    wait_jobs(app)


def test_after_write_runs_after_the_outermost_commit_only(app, seeded):
    calls: list[tuple[str, bool, str]] = []
    with app.app_context():
        signature_id = _approved_id()

        @write_transaction
        def inner():
            db.session.get(Signature, signature_id).note = "changed inside"
            after_write(
                lambda: calls.append(
                    ("inner", in_write_transaction(), _committed("note", signature_id))
                )
            )

        with transaction():
            inner()
            assert calls == []  # the inner call ended, the transaction did not
            with transaction():
                after_write(lambda: calls.append(("outer", in_write_transaction(), "")))
            assert calls == []
        # Both ran once, in order, after the commit and outside any transaction.
        assert calls == [("inner", False, "changed inside"), ("outer", False, "")]


def test_after_write_work_is_dropped_on_rollback(app, seeded):
    calls: list[str] = []
    with app.app_context():
        signature_id = _approved_id()

        @write_transaction
        def inner():
            db.session.get(Signature, signature_id).note = "never stored"
            after_write(lambda: calls.append("inner"))

        with pytest.raises(Boom), transaction():
            inner()
            raise Boom
        assert calls == []
        db.session.remove()
        assert db.session.get(Signature, signature_id).note != "never stored"
        # The next transaction starts with no leftover work from the failed one.
        with transaction():
            after_write(lambda: calls.append("next"))
        assert calls == ["next"]


def test_outside_a_transaction_after_write_runs_at_once(app):
    calls: list[str] = []
    with app.app_context():
        after_write(lambda: calls.append("now"))
    assert calls == ["now"]


def test_after_write_held_leaves_committed_work_to_the_caller(app, seeded):
    """after_write_held (a batch of sign-ons' leader): the work of the transactions committed
    in the block is handed back, not run; a rolled-back one leaves none; outside, work runs."""
    calls: list[str] = []
    with app.app_context():
        with after_write_held() as held:
            with transaction():
                after_write(lambda: calls.append("committed"))
            with pytest.raises(Boom), transaction():
                after_write(lambda: calls.append("rolled back"))
                raise Boom
            assert calls == []
        assert len(held) == 1
        held[0]()
        assert calls == ["committed"]
        with transaction():
            after_write(lambda: calls.append("after the block"))
    assert calls == ["committed", "after the block"]
