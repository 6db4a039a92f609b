"""Signing: submission, email confirmation, withdrawal, the manage link, and their emails — one
transaction each."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import cast

from flask import current_app
from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core import events, identity, outbox
from ..core.audit import Actor, event_row, record, record_rows
from ..core.batching import ALONE, Alone, GroupCommit
from ..core.db import (
    after_write,
    after_write_held,
    compare_and_set,
    in_write_transaction,
    insert_rows,
    rowcount,
    write_transaction,
)
from ..core.i18n import SOURCE_LANGUAGE, localised_path
from ..core.templating import inert
from ..core.tokens import hash_token, looks_like_token, new_token
from ..core.validation import OrganisationFields, derived_columns, normalise_email
from ..extensions import db
from ..models import (
    ChangeState,
    OrganisationType,
    Signature,
    SignatureChange,
    SignatureSource,
    SignatureState,
    SignatureToken,
    Statement,
    TokenPurpose,
    accepts_signatures,
    utcnow,
)
from ..statements.service import (
    StatementNotFound,
    StatementToSign,
    bump_list_version,
    statement_to_sign,
)


class SigningError(Exception):
    """Base of the domain errors the signing views map to pages."""


class StatementClosed(SigningError):
    pass


class TokenInvalid(SigningError):
    pass


class TokenExpired(SigningError):
    def __init__(self, signature: Signature) -> None:
        super().__init__("token expired")
        self.signature = signature


class AlreadyConfirmed(SigningError):
    def __init__(self, signature: Signature) -> None:
        super().__init__("already confirmed")
        self.signature = signature


class NotWithdrawable(SigningError):
    def __init__(self, signature: Signature) -> None:
        super().__init__("not withdrawable")
        self.signature = signature


@dataclass(frozen=True)
class SignatureInput(OrganisationFields):
    """Validated, normalised form data (see forms.SignForm)."""

    contact_name: str
    contact_role: str
    email: str
    email_normalised: str
    comment: str = ""
    keep_informed: bool = False
    # The language of the form ("de"), which the contact's emails are then written in.
    lang: str = ""


class SubmitOutcome(enum.Enum):
    CREATED = "created"
    RESTARTED = "restarted"  # after a withdrawal: the stored address gets a link to endorse again
    RESENT = "resent"  # still unconfirmed: the confirmation again, with the stored details
    NOTIFIED = "notified"  # confirmed or decided: the manage link, to the stored address
    UNCHANGED = "unchanged"  # throttled: sent moments ago, nothing sent now


def _confirm_ttl() -> timedelta:
    return timedelta(days=current_app.config["TOKEN_MAX_AGE_DAYS"])


def _resend_interval() -> timedelta:
    return timedelta(seconds=current_app.config["MAIL_RESEND_INTERVAL_SECONDS"])


#: Links that prove the address still works expire; the manage and withdrawal links do not.
_EXPIRING = (TokenPurpose.CONFIRM, TokenPurpose.NEW_EMAIL)


def _issue_token(signature: Signature, purpose: TokenPurpose) -> str:
    token, token_hash = new_token()
    expires = utcnow() + _confirm_ttl() if purpose in _EXPIRING else None
    db.session.add(
        SignatureToken(
            signature_id=signature.id, purpose=purpose, token_hash=token_hash, expires_at=expires
        )
    )
    return token


def _apply_input(signature: Signature, data: SignatureInput) -> None:
    signature.organisation_name = data.organisation_name
    signature.organisation_type = OrganisationType(data.organisation_type)
    signature.country = data.country
    signature.city = data.city
    derived = derived_columns(
        data.organisation_name, data.organisation_type, data.country, data.city
    )
    for column, value in derived.items():
        setattr(signature, column, value)
    signature.website = data.website
    signature.contact_name = data.contact_name
    signature.contact_role = data.contact_role
    signature.email = data.email
    signature.email_normalised = data.email_normalised
    signature.comment = data.comment
    signature.keep_informed = data.keep_informed
    if data.lang:
        signature.lang = data.lang


def manage_url(signature: Signature) -> str:
    """A new manage link for the signature's emails (every one issued stays valid)."""
    return public_url(f"/manage/{_issue_token(signature, TokenPurpose.MANAGE)}", signature.lang)


@dataclass(frozen=True)
class _Confirmation:
    """A confirmation email ready to queue: its links' token hashes and the email itself."""

    confirm_hash: str
    manage_hash: str
    email: outbox.Email


def _write_confirmation(
    signature: Signature, statement: Statement | StatementToSign, *, resubmitted: bool = False
) -> _Confirmation:
    """The confirmation and manage links and the email with them, without the database."""
    (confirm, confirm_hash), (manage, manage_hash) = new_token(), new_token()
    lang = signature.lang or SOURCE_LANGUAGE
    email = _confirmation_stencil(lang, statement.title, resubmitted).fill(
        contact_name=inert(signature.contact_name),
        organisation_name=inert(signature.organisation_name),
        confirm_url=public_url(f"/confirm/{confirm}", lang),
        manage_url=public_url(f"/manage/{manage}", lang),
    )
    return _Confirmation(confirm_hash, manage_hash, email)


#: The confirmation emails a process keeps rendered: a few languages, statements, campaign names.
_STENCILS_KEPT = 64


def _confirmation_stencil(lang: str, title: str, resubmitted: bool) -> outbox.Stencil:
    """The confirmation email in `lang` for the statement titled `title`, with stand-ins for the
    signer's name, organisation and links: rendered once per language, statement title and
    campaign identity (with the application's settings, everything else the templates show),
    then filled per signer."""
    key = (lang, title, resubmitted, identity.current())
    stencils: dict = current_app.extensions.setdefault("signing.confirmation_stencils", {})
    stencil = stencils.get(key)
    if stencil is None:
        if len(stencils) >= _STENCILS_KEPT:
            stencils.clear()
        fields = outbox.stand_ins("contact_name", "organisation_name", "confirm_url", "manage_url")
        email = outbox.render_email(
            "confirm",
            lang=lang,
            signature=SimpleNamespace(
                contact_name=fields["contact_name"],
                organisation_name=fields["organisation_name"],
                lang=lang,
            ),
            statement=SimpleNamespace(title=title),
            confirm_url=fields["confirm_url"],
            manage_url=fields["manage_url"],
            expires_days=current_app.config["TOKEN_MAX_AGE_DAYS"],
            resubmitted=resubmitted,
        )
        stencil = stencils[key] = outbox.Stencil(email, fields)
    return stencil


_TOKENS = cast(Table, SignatureToken.__table__)
_INSERT_TOKENS = insert(_TOKENS)


def _queue_written(signature_id: int, to_address: str, confirmation: _Confirmation) -> None:
    """Its links and its outbox row, in the caller's transaction."""
    # One INSERT for both tokens: nothing reads them back in this transaction.
    db.session.execute(_INSERT_TOKENS, _token_rows(signature_id, confirmation, utcnow()))
    outbox.queue_rendered(
        "confirm",
        to_address,
        confirmation.email,
        signature_id=signature_id,
        cap_per_domain=True,  # anyone can type any address into the form
    )


def _token_rows(signature_id: int, confirmation: _Confirmation, now: datetime) -> list[dict]:
    """The confirmation link's row (it expires) and the manage link's (it does not)."""
    return [
        {
            "signature_id": signature_id,
            "purpose": TokenPurpose.CONFIRM,
            "token_hash": confirmation.confirm_hash,
            "created_at": now,
            "expires_at": now + _confirm_ttl(),
        },
        {
            "signature_id": signature_id,
            "purpose": TokenPurpose.MANAGE,
            "token_hash": confirmation.manage_hash,
            "created_at": now,
            "expires_at": None,
        },
    ]


def _queue_confirmation(
    signature: Signature, statement: Statement, *, resubmitted: bool = False
) -> None:
    """The confirmation and manage links and the email, in the caller's transaction (which
    stamps last_confirmation_sent_at)."""
    assert signature.email, "a signature from the form has an email"
    confirmation = _write_confirmation(signature, statement, resubmitted=resubmitted)
    _queue_written(signature.id, signature.email, confirmation)


def public_url(path: str, lang: str | None = None) -> str:
    """The site's address of `path`; of its page in `lang` when given (an emailed link)."""
    return current_app.config["PUBLIC_BASE_URL"] + localised_path(lang, path)


def _claim_send_slot(signature_id: int, column) -> bool:
    """Atomically take the right to email this signature now (at most once per interval)."""
    now = utcnow()
    result = db.session.execute(
        update(Signature)
        .where(
            Signature.id == signature_id,
            or_(column.is_(None), column < now - _resend_interval()),
        )
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def sign_statement(slug: str, data: SignatureInput, ip: str = "") -> SubmitOutcome:
    """The sign-on form's POST: the statement at `slug` (StatementNotFound when there is none),
    then `submit_signature`."""
    return submit_signature(statement_to_sign(slug), data, ip)


def submit_signature(
    statement: Statement | StatementToSign, data: SignatureInput, ip: str = ""
) -> SubmitOutcome:
    """Store a new endorsement as pending_email with its confirmation email, in one transaction.

    A second submission with the same email never creates a second row: the unique
    constraint decides, and the existing row is handled by its state. Unless the row was
    withdrawn, a second submission changes no stored detail: the stored address gets the
    manage link (or, still unconfirmed, the confirmation again), and corrections are made there.

    The email is written before the transaction, which then holds only the rows and checks
    again that the statement takes signatures: SQLite has one writer at a time, and a burst
    of sign-ons is as fast as each writer's turn is short.
    """
    if not statement.is_accepting_signatures():
        raise StatementClosed(statement.slug)
    submission = prepare_submission(statement, data, ip)
    if in_write_transaction():  # inside a caller's transaction, which it commits
        return _store_alone(submission)
    return _group_commit().submit(submission)


def prepare_submission(
    statement: Statement | StatementToSign, data: SignatureInput, ip: str = ""
) -> _Submission:
    """A submission ready to store: its signature and its email, with no database access (the
    write transaction then holds only the rows)."""
    signature = Signature(
        statement_id=statement.id,
        statement_version_id=statement.current_version_id,
        state=SignatureState.PENDING_EMAIL,
        source=SignatureSource.FORM,
        submitted_ip=ip[:64],
    )
    _apply_input(signature, data)
    confirmation = _write_confirmation(signature, statement)
    return _Submission(statement.id, statement.slug, signature, confirmation, data, ip)


@dataclass(frozen=True)
class _Submission:
    """A sign-on ready to store: its signature (not in a session), its email, the input."""

    statement_id: int
    slug: str
    signature: Signature
    confirmation: _Confirmation
    data: SignatureInput
    ip: str

    @property
    def key(self) -> tuple[int, str | None]:
        return self.statement_id, self.signature.email_normalised


def _group_commit() -> GroupCommit[_Submission, SubmitOutcome]:
    """This process's queue of sign-ons to store (core/batching.py)."""
    extensions = current_app.extensions
    group = extensions.get("signing.group_commit")
    if group is None:
        group = extensions.setdefault(
            "signing.group_commit",
            # The delivery job is queued after the batch's answers and the next batch's turn.
            GroupCommit(_store_alone, store_together, holding=after_write_held),
        )
    return group


def _store_alone(submission: _Submission) -> SubmitOutcome:
    """One submission in a transaction of its own."""
    try:
        return _store_submission(submission)
    except IntegrityError:
        # The same address in two submissions at the same moment (PostgreSQL; SQLite's writers
        # take turns): the unique constraint let one in. This one, rolled back whole, is now
        # a second submission.
        return _store_submission(submission)


_SIGNATURES = cast(Table, Signature.__table__)
#: The columns a new signature is inserted with (all but the id and the server's defaults).
_SIGNATURE_COLUMNS = tuple(c.key for c in _SIGNATURES.columns if c.key != "id")
#: INSERT … RETURNING id for a new signature (a plain INSERT: SQLAlchemy caches its compiled
#: form, not that of ON CONFLICT).
_INSERT_NEW = insert(_SIGNATURES).returning(_SIGNATURES.c.id)


#: Whether a statement takes signatures (its window) and whether an address has signed it: one
#: query, built once.
_SIGNING_STATE = select(
    Statement.is_open,
    Statement.signing_opens_at,
    Statement.signing_closes_at,
    select(Signature.id)
    .where(
        Signature.statement_id == Statement.id,
        Signature.email_normalised == bindparam("email_normalised"),
    )
    .scalar_subquery(),
).where(Statement.id == bindparam("statement_id"))


@write_transaction
def _store_submission(submission: _Submission) -> SubmitOutcome:
    """The rows of a submission: the signature (or, for a known address, what its state asks
    for), its links, the audit row and the email. One query reads whether the statement takes
    signatures and whether the address has signed it; the signature is not added to the
    session (its row is one INSERT)."""
    signature = submission.signature
    found = db.session.execute(
        _SIGNING_STATE,
        {"statement_id": submission.statement_id, "email_normalised": signature.email_normalised},
    ).one_or_none()
    if found is None:
        raise StatementNotFound(submission.slug)
    is_open, opens_at, closes_at, signed_id = found
    now = utcnow()
    if not accepts_signatures(is_open, opens_at, closes_at, now=now):
        raise StatementClosed(submission.slug)
    if signed_id is not None:  # this address has signed this statement already
        statement = db.session.get_one(Statement, submission.statement_id)
        return _submit_again(statement, submission.data, submission.ip)
    signature.id = db.session.execute(_INSERT_NEW, _new_row(signature, now)).scalar_one()
    record(Actor.signatory(), "submitted", **_submitted(submission))
    assert signature.email, "a signature from the form has an email"
    _queue_written(signature.id, signature.email, submission.confirmation)
    return SubmitOutcome.CREATED


def _new_row(signature: Signature, now: datetime) -> dict:
    """The values of a new signature's INSERT; the email is queued in the same transaction."""
    signature.consent_at = signature.last_confirmation_sent_at = now
    return {key: getattr(signature, key) for key in _SIGNATURE_COLUMNS if key in signature.__dict__}


def _submitted(submission: _Submission) -> dict:
    """The audit row of a new submission (record's fields)."""
    ip = submission.ip
    return {
        "signature": submission.signature,
        "to_state": SignatureState.PENDING_EMAIL,
        "detail": f"ip={ip}" if ip else "",
    }


#: For a batch of submissions, in one query: whether their statements take signatures, and
#: which of their addresses have signed them (a row each; one with no address if none has).
_BATCH_STATE = (
    select(
        Statement.id,
        Statement.is_open,
        Statement.signing_opens_at,
        Statement.signing_closes_at,
        Signature.email_normalised,
    )
    .outerjoin(
        Signature,
        and_(
            Signature.statement_id == Statement.id,
            Signature.email_normalised.in_(bindparam("emails", expanding=True)),
        ),
    )
    .where(Statement.id.in_(bindparam("ids", expanding=True)))
)
#: What several new signatures' INSERT returns: each id with what tells the rows apart.
_TELLS_APART = ("id", "statement_id", "email_normalised")


@write_transaction
def store_together(
    submissions: Sequence[_Submission],
) -> list[SubmitOutcome | BaseException | Alone]:
    """Several new submissions in one transaction, with the statements and addresses read once
    for all: what `_store_submission` does for one, in one statement per table. An address that
    has signed already, or that comes twice in the batch, is left to `_store_submission` (ALONE)."""
    now = utcnow()
    rows = (
        db.session.connection()
        .execute(
            _BATCH_STATE,
            {
                "ids": sorted({s.statement_id for s in submissions}),
                "emails": sorted({str(s.key[1]) for s in submissions}),
            },
        )
        .all()
    )
    windows = {row.id: accepts_signatures(*row[1:4], now=now) for row in rows}
    signed = {(row.id, row.email_normalised) for row in rows if row.email_normalised is not None}
    results: list[SubmitOutcome | BaseException | Alone] = []
    new: list[_Submission] = []
    for submission in submissions:
        if submission.statement_id not in windows:
            results.append(StatementNotFound(submission.slug))
        elif not windows[submission.statement_id]:
            results.append(StatementClosed(submission.slug))
        elif submission.key in signed:
            results.append(ALONE)
        else:
            signed.add(submission.key)
            new.append(submission)
            results.append(SubmitOutcome.CREATED)
    if new:
        _insert_new(new, now)
    return results


def _insert_new(submissions: list[_Submission], now: datetime) -> None:
    """The rows of new submissions: signatures, audit rows, links, emails, a statement each."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for submission in submissions:
        row = _new_row(submission.signature, now)
        by_columns.setdefault(tuple(row), []).append(row)
    ids = {}
    for rows in by_columns.values():  # one parameter set's keys for all
        inserted = insert_rows(_SIGNATURES, rows, returning=_TELLS_APART)
        for signature_id, statement_id, email in inserted or ():
            ids[statement_id, email] = signature_id
    tokens, messages = [], []
    for submission in submissions:
        signature = submission.signature
        signature.id = ids[submission.key]
        tokens += _token_rows(signature.id, submission.confirmation, now)
        assert signature.email, "a signature from the form has an email"
        messages.append((signature.email, submission.confirmation.email, signature.id))
    audit = [event_row(Actor.signatory(), "submitted", **_submitted(s)) for s in submissions]

    def links_and_audit() -> None:
        record_rows(audit)
        insert_rows(_TOKENS, tokens)

    outbox.queue_many("confirm", messages, with_rows=links_and_audit)


def _submit_again(statement: Statement, data: SignatureInput, ip: str) -> SubmitOutcome:
    existing = db.session.scalar(
        select(Signature).where(
            Signature.statement_id == statement.id,
            Signature.email_normalised == data.email_normalised,
        )
    )
    if existing is None:  # the conflicting row vanished (deleted) — a retry is the honest answer
        raise SigningError("conflict, please try again")
    state = SignatureState(existing.state)
    if state is SignatureState.WITHDRAWN:
        # The same rule: the withdrawn endorsement keeps its details and its withdrawal. The
        # stored address gets a confirmation link that endorses again with the stored details
        # (corrections then go through the manage link); nothing changes unless it is used.
        if not _claim_restart_slot(existing.id):
            return SubmitOutcome.UNCHANGED
        db.session.refresh(existing)
        _revoke_tokens(existing.id, TokenPurpose.CONFIRM)
        _queue_confirmation(existing, statement, resubmitted=True)
        record(Actor.signatory(), "confirmation_resent", signature=existing, detail="signed again")
        return SubmitOutcome.RESTARTED
    if state is SignatureState.PENDING_EMAIL:
        if not _claim_send_slot(existing.id, Signature.last_confirmation_sent_at):
            return SubmitOutcome.UNCHANGED
        db.session.refresh(existing)
        # Whoever knows an address can submit it: a second submission only re-sends the
        # stored details to that address, it never replaces them (the first link would
        # otherwise confirm someone else's data). Corrections go through the manage link.
        _queue_confirmation(existing, statement, resubmitted=True)
        record(Actor.signatory(), "confirmation_resent", signature=existing)
        return SubmitOutcome.RESENT
    # Verified, approved or rejected: the stored address gets the manage link, where the
    # signatory sees the endorsement's state and corrects it; nothing is changed here.
    if not _mail_manage_link(existing, statement, "already_signed"):
        return SubmitOutcome.UNCHANGED
    record(Actor.signatory(), "manage_link_sent", signature=existing, detail="signed again")
    return SubmitOutcome.NOTIFIED


def _claim_restart_slot(signature_id: int) -> bool:
    """As _claim_send_slot, but the first submission after a withdrawal always mails: the
    interval runs from the last link sent since the withdrawal."""
    now = utcnow()
    sent = Signature.last_confirmation_sent_at
    result = db.session.execute(
        update(Signature)
        .where(
            Signature.id == signature_id,
            or_(
                sent.is_(None),
                sent < now - _resend_interval(),
                sent <= Signature.withdrawn_at,
            ),
        )
        .values(last_confirmation_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def _revoke_tokens(signature_id: int, purpose: TokenPurpose) -> None:
    db.session.execute(
        update(SignatureToken)
        .where(
            SignatureToken.signature_id == signature_id,
            SignatureToken.purpose == purpose,
            SignatureToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _find_token(token: str, purpose: TokenPurpose) -> SignatureToken:
    if not looks_like_token(token):
        raise TokenInvalid(token)
    row = db.session.scalar(
        select(SignatureToken).where(
            SignatureToken.token_hash == hash_token(token), SignatureToken.purpose == purpose
        )
    )
    if row is None:
        raise TokenInvalid(token)
    return row


def signature_for_confirmation(token: str) -> Signature:
    """What a confirmation link points at, for the GET page; changes nothing.

    Raises AlreadyConfirmed, TokenInvalid (unknown or replaced) or TokenExpired.
    """
    row = _find_token(token, TokenPurpose.CONFIRM)
    signature = row.signature
    state = SignatureState(signature.state)
    # A withdrawn endorsement's confirmation links were revoked when it was withdrawn: an
    # unused one was sent since, when the address was submitted again (it endorses again).
    restart = state is SignatureState.WITHDRAWN and row.used_at is None
    if state is not SignatureState.PENDING_EMAIL and not restart:
        raise AlreadyConfirmed(signature)
    if row.used_at is not None:
        raise TokenInvalid(token)
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise TokenExpired(signature)
    return signature


@write_transaction
def confirm_signature(token: str) -> Signature:
    """POST of the confirmation link: pending_email → verified, once."""
    signature = signature_for_confirmation(token)  # the same checks as the page showed
    now = utcnow()
    before = SignatureState(signature.state)
    restart: dict = {}
    if before is SignatureState.WITHDRAWN:
        # Endorsing again: the stored details, under today's text, with none of the earlier
        # decision's dates (the audit log keeps the withdrawal and what came before it).
        restart = {
            "statement_version_id": signature.statement.current_version_id
            or signature.statement_version_id,
            "consent_at": now,
            "withdrawn_at": None,
            "approved_at": None,
            "decided_at": None,
        }
    # Two clicks at once confirm once.
    if not compare_and_set(
        signature.id, before, state=SignatureState.VERIFIED, verified_at=now, **restart
    ):
        db.session.refresh(signature)
        raise AlreadyConfirmed(signature)
    _revoke_tokens(signature.id, TokenPurpose.CONFIRM)
    record(
        Actor.signatory(),
        "confirmed",
        signature=signature,
        from_state=before,
        to_state=SignatureState.VERIFIED,
    )
    db.session.refresh(signature)
    return signature


@write_transaction
def resend_confirmation(token: str) -> Signature:
    """An expired (or lost) confirmation link asks for a new one, sent to the stored address."""
    row = _find_token(token, TokenPurpose.CONFIRM)
    signature = row.signature
    if SignatureState(signature.state) is not SignatureState.PENDING_EMAIL:
        raise AlreadyConfirmed(signature)
    if _claim_send_slot(signature.id, Signature.last_confirmation_sent_at):
        db.session.refresh(signature)
        _queue_confirmation(signature, signature.statement)
        record(Actor.signatory(), "confirmation_resent", signature=signature)
    return signature


_WITHDRAWABLE = (SignatureState.PENDING_EMAIL, SignatureState.VERIFIED, SignatureState.APPROVED)


def signature_for_withdrawal(token: str) -> Signature:
    row = _find_token(token, TokenPurpose.WITHDRAW)
    return row.signature


@write_transaction
def withdraw_signature(token: str) -> Signature:
    """POST of the withdrawal link: the endorsement leaves the list and the queue at once."""
    row = _find_token(token, TokenPurpose.WITHDRAW)
    signature = row.signature
    return withdraw(signature, Actor.signatory())


@write_transaction
def withdraw(signature: Signature, actor: Actor, reason: str = "") -> Signature:
    before = SignatureState(signature.state)
    if before not in _WITHDRAWABLE:
        raise NotWithdrawable(signature)
    now = utcnow()
    if not compare_and_set(signature.id, before, state=SignatureState.WITHDRAWN, withdrawn_at=now):
        db.session.refresh(signature)
        raise NotWithdrawable(signature)
    _revoke_tokens(signature.id, TokenPurpose.CONFIRM)
    close_proposed_changes(signature.id)
    was_public = before is SignatureState.APPROVED
    if was_public:
        bump_list_version(signature.statement_id)
    record(
        actor,
        "withdrawn",
        signature=signature,
        from_state=before,
        to_state=SignatureState.WITHDRAWN,
        detail=reason,
    )
    db.session.refresh(signature)
    if was_public:
        statement_id = signature.statement_id
        after_write(lambda: events.signatory_list_changed(statement_id, reason="withdrawal"))
    return signature


def close_proposed_changes(signature_id: int) -> None:
    """A correction waiting for staff lapses when its endorsement leaves the public list."""
    db.session.execute(
        update(SignatureChange)
        .where(
            SignatureChange.signature_id == signature_id,
            SignatureChange.state == ChangeState.PROPOSED,
        )
        .values(state=ChangeState.SUPERSEDED, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@write_transaction
def request_manage_link(statement: Statement, email: str) -> None:
    """Mail a fresh manage link to that address if it signed; the caller says the same either way.

    A withdrawn endorsement has nothing left to manage: signing again starts it over.
    """
    signature = db.session.scalar(
        select(Signature).where(
            Signature.statement_id == statement.id,
            Signature.email_normalised == normalise_email(email),
        )
    )
    if signature is None or SignatureState(signature.state) is SignatureState.WITHDRAWN:
        return
    if _mail_manage_link(signature, statement, "manage_link"):
        record(Actor.signatory(), "manage_link_sent", signature=signature, detail="asked for")


def _mail_manage_link(signature: Signature, statement: Statement, template: str) -> bool:
    """Mail a fresh manage link with `template`, at most once per send interval.

    False when a link was sent to this address moments ago (nothing is queued then).
    """
    if not _claim_send_slot(signature.id, Signature.last_withdraw_link_sent_at):
        return False
    db.session.refresh(signature)
    assert signature.email, "found by its email"
    outbox.queue_email(
        template,
        signature.email,
        template,
        signature_id=signature.id,
        cap_per_domain=True,  # a stranger's form submission can trigger it
        signature=signature,
        statement=statement,
        manage_url=manage_url(signature),
    )
    return True
