"""Sign-ons written together (signing/service.py `store_together`, core/batching.py): the
submissions a process holds while another is being written share one transaction, and each
ends as it would alone: its rows once, its email once, its answer in its own thread."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from petition.core import outbox
from petition.core.batching import GroupCommit
from petition.core.validation import registrable_domain
from petition.extensions import db
from petition.models import (
    AuditEvent,
    OutboxMessage,
    Signature,
    SignatureState,
    SignatureToken,
    Statement,
    TokenPurpose,
    utcnow,
)
from petition.signing import service as signing
from petition.statements.service import statement_to_sign
from tests.conftest import wait_jobs
from tests.flows import confirm

#: Founding signatories of the seeded statement.
GROUP = "signing.group_commit"


def entry(n: int, domain: str | None = None) -> signing.SignatureInput:
    email = f"person{n}@{domain or f'org{n}.example.org'}"
    return signing.SignatureInput(
        organisation_name=f"Organisation {n} Łódź",
        organisation_type="sme",
        country="PL",
        city="Łódź",
        website=f"https://org{n}.example.org",
        contact_name=f"Person {n}",
        contact_role="",
        email=email,
        email_normalised=email,
        keep_informed=n % 2 == 0,
        lang="de" if n % 3 == 0 else "",
    )


class HeldGroup:
    """This app's group commit, whose first lone write waits for `release`: what is handed in
    meanwhile queues, and is written as one batch once it is let go."""

    def __init__(self, app) -> None:
        self.writing = threading.Event()
        self.release = threading.Event()
        self._first = True
        self.group = GroupCommit(self._write_one, signing.store_together)
        app.extensions[GROUP] = self.group

    def _write_one(self, submission):
        if self._first:
            self._first = False
            self.writing.set()
            assert self.release.wait(20)
        return signing._store_alone(submission)


def submit_together(app, slug: str, first, rest, before_release=None) -> dict[str, object]:
    """`first` is submitted and held in the writer's turn; `rest` are submitted meanwhile, a
    thread each, then it is let go. Each email's outcome (or exception)."""
    held = HeldGroup(app)
    results: dict[str, object] = {}

    def submit(data) -> None:
        with app.app_context():
            try:
                statement = statement_to_sign(slug)
                results[data.email] = signing.submit_signature(statement, data, "192.0.2.7")
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                results[data.email] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(first,))]
    threads[0].start()
    assert held.writing.wait(20)
    for data in rest:
        threads.append(threading.Thread(target=submit, args=(data,)))
        threads[-1].start()
    deadline = time.monotonic() + 20
    while len(held.group._queue) < len(rest):  # noqa: SLF001
        assert time.monotonic() < deadline, "the submissions did not queue"
        time.sleep(0.005)
    if before_release is not None:
        before_release()
    held.release.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    return results


def rows_of(app, email: str) -> dict:
    with app.app_context():
        signature = db.session.scalars(select(Signature).where(Signature.email == email)).one()
        tokens = db.session.scalars(
            select(SignatureToken).where(SignatureToken.signature_id == signature.id)
        ).all()
        audit = db.session.scalars(
            select(AuditEvent).where(AuditEvent.signature_id == signature.id)
        ).all()
        mail = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.signature_id == signature.id)
        ).all()
        db.session.expunge_all()
        return {"signature": signature, "tokens": tokens, "audit": audit, "mail": mail}


def mail_files(app, message_id: int) -> list[Path]:
    """The files the outbox row `message_id` was delivered to (MAIL_DIR: no mail server)."""
    return list(Path(app.config["MAIL_DIR"]).glob(f"*-{message_id:06d}-confirm.eml"))


SIGNATURE_COLUMNS = [c.key for c in Signature.__table__.columns]


def test_submissions_that_arrive_together_are_stored_together_as_each_would_be_alone(
    app, client, seeded
):
    first, rest = entry(0), [entry(n) for n in range(1, 7)]
    results = submit_together(app, seeded, first, rest)
    assert results == {data.email: signing.SubmitOutcome.CREATED for data in [first, *rest]}
    group = app.extensions[GROUP]
    assert (group.batches, group.batched_items) == (1, 6)
    wait_jobs(app)

    alone = rows_of(app, first.email)
    for data in rest:
        rows = rows_of(app, data.email)
        signature = rows["signature"]
        assert signature.state == SignatureState.PENDING_EMAIL
        assert (signature.organisation_name, signature.city) == (data.organisation_name, "Łódź")
        assert signature.keep_informed is data.keep_informed
        assert signature.lang == (data.lang or "en")  # the form's language, else the default
        assert signature.consent_at is not None
        assert signature.last_confirmation_sent_at == signature.consent_at
        # Every column filled as the lone write fills it (the derived search keys, the IP…).
        for column in SIGNATURE_COLUMNS:
            lone, batched = getattr(alone["signature"], column), getattr(signature, column)
            assert (lone is None) == (batched is None), column
        assert signature.submitted_ip == alone["signature"].submitted_ip == "192.0.2.7"
        # Its two links: the confirmation expires, the manage link does not.
        purposes = {token.purpose: token for token in rows["tokens"]}
        assert set(purposes) == {TokenPurpose.CONFIRM, TokenPurpose.MANAGE}
        assert purposes[TokenPurpose.CONFIRM].expires_at is not None
        assert purposes[TokenPurpose.MANAGE].expires_at is None
        # One audit row, as the lone write records it.
        [audit] = rows["audit"]
        [lone_audit] = alone["audit"]
        assert (audit.action, audit.actor_type, audit.to_state, audit.detail) == (
            lone_audit.action,
            lone_audit.actor_type,
            lone_audit.to_state,
            "ip=192.0.2.7",
        )
        # One email, sent once, in the signer's language, with its domain counted for the cap.
        [message] = rows["mail"]
        assert message.status == "sent"
        assert message.capped_domain == registrable_domain(data.email.rpartition("@")[2])
        assert len(mail_files(app, message.id)) == 1
        assert message.message_id.endswith(">") and message.message_id.startswith("<")
        if data.lang == "de":
            assert "Bestätig" in message.subject or "bestätig" in message.body_text
    ids = [rows_of(app, d.email)["mail"][0].message_id for d in [first, *rest]]
    assert len(set(ids)) == len(ids)
    # The emailed link confirms the endorsement written in the batch.
    confirmed = confirm(app, client, rest[0].email)
    assert confirmed == rows_of(app, rest[0].email)["signature"].id


def test_an_address_met_twice_or_signed_before_is_answered_as_alone(app, seeded):
    """In a batch, a second submission of one address, and an address that has signed, are
    left to the lone path: one row each, one email each, the usual answers."""
    earlier = entry(1)
    with app.app_context():
        assert signing.submit_signature(statement_to_sign(seeded), earlier) is (
            signing.SubmitOutcome.CREATED
        )
        db.session.remove()
    twice = entry(2)
    results = submit_together(app, seeded, entry(0), [twice, entry(3), twice, earlier])
    assert results[entry(3).email] is signing.SubmitOutcome.CREATED
    assert results[earlier.email] is signing.SubmitOutcome.UNCHANGED  # mailed moments ago
    assert results[twice.email] in (signing.SubmitOutcome.CREATED, signing.SubmitOutcome.UNCHANGED)
    wait_jobs(app)
    with app.app_context():
        for data in (twice, earlier):
            assert db.session.scalar(select(func.count()).where(Signature.email == data.email)) == 1
            assert (
                db.session.scalar(
                    select(func.count()).where(OutboxMessage.to_address == data.email)
                )
                == 1
            )


def test_a_statement_closed_meanwhile_refuses_every_waiting_submission(app, seeded):
    def close() -> None:
        with app.app_context():
            db.session.execute(update(Statement).values(is_open=False))
            db.session.commit()
            db.session.remove()

    rest = [entry(n) for n in range(1, 4)]
    results = submit_together(app, seeded, entry(0), rest, before_release=close)
    assert all(isinstance(result, signing.StatementClosed) for result in results.values())
    with app.app_context():
        assert not db.session.scalar(select(func.count()).where(Signature.email.like("person%")))
        assert not db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_a_batch_that_fails_halfway_leaves_nothing_and_each_is_stored_alone(
    app, seeded, monkeypatch
):
    """The batch's transaction rolls back whole (its signatures too), and every submission is
    then written on its own: no row twice, no email twice, each answered CREATED."""
    real = outbox.queue_many
    calls = []

    def fail_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("the outbox insert failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "queue_many", fail_once)
    rest = [entry(n) for n in range(1, 5)]
    results = submit_together(app, seeded, entry(0), rest)
    assert calls, "the batch did not reach its outbox rows"
    assert results == {d.email: signing.SubmitOutcome.CREATED for d in [entry(0), *rest]}
    assert app.extensions[GROUP].batches == 0
    wait_jobs(app)
    with app.app_context():
        for data in rest:
            [signature_id] = db.session.scalars(
                select(Signature.id).where(Signature.email == data.email)
            ).all()
            [message_id] = db.session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.signature_id == signature_id)
            ).all()
            assert (
                db.session.scalar(
                    select(func.count()).where(AuditEvent.signature_id == signature_id)
                )
                == 1
            )
            assert len(mail_files(app, message_id)) == 1


@pytest.mark.config(MAIL_DOMAIN_HOURLY_LIMIT=2)
def test_the_mail_cap_per_domain_counts_the_whole_batch(app, seeded):
    """Three sign-ons at one domain in one batch with room for two this hour: two go now,
    the third waits for the window, as alone."""
    rest = [entry(n, domain="example.net") for n in range(1, 4)]
    submit_together(app, seeded, entry(0), rest)
    with app.app_context():
        due = db.session.scalars(
            select(OutboxMessage.next_attempt_at)
            .where(OutboxMessage.capped_domain == "example.net")
            .order_by(OutboxMessage.next_attempt_at)
        ).all()
    now = utcnow()
    assert len(due) == 3
    assert due[1] <= now
    assert due[2] > now + timedelta(minutes=59)


def test_a_row_refused_late_in_the_batch_rolls_it_all_back_and_only_its_sender_is_told(
    app, seeded, monkeypatch
):
    """One submission's link collides with a stored one (the unique index refuses it), among
    the rows sent together at the end of the batch (PostgreSQL: in one pipeline): nothing of the
    batch stays, the others are stored alone, and only that submission fails."""
    real = signing._write_confirmation
    with app.app_context():
        signing.submit_signature(statement_to_sign(seeded), entry(9))
        taken = db.session.scalar(select(SignatureToken.token_hash).limit(1))
        db.session.remove()

    def colliding(signature, statement, **kwargs):
        confirmation = real(signature, statement, **kwargs)
        if signature.email == entry(2).email:
            return signing._Confirmation(taken, confirmation.manage_hash, confirmation.email)
        return confirmation

    monkeypatch.setattr(signing, "_write_confirmation", colliding)
    rest = [entry(n) for n in range(1, 5)]
    results = submit_together(app, seeded, entry(0), rest)
    assert app.extensions[GROUP].batches == 0
    assert isinstance(results.pop(entry(2).email), IntegrityError)
    assert results == {
        d.email: signing.SubmitOutcome.CREATED for d in [entry(0), *rest] if d != entry(2)
    }
    wait_jobs(app)
    with app.app_context():
        assert not db.session.scalar(select(func.count()).where(Signature.email == entry(2).email))
        for data in [entry(0), *rest]:
            if data == entry(2):
                continue
            [signature_id] = db.session.scalars(
                select(Signature.id).where(Signature.email == data.email)
            ).all()
            assert (
                db.session.scalar(
                    select(func.count()).where(SignatureToken.signature_id == signature_id)
                )
                == 2
            )
            assert (
                db.session.scalar(
                    select(func.count()).where(OutboxMessage.signature_id == signature_id)
                )
                == 1
            )


def test_a_batch_costs_the_same_statements_for_two_sign_ons_as_for_twenty(app, seeded):
    """The point of writing together: one statement per table whatever the batch's size (an
    INSERT of many rows, or an executemany, counts once)."""
    from sqlalchemy import event

    executed: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if threading.get_ident() == writer:  # not the jobs thread delivering the mail
            executed.append(statement.split(None, 1)[0].upper())

    writer = threading.get_ident()

    numbers = iter(range(100, 200))
    with app.test_request_context(f"/statements/{seeded}/sign", method="POST"):
        statement = statement_to_sign(seeded)
        batches = [
            [
                # Each in the language of its form, as every form submission is.
                signing.prepare_submission(statement, replace(entry(next(numbers)), lang="de"))
                for _ in range(size)
            ]
            for size in (2, 20)
        ]
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        seen = []
        for batch in batches:
            executed.clear()
            with app.app_context():
                assert signing.store_together(batch) == [signing.SubmitOutcome.CREATED] * len(batch)
                db.session.remove()
            seen.append(list(executed))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen[0] == seen[1]
    assert len(seen[0]) <= 8, seen[0]
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(Signature.email.like("person1__@%"))) == 22
        )


def test_a_batch_stores_every_value_as_typed(app, seeded):
    """On PostgreSQL a batch's signatures go as one array per column (`_insert_columns`): text
    that array syntax gives meaning to (braces, quotes, commas, backslashes, the word NULL) and
    empty values come back exactly as typed, each in its own row."""
    names = ['{"a","b"}', "NULL", 'O\'Brien & "Sons", Ltd\\', "Ελλάδα, Київ {x}", "a,b}{"]
    first = entry(40)
    rest = [replace(entry(41 + n), organisation_name=name) for n, name in enumerate(names)]
    rest[1] = replace(rest[1], city="", website="")
    results = submit_together(app, seeded, first, rest)
    assert set(results.values()) == {signing.SubmitOutcome.CREATED}
    assert (app.extensions[GROUP].batches, app.extensions[GROUP].batched_items) == (1, len(rest))
    for data in rest:
        signature = rows_of(app, data.email)["signature"]
        assert signature.organisation_name == data.organisation_name
        assert (signature.city, signature.website) == (data.city, data.website)
