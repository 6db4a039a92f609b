"""Typed SQLAlchemy models: statements and their versions, signatures, tokens, mail, audit, staff, PDFs."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false, text
from sqlalchemy.types import TypeDecorator

from .core.i18n import N_
from .extensions import db

if TYPE_CHECKING:
    from .extensions import Model as Base
else:
    Base = db.Model  # the same declarative base, with Flask-SQLAlchemy's additions


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK on both backends, so adding a value is a plain migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class SignatureState(enum.StrEnum):
    PENDING_EMAIL = "pending_email"
    VERIFIED = "verified"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class OrganisationType(enum.StrEnum):
    REGION = "region"
    PUBLIC_AUTHORITY = "public_authority"
    CLUSTER = "cluster"
    RTO = "rto"
    UNIVERSITY = "university"
    COMPANY = "company"
    SME = "sme"
    STARTUP = "startup"
    NETWORK = "network"
    NGO = "ngo"
    OTHER = "other"

    @property
    def label(self) -> str:
        return ORGANISATION_TYPE_LABELS[self]

    @property
    def order(self) -> int:
        return ORGANISATION_TYPE_ORDER[self]


# English, as the open data and the PDF write them; pages show them translated (core/i18n).
ORGANISATION_TYPE_LABELS: dict[OrganisationType, str] = {
    OrganisationType.REGION: N_("Regions"),
    OrganisationType.PUBLIC_AUTHORITY: N_("Public authorities"),
    OrganisationType.CLUSTER: N_("Cluster organisations"),
    OrganisationType.RTO: N_("Research and technology organisations"),
    OrganisationType.UNIVERSITY: N_("Universities"),
    OrganisationType.COMPANY: N_("Companies"),
    OrganisationType.SME: N_("SMEs"),
    OrganisationType.STARTUP: N_("Start-ups"),
    OrganisationType.NETWORK: N_("Networks and associations"),
    OrganisationType.NGO: N_("NGOs and civil society"),
    OrganisationType.OTHER: N_("Other organisations"),
}
ORGANISATION_TYPE_ORDER: dict[OrganisationType, int] = {
    t: i for i, t in enumerate(OrganisationType)
}


class SignatureSource(enum.StrEnum):
    FORM = "form"
    IMPORT = "import"


class TokenPurpose(enum.StrEnum):
    CONFIRM = "confirm"
    WITHDRAW = "withdraw"  # the withdrawal links of emails sent before the manage link
    MANAGE = "manage"  # the signatory's own page: see, correct, withdraw (never expires)
    NEW_EMAIL = "new_email"  # confirms a new address given on the manage page


class ChangeState(enum.StrEnum):
    """A correction of a published endorsement, proposed by its signatory, decided by staff."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a later proposal, or the endorsement left the list


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The relay took the whole message twice and answered neither time: it may have arrived,
    # and sending it a third time may make a duplicate. Staff decide (send again, or mark sent).
    UNCERTAIN = "uncertain"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"


class UpdateKind(enum.StrEnum):
    NEWS = "news"
    QUOTE = "quote"
    EVENT = "event"


def split_initiators(text: str | None) -> list[str]:
    """The "An initiative of" names, in order: one a line (statements loaded before that kept
    them comma-separated on one line)."""
    text = text or ""
    names = text.splitlines() if "\n" in text else text.split(",")
    return [name.strip() for name in names if name.strip()]


#: Licences staff may choose for a statement's open data: SPDX identifier → (name, URL).
OPEN_DATA_LICENCES: dict[str, tuple[str, str]] = {
    "CC0-1.0": (
        "CC0 1.0 Universal (public domain dedication)",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    "CC-BY-4.0": (
        "Creative Commons Attribution 4.0 International (CC BY 4.0)",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    "ODbL-1.0": (
        "Open Data Commons Open Database License (ODbL) 1.0",
        "https://opendatacommons.org/licenses/odbl/1-0/",
    ),
}


class Statement(Base):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    subtitle: Mapped[str] = mapped_column(String(500), default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    campaign: Mapped[str] = mapped_column(String(300), default="")
    initiators: Mapped[str] = mapped_column(Text, default="")
    published_on: Mapped[date | None] = mapped_column(Date)
    # The PDF's letter lines: "To: addressee" (none when NULL) and "place, date" (the build's date
    # when pdf_date is NULL). Set with `flask pdf letter`.
    pdf_addressee: Mapped[str | None] = mapped_column(String(300))
    pdf_place: Mapped[str | None] = mapped_column(String(120))
    pdf_date: Mapped[date | None] = mapped_column(Date)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    signing_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signing_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    list_public_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("statement_versions.id", use_alter=True, ondelete="SET NULL")
    )
    # Bumped on every change of the public list; the PDF job compares it to what it built.
    #: The open data's licence (an OPEN_DATA_LICENCES key), chosen by staff.
    data_licence: Mapped[str] = mapped_column(
        String(32), default="CC0-1.0", server_default="CC0-1.0"
    )
    list_version: Mapped[int] = mapped_column(Integer, default=0)
    list_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf_built_list_version: Mapped[int] = mapped_column(Integer, default=-1)
    pdf_building_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The build lock is a lease: its holder renews it while it builds; once it has expired (the
    # holder died), the periodic sweep takes the lock over.
    pdf_build_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf_build_owner: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    current_version: Mapped[StatementVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[StatementVersion]] = relationship(
        back_populates="statement",
        foreign_keys="StatementVersion.statement_id",
        order_by="StatementVersion.number",
    )

    @property
    def initiator_list(self) -> list[str]:
        return split_initiators(self.initiators)

    def is_accepting_signatures(self, now: datetime | None = None) -> bool:
        return accepts_signatures(
            self.is_open, self.signing_opens_at, self.signing_closes_at, now=now
        )

    def is_list_public(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.list_public_from is None or now >= self.list_public_from


def accepts_signatures(
    is_open: bool,
    opens_at: datetime | None,
    closes_at: datetime | None,
    *,
    now: datetime | None = None,
) -> bool:
    """Whether a statement takes signatures at `now`: open, and within its signing window."""
    now = now or utcnow()
    if not is_open:
        return False
    if opens_at and now < opens_at:
        return False
    return not (closes_at and now >= closes_at)


class StatementVersion(Base):
    __tablename__ = "statement_versions"
    __table_args__ = (
        UniqueConstraint("statement_id", "number"),
        UniqueConstraint("statement_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    statement: Mapped[Statement] = relationship(
        back_populates="versions", foreign_keys=[statement_id]
    )

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]


class ImportBatchState(enum.StrEnum):
    PREVIEW = "preview"  # uploaded, checked, waiting for the confirmation
    IMPORTED = "imported"
    UNDONE = "undone"
    DISCARDED = "discarded"  # a preview never confirmed, dropped by the housekeeping


class ImportBatch(Base):
    """One uploaded file of endorsements (signatories/imports.py): kept from its preview to the
    confirmation, then the record of what it added, which can be undone as a whole."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default=ImportBatchState.PREVIEW.value)
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    # The file itself until it is imported or discarded.
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    mode: Mapped[str] = mapped_column(String(32), default="")  # approved or verified
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatementTranslation(Base):
    """A statement's text in another language, for reading only: the original stays the text
    organisations endorse (its SHA-256 is the original's). `statement_version_id` is the version
    it translates; a newer version of the statement makes it out of date until it is redone."""

    __tablename__ = "statement_translations"
    __table_args__ = (UniqueConstraint("statement_id", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    statement_version_id: Mapped[int] = mapped_column(
        ForeignKey("statement_versions.id", ondelete="CASCADE")
    )
    lang: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    subtitle: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    statement_version: Mapped[StatementVersion] = relationship()

    def is_current(self, statement: Statement) -> bool:
        return self.statement_version_id == statement.current_version_id


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (
        # One row per organisation email per statement; the database, not the code, enforces it.
        UniqueConstraint("statement_id", "email_normalised"),
        Index("ix_signatures_statement_state", "statement_id", "state"),
        Index(
            "ix_signatures_public_order",
            "statement_id",
            "state",
            "organisation_type_order",
            "country_name",
            "organisation_name_key",
        ),
        CheckConstraint("length(country) = 2", name="country_alpha2"),
        # Search is "contains": on PostgreSQL a trigram index answers it without reading every
        # row (a plain index on SQLite, where the scan of one short column stays quick).
        Index(
            "ix_signatures_search_key",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    statement_version_id: Mapped[int] = mapped_column(ForeignKey("statement_versions.id"))
    state: Mapped[SignatureState] = mapped_column(
        _enum(SignatureState, "signature_state"), default=SignatureState.PENDING_EMAIL
    )
    source: Mapped[SignatureSource] = mapped_column(
        _enum(SignatureSource, "signature_source"), default=SignatureSource.FORM
    )
    is_initiator: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation_name: Mapped[str] = mapped_column(String(200))
    # Lower-cased, accent-folded key for sorting and search; kept in sync by the service layer.
    organisation_name_key: Mapped[str] = mapped_column(String(200), default="")
    organisation_type: Mapped[OrganisationType] = mapped_column(
        _enum(OrganisationType, "organisation_type")
    )
    organisation_type_order: Mapped[int] = mapped_column(Integer, default=0)
    country: Mapped[str] = mapped_column(String(2))
    country_name: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    # Accent- and case-folded city for search (SQLite's lower() only folds ASCII).
    city_key: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # "name|city", each folded for search (accents, case, hyphens, apostrophes): what the public
    # and staff search match; kept in sync by the service layer (validation.derived_columns).
    search_key: Mapped[str] = mapped_column(String(320), default="", server_default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    comment: Mapped[str] = mapped_column(String(1000), default="")

    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_role: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalised: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str] = mapped_column(Text, default="")
    rejection_reason: Mapped[str] = mapped_column(String(1000), default="")
    submitted_ip: Mapped[str] = mapped_column(String(64), default="")

    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a link to this endorsement (manage link, formerly withdrawal link) was last mailed
    # on someone's request: at most one per MAIL_RESEND_INTERVAL_SECONDS.
    last_withdraw_link_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A new address given on the manage page, replacing `email` once confirmed at that address.
    new_email: Mapped[str | None] = mapped_column(String(320))
    new_email_normalised: Mapped[str | None] = mapped_column(String(320))
    # Bumped by every change; an edit form carries it so a stale form is refused, not applied.
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    # The language the contact signed in ("de"): their emails are written in it.
    lang: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    # The console import that created it (undone as a whole); none for the form and the CLI seed.
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    # The contact asked to be kept informed about the statement (campaign mailings): an unticked
    # box on the sign-on form and the manage page; endorsements from before it have not.
    keep_informed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the contact last left the mailings (the unsubscribe link, or the box unticked).
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    statement: Mapped[Statement] = relationship(foreign_keys=[statement_id])
    statement_version: Mapped[StatementVersion] = relationship(foreign_keys=[statement_version_id])

    @property
    def organisation_type_label(self) -> str:
        return ORGANISATION_TYPE_LABELS[OrganisationType(self.organisation_type)]


class SignatureToken(Base):
    """Single-purpose secrets mailed to a signatory; only their SHA-256 is stored."""

    __tablename__ = "signature_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(_enum(TokenPurpose, "token_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signature: Mapped[Signature] = relationship()


class SignatureChange(Base):
    """A signatory's correction of a published endorsement, waiting for staff.

    The public list and the PDF keep the approved details until staff accept it. `before` and
    `after` hold the changed public fields only; at most one change per signature is proposed
    at a time (a later one supersedes it).
    """

    __tablename__ = "signature_changes"
    __table_args__ = (
        Index(
            "uq_signature_changes_one_proposed",
            "signature_id",
            unique=True,
            sqlite_where=text("state = 'proposed'"),
            postgresql_where=text("state = 'proposed'"),
        ),
        Index("ix_signature_changes_state", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[ChangeState] = mapped_column(
        _enum(ChangeState, "change_state"), default=ChangeState.PROPOSED
    )
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    reason: Mapped[str] = mapped_column(String(1000), default="")

    signature: Mapped[Signature] = relationship()


class OutboxMessage(Base):
    """An email written in the same transaction as the change it reports, sent after commit."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_capped_domain", "capped_domain", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Set before the first transmission and sent with every attempt, so that a retry of a
    # message that may have arrived carries the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(300), default="")
    # Attempts that ended after the whole message was transmitted but before the relay answered
    # ("maybe sent"): one retry is allowed, the second makes the row uncertain.
    unanswered_sends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The recipient's registrable domain, for mail a stranger's form submission can trigger
    # (MAIL_DOMAIN_HOURLY_LIMIT per domain per hour, counted here); "" for other mail.
    capped_domain: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"), index=True
    )
    # A mailing's unsubscribe URL: sent as List-Unsubscribe with the one-click header (RFC 8058).
    list_unsubscribe: Mapped[str] = mapped_column(String(500), default="", server_default="")


class MailingStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"  # its outbox rows are written (each is delivered at its scheduled time)


class Mailing(Base):
    """A campaign update by email to the contacts of a statement's approved signatories who
    asked to be kept informed; one text per language (`texts`: {lang: {subject, body}})."""

    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[MailingStatus] = mapped_column(
        _enum(MailingStatus, "mailing_status"), default=MailingStatus.DRAFT
    )
    # The statement's language first: the text every recipient without one of their own gets.
    texts: Mapped[dict] = mapped_column(JSON, default=dict)
    composed_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_by: Mapped[str] = mapped_column(String(320), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)

    statement: Mapped[Statement] = relationship()


class MailingRecipient(Base):
    """One contact of one mailing: at most one per signature (the database refuses a second),
    its outbox row and the hash of its unsubscribe token."""

    __tablename__ = "mailing_recipients"
    __table_args__ = (UniqueConstraint("mailing_id", "signature_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailing_id: Mapped[int] = mapped_column(ForeignKey("mailings.id", ondelete="CASCADE"))
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"), index=True
    )
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    lang: Mapped[str] = mapped_column(String(16), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signature: Mapped[Signature | None] = relationship()
    outbox_message: Mapped[OutboxMessage | None] = relationship()


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The time step of the last accepted code: a code is good once, not for its whole window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Failed sign-ins from browsers the account does not know, from any address, within the guard
    # window; enough of them guard the account (staff/accounts.py, "distributed guessing").
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Until then only browsers the account signed in from before may sign in to it.
    signin_guarded_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rotated at sign-in and sign-out; the session cookie carries it, so logout is server-side.
    session_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    wants_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffToken(Base):
    """A set-password link mailed to a member of staff (an invitation or a password reset):
    good once, until it expires; only its SHA-256 is stored."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # "invite" or "reset"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSigninFailure(Base):
    """Failed sign-ins to one staff account from one client address: that pair's progressive delay.

    Only this pair waits; the account signs in from anywhere else at once. A successful sign-in
    deletes the row; a row past `expires_at` is overwritten by the next failure or pruned.
    """

    __tablename__ = "staff_signin_failures"
    __table_args__ = (UniqueConstraint("staff_user_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    # request.remote_addr as the application sees it (after ProxyFix, PROXY_FIX_HOPS).
    address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delayed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """Append-only record of every state change and edit."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))  # signatory | staff | cli | system
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)
    statement_id: Mapped[int | None] = mapped_column(
        ForeignKey("statements.id", ondelete="SET NULL"), index=True
    )
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(Text, default="")


class CampaignUpdate(Base):
    """A dated news item, quote or event announcement shown next to the statement."""

    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[UpdateKind] = mapped_column(_enum(UpdateKind, "update_kind"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link_url: Mapped[str] = mapped_column(String(500), default="")
    link_label: Mapped[str] = mapped_column(String(200), default="")
    published_on: Mapped[date | None] = mapped_column(Date)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # A quote's speaker ("Ursula von der Leyen, European Commission President").
    attribution: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # An event's date and place (its link is link_url).
    event_date: Mapped[date | None] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PdfFileState(enum.StrEnum):
    STORED = "stored"  # the bytes are in pdf_files
    PRUNED = "pruned"  # removed by the retention rule; the row (number, date, SHA-256) stays
    MISSING = "missing"  # the file was already gone when the versions moved into the database


class PdfVersion(Base):
    """A published build of a statement's PDF. Its bytes live in `pdf_files` (the source of
    truth); each host caches them under PDF_DIR by SHA-256."""

    __tablename__ = "pdf_versions"
    __table_args__ = (UniqueConstraint("statement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    statement_version_id: Mapped[int] = mapped_column(ForeignKey("statement_versions.id"))
    statement_sha256: Mapped[str] = mapped_column(String(64))
    list_version: Mapped[int] = mapped_column(Integer)
    signatory_count: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    file_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(300))
    build_seconds: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    file_state: Mapped[PdfFileState] = mapped_column(
        _enum(PdfFileState, "pdf_file_state"),
        default=PdfFileState.STORED,
        server_default=PdfFileState.STORED.value,
    )
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Handed over to its addressee (part 8): its bytes are kept whatever the retention rule says.
    delivered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The delivery record, shown on the statement page and /versions ("Delivered to … on …").
    delivered_on: Mapped[date | None] = mapped_column(Date)
    delivered_to: Mapped[str | None] = mapped_column(String(300))
    delivery_note: Mapped[str | None] = mapped_column(Text)
    # When staff last marked, edited or unmarked the delivery: part of the public pages' ETag.
    delivery_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when an organisation it lists withdrew or was unpublished: it leaves public view.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ids of the signatures it lists (sorted, 4-byte big-endian): decides the above.
    # NULL for versions built before this was recorded.
    signature_ids: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    @property
    def has_file(self) -> bool:
        return self.file_state == PdfFileState.STORED


class PdfFile(Base):
    """The bytes of one PDF version, apart so that listing versions never loads them."""

    __tablename__ = "pdf_files"

    pdf_version_id: Mapped[int] = mapped_column(
        ForeignKey("pdf_versions.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PdfBuildLog(Base):
    """Every build attempt, successful or not, for staff to inspect."""

    __tablename__ = "pdf_build_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(100), default="")
    list_version: Mapped[int] = mapped_column(Integer, default=0)
    pdf_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("pdf_versions.id", ondelete="SET NULL")
    )
    message: Mapped[str] = mapped_column(Text, default="")


class SiteText(Base):
    """Staff-editable texts, such as the privacy notice (Markdown)."""

    __tablename__ = "site_texts"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CampaignIdentity(Base):
    """Who runs the campaign: its names, the data controller, mail sender, contact, processors.

    One row (id 1), written by the console's identity page and read once per request.
    """

    __tablename__ = "campaign_identity"
    __table_args__ = (CheckConstraint("id = 1", name="campaign_identity_single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    organisation_name: Mapped[str] = mapped_column(String(300))
    organisation_address: Mapped[str] = mapped_column(String(500), default="")
    organisation_email: Mapped[str] = mapped_column(String(254), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    sender_name: Mapped[str] = mapped_column(String(100), default="")
    sender_email: Mapped[str] = mapped_column(String(254), default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    # Recipients and processors named by the privacy notice, one per line.
    processors: Mapped[str] = mapped_column(Text, default="")
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo_content_type: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CampaignFile(Base):
    """An uploaded file of the campaign (the logo), in the database so every host serves it."""

    __tablename__ = "campaign_files"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HousekeepingRun(Base):
    """The periodic housekeeping's schedule, shared by every process and host.

    `slot` is the number of the last period claimed (seconds since the epoch // interval): a
    process runs a period's housekeeping only if it moves `slot` forward, so each period runs
    once however many processes try. The times tell /healthz when it last ran.
    """

    __tablename__ = "housekeeping_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_tasks: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
