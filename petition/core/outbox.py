"""The mail outbox: rows written in the caller's transaction, delivered after commit, never twice."""

from __future__ import annotations

import email.policy
import functools
import logging
import re
import secrets
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email._policybase import Compat32
from email.charset import Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, cast

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import BadHeaderError, Connection
from markupsafe import escape
from sqlalchemy import Integer, Row, String, Table, bindparam, func, insert, select, text, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection as SAConnection

from ..extensions import db
from ..models import OutboxMessage, OutboxStatus, Signature, utcnow
from . import identity, jobs
from .audit import Actor, record
from .db import after_write, insert_rows, pipelined, rowcount, transaction, write_transaction
from .i18n import SOURCE_LANGUAGE, bound_gettext
from .validation import registrable_domain
from .wording import mail_kind_label, outbox_status_label

log = logging.getLogger(__name__)

# A row claimed for sending longer ago than this belongs to a process that died mid-send.
STALE_CLAIM = timedelta(minutes=15)


class MaybeSent(Exception):
    """The relay received the whole message (the final "." was sent) but never answered it.

    It may have accepted the message: a retry risks a duplicate, so there is one retry, with
    the same Message-ID, and then staff decide (the row becomes `uncertain`).
    """


class _DataPhase:
    """Records whether the message body went out and its reply never came back.

    smtplib's `data()` sends the body ending in CRLF "." CRLF, then reads the reply; a timeout
    or a dropped connection there raises the same exceptions as one before the body. This
    tells them apart: `body_unanswered` is true from the final dot until a reply is read.
    """

    body_unanswered = False
    _in_data = False

    def data(self, msg):
        self._in_data = True
        try:
            return super().data(msg)  # type: ignore[misc]
        finally:
            self._in_data = False

    def send(self, s):
        super().send(s)  # type: ignore[misc]
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.body_unanswered = True

    def getreply(self):
        reply = super().getreply()  # type: ignore[misc]
        self.body_unanswered = False
        return reply


class DataPhaseSMTP(_DataPhase, smtplib.SMTP):
    pass


class DataPhaseSMTP_SSL(_DataPhase, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's spelling
    pass


class TimeoutConnection(Connection):
    """Flask-Mail 0.10 opens SMTP without a timeout; a stalled relay must not hang a worker."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = current_app.config.get("MAIL_TIMEOUT", 60.0)
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = DataPhaseSMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = DataPhaseSMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, exc_type, exc_value, tb) -> None:
        # Flask-Mail sends QUIT even after a failure, on a connection smtplib may have closed:
        # its error would replace the real one. And once the relay has answered 250, a QUIT
        # that fails must not turn a delivered message into a failed one (and a duplicate).
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()

    def body_unanswered(self) -> bool:
        return bool(getattr(self.host, "body_unanswered", False))


@dataclass(frozen=True)
class Email:
    """An email as rendered: the subject (the text template's first line), the text, the HTML."""

    subject: str
    text: str
    html: str


def render_email(template: str, *, lang: str | None = None, **context) -> Email:
    """`emails/<template>.txt` and `.html` rendered, with no database access of their own (a
    sign-on renders its email before its write transaction)."""
    # In the recipient's language: `lang`, else the signature's (the language they signed in);
    # staff mail in the source language, whatever page sent it.
    signature = context.get("signature")
    lang = lang or getattr(signature, "lang", None) or SOURCE_LANGUAGE
    with force_locale(lang):
        context.update(bound_gettext())
        plain = render_template(f"emails/{template}.txt", **context)
        html = render_template(f"emails/{template}.html", **context)
    first, _, body = plain.partition("\n")
    return Email(first.removeprefix("Subject:").strip(), body.lstrip("\n"), html)


@dataclass(frozen=True)
class Stencil:
    """An email rendered once for many recipients, with a stand-in where each one's own values
    go (a name, a link): `fill` puts them in, escaped in the HTML part as the template's
    autoescaping would have. A sign-on's confirmation then costs a substitution, not two
    template renders (a third of the request's work); a mailing renders each language once.

    Stand-ins are random, and the email is cut at them once: filling joins the pieces between
    them with the values, so a value can bring in no other's stand-in. Values that a template
    passes through a filter (`inert`) are given filtered: the stand-in goes through it unchanged,
    and the filter's work is the caller's.
    """

    #: Rendered with each stand-in where a recipient's own value goes.
    email: Email
    stand_ins: dict[str, str]
    #: Subject, text and HTML, each as its pieces: text between stand-ins, then a field's name.
    _pieces: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {stand_in: name for name, stand_in in self.stand_ins.items()}
        cut = re.compile(f"({'|'.join(names)})")
        pieces = tuple(
            tuple(names[piece] if i % 2 else piece for i, piece in enumerate(cut.split(part)))
            for part in (self.email.subject, self.email.text, self.email.html)
        )
        object.__setattr__(self, "_pieces", pieces)

    def fill(self, **values: str) -> Email:
        """The email with each stand-in replaced by its value (every one must be given)."""
        if values.keys() != self.stand_ins.keys():
            raise TypeError(f"fill takes {sorted(self.stand_ins)}, not {sorted(values)}")
        html = {name: str(escape(value)) for name, value in values.items()}
        subject, text, markup = self._pieces
        return Email(_joined(subject, values), _joined(text, values), _joined(markup, html))


def _joined(pieces: tuple[str, ...], values: dict[str, str]) -> str:
    """Pieces of a Stencil's part: the text between stand-ins as it is, a field's name (every
    second piece) as its value."""
    return "".join(values[piece] if i % 2 else piece for i, piece in enumerate(pieces))


def stand_ins(*names: str) -> dict[str, str]:
    """A random stand-in for each name (see Stencil): plain hex, which no filter or escaping
    alters."""
    return {name: secrets.token_hex(16) for name in names}


def queue_email(
    kind: str,
    to_address: str,
    template: str,
    *,
    signature_id: int | None = None,
    cap_per_domain: bool = False,
    lang: str | None = None,
    **context,
) -> int:
    """Render `emails/<template>.txt` and `.html` into an outbox row in the current transaction
    (its id).

    Delivery is scheduled when the transaction commits; a rollback discards both.
    `cap_per_domain`: mail that a stranger's form submission triggers, sent to one recipient
    domain at most MAIL_DOMAIN_HOURLY_LIMIT times an hour (more is deferred to when the
    window frees).
    """
    return queue_rendered(
        kind,
        to_address,
        render_email(template, lang=lang, **context),
        signature_id=signature_id,
        cap_per_domain=cap_per_domain,
    )


_OUTBOX = cast(Table, OutboxMessage.__table__)
#: Built once; each row's values come as parameters (no statement to build per message).
_INSERT = insert(_OUTBOX).returning(_OUTBOX.c.id)


def queue_rendered(
    kind: str,
    to_address: str,
    email: Email,
    *,
    signature_id: int | None = None,
    due: datetime | None = None,
    cap_per_domain: bool = False,
    list_unsubscribe: str = "",
) -> int:
    """An outbox row (its id) for a message rendered already (a mailing renders each text
    once), due at `due` (now by default; with `cap_per_domain`, when the recipient's domain
    has room, see queue_email); `list_unsubscribe`: the List-Unsubscribe header of mail one
    can unsubscribe from, sent with RFC 8058's one-click header."""
    now = utcnow()
    capped_domain = _capped_domain(to_address) if cap_per_domain else ""
    if capped_domain:
        due = _domain_slot(capped_domain, now)
    due = due or now
    message_id = db.session.execute(
        _INSERT,
        _row(kind, to_address, email, signature_id, due, now, capped_domain, list_unsubscribe),
    ).scalar_one()
    if due <= now:
        after_write(lambda: jobs.enqueue(deliver, message_id))
    # A deferred row waits in the table: the periodic sweep (send_due) sends it once due.
    return message_id


def queue_many(
    kind: str,
    messages: Sequence[tuple[str, Email, int]],
    *,
    with_rows: Callable[[], None] | None = None,
) -> None:
    """Outbox rows for several messages at once, `(to_address, email, signature_id)` each, in
    the current transaction: as `queue_rendered(..., cap_per_domain=True)` for each, in one
    INSERT for all those whose domain has room now (a message to a domain without room goes
    through queue_rendered, deferred). `with_rows`: the caller's statements that read nothing
    back, sent with the outbox rows (PostgreSQL: one round trip for all, db.pipelined)."""
    now = utcnow()
    domains = [_capped_domain(address) for address, _email, _id in messages]
    limit = current_app.config.get("MAIL_DOMAIN_HOURLY_LIMIT", 0)
    capped_domains = sorted({domain for domain in domains if domain})
    taken = _recent_per_domain(capped_domains, now) if limit and capped_domains else {}
    rows, capped = [], []
    for message, domain in zip(messages, domains, strict=True):
        if limit and domain and taken.get(domain, 0) >= limit:
            capped.append(message)
            continue
        taken[domain] = taken.get(domain, 0) + 1
        address, email, signature_id = message
        rows.append(_row(kind, address, email, signature_id, now, now, domain, ""))
    with pipelined():
        if with_rows is not None:
            with_rows()
        # No RETURNING: nothing reads the ids back (deliver_due claims the rows by status).
        insert_rows(_OUTBOX, rows)
    if rows:
        after_write(lambda: jobs.enqueue(deliver_due, key=DELIVER_DUE, delay=DELIVERY_GATHER))
    for address, email, signature_id in capped:
        queue_rendered(kind, address, email, signature_id=signature_id, cap_per_domain=True)


def deliver_due(batch: int = 100) -> int:
    """Send the queued messages that are due, the oldest `batch` of them (the job a batch of
    sign-ons queues, once however many ask for it), and queue this job again while more are
    due (in-process jobs give way to requests between two); how many were claimed."""
    with transaction("deliver"):
        sender, reply_to = _sender_and_reply_to()
        now = utcnow()
        due = db.session.scalars(
            _DUE_IDS, {"b_queued": OutboxStatus.QUEUED, "b_now": now, "b_limit": batch}
        ).all()
        claimed = _claim(sender, due, now) if due else []
    _send_each(claimed, sender, reply_to)
    if len(due) == batch:
        jobs.enqueue(deliver_due, key=DELIVER_DUE)
    return len(claimed)


#: The key of the delivery job: one waits in the queue at most.
DELIVER_DUE = "outbox.deliver_due"
#: How long the delivery job a batch of sign-ons asks for waits for the next batches' mail:
#: under a burst it ran for every five messages or so, and a job costs the worker about thirty
#: Redis commands of RQ's and the web a queueing. A signer's email is that much later.
DELIVERY_GATHER = 0.2
#: The oldest due rows first.
_DUE_IDS = (
    select(OutboxMessage.id)
    .where(
        OutboxMessage.status == bindparam("b_queued"),
        OutboxMessage.next_attempt_at <= bindparam("b_now"),
    )
    .order_by(OutboxMessage.id)
    .limit(bindparam("b_limit", type_=Integer))
)


def _row(
    kind: str,
    to_address: str,
    email: Email,
    signature_id: int | None,
    due: datetime,
    now: datetime,
    capped_domain: str,
    list_unsubscribe: str,
) -> dict[str, Any]:
    return dict(
        kind=kind,
        to_address=to_address,
        subject=email.subject,
        body_text=email.text,
        body_html=email.html,
        signature_id=signature_id,
        status=OutboxStatus.QUEUED,
        attempts=0,
        next_attempt_at=due,
        capped_domain=capped_domain,
        list_unsubscribe=list_unsubscribe,
        created_at=now,
    )


def _capped_domain(to_address: str) -> str:
    return registrable_domain(to_address.rpartition("@")[2])


DOMAIN_WINDOW = timedelta(hours=1)
# pg_advisory_xact_lock's first key: this lock's own space, beside any other advisory lock.
_DOMAIN_LOCK_SPACE = 0x4A4D


#: The `limit` latest slots given out to a domain (built once: a sign-on runs it each time).
_LATEST_SLOTS = (
    select(OutboxMessage.next_attempt_at)
    .where(OutboxMessage.capped_domain == bindparam("domain"))
    .order_by(OutboxMessage.next_attempt_at.desc())
    .limit(bindparam("limit", type_=Integer))
)


#: Each domain's slots within the last hour or later (batches of sign-ons: queue_many).
_RECENT_PER_DOMAIN = (
    select(OutboxMessage.capped_domain, func.count())
    .where(
        OutboxMessage.capped_domain.in_(bindparam("domains", expanding=True)),
        OutboxMessage.next_attempt_at > bindparam("since"),
    )
    .group_by(OutboxMessage.capped_domain)
)
#: The domain locks of _domain_slot for several domains, taken in the order given.
_LOCK_DOMAINS = text(
    "SELECT count(pg_advisory_xact_lock(:space, hashtext(d)))"
    " FROM unnest(CAST(:domains AS text[])) WITH ORDINALITY AS t(d, n)"
)


def _recent_per_domain(domains: list[str], now: datetime) -> dict[str, int]:
    """How many slots each of `domains` has taken in the rolling hour (and beyond it): a
    domain with fewer than MAIL_DOMAIN_HOURLY_LIMIT has room now, as _domain_slot decides.

    On PostgreSQL the domains are locked first, in a fixed order (sorted: two batches never
    wait on each other in a circle), as _domain_slot locks its one.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().execute(
            _LOCK_DOMAINS, {"space": _DOMAIN_LOCK_SPACE, "domains": domains}
        )
    counts = (
        db.session.connection()
        .execute(_RECENT_PER_DOMAIN, {"domains": domains, "since": now - DOMAIN_WINDOW})
        .all()
    )
    return {domain: count for domain, count in counts}


def _domain_slot(domain: str, now: datetime) -> datetime:
    """When capped mail to `domain` may go: now, or when the rolling hour has room again.

    Every capped row keeps its time in next_attempt_at (when it went, or will go), so the
    slots already given out are in the table, whichever process or host gave them. A new
    one is at least an hour after the `limit`-th latest: no hour ever holds more than `limit`.
    """
    limit = current_app.config.get("MAIL_DOMAIN_HOURLY_LIMIT", 0)
    if not limit:
        return now
    if db.session.get_bind().dialect.name == "postgresql":
        # Two sign-ups at one domain at once must not both take the last slot. (SQLite's write
        # transactions are one at a time already.)
        db.session.execute(_LOCK_DOMAINS, {"space": _DOMAIN_LOCK_SPACE, "domains": [domain]})
    latest = db.session.scalars(_LATEST_SLOTS, {"domain": domain, "limit": limit}).all()
    if len(latest) < limit or latest[-1] + DOMAIN_WINDOW <= now:
        return now
    slot = max(now, latest[-1] + DOMAIN_WINDOW)
    waiting = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.capped_domain == domain, OutboxMessage.next_attempt_at > now)
    )
    if not waiting or waiting % limit == 0:
        # Once per hour's worth of deferred mail to the domain; never the address.
        log.warning(
            "mail to %s deferred: MAIL_DOMAIN_HOURLY_LIMIT (%d per hour) reached;"
            " %d more waiting, the next due at %s",
            domain,
            limit,
            (waiting or 0) + 1,
            slot.isoformat(timespec="seconds"),
        )
    return slot


def backoff_seconds(attempts: int, base: float = 30.0) -> float:
    """30 s, 1 min, 2 min … capped at one hour (MAIL_RETRY_BASE_SECONDS sets the first step)."""
    return float(min(base * 2 ** max(attempts - 1, 0), 3600))


def _claim(sender: str, message_ids: Sequence[int], now: datetime) -> list[Row[Any]]:
    """Take the due, queued rows among `message_ids` for sending and return what their messages
    need, in one statement (none that is not due or that another process holds). A row without
    a Message-ID gets one now, before its first transmission, and keeps it for every retry:
    this claim's stem with the row's id, unique to the row."""
    stem, _at, domain = make_msgid(domain=identity.sender_domain(sender))[1:-1].rpartition("@")
    claimed = db.session.execute(
        _CLAIM,
        {
            "b_ids": list(message_ids),
            "b_queued": OutboxStatus.QUEUED,
            "b_due_by": now + timedelta(seconds=1),
            "b_sending": OutboxStatus.SENDING,
            "b_claimed_at": utcnow(),
            "b_before_id": f"<{stem}.",
            "b_after_id": f"@{domain}>",
        },
    ).all()
    return sorted(claimed, key=lambda row: row.id)


#: What building and sending a message reads of its row.
_SENT_COLUMNS = tuple(
    _OUTBOX.c[name]
    for name in (
        "id",
        "kind",
        "to_address",
        "subject",
        "body_text",
        "body_html",
        "message_id",
        "list_unsubscribe",
    )
)
#: The claim and the outcome of a delivery, built once (every message runs both).
_CLAIM = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(bindparam("b_ids", expanding=True)),
        _OUTBOX.c.status == bindparam("b_queued"),
        _OUTBOX.c.next_attempt_at <= bindparam("b_due_by"),
    )
    .values(
        status=bindparam("b_sending"),
        claimed_at=bindparam("b_claimed_at"),
        attempts=_OUTBOX.c.attempts + 1,
        message_id=func.coalesce(
            func.nullif(_OUTBOX.c.message_id, ""),
            bindparam("b_before_id", type_=String)
            + sql_cast(_OUTBOX.c.id, String)
            + bindparam("b_after_id", type_=String),
        ),
    )
    .returning(*_SENT_COLUMNS)
)
_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_sent"), sent_at=bindparam("b_sent_at"), claimed_at=None, last_error=""
    )
)


def _is_permanent(exc: Exception) -> bool:
    # An address or header that cannot be encoded fails the same way on every attempt, as does a
    # server that refuses a feature (SMTPUTF8) the message needs.
    if isinstance(exc, UnicodeError | BadHeaderError | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def deliver(message_id: int, now: datetime | None = None) -> OutboxStatus | None:
    """Send one outbox row if it is due (at `now`) and nobody else holds it; reschedule on a
    temporary failure.

    Returns the row's new status, or None when it was not this call's to send. Three
    transactions: the claim (which also fixes the row's Message-ID before its first
    transmission), then SMTP with no transaction open (no database lock is held across the
    network), then the outcome.
    """
    with transaction("deliver"):
        sender, reply_to = _sender_and_reply_to()
        claimed = _claim(sender, [message_id], now or utcnow())
    if not claimed:
        return None
    return _send_each(claimed, sender, reply_to)[0]


def _send_each(claimed: list[Row[Any]], sender: str, reply_to: str | None) -> list[OutboxStatus]:
    """Send claimed rows one after another on one relay connection, each recorded on its own."""
    relay, sent = Relay(), SentLog()
    try:
        return [_send_claimed(message, sender, reply_to, relay, sent) for message in claimed]
    finally:
        relay.close()
        sent.close()


def _send_claimed(
    message: Row[Any], sender: str, reply_to: str | None, relay: Relay, sent: SentLog
) -> OutboxStatus:
    """Send a claimed row and record what became of it (no transaction open while sending)."""
    try:
        # An address or a header that cannot be encoded fails here, recorded as any failure.
        _transmit(message, _build_message(message, sender, reply_to), relay)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        return _record_failure(message.id, exc)
    sent.record(message.id)
    return OutboxStatus.SENT


class SentLog:
    """Where a delivery batch records each message as sent, right after its transmission: a
    message is never left unrecorded while the next one goes out.

    On PostgreSQL, on one autocommit connection for the batch: each record is one UPDATE,
    durable as it returns, in one round trip, where a transaction of its own took four (the
    pool's liveness ping, BEGIN, the UPDATE, COMMIT). On SQLite, in a write transaction as every
    write there is (core/db.py orders the writers of a process)."""

    def __init__(self) -> None:
        self._connection: SAConnection | None = None

    def record(self, message_id: int) -> None:
        # One UPDATE, without loading the row again (the claim's commit expired it).
        values = {"b_id": message_id, "b_sent": OutboxStatus.SENT, "b_sent_at": utcnow()}
        if db.engine.dialect.name != "postgresql":
            with transaction("deliver"):
                db.session.execute(_SENT, values)
            return
        if self._connection is None:
            self._connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._connection.execute(_SENT, values)

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()


@write_transaction
def _record_failure(message_id: int, exc: Exception) -> OutboxStatus:
    message = db.session.get_one(OutboxMessage, message_id)
    permanent = _is_permanent(exc)
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_at = None
    if isinstance(exc, MaybeSent):
        message.unanswered_sends += 1
    if message.unanswered_sends >= 2 or (
        message.unanswered_sends and (permanent or message.attempts >= max_attempts)
    ):
        # It may have arrived once already: another attempt may make a duplicate.
        message.status = OutboxStatus.UNCERTAIN
        log.warning(
            "mail %s (%s) may have been delivered: %d attempt(s) unanswered after the whole"
            " message was sent; left to staff",
            message.id,
            message.kind,
            message.unanswered_sends,
        )
        return OutboxStatus.UNCERTAIN
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


def _sender_and_reply_to() -> tuple[str, str | None]:
    """The campaign signs its mail (core/identity.py: the environment may override the console)."""
    campaign = identity.load()
    return identity.mail_sender(campaign), identity.mail_reply_to(campaign)


#: Mail as it goes on the wire: the standard library's classic (compat32) generator with CRLF.
#: The message is built from parts whose headers are already encoded (below), so nothing is
#: parsed again on output: about a third of the time of Flask-Mail's Message, whose policy
#: re-parses every header through the header registry.
class WirePolicy(Compat32):
    """compat32 with a short cut for the usual header. A value that is one line of printable
    ASCII words, short enough not to fold, goes out as it is. compat32 would pass it through
    email.header.Header's splitter and write the same bytes; that was a third of building a
    message. Every other value (encoded words, long lines, odd whitespace) takes compat32's own
    path."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        limit = self.max_line_length
        if (
            isinstance(value, str)
            and (limit is None or len(name) + 2 + len(value) <= limit)
            and _ONE_PLAIN_LINE.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        if not isinstance(value, str):
            return super()._fold(name, value, sanitize)  # type: ignore[misc]  # not in typeshed
        # A long line, folded as compat32 folds it: the same subject goes to every signer of a
        # statement in a language, and folding it was an eighth of building a message.
        key = (name, value, sanitize, limit, self.linesep)
        folded = _FOLDED.get(key)
        if folded is None:
            folded = super()._fold(name, value, sanitize)  # type: ignore[misc]
            if len(_FOLDED) >= FOLDED_KEPT:
                _FOLDED.clear()
            _FOLDED[key] = folded
        return folded


#: The long header lines a worker keeps folded (subjects: a few statements and languages).
FOLDED_KEPT = 256
_FOLDED: dict[tuple, str] = {}
#: Printable ASCII words, each space between two of them single.
_ONE_PLAIN_LINE = re.compile(r"[!-~]+(?: [!-~]+)*")
_WIRE = WirePolicy(linesep="\r\n")
#: UTF-8 bodies as they are (8bit; 7bit when ASCII), as Flask-Mail sends them: base64 would hide
#: the text (SpamAssassin's MIME_BASE64_TEXT), and the lines here are short.
_BODY_CHARSET = Charset("utf-8")
setattr(_BODY_CHARSET, "body_encoding", None)  # noqa: B010 - typeshed allows only an int


def _header_text(value: str, name: str) -> str | Header:
    """A header's text; RFC 2047-encoded where it is not ASCII (a Greek statement title)."""
    if "\r" in value or "\n" in value:
        raise BadHeaderError(f"{name} holds a line break")
    return value if value.isascii() else Header(value, "utf-8", header_name=name)


def _address(value: str) -> str:
    """ "Name <addr>" with the name encoded where needed and an international domain in IDNA."""
    name, address = parseaddr(value)
    if "\r" in value or "\n" in value or "@" not in address:
        raise BadHeaderError(f"not one address: {value!r}")
    local, _, domain = address.rpartition("@")
    local.encode("ascii")  # beyond ASCII only with MAIL_SMTPUTF8 (_smtputf8_message); else final
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return formataddr((name, f"{local}@{domain}"), charset="utf-8")


@functools.lru_cache(maxsize=16)
def _campaign_address(value: str) -> str:
    """`_address` of the sender or Reply-To: the same on every message of a campaign."""
    return _address(value)


def _build_message(message: Row[Any], sender: str, reply_to: str | None) -> MIMEBase | EmailMessage:
    headers = {"Auto-Submitted": "auto-generated", "X-Jointly-Outbox-Id": str(message.id)}
    if reply_to:
        headers["Reply-To"] = reply_to
    if message.kind == "staff_digest":
        # A digest is a subscription (the signer emails are transactional): where to end it.
        headers["List-Unsubscribe"] = f"<{current_app.config['PUBLIC_BASE_URL']}/staff/account>"
    elif message.list_unsubscribe:
        # A campaign mailing: the one-click POST (RFC 8058) unsubscribes without a page.
        headers["List-Unsubscribe"] = message.list_unsubscribe
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if _needs_smtputf8(message.to_address):
        return _smtputf8_message(message, sender, headers)
    msg: MIMEBase = _text_part(message.body_text, "plain")
    if message.body_html:
        text = msg
        msg = MIMEMultipart("alternative", policy=_WIRE)
        msg.attach(text)
        msg.attach(_text_part(message.body_html, "html"))
        # The boundary chosen here, where a plain search of the two bodies can vet it: left to
        # the generator, every message compiles a regular expression of its random boundary
        # to scan the bodies with (a twentieth of the worker's time). Both bodies go as they are
        # (7bit or 8bit), so a boundary absent from them is absent from the message. 96 random
        # bits keep its Content-Type within one line (a folded one took compat32's slow path).
        boundary = f"=_{secrets.token_hex(12)}"
        if boundary not in message.body_text and boundary not in message.body_html:
            msg.set_boundary(boundary)
    # compat32 takes a Header (an encoded word, folded on output) where typeshed says str.
    msg["Subject"] = cast(str, _header_text(message.subject, "Subject"))
    msg["From"] = _campaign_address(sender)
    msg["To"] = _address(message.to_address)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message.message_id
    for name, value in headers.items():
        msg[name] = (
            _campaign_address(value) if name == "Reply-To" else cast(str, _header_text(value, name))
        )
    return msg


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_WIRE, charset="utf-8")
    part.set_payload(body, _BODY_CHARSET)
    return part


def _needs_smtputf8(address: str) -> bool:
    # Without MAIL_SMTPUTF8 such an address goes the usual way and fails at once (it cannot be
    # encoded): the form refuses it then, and a row from before that cannot be sent anyway.
    local_part = address.rpartition("@")[0]
    return bool(current_app.config.get("MAIL_SMTPUTF8")) and not local_part.isascii()


def _smtputf8_message(message: Row[Any], sender: str, headers: dict[str, str]) -> EmailMessage:
    """The message for an address beyond ASCII before the @ (jöhn@…), in UTF-8 headers.

    Flask-Mail writes such a local part as an RFC 2047 encoded word, which is no address at all;
    the standard library's SMTPUTF8 policy writes it as it is, and smtplib's send_message then
    asks for SMTPUTF8 (or refuses at once when the relay does not announce it).
    """
    msg = EmailMessage(policy=email.policy.SMTPUTF8)
    msg["Subject"] = message.subject
    msg["From"] = sender
    msg["To"] = message.to_address
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message.message_id
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(message.body_text)
    if message.body_html:
        msg.add_alternative(message.body_html, subtype="html")
    return msg


def _transmit(message: Row[Any], msg: MIMEBase | EmailMessage, relay: Relay) -> None:
    """Hand `msg` to the mail server on `relay`'s connection; with no MAIL_SERVER, to a file."""
    if not current_app.config.get("MAIL_SERVER"):
        _write_to_file(message, msg)
        return
    relay.send(msg)


def _send_on(connection: TimeoutConnection, msg: MIMEBase | EmailMessage) -> None:
    try:
        if connection.host is None:
            return  # MAIL_SUPPRESS_SEND
        if isinstance(msg, EmailMessage):
            connection.host.send_message(msg)
        else:
            # The envelope: the bare addresses of the headers (IDNA domains already).
            connection.host.sendmail(
                parseaddr(msg["From"])[1], [parseaddr(msg["To"])[1]], msg.as_bytes()
            )
    except (smtplib.SMTPException, OSError) as exc:
        if connection.body_unanswered():
            raise MaybeSent(f"no reply after the message was sent: {exc}") from exc
        raise


class Relay:
    """One SMTP connection for the messages of a delivery (one message, or deliver_due's
    batch): opened for the first, closed (QUIT) after the last. A relay connection with STARTTLS
    and a login costs several round trips before the first byte of a message; a batch pays them
    once. After a failure the connection is dropped, and the next message opens a new one."""

    def __init__(self) -> None:
        self._connection: TimeoutConnection | None = None

    def send(self, msg: MIMEBase | EmailMessage) -> None:
        if self._connection is None:
            connection = TimeoutConnection(current_app.extensions["mail"])
            connection.__enter__()
            self._connection = connection
        try:
            _send_on(self._connection, msg)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.__exit__(None, None, None)


def _write_to_file(message: Row[Any], msg: MIMEBase | EmailMessage) -> None:
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
    counts = {"due": len(due_ids), "sent": 0, "deferred": 0, "failed": 0, "uncertain": 0}
    for message_id in due_ids:
        status = deliver(message_id, now) or db.session.scalar(
            # Claimed by another process meanwhile: report what became of it.
            select(OutboxMessage.status).where(OutboxMessage.id == message_id)
        )
        if status == OutboxStatus.SENT:
            counts["sent"] += 1
        elif status == OutboxStatus.FAILED:
            counts["failed"] += 1
        elif status == OutboxStatus.UNCERTAIN:
            counts["uncertain"] += 1
        else:
            counts["deferred"] += 1
    return counts


@write_transaction
def send_again(message_id: int, actor: Actor) -> bool:
    """Staff asked to send a failed or uncertain message again (with its Message-ID)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status not in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN):
        return False
    was = OutboxStatus(message.status)
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == was)
        .values(
            status=OutboxStatus.QUEUED, next_attempt_at=utcnow(), attempts=0, unanswered_sends=0
        )
    )
    if not rowcount(result):
        return False  # another member of staff got there first
    _audit(actor, "mail_sent_again", message, was, OutboxStatus.QUEUED)
    after_write(lambda: jobs.enqueue(deliver, message_id))
    return True


@write_transaction
def mark_sent(message_id: int, actor: Actor) -> bool:
    """Staff found that an uncertain message did arrive: it is sent, and never sent again."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.UNCERTAIN)
        .values(status=OutboxStatus.SENT, sent_at=utcnow())
    )
    if not rowcount(result):
        return False
    message = db.session.get_one(OutboxMessage, message_id)
    _audit(actor, "mail_marked_sent", message, OutboxStatus.UNCERTAIN, OutboxStatus.SENT)
    return True


def _audit(
    actor: Actor,
    action: str,
    message: OutboxMessage,
    from_state: OutboxStatus,
    to_state: OutboxStatus,
) -> None:
    signature = db.session.get(Signature, message.signature_id) if message.signature_id else None
    # The states are the mail's, not the signature's: they go in the detail. The address stays
    # out of the audit row (the outbox row holds it, and retention erases it there).
    record(
        actor,
        action,
        signature=signature,
        detail=(
            f"Email {message.id} ({mail_kind_label(message.kind)}):"
            f" {outbox_status_label(from_state)} → {outbox_status_label(to_state)}"
        ),
    )
