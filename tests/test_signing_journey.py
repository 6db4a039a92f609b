"""The whole journey against a real SMTP server: sign, receive the email, confirm, withdraw."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.models import (
    AuditEvent,
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureState,
    SignatureToken,
    utcnow,
)
from tests.conftest import links_in, post_button, submit_sign, wait_jobs
from tests.flows import legacy_withdraw_link


def signature_by_email(app, email: str) -> Signature:
    with app.app_context():
        sig = db.session.scalar(
            select(Signature).where(Signature.email_normalised == email.lower())
        )
        assert sig is not None
        db.session.expunge(sig)
        return sig


def count_signatures(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signature.id)))


def test_sign_confirm_journey(app, client, seeded, smtp):
    response = submit_sign(client, seeded)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/statements/{seeded}/sign/check-your-email")
    page = client.get(response.headers["Location"])
    assert "Check your email" in page.get_data(as_text=True)

    [message] = smtp.wait_for(1)
    assert message["To"] == "anna.nowak@lodzkie.pl"
    assert "Innovation investments in interregional value chains" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Łódzkie Region" in text
    html = message.get_body(("html",)).get_content()
    assert "Łódzkie Region" in html
    links = links_in(message)
    assert set(links) == {"confirm", "manage"}

    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    assert sig.state == SignatureState.PENDING_EMAIL
    assert sig.organisation_name == "Łódzkie Region"
    assert sig.city == "Łódź"

    # A mail scanner opening the link must confirm nothing.
    for _ in range(3):
        shown = client.get(links["confirm"])
        assert shown.status_code == 200
        assert "Confirm the endorsement" in shown.get_data(as_text=True)
        assert "Łódzkie Region" in shown.get_data(as_text=True)
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.PENDING_EMAIL

    confirmed = post_button(client, links["confirm"])
    assert confirmed.status_code == 200
    body = confirmed.get_data(as_text=True)
    assert "Your endorsement is confirmed" in body
    assert "What happens next" in body
    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    assert sig.state == SignatureState.VERIFIED
    assert sig.verified_at is not None

    # Confirming twice is harmless and says so.
    again = client.post(links["confirm"], data={"csrf_token": "x"})
    assert again.status_code == 400  # a forged form is refused outright
    shown = client.get(links["confirm"])
    assert "already confirmed" in shown.get_data(as_text=True)

    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.signature_id == sig.id)
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["submitted", "confirmed"]
    # Not public until approved.
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert "Łódzkie Region" not in [s["organisation_name"] for s in listing["signatories"]]


def test_double_post_confirm_confirms_once(app, client, seeded, smtp):
    submit_sign(client, seeded)
    links = links_in(smtp.wait_for(1)[0])
    first = post_button(client, links["confirm"])
    second = post_button(client, links["confirm"])
    assert "Your endorsement is confirmed" in first.get_data(as_text=True)
    assert "already confirmed" in second.get_data(as_text=True)
    with app.app_context():
        confirmations = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "confirmed")
        )
    assert confirmations == 1


def test_expired_token_offers_a_new_link(app, client, seeded, smtp):
    submit_sign(client, seeded)
    links = links_in(smtp.wait_for(1)[0])
    with app.app_context():
        db.session.execute(
            SignatureToken.__table__.update().values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.execute(
            Signature.__table__.update().values(
                last_confirmation_sent_at=utcnow() - timedelta(hours=1)
            )
        )
        db.session.commit()
    page = client.get(links["confirm"])
    assert page.status_code == 410
    assert "has expired" in page.get_data(as_text=True)
    refused = post_button(client, links["confirm"])
    assert refused.status_code == 410
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.PENDING_EMAIL

    resend = client.post(
        links["confirm"] + "/resend", data={"csrf_token": _token_from(client, links["confirm"])}
    )
    assert resend.status_code == 200
    messages = smtp.wait_for(2)
    new_links = links_in(messages[1])
    assert new_links["confirm"] != links["confirm"]
    assert "Your endorsement is confirmed" in post_button(client, new_links["confirm"]).get_data(
        as_text=True
    )


def _token_from(client, path):
    from tests.conftest import csrf_token

    return csrf_token(client, path)


def test_forged_and_malformed_tokens(client, seeded):
    for path in (
        "/confirm/not-a-real-token-but-long-enough-123456",
        "/confirm/x",
        "/confirm/%00%ff",
        "/withdraw/not-a-real-token-but-long-enough-123456",
        "/confirm/" + "A" * 5000,
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not valid" in response.get_data(as_text=True)


def test_duplicate_submission_creates_no_second_row(app, client, seeded, smtp):
    first = submit_sign(client, seeded)
    second = submit_sign(client, seeded, email="  ANNA.NOWAK@lodzkie.pl ")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count_signatures(app) == 4 + 1
    wait_jobs(app)
    # Re-sent at most once per few minutes: the second submission came too soon.
    assert len(smtp.messages) == 1


def test_resubmission_after_interval_resends_and_changes_nothing(app, client, seeded, smtp):
    """Anyone may know an address: a later submission of it re-sends, it never overwrites."""
    submit_sign(client, seeded)
    first = smtp.wait_for(1)[0]
    wait_jobs(app)  # the delivery's own write must be over before this test writes (SQLite)
    with app.app_context():
        before = db.session.execute(select(Signature.__table__).order_by(Signature.id)).all()
        db.session.execute(
            Signature.__table__.update().values(
                last_confirmation_sent_at=utcnow() - timedelta(minutes=10)
            )
        )
        db.session.commit()
    attacker = client.application.test_client()
    response = submit_sign(
        attacker,
        seeded,
        email="Anna.Nowak@lodzkie.pl",
        organisation_name="Attacker Holdings",
        organisation_type="company",
        country="DE",
        city="Elsewhere",
        website="https://attacker.example",
        contact_name="Mallory",
        contact_role="Owner",
        comment="Not what Anna wrote",
    )
    # The same neutral page as a first submission: nothing tells whether the address signed.
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/check-your-email")
    messages = smtp.wait_for(2)
    resent = messages[1].get_body(("plain",)).get_content()
    assert "Łódzkie Region" in resent and "Attacker" not in resent
    with app.app_context():
        after = db.session.execute(select(Signature.__table__).order_by(Signature.id)).all()
    changed = {
        k
        for row_before, row_after in zip(before, after, strict=True)
        for k in row_before._mapping
        if row_before._mapping[k] != row_after._mapping[k]
    }
    assert changed <= {"last_confirmation_sent_at", "updated_at"}
    assert count_signatures(app) == 5
    # Anna's first link confirms Anna's details.
    post_button(client, links_in(first)["confirm"])
    with app.app_context():
        row = db.session.scalar(select(Signature).where(Signature.email == "anna.nowak@lodzkie.pl"))
        assert row.state == SignatureState.VERIFIED
        assert (row.organisation_name, row.contact_name, row.website, row.country) == (
            "Łódzkie Region",
            "Anna Nowak",
            "https://www.lodzkie.pl",
            "PL",
        )


def test_concurrent_duplicate_submissions_make_one_row(app, seeded, smtp):
    barrier = threading.Barrier(6)
    results: list[int] = []
    errors: list[BaseException] = []

    def post():
        client = app.test_client()
        try:
            from tests.conftest import csrf_token, valid_form

            url = f"/statements/{seeded}/sign"
            data = valid_form(email="same@example.org", website="https://example.org")
            data["csrf_token"] = csrf_token(client, url)
            barrier.wait(timeout=10)
            results.append(client.post(url, data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert results == [302] * 6
    with app.app_context():
        rows = db.session.scalar(
            select(func.count(Signature.id)).where(Signature.email_normalised == "same@example.org")
        )
    assert rows == 1
    wait_jobs(app)
    assert len(smtp.to("same@example.org")) == 1


def test_honeypot_drops_bots_silently(app, client, seeded, smtp):
    response = submit_sign(client, seeded, fax_number="+32 2 555 0000")
    assert response.status_code == 302
    assert count_signatures(app) == 4
    wait_jobs(app)
    assert smtp.messages == []


def test_missing_csrf_is_400_and_stores_nothing(app, client, seeded):
    from tests.conftest import valid_form

    response = client.post(f"/statements/{seeded}/sign", data=valid_form())
    assert response.status_code == 400
    assert "form has expired" in response.get_data(as_text=True)
    assert count_signatures(app) == 4


def test_smtp_temporary_failure_then_success_delivers_once(app, client, seeded, smtp):
    smtp.fail_next.append("451 4.3.0 Try again later")
    submit_sign(client, seeded)
    with app.app_context():
        row = _wait_outbox(app, lambda m: m.attempts >= 1 and m.status == OutboxStatus.QUEUED)
        assert "451" in row.last_error
        # Make the retry due now rather than after the backoff.
        db.session.execute(
            OutboxMessage.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    smtp.wait_for(1)
    # The runner's own delayed retry finds the row sent and does nothing.
    again = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert "due 0" in again.output
    assert len(smtp.messages) == 1
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        assert row.status == OutboxStatus.SENT
        assert row.attempts == 2


def test_smtp_permanent_rejection_marks_failed(app, client, seeded, smtp):
    smtp.reject_all = "550 5.1.1 Mailbox does not exist"
    submit_sign(client, seeded)
    with app.app_context():
        row = _wait_outbox(app, lambda m: m.status == OutboxStatus.FAILED)
        assert row.attempts == 1
        assert "550" in row.last_error
    result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert "due 0" in result.output
    assert smtp.messages == []
    # The endorsement itself is kept.
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.PENDING_EMAIL


def test_smtp_server_down_keeps_message_queued(app_config, seeded, client, app):
    # No SMTP fixture: point at a closed port.
    from tests.conftest import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    submit_sign(client, seeded)
    with app.app_context():
        row = _wait_outbox(app, lambda m: m.attempts >= 1 and m.status != OutboxStatus.SENDING)
        assert row.status == OutboxStatus.QUEUED
        assert row.next_attempt_at > utcnow()
    assert count_signatures(app) == 5


def _wait_outbox(app, predicate, timeout: float = 10.0) -> OutboxMessage:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        if row is not None and predicate(row):
            return row
        time.sleep(0.05)
    raise AssertionError(
        f"outbox row never matched; last: {row and row.status, row and row.last_error}"
    )


def test_withdraw_journey(app, client, seeded, smtp):
    submit_sign(client, seeded)
    links = links_in(smtp.wait_for(1)[0])
    post_button(client, links["confirm"])
    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["signatures", "approve", str(sig.id)]).exit_code == 0
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert "Łódzkie Region" in [s["organisation_name"] for s in listing["signatories"]]

    # A withdrawal link of an email sent before the manage link keeps working.
    withdraw = legacy_withdraw_link(app, sig.id)
    page = client.get(withdraw)
    assert page.status_code == 200
    assert "Withdraw the endorsement" in page.get_data(as_text=True)
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.APPROVED

    done = post_button(client, withdraw)
    assert "The endorsement is withdrawn" in done.get_data(as_text=True)
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.WITHDRAWN
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert "Łódzkie Region" not in [s["organisation_name"] for s in listing["signatories"]]
    assert "already withdrawn" in client.get(withdraw).get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "withdrawn"))
        assert (event.from_state, event.to_state) == ("approved", "withdrawn")

    # Signing again after a withdrawal: the stored address gets a link that starts the same
    # row over; until it is used the endorsement stays withdrawn.
    submit_sign(client, seeded)
    again_mail = smtp.wait_for(3)[2]  # confirm, approved, confirm again
    assert signature_by_email(app, "anna.nowak@lodzkie.pl").state == SignatureState.WITHDRAWN
    post_button(client, links_in(again_mail)["confirm"])
    again = signature_by_email(app, "anna.nowak@lodzkie.pl")
    assert again.id == sig.id
    assert again.state == SignatureState.VERIFIED and again.withdrawn_at is None


def test_lost_link_is_sent_only_to_that_address(app, client, seeded, smtp):
    from tests.conftest import csrf_token

    submit_sign(client, seeded)
    smtp.wait_for(1)
    url = f"/statements/{seeded}/withdraw-link"
    known = client.post(
        url, data={"email": "Anna.Nowak@lodzkie.pl", "csrf_token": csrf_token(client, url)}
    )
    unknown = client.post(
        url, data={"email": "nobody@example.org", "csrf_token": csrf_token(client, url)}
    )
    assert known.status_code == unknown.status_code == 302
    assert (
        client.get(known.headers["Location"])
        .get_data(as_text=True)
        .count("a link to manage the endorsement is on its way")
        == 1
    )
    messages = smtp.wait_for(2)
    wait_jobs(app)
    assert len(smtp.messages) == 2
    assert messages[1]["To"] == "anna.nowak@lodzkie.pl"
    link = links_in(messages[1])["manage"]
    assert "Withdraw the endorsement" in client.get(link).get_data(as_text=True)


def test_rejected_resubmission_mails_the_manage_link_and_changes_nothing(app, client, seeded, smtp):
    submit_sign(client, seeded)
    post_button(client, links_in(smtp.wait_for(1)[0])["confirm"])
    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    app.test_cli_runner().invoke(
        args=["signatures", "reject", str(sig.id), "--reason", "not an organisation"]
    )
    sent_before = len(smtp.wait_for(2))
    again = submit_sign(client, seeded, organisation_name="Changed Name")
    assert again.status_code == 302 and again.headers["Location"].endswith("/check-your-email")
    wait_jobs(app)
    [mail] = smtp.messages[sent_before:]
    assert mail["To"] == "anna.nowak@lodzkie.pl"
    page = client.get(links_in(mail)["manage"]).get_data(as_text=True)
    assert "Not published" in page and "Changed Name" not in page
    after = signature_by_email(app, "anna.nowak@lodzkie.pl")
    assert after.state == SignatureState.REJECTED
    assert after.organisation_name == "Łódzkie Region"


@pytest.mark.config(JOBS_MODE="sync")
def test_sync_job_mode_sends_and_builds_inline(app, client, seeded, smtp):
    """JOBS_MODE=sync runs each job at once, in its own session, from the commit hook."""
    assert submit_sign(client, seeded).status_code == 302
    [message] = smtp.messages  # already delivered: no waiting
    post_button(client, links_in(message)["confirm"])
    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    result = app.test_cli_runner().invoke(args=["signatures", "approve", str(sig.id)])
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 2
    with app.app_context():
        from petition.models import PdfVersion

        assert db.session.scalar(select(func.max(PdfVersion.signatory_count))) == 5


def test_approval_email_under_embargo_says_when_the_list_appears(app, client, seeded, smtp):
    from petition.core.db import write_transaction
    from petition.models import Statement

    @write_transaction
    def embargo():
        db.session.scalar(select(Statement)).list_public_from = utcnow() + timedelta(days=30)

    submit_sign(client, seeded)
    post_button(client, links_in(smtp.wait_for(1)[0])["confirm"])
    with app.app_context():
        embargo()
    sig = signature_by_email(app, "anna.nowak@lodzkie.pl")
    app.test_cli_runner().invoke(args=["signatures", "approve", str(sig.id)])
    approved = smtp.wait_for(2)[1].get_body(("plain",)).get_content()
    assert "will be published on" in approved
    assert "is now on the public list" not in approved
