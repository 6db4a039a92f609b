"""The campaign's identity as pages and emails use it: read once per request, never per use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime
from email.headerregistry import Address
from email.utils import formataddr, parseaddr
from xml.sax.saxutils import escape

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import select

from ..extensions import db
from ..models import CampaignIdentity, Statement
from . import kept

#: The row's id: there is one identity.
ROW_ID = 1
#: Where mail comes from when neither the environment nor the console names a sender.
FALLBACK_SENDER = "no-reply@jointly.invalid"
#: The campaign's letter mark as the header draws it (site.css `.brand-mark`: the short name's
#: initial on the accent colour): the logo, and so the favicon, until one is uploaded.
MARK_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<circle cx="32" cy="32" r="32" fill="#ffcc00"/>'
    '<text x="32" y="44" font-family="Arial,Helvetica,sans-serif" font-size="34" '
    'font-weight="800" text-anchor="middle" fill="#003d7a">{initial}</text></svg>'
)


@dataclass(frozen=True)
class Identity:
    name: str
    short_name: str
    organisation_name: str = ""
    organisation_address: str = ""
    organisation_email: str = ""
    contact_email: str = ""
    sender_name: str = ""
    sender_email: str = ""
    reply_to: str = ""
    processors: str = ""
    logo_sha256: str | None = None
    logo_content_type: str | None = None
    updated_at: datetime | None = None

    @property
    def controller(self) -> str:
        """The legal name of the data controller, or "" while none is set: a campaign's title
        is no legal entity, so a legal name equal to it counts as not set."""
        name = self.organisation_name.strip()
        return "" if name.casefold() == self.name.strip().casefold() else name

    @property
    def processor_list(self) -> list[str]:
        return [line.strip() for line in self.processors.splitlines() if line.strip()]

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.organisation_address.splitlines() if line.strip()]

    @property
    def mark_svg(self) -> str:
        return MARK_SVG.format(initial=escape(self.initial))

    @property
    def logo_version(self) -> str:
        """A short fingerprint for the logo's URL, so a new logo (or a new initial of the
        letter mark that stands in for it) is a new address."""
        if self.logo_sha256:
            return self.logo_sha256[:12]
        return "mark-" + hashlib.sha256(self.mark_svg.encode()).hexdigest()[:8]

    @property
    def initial(self) -> str:
        return (self.short_name or self.name or "J")[:1].upper()


def _from_row(row: CampaignIdentity) -> Identity:
    return Identity(**{f.name: getattr(row, f.name) for f in fields(Identity)})


def _fallback() -> Identity:
    """Before the seed (or on an empty database): named after the first statement's campaign."""
    campaign = db.session.scalar(
        select(Statement.campaign).where(Statement.campaign != "").order_by(Statement.id).limit(1)
    )
    name = campaign or "Jointly"
    return Identity(name=name, short_name=name[:60])


#: The identity this process read last: the outage page (no database) still shows the campaign.
_last_read: Identity | None = None


def load() -> Identity:
    """Read from the database (background jobs, the PDF, mail delivery): now, or what this
    process read less than PAGE_FRESH_SECONDS ago (core/kept.py: the kept pages' promise; a
    change shows at most that much later, at once where `forget()` is called)."""
    return kept.kept("campaign_identity", None, _read)


def _read() -> Identity:
    global _last_read  # noqa: PLW0603 - a per-process memo, replaced whole
    row = db.session.get(CampaignIdentity, ROW_ID)
    identity = _from_row(row) if row is not None else _fallback()
    _last_read = identity
    return identity


def current() -> Identity:
    """The identity for this request: one primary-key read per request, then kept in `g`."""
    if not has_request_context():
        return load()
    identity = g.get("campaign_identity")
    if identity is None:
        identity = g.campaign_identity = load()
    return identity


def last_known() -> Identity:
    """No database access: what this process read last, else a neutral name."""
    return _last_read or Identity(name="Jointly", short_name="Jointly")


def forget() -> None:
    """After a change in this request, the next read sees it."""
    if has_app_context():
        kept.forget("campaign_identity")
    if has_request_context():
        g.pop("campaign_identity", None)


# ---------------------------------------------------------------- mail headers


def _address_of(value: str) -> str:
    return parseaddr(value)[1]


def mail_sender(identity: Identity) -> str:
    """`MAIL_DEFAULT_SENDER` from the environment wins; else the console's sender."""
    configured = current_app.config.get("MAIL_DEFAULT_SENDER") if has_app_context() else None
    if configured:
        return configured
    address = identity.sender_email or FALLBACK_SENDER
    return formataddr((identity.sender_name or identity.name, address))


def explicit_reply_to(identity: Identity) -> str | None:
    """A Reply-To somebody set on purpose: `MAIL_REPLY_TO`, else the console's."""
    configured = current_app.config.get("MAIL_REPLY_TO") if has_app_context() else None
    return configured or identity.reply_to or None


def mail_reply_to(identity: Identity) -> str | None:
    """`MAIL_REPLY_TO` from the environment wins; else the console's Reply-To, else the contact."""
    return explicit_reply_to(identity) or identity.contact_email or None


def sender_is_fallback(identity: Identity) -> bool:
    """Mail would still go out from the placeholder address nobody receives."""
    return _address_of(mail_sender(identity)).lower() == FALLBACK_SENDER


def sender_domain(sender: str) -> str:
    address = _address_of(sender)
    try:
        domain = Address(addr_spec=address).domain if address else ""
    except (ValueError, IndexError):
        domain = ""
    return domain or "jointly.invalid"
