"""Mailings: compose (one text per language), preview, test, send through the outbox at
MAILING_RATE_PER_MINUTE, unsubscribe. One transaction per function."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ..core import outbox
from ..core.audit import Actor, record
from ..core.db import rowcount, write_transaction
from ..core.i18n import available_languages
from ..core.tokens import hash_token, looks_like_token, new_token
from ..core.validation import InvalidValue
from ..extensions import db
from ..models import (
    Mailing,
    MailingRecipient,
    MailingStatus,
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureState,
    Statement,
    utcnow,
)
from ..statements.service import render_markdown

#: The interface languages (core/i18n.py): a mailing may have a text in each.
SITE_LANGUAGES = available_languages()
SUBJECT_MAX = 200
BODY_MAX = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class MailingError(Exception):
    """A mailing cannot be changed or sent as asked (the views show the message)."""


class AlreadySent(MailingError):
    pass


class TokenInvalid(LookupError):
    pass


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


def default_language(statement: Statement) -> str:
    return (statement.language or "en").split("-")[0].lower()


def recipient_language(signature: Signature, statement: Statement) -> str:
    """The contact's language: the one they signed in where the signature records it, else
    the statement's."""
    lang = getattr(signature, "lang", None)
    return (lang or default_language(statement)).split("-")[0].lower()


def clean_text(subject: str | None, body: str | None) -> Text | None:
    """A language's text as typed; None when both are empty (that language falls back)."""
    subject = " ".join((subject or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    if not subject and not body:
        return None
    if not subject:
        raise InvalidValue("Write a subject for this text, or leave its body empty too.")
    if not body:
        raise InvalidValue("Write the text of the email, or leave its subject empty too.")
    if len(subject) > SUBJECT_MAX:
        raise InvalidValue(f"The subject must be at most {SUBJECT_MAX} characters.")
    if len(body) > BODY_MAX:
        raise InvalidValue(f"The text must be at most {BODY_MAX:,} characters.")
    if _CONTROL.search(subject) or _CONTROL.search(body):
        raise InvalidValue("The text must not contain control characters.")
    return Text(subject, body)


def texts_of(mailing: Mailing) -> dict[str, Text]:
    return {lang: Text(t["subject"], t["body"]) for lang, t in (mailing.texts or {}).items()}


def text_for(mailing: Mailing, lang: str) -> tuple[str, Text]:
    """The text a recipient in `lang` gets: theirs, else the statement's language's."""
    texts = texts_of(mailing)
    if lang in texts:
        return lang, texts[lang]
    fallback = default_language(mailing.statement)
    return fallback, texts[fallback]


def _stored(texts: dict[str, Text], statement: Statement) -> dict[str, dict[str, str]]:
    if default_language(statement) not in texts:
        raise InvalidValue("Write the subject and text in the statement's language.")
    return {lang: {"subject": t.subject, "body": t.body} for lang, t in texts.items()}


def _recipients_query(statement_id: int):
    return select(Signature).where(
        Signature.statement_id == statement_id,
        Signature.state == SignatureState.APPROVED,
        Signature.keep_informed.is_(True),
        Signature.email.is_not(None),
        Signature.email != "",
    )


def recipients(statement: Statement) -> list[Signature]:
    """The contacts a mailing of this statement reaches now: approved, opted in, not left."""
    return list(db.session.scalars(_recipients_query(statement.id).order_by(Signature.id)))


def language_counts(statement: Statement) -> dict[str, int]:
    counts = Counter(recipient_language(s, statement) for s in recipients(statement))
    return dict(sorted(counts.items()))


@write_transaction
def create_mailing(statement_id: int, texts: dict[str, Text], actor: Actor) -> Mailing:
    statement = db.session.get_one(Statement, statement_id)
    mailing = Mailing(
        statement_id=statement.id, texts=_stored(texts, statement), composed_by=actor.label
    )
    db.session.add(mailing)
    db.session.flush()
    record(
        actor,
        "mailing_composed",
        statement_id=statement.id,
        after={"mailing": mailing.id, "languages": ", ".join(sorted(texts))},
        detail=f"Mailing {mailing.id}: {texts[default_language(statement)].subject}",
    )
    return mailing


@write_transaction
def update_mailing(mailing_id: int, texts: dict[str, Text], actor: Actor) -> bool:
    mailing = db.session.get_one(Mailing, mailing_id)
    if MailingStatus(mailing.status) is not MailingStatus.DRAFT:
        raise AlreadySent("This mailing was sent: it can no longer be changed.")
    stored = _stored(texts, mailing.statement)
    if stored == mailing.texts:
        return False
    mailing.texts = stored
    record(
        actor,
        "mailing_edited",
        statement_id=mailing.statement_id,
        after={"mailing": mailing.id, "languages": ", ".join(sorted(texts))},
        detail=f"Mailing {mailing.id}",
    )
    return True


def unsubscribe_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/unsubscribe/{token}"


def list_unsubscribe_header(url: str) -> str:
    mailto = current_app.config.get("MAILING_UNSUBSCRIBE_MAILTO")
    header = f"<{url}>"
    if mailto:
        header += f", <mailto:{mailto}?subject=unsubscribe>"
    return header


def _context(mailing: Mailing, lang: str, url: str) -> dict:
    used, text = text_for(mailing, lang)
    return {
        "subject": text.subject,
        "body_markdown": text.body,
        "body_html": render_markdown(text.body),
        "statement": mailing.statement,
        "unsubscribe_url": url,
        "lang": used,
    }


def render(
    mailing: Mailing, lang: str, url: str | None = None, *, test: bool = False
) -> outbox.Email:
    """The email as a recipient in `lang` gets it (for the preview, a link that goes nowhere);
    in the language of the text used (`lang` of the context)."""
    return outbox.render_email(
        "mailing", test=test, **_context(mailing, lang, url or unsubscribe_url("preview"))
    )


class _Renderer:
    """Each language's email rendered once (outbox.Stencil), with a stand-in for the unsubscribe
    token that each recipient's own replaces: a mailing to thousands renders a few templates,
    and its write transaction stays short."""

    def __init__(self, mailing: Mailing, *, test: bool = False) -> None:
        self.mailing = mailing
        self.test = test
        self._done: dict[str, outbox.Stencil] = {}

    def queue(self, kind: str, to: str, lang: str, token: str, **row) -> int:
        if lang not in self._done:
            fields = outbox.stand_ins("token")
            email = render(self.mailing, lang, unsubscribe_url(fields["token"]), test=self.test)
            self._done[lang] = outbox.Stencil(email, fields)
        return outbox.queue_rendered(
            kind,
            to,
            self._done[lang].fill(token=token),
            list_unsubscribe=list_unsubscribe_header(unsubscribe_url(token)),
            **row,
        )


@write_transaction
def send_test(mailing_id: int, actor: Actor, to: str) -> int:
    """Each text of the mailing to the staff member alone (its unsubscribe link leads nowhere)."""
    mailing = db.session.get_one(Mailing, mailing_id)
    languages = sorted(texts_of(mailing))
    renderer = _Renderer(mailing, test=True)
    for lang in languages:
        token, _hash = new_token()  # never stored: the test's link unsubscribes nobody
        renderer.queue("mailing_test", to, lang, token)
    record(
        actor,
        "mailing_test_sent",
        statement_id=mailing.statement_id,
        detail=f"Mailing {mailing.id}: {len(languages)} test email(s) to the sender",
    )
    return len(languages)


def _first_slot(now: datetime) -> datetime:
    """After the last batch of mailings still waiting: mailings sent one after another share
    the rate instead of adding up."""
    latest = db.session.scalar(
        select(func.max(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.kind == "mailing", OutboxMessage.status == OutboxStatus.QUEUED
        )
    )
    return max(now, latest + timedelta(minutes=1)) if latest is not None else now


def schedule(count: int, start: datetime, rate: int) -> list[datetime]:
    """When each of `count` messages is due: `rate` of them a minute, a batch a minute."""
    return [start + timedelta(minutes=i // rate) for i in range(count)]


@write_transaction
def send_mailing(mailing_id: int, actor: Actor) -> int:
    """Queue the mailing to every contact it reaches now: one outbox row and one unsubscribe
    token each, due in batches of MAILING_RATE_PER_MINUTE a minute.

    Once only: the draft → sent compare-and-set lets one request through (a double click or a
    retry finds it sent and raises AlreadySent); the unique (mailing, signature) pair stands
    behind it. Returns the number of recipients.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(Mailing)
        .where(Mailing.id == mailing_id, Mailing.status == MailingStatus.DRAFT)
        .values(status=MailingStatus.SENT, sent_at=now, sent_by=actor.label)
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        raise AlreadySent("This mailing was sent already; nothing was sent again.")
    mailing = db.session.get_one(Mailing, mailing_id)
    db.session.refresh(mailing)
    statement = mailing.statement
    people = recipients(statement)
    rate = current_app.config["MAILING_RATE_PER_MINUTE"]
    renderer = _Renderer(mailing)
    for signature, due in zip(people, schedule(len(people), _first_slot(now), rate), strict=True):
        token, token_hash = new_token()
        lang = recipient_language(signature, statement)
        assert signature.email, "recipients have an address"
        message_id = renderer.queue(
            "mailing", signature.email, lang, token, signature_id=signature.id, due=due
        )
        db.session.add(
            MailingRecipient(
                mailing_id=mailing.id,
                signature_id=signature.id,
                outbox_message_id=message_id,
                lang=lang,
                token_hash=token_hash,
            )
        )
    mailing.recipient_count = len(people)
    db.session.flush()
    record(
        actor,
        "mailing_sent",
        statement_id=statement.id,
        after={"mailing": mailing.id, "recipients": len(people)},
        detail=f"Mailing {mailing.id} sent to {len(people)} contact(s)",
    )
    return len(people)


def delivery_counts(mailing_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .join(MailingRecipient, MailingRecipient.outbox_message_id == OutboxMessage.id)
        .where(MailingRecipient.mailing_id == mailing_id)
        .group_by(OutboxMessage.status)
    ).all()
    return {str(OutboxStatus(status).value): count for status, count in rows}


def deliveries(mailing_id: int, page: int, per_page: int):
    """The mailing's messages, one row each: recipient, its outbox row (status, times)."""
    return db.paginate(
        select(MailingRecipient)
        .where(MailingRecipient.mailing_id == mailing_id)
        .order_by(MailingRecipient.id),
        page=page,
        per_page=per_page,
        error_out=False,
    )


def all_mailings() -> list[Mailing]:
    return list(db.session.scalars(select(Mailing).order_by(Mailing.id.desc())))


# ---------------------------------------------------------------- unsubscribe


def recipient_for_token(token: str) -> MailingRecipient:
    if not looks_like_token(token):
        raise TokenInvalid(token)
    row = db.session.scalar(
        select(MailingRecipient).where(MailingRecipient.token_hash == hash_token(token))
    )
    if row is None or row.signature is None:
        raise TokenInvalid(token)
    return row


@write_transaction
def unsubscribe(token: str) -> MailingRecipient:
    """The link's POST (the button, or a mail client's one-click): no more mailings to this
    contact. Harmless twice; ticking the box on the manage page again opts back in."""
    row = recipient_for_token(token)
    signature = row.signature
    assert signature is not None
    now = utcnow()
    if row.unsubscribed_at is None:
        row.unsubscribed_at = now
    changed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.keep_informed.is_(True))
        .values(keep_informed=False, unsubscribed_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed):
        record(
            Actor.signatory(),
            "unsubscribed",
            signature=signature,
            before={"keep_informed": True},
            after={"keep_informed": False},
            detail=f"Mailing {row.mailing_id}",
        )
    db.session.refresh(signature)
    return row
