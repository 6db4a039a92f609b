"""The mail outbox: rows written in the caller's transaction, delivered after commit, never twice."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template
from flask_mail import Connection, Message
from sqlalchemy import select, update

from ..extensions import db
from ..models import OutboxMessage, OutboxStatus, utcnow
from . import jobs
from .db import after_write, rowcount, transaction, write_transaction

log = logging.getLogger(__name__)

# A row claimed for sending longer ago than this belongs to a process that died mid-send.
STALE_CLAIM = timedelta(minutes=15)


class TimeoutConnection(Connection):
    """Flask-Mail 0.10 opens SMTP without a timeout; a stalled relay must not hang a worker."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = current_app.config.get("MAIL_TIMEOUT", 60.0)
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def queue_email(
    kind: str,
    to_address: str,
    template: str,
    *,
    signature_id: int | None = None,
    **context,
) -> OutboxMessage:
    """Render `emails/<template>.txt` and `.html` into an outbox row in the current transaction.

    The subject is the text template's first line ("Subject: …"). Delivery is scheduled
    when the transaction commits; a rollback discards both.
    """
    text = render_template(f"emails/{template}.txt", **context)
    html = render_template(f"emails/{template}.html", **context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    message = OutboxMessage(
        kind=kind,
        to_address=to_address,
        subject=subject,
        body_text=body.lstrip("\n"),
        body_html=html,
        signature_id=signature_id,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    message_id = message.id
    after_write(lambda: jobs.enqueue(deliver, message_id))
    return message


def backoff_seconds(attempts: int, base: float = 30.0) -> float:
    """30 s, 1 min, 2 min … capped at one hour (MAIL_RETRY_BASE_SECONDS sets the first step)."""
    return float(min(base * 2 ** max(attempts - 1, 0), 3600))


def _claim(message_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.next_attempt_at <= now + timedelta(seconds=1),
        )
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    return rowcount(result) == 1


def _is_permanent(exc: Exception) -> bool:
    # An address or header that cannot be encoded fails the same way on every attempt, as does a
    # server that refuses a feature (SMTPUTF8) the message needs.
    if isinstance(exc, UnicodeError | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def deliver(message_id: int) -> OutboxStatus | None:
    """Send one outbox row if it is due and nobody else holds it; reschedule on a temporary failure.

    Returns the row's new status, or None when it was not this call's to send. Three
    transactions: the claim, then SMTP with no transaction open (no database lock is held
    across the network), then the outcome.
    """
    with transaction("deliver"):
        if not _claim(message_id):
            return None
        message = db.session.get_one(OutboxMessage, message_id)
        outgoing = _build_message(message)
    try:
        message_id_header = _transmit(message, outgoing)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        return _record_failure(message_id, exc)
    with transaction("deliver"):
        message = db.session.get_one(OutboxMessage, message_id)
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.claimed_at = None
        message.message_id = message_id_header
        message.last_error = ""
    return OutboxStatus.SENT


@write_transaction
def _record_failure(message_id: int, exc: Exception) -> OutboxStatus:
    message = db.session.get_one(OutboxMessage, message_id)
    permanent = _is_permanent(exc)
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_at = None
    if permanent or message.attempts >= max_attempts:
        message.status = OutboxStatus.FAILED
        log.warning("mail %s (%s) failed: %s", message.id, message.kind, exc)
        return OutboxStatus.FAILED
    delay = backoff_seconds(message.attempts, current_app.config["MAIL_RETRY_BASE_SECONDS"])
    message.status = OutboxStatus.QUEUED
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    log.info("mail %s deferred %.0fs: %s", message.id, delay, exc)
    after_write(lambda: jobs.enqueue(deliver, message_id, delay=delay))
    return OutboxStatus.QUEUED


def _build_message(message: OutboxMessage) -> Message:
    msg = Message(
        subject=message.subject,
        recipients=[message.to_address],
        body=message.body_text,
        html=message.body_html or None,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    msg.msgId = make_msgid(domain=_sender_domain())
    msg.extra_headers = {"Auto-Submitted": "auto-generated", "X-Jointly-Outbox-Id": str(message.id)}
    return msg


def _sender_domain() -> str:
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender.rsplit("@", 1)[-1].strip(" >")
    return domain or "jointly.invalid"


def _transmit(message: OutboxMessage, msg: Message) -> str:
    if current_app.config.get("MAIL_SERVER"):
        state = current_app.extensions["mail"]
        with TimeoutConnection(state) as connection:
            connection.send(msg)
        return msg.msgId
    return _write_to_file(message, msg)


def _write_to_file(message: OutboxMessage, msg: Message) -> str:
    mail_dir = Path(current_app.config["MAIL_DIR"])
    mail_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = mail_dir / f"{stamp}-{message.id:06d}-{message.kind}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(path)
    # With no mail server, the file is where a developer finds the links to click; the log names
    # the file, never the address or the links (they hold the tokens).
    log.info("mail %s (%s) written to %s", message.id, message.kind, path)
    return msg.msgId


@write_transaction
def _recover_stale_claims(now: datetime) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < now - STALE_CLAIM,
        )
        .values(status=OutboxStatus.QUEUED, claimed_at=None)
    )


def send_due(now: datetime | None = None) -> dict[str, int]:
    """Deliver every queued row that is due (and recover rows left claimed by a dead process).

    Not one transaction: each row is claimed, sent and recorded on its own (see `deliver`).
    """
    now = now or utcnow()
    _recover_stale_claims(now)
    due_ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
    ).all()
    counts = {"due": len(due_ids), "sent": 0, "deferred": 0, "failed": 0}
    for message_id in due_ids:
        status = deliver(message_id) or db.session.scalar(
            # Claimed by another process meanwhile: report what became of it.
            select(OutboxMessage.status).where(OutboxMessage.id == message_id)
        )
        if status == OutboxStatus.SENT:
            counts["sent"] += 1
        elif status == OutboxStatus.FAILED:
            counts["failed"] += 1
        else:
            counts["deferred"] += 1
    return counts


@write_transaction
def retry_failed(message_id: int) -> bool:
    """Staff asked to try a failed message again."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.QUEUED, next_attempt_at=utcnow(), attempts=0)
    )
    if rowcount(result):
        after_write(lambda: jobs.enqueue(deliver, message_id))
    return bool(rowcount(result))
