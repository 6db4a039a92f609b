"""The campaign's identity: its defaults at seed, changes from the console (audited), the logo."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import yaml
from sqlalchemy import or_, select

from ..core import events, identity
from ..core.audit import Actor, record
from ..core.db import after_write, write_transaction
from ..core.validation import (
    InvalidValue,
    clean_line,
    clean_paragraphs,
    email_address,
    printed_line,
)
from ..extensions import db
from ..models import CampaignFile, CampaignIdentity, Statement, utcnow
from .logos import check_logo

LOGO = "logo"
#: The fields the statement PDF prints (its letterhead): changing one rebuilds every PDF.
PDF_FIELDS = frozenset({"name"})


@dataclass(frozen=True)
class IdentityInput:
    name: str
    short_name: str
    organisation_name: str
    organisation_address: str
    organisation_email: str
    contact_email: str
    sender_name: str
    sender_email: str
    reply_to: str
    processors: str


class InvalidIdentity(InvalidValue):
    """Some fields are not acceptable: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _optional_email(value: str | None) -> str:
    return email_address(value)[0] if (value or "").strip() else ""


def _line(field: str, max_len: int, required: bool = True, printed: bool = False):
    # The name heads every PDF's letterhead: only characters the PDF's fonts can draw.
    check = printed_line if printed else clean_line
    return lambda value: check(value, field=field, min_len=1 if required else 0, max_len=max_len)


def _paragraphs(field: str, max_len: int):
    return lambda value: clean_paragraphs(value, field=field, max_len=max_len)


_CHECKS = {
    "name": _line("campaign name", 200, printed=True),
    "short_name": _line("short name", 60),
    "organisation_name": _line("organisation's legal name", 300, required=False),
    "organisation_address": _paragraphs("address", 500),
    "organisation_email": _optional_email,
    "contact_email": _optional_email,
    "sender_name": _line("sender name", 100, required=False),
    "sender_email": _optional_email,
    "reply_to": _optional_email,
    "processors": _paragraphs("list of recipients and processors", 2000),
}


def clean_input(raw: Mapping[str, str | None]) -> IdentityInput:
    """Every field checked as the console and the seed take it; InvalidIdentity names each."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, check in _CHECKS.items():
        try:
            values[key] = check(raw.get(key))
        except InvalidValue as exc:
            errors[key] = str(exc)
    if errors:
        raise InvalidIdentity(errors)
    return IdentityInput(**values)


def current_row() -> CampaignIdentity | None:
    return db.session.get(CampaignIdentity, identity.ROW_ID)


def _letterhead_changed(reason: str) -> None:
    """Every statement's PDF shows the campaign's name and logo in its letterhead: count the
    change (in the caller's transaction) and, after the commit, request the debounced rebuild
    that a list change requests. Only where a PDF exists or is being built: a first build reads
    the identity as it then is (the seed creates the identity before any PDF)."""
    from ..statements.service import bump_list_version  # noqa: PLC0415 - statements import us

    has_pdf = or_(Statement.pdf_built_list_version >= 0, Statement.pdf_building_since.is_not(None))
    ids = list(
        db.session.scalars(
            select(Statement.id).where(Statement.current_version_id.is_not(None), has_pdf)
        )
    )
    for statement_id in ids:
        bump_list_version(statement_id)

    def rebuild() -> None:
        for statement_id in ids:
            events.signatory_list_changed(statement_id, reason=reason)

    after_write(rebuild)


@write_transaction
def save_identity(data: IdentityInput, actor: Actor) -> list[str]:
    """Store the identity; returns the names of the fields that changed (audited with both values)."""
    row = current_row()
    created = row is None
    if row is None:
        row = CampaignIdentity(id=identity.ROW_ID, **asdict(data))
        db.session.add(row)
        before: dict = {}
        changed = list(asdict(data))
    else:
        before = {k: getattr(row, k) for k in asdict(data)}
        changed = [k for k, v in asdict(data).items() if before[k] != v]
        for key in changed:
            setattr(row, key, getattr(data, key))
    if not changed:
        return []
    row.updated_at = utcnow()
    if PDF_FIELDS.intersection(changed):
        _letterhead_changed("campaign name")
    record(
        actor,
        "campaign_identity_created" if created else "campaign_identity_changed",
        before={k: before[k] for k in changed} if before else None,
        after={k: getattr(data, k) for k in changed},
    )
    identity.forget()
    return changed


@write_transaction
def set_logo(filename: str, data: bytes, actor: Actor) -> list[str]:
    """Check, clean and store the logo; returns what cleaning removed from an SVG."""
    logo = check_logo(filename, data)
    row = current_row()
    if row is None:
        raise InvalidValue("Save the campaign's identity before adding a logo.")
    sha256 = hashlib.sha256(logo.data).hexdigest()
    stored = db.session.get(CampaignFile, LOGO)
    before = {"sha256": row.logo_sha256, "content_type": row.logo_content_type}
    if stored is None:
        db.session.add(
            CampaignFile(key=LOGO, content_type=logo.content_type, sha256=sha256, data=logo.data)
        )
    else:
        stored.content_type, stored.sha256, stored.data = logo.content_type, sha256, logo.data
        stored.updated_at = utcnow()
    if row.logo_sha256 != sha256:
        _letterhead_changed("campaign logo")
    row.logo_sha256, row.logo_content_type = sha256, logo.content_type
    row.updated_at = utcnow()
    record(
        actor,
        "campaign_logo_changed",
        before=before,
        after={
            "sha256": sha256,
            "content_type": logo.content_type,
            "bytes": len(logo.data),
            "removed": logo.removed,
        },
    )
    identity.forget()
    return logo.removed


@write_transaction
def remove_logo(actor: Actor) -> bool:
    row = current_row()
    if row is None or row.logo_sha256 is None:
        return False
    stored = db.session.get(CampaignFile, LOGO)
    if stored is not None:
        db.session.delete(stored)
    before = {"sha256": row.logo_sha256, "content_type": row.logo_content_type}
    row.logo_sha256 = row.logo_content_type = None
    row.updated_at = utcnow()
    _letterhead_changed("campaign logo removed")
    record(actor, "campaign_logo_removed", before=before)
    identity.forget()
    return True


def launch_gaps(campaign: identity.Identity) -> list[str]:
    """What a data-protection officer or a mail provider would still object to (the console's
    "Before launch" list): each gap leaves the privacy notice vague or mail unanswerable."""
    gaps = []
    if not campaign.controller:
        gaps.append(
            "The legal name of the organisation that runs the campaign is missing, or is the"
            " campaign's name: the privacy notice cannot name the data controller."
        )
    if not campaign.address_lines:
        gaps.append("The controller's postal address is missing from the privacy notice.")
    if not (campaign.organisation_email or campaign.contact_email):
        gaps.append(
            "There is no email for data-protection requests: the privacy notice names no one"
            " to write to."
        )
    if not campaign.contact_email:
        gaps.append(
            "There is no public contact address: the footer of every page and email has none."
        )
    if identity.mail_reply_to(campaign) is None:
        gaps.append(
            "Nobody receives replies to the emails: with no Reply-To and no public contact"
            " address, the rejection email can name no one to write to."
        )
    if identity.sender_is_fallback(campaign):
        gaps.append(
            f"Emails are still sent from {identity.FALLBACK_SENDER}: set the sender address"
            " (or MAIL_DEFAULT_SENDER) to an address of a domain your mail provider sends for."
        )
    if not campaign.processor_list:
        gaps.append(
            "No processors are listed: the privacy notice only says that a hosting provider"
            " and an email delivery service process the data, without naming them."
        )
    return gaps


def logo_file() -> CampaignFile | None:
    return db.session.get(CampaignFile, LOGO)


# ---------------------------------------------------------------- seed


def defaults_from(front_matter_text: str, campaign_name: str) -> dict[str, str]:
    """The identity a fresh install starts with: the `identity:` block of campaign-page.md's
    front matter, else the statement's campaign name. The content gives no legal entity, so
    the controller's legal name stays empty (the notice says so) until the `identity:` block
    or an admin gives it."""
    meta: dict = {}
    if front_matter_text.startswith("---\n"):
        end = front_matter_text.index("\n---\n", 4)
        meta = yaml.safe_load(front_matter_text[4:end]) or {}
    given = meta.get("identity") or {}
    name = str(given.get("name") or campaign_name)
    values = {
        "name": name,
        "short_name": name[:60],
        "sender_name": name[:100],
    }
    values.update({k: str(v) for k, v in given.items() if v is not None})
    return values


def seed_identity(front_matter_text: str, campaign_name: str, actor: Actor) -> bool:
    """Create the identity from the content if none exists yet (the seed is idempotent)."""
    if current_row() is not None:
        return False
    save_identity(clean_input(defaults_from(front_matter_text, campaign_name)), actor)
    return True
