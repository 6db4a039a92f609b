"""A relay that takes the whole message and does not answer may have delivered it ("maybe sent").

A real SMTP server (aiosmtpd) that can be slow at a chosen step: a reply to the message body later
than MAIL_TIMEOUT, or a connection dropped right after the body, must not turn into one copy per
retry. One retry with the same Message-ID, then the row is `uncertain` and left to staff. A
timeout before the body went out is an ordinary temporary failure.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from petition.core import outbox
from petition.extensions import db
from petition.models import OutboxMessage, OutboxStatus
from tests.conftest import SmtpSink, _Controller, free_port, submit_sign, wait_jobs

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

TIMEOUT = 2.0  # MAIL_TIMEOUT in these tests
EMAIL = "slow.relay@example.org"


@dataclass
class SlowRelay(SmtpSink):
    """The SMTP sink, slow on demand: before its RCPT replies, or after receiving a message."""

    data_reply_delay: float = 0.0  # seconds between receiving the body and answering 250
    drop_after_data: bool = False  # close the connection instead of answering the body
    rcpt_delays: list[float] = field(default_factory=list)  # one per RCPT, the first ones
    connections: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delays:
            await asyncio.sleep(self.rcpt_delays.pop(0))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)  # the message is received
        if self.drop_after_data:
            server.transport.close()
        await asyncio.sleep(self.data_reply_delay)
        return reply


@pytest.fixture
def relay():
    sink = SlowRelay(port=free_port())
    controller = _Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config, relay):
    return {
        **app_config,
        "MAIL_SERVER": relay.host,
        "MAIL_PORT": relay.port,
        "MAIL_TIMEOUT": TIMEOUT,
        "MAIL_RETRY_BASE_SECONDS": 0.2,
    }


def _row(app) -> OutboxMessage:
    with app.app_context():
        row = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == EMAIL)
        ).one()
        db.session.expunge(row)
        return row


def _sign(client, seeded) -> None:
    response = submit_sign(client, seeded, email=EMAIL)
    assert response.status_code == 302


@pytest.mark.parametrize(
    "slow",
    [
        pytest.param({"data_reply_delay": TIMEOUT + 1.5}, id="250-after-the-timeout"),
        pytest.param({"drop_after_data": True}, id="connection-dropped-after-the-body"),
    ],
)
def test_no_reply_after_the_body_is_retried_once_then_uncertain(app, client, seeded, relay, slow):
    for name, value in slow.items():
        setattr(relay, name, value)
    _sign(client, seeded)
    wait_jobs(app, timeout=60)

    # Both transmissions reached the relay, with one Message-ID: a receiving system can tell
    # the second for a copy of the first.
    copies = relay.wait_for(2)
    assert len({m["Message-ID"] for m in copies}) == 1
    row = _row(app)
    assert copies[0]["Message-ID"] == row.message_id
    assert row.status == OutboxStatus.UNCERTAIN
    assert (row.attempts, row.unanswered_sends) == (2, 2)
    assert row.last_error.startswith("MaybeSent")

    # Left to staff: neither the job runner nor the periodic sweep sends a third copy.
    time.sleep(1)
    with app.app_context():
        assert outbox.send_due()["due"] == 0
    wait_jobs(app)
    assert len(relay.messages) == 2
    assert _row(app).status == OutboxStatus.UNCERTAIN


def test_a_timeout_before_the_body_is_an_ordinary_temporary_failure(app, client, seeded, relay):
    # The relay stalls before answering RCPT twice: the message never left, so it is retried as
    # any temporary failure (not counted as "maybe sent") and delivered once on the third try.
    relay.rcpt_delays = [TIMEOUT + 1.5, TIMEOUT + 1.5]
    _sign(client, seeded)
    wait_jobs(app, timeout=60)
    assert len(relay.wait_for(1)) == 1
    row = _row(app)
    assert row.status == OutboxStatus.SENT
    assert (row.attempts, row.unanswered_sends) == (3, 0)
    assert relay.messages[0]["Message-ID"] == row.message_id
    time.sleep(0.5)
    assert len(relay.messages) == 1


def test_a_4xx_reply_to_the_body_is_an_ordinary_temporary_failure(app, client, seeded, relay):
    # The relay answered: it did not take the message. Not "maybe sent".
    relay.fail_next = ["451 4.3.0 Try again later", "451 4.3.0 Try again later"]
    _sign(client, seeded)
    wait_jobs(app, timeout=60)
    assert len(relay.wait_for(1)) == 1
    row = _row(app)
    assert row.status == OutboxStatus.SENT
    assert (row.attempts, row.unanswered_sends) == (3, 0)


def test_a_slow_reply_within_the_timeout_is_sent_once(app, client, seeded, relay):
    relay.data_reply_delay = TIMEOUT / 2.5
    _sign(client, seeded)
    wait_jobs(app, timeout=60)
    assert len(relay.wait_for(1)) == 1
    row = _row(app)
    assert row.status == OutboxStatus.SENT
    assert (row.attempts, row.unanswered_sends) == (1, 0)
    time.sleep(0.5)
    assert len(relay.messages) == 1 and relay.connections == 1
