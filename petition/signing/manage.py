"""The signatory's own endorsement behind the manage link: see it, correct it, withdraw it.

Before approval a correction replaces the details. After approval the public fields become a
proposed change that staff accept or reject (moderation/changes.py), so the public list and
the PDF only ever show what staff approved; the contact person's name and role, never public,
change at once. A new address replaces the old one only once confirmed at the new address.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..core import outbox
from ..core.audit import Actor, record
from ..core.db import rowcount, write_transaction
from ..core.i18n import N_, country_name, type_label
from ..core.validation import derived_columns
from ..extensions import db
from ..models import (
    ChangeState,
    OrganisationType,
    Signature,
    SignatureChange,
    SignatureState,
    TokenPurpose,
    utcnow,
)
from .service import (
    AlreadyConfirmed,
    SignatureInput,
    SigningError,
    TokenExpired,
    TokenInvalid,
    _claim_send_slot,
    _confirm_ttl,
    _find_token,
    _issue_token,
    _queue_confirmation,
    _revoke_tokens,
    close_proposed_changes,
    public_url,
    withdraw,
)

#: What the public list and the PDF show: after approval, changed only by staff.
PUBLIC_FIELDS = ("organisation_name", "organisation_type", "country", "city", "website", "comment")
#: The contact person, never public: the signatory's own to change.
CONTACT_FIELDS = ("contact_name", "contact_role")
#: How the pages name the public fields.
FIELD_LABELS = {
    "organisation_name": N_("Organisation name"),
    "organisation_type": N_("Type of organisation"),
    "country": N_("Country"),
    "city": N_("City"),
    "website": N_("Website"),
    "comment": N_("Public comment"),
}
#: States whose details the signatory can still correct.
CORRECTABLE = (SignatureState.PENDING_EMAIL, SignatureState.VERIFIED, SignatureState.APPROVED)


class NotCorrectable(SigningError):
    def __init__(self, signature: Signature) -> None:
        super().__init__("not correctable")
        self.signature = signature


class StaleForm(SigningError):
    """The endorsement changed after the form was made: nothing is saved."""

    def __init__(self, signature: Signature) -> None:
        super().__init__("stale form")
        self.signature = signature


class AddressTaken(SigningError):
    """The new address already endorsed the same statement (its own row)."""

    def __init__(self, signature: Signature) -> None:
        super().__init__("address taken")
        self.signature = signature


@dataclass(frozen=True)
class Correction:
    """What a correction did: fields changed now, fields proposed to staff, a new address."""

    applied: tuple[str, ...] = ()
    proposed: tuple[str, ...] = ()
    new_email: str = ""
    keep_informed: bool | None = None  # the mailing opt-in, when it changed

    @property
    def nothing(self) -> bool:
        return not (self.applied or self.proposed or self.new_email) and self.keep_informed is None


def _value(signature: Signature, name: str) -> str:
    value = getattr(signature, name)
    return str(getattr(value, "value", value) or "")


def snapshot(signature: Signature, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _value(signature, name) for name in names}


def _wanted(data: SignatureInput, names: tuple[str, ...]) -> dict[str, str]:
    given = {f.name: getattr(data, f.name) for f in fields(data)}
    return {name: str(given[name] or "") for name in names}


def update_fields(signature: Signature, values: dict[str, str]) -> bool:
    """Write fields (with the sort and search keys derived from them) if the row is still the
    version that was read; bump row_version. False if someone else changed it meanwhile."""
    merged = {**snapshot(signature, PUBLIC_FIELDS), **values}
    columns: dict[str, object] = dict(values)
    if "organisation_type" in values:
        columns["organisation_type"] = OrganisationType(values["organisation_type"])
    if set(values) & {"organisation_name", "organisation_type", "country", "city"}:
        columns.update(
            derived_columns(
                merged["organisation_name"],
                OrganisationType(merged["organisation_type"]),
                merged["country"],
                merged["city"],
            )
        )
    result = db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.row_version == signature.row_version)
        .values(row_version=Signature.row_version + 1, updated_at=utcnow(), **columns)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(signature)
    return rowcount(result) == 1


def readable(name: str, value: str) -> str:
    """A stored value as the list shows it (a type's label, a country's name), in the
    page's language."""
    if not value:
        return ""
    if name == "organisation_type":
        return type_label(value)
    if name == "country":
        return country_name(value)
    return value


def change_rows(change: SignatureChange) -> list[tuple[str, str, str]]:
    """(field, value now, value proposed) for each field a proposed change touches."""
    return [
        (
            gettext(FIELD_LABELS[name]) if name in FIELD_LABELS else name,
            readable(name, change.before.get(name, "")),
            readable(name, value),
        )
        for name, value in change.after.items()
    ]


def signature_for_manage(token: str) -> Signature:
    """What a manage link points at; changes nothing. Raises TokenInvalid."""
    return _find_token(token, TokenPurpose.MANAGE).signature


def proposed_change(signature_id: int) -> SignatureChange | None:
    return db.session.scalar(
        select(SignatureChange).where(
            SignatureChange.signature_id == signature_id,
            SignatureChange.state == ChangeState.PROPOSED,
        )
    )


@write_transaction
def correct_signature(token: str, data: SignatureInput, *, row_version: int) -> Correction:
    """The manage form's POST: correct what changed, as the endorsement's state allows.

    Raises TokenInvalid, NotCorrectable (rejected or withdrawn), StaleForm (the row changed
    after the form was made: the signatory sees the current values and decides again).
    """
    signature = signature_for_manage(token)
    state = SignatureState(signature.state)
    if state not in CORRECTABLE:
        raise NotCorrectable(signature)
    if signature.row_version != row_version:
        raise StaleForm(signature)
    public_before = snapshot(signature, PUBLIC_FIELDS)
    public_after = _wanted(data, PUBLIC_FIELDS)
    public = {k: v for k, v in public_after.items() if v != public_before[k]}
    contact_before = snapshot(signature, CONTACT_FIELDS)
    contact = {k: v for k, v in _wanted(data, CONTACT_FIELDS).items() if v != contact_before[k]}
    new_email = data.email if data.email_normalised != signature.email_normalised else ""
    if state is SignatureState.APPROVED:
        applied, proposed = contact, public
    else:
        applied, proposed = {**public, **contact}, {}
    if applied:
        before = {**public_before, **contact_before}
        if not update_fields(signature, applied):
            raise StaleForm(signature)
        # The contact person's name and role are personal data: the audit log names the fields
        # that changed, their values only for the public ones.
        record(
            Actor.signatory(),
            "corrected",
            signature=signature,
            before={k: before[k] if k in PUBLIC_FIELDS else "…" for k in applied},
            after={k: v if k in PUBLIC_FIELDS else "…" for k, v in applied.items()},
        )
    if proposed:
        _propose(signature, {k: public_before[k] for k in proposed}, proposed)
    if new_email:
        _start_address_change(signature, new_email, data.email_normalised)
    keep_informed = None
    if data.keep_informed != signature.keep_informed:
        keep_informed = set_keep_informed(signature, data.keep_informed, Actor.signatory())
    return Correction(tuple(applied), tuple(proposed), new_email, keep_informed)


def set_keep_informed(signature: Signature, wanted: bool, actor: Actor) -> bool:
    """The contact's own choice, applied at once whatever the state (it is never public)."""
    signature.keep_informed = wanted
    if not wanted:
        signature.unsubscribed_at = utcnow()
    record(
        actor,
        "keep_informed_on" if wanted else "keep_informed_off",
        signature=signature,
        before={"keep_informed": not wanted},
        after={"keep_informed": wanted},
    )
    return wanted


def _propose(signature: Signature, before: dict[str, str], after: dict[str, str]) -> None:
    """A later proposal replaces one still waiting (staff decide on the signatory's last word)."""
    close_proposed_changes(signature.id)
    db.session.add(SignatureChange(signature_id=signature.id, before=before, after=after))
    db.session.flush()
    record(Actor.signatory(), "change_proposed", signature=signature, before=before, after=after)


def _start_address_change(signature: Signature, email: str, email_normalised: str) -> None:
    _revoke_tokens(signature.id, TokenPurpose.NEW_EMAIL)
    signature.new_email = email
    signature.new_email_normalised = email_normalised
    token = _issue_token(signature, TokenPurpose.NEW_EMAIL)
    outbox.queue_email(
        "new_email",
        email,
        "new_email",
        signature_id=signature.id,
        cap_per_domain=True,  # an address typed into a form
        signature=signature,
        statement=signature.statement,
        confirm_url=public_url(f"/manage/email/{token}", signature.lang),
        expires_days=_confirm_ttl().days,
    )
    record(Actor.signatory(), "address_change_requested", signature=signature)


def _address_change_token(token: str) -> Signature:
    row = _find_token(token, TokenPurpose.NEW_EMAIL)
    signature = row.signature
    if row.used_at is not None or signature.new_email is None:
        raise TokenInvalid(token)
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise TokenExpired(signature)
    return signature


def signature_for_address_change(token: str) -> Signature:
    """What an address-confirmation link points at, for the GET page; changes nothing."""
    return _address_change_token(token)


@write_transaction
def confirm_address_change(token: str) -> Signature:
    """POST of the link mailed to the new address: it replaces the old one.

    Raises TokenInvalid (unknown, used or replaced), TokenExpired, AddressTaken (that address
    endorsed the same statement meanwhile: one row per address and statement).
    """
    signature = _address_change_token(token)
    assert signature.new_email and signature.new_email_normalised
    old_email = signature.email
    try:
        with db.session.begin_nested():
            signature.email = signature.new_email
            signature.email_normalised = signature.new_email_normalised
            signature.new_email = None
            signature.new_email_normalised = None
            signature.row_version += 1
            db.session.flush()
    except IntegrityError:
        db.session.refresh(signature)
        raise AddressTaken(signature) from None
    _revoke_tokens(signature.id, TokenPurpose.NEW_EMAIL)
    record(Actor.signatory(), "address_changed", signature=signature)
    if old_email:
        # Whoever holds a manage link can move the endorsement's mail elsewhere: the old
        # address hears of it, with the campaign's contact to turn to.
        outbox.queue_email(
            "address_changed",
            old_email,
            "address_changed",
            signature_id=signature.id,
            cap_per_domain=True,
            signature=signature,
            statement=signature.statement,
        )
    return signature


class Resend(enum.Enum):
    SENT = "sent"
    RECENTLY = "recently"  # one went out moments ago: nothing sent now


@write_transaction
def resend_confirmation(token: str) -> Resend:
    """The manage page of an unconfirmed endorsement asks for the confirmation email again.

    Raises TokenInvalid, AlreadyConfirmed.
    """
    signature = signature_for_manage(token)
    if SignatureState(signature.state) is not SignatureState.PENDING_EMAIL:
        raise AlreadyConfirmed(signature)
    if not _claim_send_slot(signature.id, Signature.last_confirmation_sent_at):
        return Resend.RECENTLY
    db.session.refresh(signature)
    _queue_confirmation(signature, signature.statement)
    record(Actor.signatory(), "confirmation_resent", signature=signature)
    return Resend.SENT


@write_transaction
def withdraw_by_manage_link(token: str) -> Signature:
    """The manage page's withdrawal; raises TokenInvalid, NotWithdrawable."""
    return withdraw(signature_for_manage(token), Actor.signatory())
