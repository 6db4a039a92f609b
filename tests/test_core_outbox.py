"""The outbox: rows written with the change, sent after commit, never twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from petition.core import outbox
from petition.core.db import transaction
from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus, utcnow
from tests.conftest import wait_jobs

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- mail


def test_mail_send_pending(app, runner, seeded, smtp):
    now = utcnow()
    with app.app_context():
        for index, due in enumerate(
            (now - timedelta(minutes=1), now - timedelta(hours=2), now + timedelta(hours=1))
        ):
            db.session.add(
                OutboxMessage(
                    kind="test",
                    to_address=f"queued{index}@example.org",
                    subject=f"Queued {index}",
                    body_text="Hello",
                    status=OutboxStatus.QUEUED,
                    next_attempt_at=due,
                )
            )
        db.session.commit()
    result = runner.invoke(args=["mail", "send-pending"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "due 2: sent 2, deferred 0, failed 0"
    assert sorted(m["To"] for m in smtp.wait_for(2)) == [
        "queued0@example.org",
        "queued1@example.org",
    ]
    with app.app_context():
        statuses = dict(
            db.session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all()
        )
    assert statuses == {
        "queued0@example.org": OutboxStatus.SENT,
        "queued1@example.org": OutboxStatus.SENT,
        "queued2@example.org": OutboxStatus.QUEUED,  # not due yet
    }
    again = runner.invoke(args=["mail", "send-pending"])
    assert again.output.strip() == "due 0: sent 0, deferred 0, failed 0"
    wait_jobs(app)
    assert len(smtp.messages) == 2


# ---------------------------------------------------------------- the claim: never sent twice


def _row(app, status: OutboxStatus, address: str) -> int:
    """An outbox row that is due now, in the given status."""
    with app.app_context():
        message = OutboxMessage(
            kind="test",
            to_address=address,
            subject="Hello",
            body_text="Hello",
            status=status,
            next_attempt_at=utcnow() - timedelta(minutes=1),
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def _status(app, message_id: int) -> OutboxStatus:
    with app.app_context():
        return db.session.get(OutboxMessage, message_id).status


def test_delivering_the_same_row_twice_sends_it_once(app, smtp):
    message_id = _row(app, OutboxStatus.QUEUED, "once@example.org")
    with app.app_context():
        assert outbox.deliver(message_id) == OutboxStatus.SENT
        assert outbox.deliver(message_id) is None  # a second job for the same row
        assert outbox.send_due() == {
            "due": 0,
            "sent": 0,
            "deferred": 0,
            "failed": 0,
            "uncertain": 0,
        }
    wait_jobs(app)
    assert [m["To"] for m in smtp.messages] == ["once@example.org"]
    assert _status(app, message_id) == OutboxStatus.SENT


@pytest.mark.parametrize("status", [OutboxStatus.SENDING, OutboxStatus.FAILED])
def test_a_row_held_elsewhere_or_failed_is_not_sent(app, smtp, status):
    # SENDING: another process claimed it and is talking to the SMTP server right now.
    message_id = _row(app, status, "not.mine@example.org")
    with app.app_context():
        assert outbox.deliver(message_id) is None
    wait_jobs(app)
    assert smtp.messages == []
    assert _status(app, message_id) == status


def test_two_workers_delivering_one_row_at_once_send_it_once(app, smtp):
    message_id = _row(app, OutboxStatus.QUEUED, "raced@example.org")
    start = threading.Barrier(2)
    results = []

    def worker():
        with app.app_context():
            start.wait(timeout=10)
            results.append(outbox.deliver(message_id))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    wait_jobs(app)
    assert sorted(results, key=str) == [None, OutboxStatus.SENT]
    assert [m["To"] for m in smtp.messages] == ["raced@example.org"]


def test_the_delivery_job_sends_the_due_rows_a_batch_at_a_time_and_queues_itself_again(
    app, smtp, monkeypatch
):
    """deliver_due (the job a batch of sign-ons queues): the oldest due rows, claimed in one
    statement, each sent once with a Message-ID of its own; queued again while more are due;
    a row not yet due, or held elsewhere, is left alone."""
    queued = [_row(app, OutboxStatus.QUEUED, f"due{n}@example.org") for n in range(5)]
    held = _row(app, OutboxStatus.SENDING, "held@example.org")
    with app.app_context():
        later = db.session.get(OutboxMessage, queued.pop())
        later.next_attempt_at = utcnow() + timedelta(hours=1)
        db.session.commit()
        queued_jobs: list[tuple] = []
        monkeypatch.setattr(
            outbox.jobs, "enqueue", lambda func, *args, **kw: queued_jobs.append((func, kw))
        )
        assert outbox.deliver_due(batch=3) == 3
        # More may be due: the job again, under its key (one waits in the queue at most).
        assert queued_jobs == [(outbox.deliver_due, {"key": outbox.DELIVER_DUE})]
        assert outbox.deliver_due(batch=3) == 1
        assert outbox.deliver_due(batch=3) == 0
        assert len(queued_jobs) == 1
    assert sorted(m["To"] for m in smtp.wait_for(4)) == [f"due{n}@example.org" for n in range(4)]
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(set(ids)) == 4
    with app.app_context():
        stored = {
            m.to_address: (m.status, m.message_id, m.attempts)
            for m in db.session.scalars(select(OutboxMessage))
        }
    for message in smtp.messages:
        assert stored[message["To"]] == (OutboxStatus.SENT, message["Message-ID"], 1)
    assert stored["due4@example.org"][0] == OutboxStatus.QUEUED
    assert stored["held@example.org"][0] == OutboxStatus.SENDING
    assert _status(app, held) == OutboxStatus.SENDING


def test_a_batch_of_messages_asks_for_the_delivery_job_with_a_moment_to_gather(app, monkeypatch):
    """queue_many (a batch of sign-ons) asks for deliver_due under its key and with
    DELIVERY_GATHER's delay: the batches of the next moment join that run (see the runners'
    tests) instead of each paying for a job of its own."""
    queued_jobs: list[tuple] = []
    monkeypatch.setattr(
        outbox.jobs, "enqueue", lambda func, *args, **kw: queued_jobs.append((func, kw))
    )
    email = outbox.Email("Subject", "Text", "")
    with app.app_context():
        with transaction():
            outbox.queue_many(
                "confirm", [(f"gather{n}@example.org", email, None) for n in range(3)]
            )
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
    assert outbox.DELIVERY_GATHER > 0
    assert queued_jobs == [
        (outbox.deliver_due, {"key": outbox.DELIVER_DUE, "delay": outbox.DELIVERY_GATHER})
    ]


def test_a_delivery_batch_uses_one_relay_connection_and_a_new_one_after_a_failure(
    app, smtp, monkeypatch
):
    """deliver_due sends its batch on one SMTP connection (the relay's greeting, STARTTLS and
    login once, not per message). A message the relay refuses is deferred as usual, the
    connection is dropped, and the next message goes on a new one."""
    ids = [_row(app, OutboxStatus.QUEUED, f"batch{n}@example.org") for n in range(5)]
    with app.app_context():
        monkeypatch.setattr(outbox.jobs, "enqueue", lambda *args, **kwargs: None)
        assert outbox.deliver_due() == 5
    smtp.wait_for(5)
    assert len(set(smtp.peers)) == 1, smtp.peers

    more = [_row(app, OutboxStatus.QUEUED, f"more{n}@example.org") for n in range(3)]
    smtp.fail_next.append("451 4.3.0 try again later")
    with app.app_context():
        assert outbox.deliver_due() == 3
    smtp.wait_for(7)
    assert sorted(m["To"] for m in smtp.messages[5:]) == ["more1@example.org", "more2@example.org"]
    # The refused message's connection was dropped: the next two share a new one.
    [refused_on] = smtp.refused_peers
    assert len(set(smtp.peers[5:])) == 1
    assert refused_on not in smtp.peers[5:] and refused_on not in smtp.peers[:5]
    assert [_status(app, i) for i in ids] == [OutboxStatus.SENT] * 5
    assert [_status(app, i) for i in more] == [
        OutboxStatus.QUEUED,  # refused once: retried later
        OutboxStatus.SENT,
        OutboxStatus.SENT,
    ]


def test_a_delivery_batch_records_each_message_before_the_next_goes_out(app, smtp, monkeypatch):
    """Each message is recorded as sent, durably (seen from another connection), before the
    next message is handed to the relay: a worker that dies mid-batch leaves no sent message
    recorded as unsent. On PostgreSQL the records share one autocommit connection for the
    batch, one pool checkout in all, where a transaction each took one checkout (with its
    liveness ping) per message."""
    ids = [_row(app, OutboxStatus.QUEUED, f"step{n}@example.org") for n in range(4)]
    seen_before_each: list[list[OutboxStatus]] = []
    checkouts: list[int] = []
    transmit = outbox._transmit

    def watching_transmit(message, msg, relay):
        with db.engine.connect() as other:  # outside the batch's connection and transaction
            rows = other.execute(
                select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids))
            )
            statuses = dict(rows.all())
        seen_before_each.append([statuses[i] for i in ids])
        transmit(message, msg, relay)

    with app.app_context():
        monkeypatch.setattr(outbox.jobs, "enqueue", lambda *args, **kwargs: None)
        monkeypatch.setattr(outbox, "_transmit", watching_transmit)
        claimed_before = db.engine.pool.checkedout()

        def on_checkout(*args) -> None:
            checkouts.append(1)

        event.listen(db.engine, "checkout", on_checkout)
        try:
            assert outbox.deliver_due() == 4
        finally:
            event.remove(db.engine, "checkout", on_checkout)
        postgres = db.engine.dialect.name == "postgresql"
        assert db.engine.pool.checkedout() == claimed_before  # every connection given back
    smtp.wait_for(4)
    sent, sending = OutboxStatus.SENT, OutboxStatus.SENDING
    assert seen_before_each == [
        [sending, sending, sending, sending],
        [sent, sending, sending, sending],
        [sent, sent, sending, sending],
        [sent, sent, sent, sending],
    ]
    assert [_status(app, i) for i in ids] == [sent] * 4
    # The claim's transaction, the watcher's four connections, then the records: one
    # connection for all four on PostgreSQL, one per record elsewhere.
    assert len(checkouts) == 1 + 4 + (1 if postgres else 4)
