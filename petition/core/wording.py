"""Words for people: what staff pages show for the codes the database stores.

States, audit actions, mail kinds and field names are stored as codes (the CSV exports and the
CLI keep them); the console shows these words instead. A code without an entry here still
reads as words (underscores become spaces), never as a bare identifier.
"""

from __future__ import annotations

from datetime import date, datetime

from ..models import ORGANISATION_TYPE_LABELS, OrganisationType, OutboxStatus, SignatureState
from .validation import country_display_name

STATE_LABELS: dict[str, str] = {
    SignatureState.PENDING_EMAIL: "Waiting for email confirmation",
    SignatureState.VERIFIED: "Awaiting a decision",
    SignatureState.APPROVED: "Approved",
    SignatureState.REJECTED: "Rejected",
    SignatureState.WITHDRAWN: "Withdrawn",
}

ACTION_LABELS: dict[str, str] = {
    # An endorsement's life
    "submitted": "Submitted",
    "resubmitted": "Submitted again",
    "confirmation_resent": "Confirmation link sent again",
    "confirmed": "Email confirmed",
    "approve": "Approved",
    "reject": "Rejected",
    "unpublish": "Unpublished",
    "reopen": "Reopened",
    "withdrawn": "Withdrawn",
    "withdraw_link_sent": "Withdrawal link sent",
    "manage_link_sent": "Link to manage the endorsement sent",
    "edited": "Corrected",
    # The signatory's own corrections (the manage link)
    "corrected": "Corrected by the signatory",
    "change_proposed": "Correction proposed by the signatory",
    "change_accepted": "Proposed correction accepted",
    "change_rejected": "Proposed correction rejected",
    "address_change_requested": "New email address given (not yet confirmed)",
    "address_changed": "Email address changed",
    "imported": "Imported",
    "import_undone": "Removed by undoing its import",
    "import_batch": "File of endorsements imported",
    "import_batch_undone": "Import undone",
    "exported": "Exported",
    # Campaign mailings
    "keep_informed_on": "Asked to be kept informed by email",
    "keep_informed_off": "No longer wants to be kept informed by email",
    "unsubscribed": "Unsubscribed from the campaign's emails",
    "mailing_composed": "Mailing composed",
    "mailing_edited": "Mailing edited",
    "mailing_test_sent": "Mailing test sent",
    "mailing_sent": "Mailing sent",
    # Mail
    "mail_sent_again": "Email sent again",
    "mail_marked_sent": "Email marked as sent",
    # Retention
    "unconfirmed_purged": "Unconfirmed endorsements deleted",
    "contacts_erased": "Contact details erased",
    # Statements and the campaign
    "statement_created": "Statement created",
    "statement_version_added": "New version of the statement",
    "statement_settings": "Statement settings changed",
    "statement_initiators_changed": "Initiators changed",
    "statement_letter_changed": "PDF letter lines changed",
    "translation_added": "Translation of the statement added",
    "translation_updated": "Translation of the statement replaced",
    "translation_deleted": "Translation of the statement removed",
    "update_created": "Campaign update drafted",
    "update_edited": "Campaign update edited",
    "update_deleted": "Campaign update deleted",
    "update_published": "Campaign update published",
    "update_unpublished": "Campaign update taken down",
    "site_text_changed": "Site text changed",
    "pdf_version_delivered": "PDF version marked as delivered",
    "pdf_version_delivery_cleared": "Delivery record of a PDF version removed",
    "campaign_identity_created": "Campaign identity set",
    "campaign_identity_changed": "Campaign identity changed",
    "campaign_logo_changed": "Logo changed",
    "campaign_logo_removed": "Logo removed",
    # Staff accounts
    "staff_created": "Staff account created",
    "staff_invited": "Staff member invited",
    "staff_invitation_resent": "Staff invitation sent again",
    "staff_password_reset_sent": "Password link sent by an admin",
    "staff_password_reset_requested": "Password link asked for",
    "staff_password_set": "Staff password set",
    "staff_password_changed": "Own password changed",
    "staff_enabled": "Staff account enabled",
    "staff_disabled": "Staff account disabled",
    "staff_role_changed": "Staff role changed",
    "staff_totp_enabled": "Two-step sign-in turned on",
    "staff_totp_disabled": "Two-step sign-in turned off",
    "staff_signed_in": "Signed in",
    "staff_signed_out": "Signed out",
    "staff_signin_delayed": "Sign-ins slowed down after failures",
    "staff_signin_guarded": "Account limited to known browsers",
}

MAIL_KIND_LABELS: dict[str, str] = {
    "confirm": "Confirmation link",
    "already_signed": "Already signed (with the link to manage it)",
    "withdraw_link": "Withdrawal link",
    "manage_link": "Link to manage the endorsement",
    "new_email": "Confirmation of a new email address",
    "address_changed": "Notice to the old address of a change of address",
    "approved": "Approval notice",
    "rejected": "Rejection notice",
    "staff_digest": "Staff digest",
    "staff_invite": "Staff invitation",
    "staff_reset": "Staff password link",
    "mailing": "Campaign mailing",
    "mailing_test": "Campaign mailing (test)",
}

OUTBOX_STATUS_LABELS: dict[str, str] = {
    OutboxStatus.QUEUED: "Queued",
    OutboxStatus.SENDING: "Sending",
    OutboxStatus.SENT: "Sent",
    OutboxStatus.FAILED: "Failed",
    OutboxStatus.UNCERTAIN: "Maybe delivered",
}

FIELD_LABELS: dict[str, str] = {
    "organisation_name": "Organisation",
    "organisation_type": "Type",
    "country": "Country",
    "city": "City",
    "website": "Website",
    "comment": "Public comment",
    "note": "Note",
    "is_published": "Published",
    "is_active": "Active",
    "is_admin": "Admin",
    "totp_enabled": "Two-step sign-in",
    "list_public_from": "List public from",
    "data_licence": "Licence of the open data",
    "signing_opens_at": "Signing opens",
    "signing_closes_at": "Signing closes",
    "sha256": "SHA-256",
    "key": "Text",
    "body": "Text",
}

#: Why the PDF was rebuilt (the reason a list change was announced with), for its build log.
BUILD_TRIGGER_LABELS: dict[str, str] = {
    "approve": "An endorsement was approved",
    "unpublish": "An endorsement was unpublished",
    "reject": "An endorsement was rejected",
    "reopen": "An endorsement was reopened",
    "edit": "A listed endorsement was corrected",
    "correction": "A signatory's correction was accepted",
    "withdrawal": "An endorsement was withdrawn",
    "import": "Signatories were imported",
    "import_undone": "An import was undone",
    "statement_version": "New version of the statement",
    "embargo": "The embargo date changed",
    "embargo ended": "The embargo ended",
    "initiators": "The initiators changed",
    "letter lines": "The PDF's letter lines changed",
    "campaign name": "The campaign's name changed",
    "campaign logo": "The campaign's logo changed",
    "campaign logo removed": "The campaign's logo was removed",
    "list changed": "The list changed",
    "forced": "Rebuild requested",
    "seed": "First build",
}

ACTOR_KIND_LABELS: dict[str, str] = {
    "signatory": "The signatory",
    "staff": "Staff",
    "cli": "Command line",
    "system": "Automatic",
}


def _code(value) -> str:
    return str(value.value if hasattr(value, "value") else value or "")


def humanise(code: str) -> str:
    """A code as words, for codes this module does not name: "mail_bounced" → "Mail bounced"."""
    words = " ".join(code.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def state_label(value) -> str:
    code = _code(value)
    return STATE_LABELS.get(code) or humanise(code)


def action_label(value) -> str:
    code = _code(value)
    return ACTION_LABELS.get(code) or humanise(code)


def mail_kind_label(value) -> str:
    code = _code(value)
    return MAIL_KIND_LABELS.get(code) or humanise(code)


def outbox_status_label(value) -> str:
    code = _code(value)
    return OUTBOX_STATUS_LABELS.get(code) or humanise(code)


def field_label(value) -> str:
    code = _code(value)
    return FIELD_LABELS.get(code) or humanise(code)


def build_trigger_label(value) -> str:
    """A build's trigger: a reason code in words, or a sentence already ("staff asked for …")."""
    code = _code(value)
    if code in BUILD_TRIGGER_LABELS:
        return BUILD_TRIGGER_LABELS[code]
    return humanise(code) if " " not in code else code[:1].upper() + code[1:]


def actor_words(actor_type: str, label: str) -> tuple[str, str]:
    """Who did it, as (name, qualifier): ("mod@example.org", "Staff"), ("The signatory", "")."""
    kind = ACTOR_KIND_LABELS.get(actor_type) or humanise(actor_type or "")
    label = (label or "").strip()
    if actor_type == "staff":
        return (label or kind, "Staff" if label else "")
    if actor_type == "signatory" or not label or label == actor_type:
        return (kind, "")
    # "cli" + "staff create" → ("flask staff create", "Command line"); "system" + "retention".
    return (f"flask {label}" if actor_type == "cli" else humanise(label), kind)


def change_value(key: str, value) -> str:
    """One before/after value of an audit event, as a person reads it."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key == "organisation_type":
        try:
            return ORGANISATION_TYPE_LABELS[OrganisationType(value)]
        except ValueError:
            return str(value)
    if key == "country" and isinstance(value, str) and len(value) == 2:
        name = country_display_name(value)
        return f"{name} ({value})" if name and name != value else value
    if key in ("state", "from_state", "to_state"):
        return state_label(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
