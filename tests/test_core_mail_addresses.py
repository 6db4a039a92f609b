"""Addresses mail can never reach are refused at the form; a message that cannot be encoded fails at once;
with MAIL_SMTPUTF8, an address beyond ASCII before the @ is accepted and sent with SMTPUTF8."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from sqlalchemy import select

from petition.core import outbox
from petition.core.db import transaction
from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus, Signature
from tests.conftest import (
    SmtpSink,
    _Controller,
    csrf_token,
    free_port,
    links_in,
    submit_sign,
    wait_jobs,
)


def test_non_ascii_local_part_is_refused_at_the_form(app, client, seeded, smtp):
    response = submit_sign(client, seeded, email="jöhn@example.org")
    assert response.status_code == 422
    assert "part before the @" in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(Signature).where(Signature.email == "jöhn@example.org"))
            is None
        )
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_international_domain_is_still_accepted_and_delivered(app, client, seeded, smtp):
    response = submit_sign(client, seeded, email="anna@łódzkie.pl")
    assert response.status_code == 302
    message = smtp.wait_for(1)[0]
    assert "anna@" in message["To"]


def test_a_message_that_cannot_be_encoded_fails_after_one_attempt(app, seeded, smtp):
    # A row queued before the form refused such addresses (or imported): retrying cannot help.
    with app.app_context():
        with transaction():
            message_id = outbox.queue_email(
                "test",
                "jöhn@example.org",
                "manage_link",
                statement=None,
                signature=None,
                manage_url="http://localhost/manage/x",
            )
    wait_jobs(app)
    deadline = time.monotonic() + 10
    while True:
        with app.app_context():
            row = db.session.get_one(OutboxMessage, message_id)
            if row.status != OutboxStatus.QUEUED or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 1
    assert "Unicode" in row.last_error or "codec" in row.last_error
    assert smtp.messages == []


def test_a_line_break_in_a_header_fails_the_message_and_sends_nothing(app, seeded, smtp):
    """No header injection: a subject (or any header) with a line break is never sent, and
    retrying cannot help (one attempt)."""
    with app.app_context():
        with transaction():
            message_id = outbox.queue_rendered(
                "test",
                "anna@example.org",
                outbox.Email("Hello\r\nBcc: victim@example.net", "body", ""),
            )
    wait_jobs(app)
    with app.app_context():
        row = db.session.get_one(OutboxMessage, message_id)
        assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
        assert "BadHeaderError" in row.last_error
    assert smtp.messages == []


# ---------------------------------------------------------------- MAIL_SMTPUTF8


@dataclass
class EnvelopeSink(SmtpSink):
    """The SMTP sink, also keeping each envelope: MAIL FROM options and RCPT addresses."""

    envelopes: list[tuple[list[str], list[str]]] = field(default_factory=list)
    announces_smtputf8: bool = True

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((list(envelope.mail_options), list(envelope.rcpt_tos)))
        return await super().handle_DATA(server, session, envelope)


class _PlainController(Controller):
    def factory(self):
        return SMTPServer(self.handler, enable_SMTPUTF8=False)


@pytest.fixture(params=[True, False], ids=["relay-with-smtputf8", "relay-without"])
def relay(request):
    sink = EnvelopeSink(port=free_port(), announces_smtputf8=request.param)
    controller_class = _Controller if request.param else _PlainController
    controller = controller_class(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config, request):
    if "relay" in request.fixturenames:
        sink = request.getfixturevalue("relay")
        return {**app_config, "MAIL_SERVER": sink.host, "MAIL_PORT": sink.port, "MAIL_TIMEOUT": 5}
    return app_config


@pytest.mark.config(MAIL_SMTPUTF8=True)
def test_with_mail_smtputf8_such_an_address_is_accepted_and_sent_with_smtputf8(
    app, client, seeded, relay
):
    response = submit_sign(client, seeded, email="jöhn@exämple.org")
    assert response.status_code == 302
    wait_jobs(app)
    with app.app_context():
        signature = db.session.scalar(
            select(Signature).where(Signature.email == "jöhn@exämple.org")
        )
        assert signature is not None
        row = db.session.scalars(select(OutboxMessage)).one()
    if not relay.announces_smtputf8:
        # It can never be sent through this relay: failed at once, not retried for hours.
        assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
        assert "SMTPNotSupportedError" in row.last_error
        assert relay.messages == []
        return
    [message] = relay.wait_for(1)
    assert row.status == OutboxStatus.SENT
    [(mail_options, recipients)] = relay.envelopes
    assert "SMTPUTF8" in mail_options and recipients == ["jöhn@exämple.org"]
    assert message["To"] == "jöhn@exämple.org"
    assert message["Message-ID"] == row.message_id
    assert message["X-Jointly-Outbox-Id"] == str(row.id)
    assert set(links_in(message)) == {"confirm", "manage"}
    assert "/confirm/" in message.get_body(("html",)).get_content()
    # The lost-link form takes the address too, and finds the endorsement.
    url = f"/statements/{seeded}/withdraw-link"
    token = csrf_token(client, url)
    lost = client.post(url, data={"email": "jöhn@exämple.org", "csrf_token": token})
    assert lost.status_code == 302
    wait_jobs(app)
    assert [m["To"] for m in relay.wait_for(2)] == ["jöhn@exämple.org"] * 2


@pytest.mark.config(MAIL_SMTPUTF8=True)
def test_with_mail_smtputf8_but_no_mail_server_the_file_has_the_address(app, client, seeded):
    assert submit_sign(client, seeded, email="jöhn@example.org").status_code == 302
    wait_jobs(app)
    [written] = Path(app.config["MAIL_DIR"]).glob("*-confirm.eml")
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == "jöhn@example.org"
