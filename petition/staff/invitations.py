"""Staff accounts by email: invitations and password resets through single-use, expiring links.

In the console an admin never sees or types a password. Inviting someone creates the account
without a usable password and mails them a link to choose one (STAFF_INVITE_HOURS); "Forgot your
password?" mails a link to an active account's address (STAFF_RESET_MINUTES), and the page says
the same whether or not the address has an account. A link works once and until it expires;
using it sets the password like accounts.set_password (every session of the account ends, every
sign-in delay is lifted) and voids the account's other links. The CLI and `make run`'s first admin
keep setting passwords directly.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..core import outbox
from ..core.audit import Actor, record
from ..core.db import rowcount, write_transaction
from ..core.tokens import hash_token, looks_like_token, new_token
from ..extensions import db
from ..models import StaffRole, StaffToken, StaffUser, utcnow
from . import accounts

INVITE = "invite"
RESET = "reset"
#: The password hash of an invited account until its owner chooses a password: no password
#: verifies against it (it is not an argon2 hash).
NO_PASSWORD_YET = "!invited"
#: A reset link is mailed to one account at most this often, however often it is asked for.
RESET_INTERVAL = timedelta(minutes=2)

EXPIRED_MESSAGE = "This link has expired or has already been used."


def is_invited(user: StaffUser) -> bool:
    """An account whose owner has not chosen a password yet."""
    return user.password_hash == NO_PASSWORD_YET


def _lifetime(purpose: str) -> timedelta:
    config = current_app.config
    if purpose == INVITE:
        return timedelta(hours=int(config["STAFF_INVITE_HOURS"]))
    return timedelta(minutes=int(config["STAFF_RESET_MINUTES"]))


def _void_links(user_id: int, now) -> None:
    db.session.execute(
        update(StaffToken)
        .where(StaffToken.staff_user_id == user_id, StaffToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def _mail_link(user: StaffUser, purpose: str, *, invited_by: str = "") -> None:
    """A fresh link (the account's earlier ones stop working), mailed through the outbox."""
    from ..signing.service import public_url

    now = utcnow()
    _void_links(user.id, now)
    token, token_hash = new_token()
    lifetime = _lifetime(purpose)
    db.session.add(
        StaffToken(
            staff_user_id=user.id,
            purpose=purpose,
            token_hash=token_hash,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    template = "staff_invite" if purpose == INVITE else "staff_reset"
    outbox.queue_email(
        template,
        user.email,
        template,
        user=user,
        role=user.role.value,
        invited_by=invited_by,
        link=public_url(f"/staff/password/set/{token}"),
        expires_at=now + lifetime,
        lifetime_hours=lifetime.total_seconds() / 3600,
        forgot_url=public_url("/staff/password/forgot"),
    )


@write_transaction
def invite(email: str, role: StaffRole | str, actor: Actor) -> StaffUser:
    """A new account without a password, and a link for its owner to choose one."""
    email = accounts.normalise_staff_email(email, new=True)
    user = accounts.insert_staff(
        StaffUser(email=email, password_hash=NO_PASSWORD_YET, role=StaffRole(role))
    )
    record(actor, "staff_invited", after=accounts.snapshot(user), detail=email)
    _mail_link(user, INVITE, invited_by=actor.label)
    return user


@write_transaction
def resend_invitation(user_id: int, actor: Actor) -> StaffUser:
    user = accounts.get_or_error(user_id)
    if not is_invited(user):
        raise accounts.StaffError(f"{user.email} has already chosen a password.")
    if not user.is_active:
        raise accounts.StaffError(f"{user.email} is disabled: enable the account first.")
    record(actor, "staff_invitation_resent", detail=user.email)
    _mail_link(user, INVITE, invited_by=actor.label)
    return user


@write_transaction
def send_reset(user_id: int, actor: Actor, *, reset_totp: bool = False) -> StaffUser:
    """An admin mails a member of staff a link to choose a new password (and may turn off
    their two-factor sign-in, for a lost phone). The old password works until the new is set."""
    user = accounts.get_or_error(user_id)
    if not user.is_active:
        raise accounts.StaffError(f"{user.email} is disabled: enable the account first.")
    before = accounts.snapshot(user)
    if reset_totp:
        user.totp_enabled = False
        user.totp_secret = None
    record(
        actor,
        "staff_password_reset_sent",
        before=before,
        after=accounts.snapshot(user),
        detail=user.email + (" (two-factor sign-in turned off)" if reset_totp else ""),
    )
    _mail_link(user, INVITE if is_invited(user) else RESET, invited_by=actor.label)
    return user


@write_transaction
def request_reset(email: str) -> None:
    """ "Forgot your password?": a link to an active account's address, at most every
    RESET_INTERVAL; nothing (and no difference the asker can see) for any other address."""
    try:
        address = accounts.normalise_staff_email(email)
    except accounts.StaffError:
        return
    user = accounts.get_by_email(address)
    if user is None or not user.is_active:
        return
    now = utcnow()
    recent = db.session.scalar(
        select(StaffToken.id).where(
            StaffToken.staff_user_id == user.id, StaffToken.created_at > now - RESET_INTERVAL
        )
    )
    if recent is not None:
        return
    record(Actor.staff(user), "staff_password_reset_requested", detail=user.email)
    _mail_link(user, INVITE if is_invited(user) else RESET)


def valid_link(token: str) -> tuple[StaffToken, StaffUser] | None:
    """The unused, unexpired link and its active account; None for anything else."""
    if not looks_like_token(token):
        return None
    row = db.session.execute(
        select(StaffToken, StaffUser)
        .join(StaffUser, StaffUser.id == StaffToken.staff_user_id)
        .where(StaffToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    link, user = row
    if link.used_at is not None or link.expires_at <= utcnow() or not user.is_active:
        return None
    return link, user


@write_transaction
def set_password_with_link(token: str, password: str) -> tuple[StaffUser, bool]:
    """Use the link once: the password is set, the account's other links are void. The link's
    owner is signed in (True) unless the account has two-factor sign-in, whose code the sign-in
    page then asks for (False): an emailed link never stands in for the second factor."""
    found = valid_link(token)
    if found is None:
        raise accounts.StaffError(EXPIRED_MESSAGE)
    link, user = found
    accounts.check_password_strength(password)
    now = utcnow()
    used = db.session.execute(
        update(StaffToken)
        .where(StaffToken.id == link.id, StaffToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(used) != 1:  # the same link, used at the same moment in another tab
        raise accounts.StaffError(EXPIRED_MESSAGE)
    _void_links(user.id, now)
    accounts.set_password(
        user.id,
        password,
        Actor.staff(user),
        detail=f"{user.email}: by the emailed {'invitation' if link.purpose == INVITE else 'reset'} link",
    )
    if user.totp_enabled:
        return user, False
    accounts.start_session(user)
    return user, True
