"""Staff accounts: argon2id passwords, sign-in with lockout, rotating session tokens, TOTP."""

from __future__ import annotations

import base64
import enum
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core.audit import Actor, record
from ..core.db import rowcount, write_transaction
from ..extensions import db
from ..models import StaffRole, StaffUser, utcnow

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 accepts more; a cap keeps a login POST cheap to refuse
TOTP_ISSUER = "Jointly staff"
# No control characters in the local part (PostgreSQL refuses NUL in text: a sign-in would 500).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")


class StaffError(ValueError):
    """A staff-account change that cannot be made; the message is shown to the operator."""


class LoginOutcome(enum.Enum):
    OK = "ok"
    NEED_TOTP = "need_totp"  # the password was right; a code is still needed
    REFUSED = "refused"  # wrong email, wrong password, disabled or locked: one answer for all


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user_id: int | None = None


# ---------------------------------------------------------------- passwords


def _hasher_settings() -> tuple[int, int, int]:
    config = current_app.config
    testing = current_app.testing
    # Tests hash hundreds of passwords; production keeps argon2-cffi's RFC 9106 "low memory" profile.
    time_cost = config.get("STAFF_ARGON2_TIME_COST") or (1 if testing else 3)
    memory_cost = config.get("STAFF_ARGON2_MEMORY_COST") or (1024 if testing else 65536)
    parallelism = config.get("STAFF_ARGON2_PARALLELISM") or (1 if testing else 4)
    return int(time_cost), int(memory_cost), int(parallelism)


@lru_cache(maxsize=8)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    # PasswordHasher's default type is argon2id.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    return _hasher_for(*_hasher_settings())


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=8)
def _dummy_hash(settings: tuple[int, int, int]) -> str:
    return _hasher_for(*settings).hash(secrets.token_urlsafe(16))


def _burn_time(password: str) -> None:
    """An unknown email costs as much as a wrong password, so timing does not tell them apart."""
    verify_password(_dummy_hash(_hasher_settings()), password or "x")


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters.")
    if password.strip() != password or not password.strip():
        raise StaffError("The password must not start or end with spaces.")


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def normalise_staff_email(value: str) -> str:
    """Staff addresses may be local (admin@localhost), so only the shape is checked."""
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email.split("@")[1]:
        raise StaffError(f"{value!r} is not an email address.")
    return email


# ---------------------------------------------------------------- settings


def _lockout_settings() -> tuple[int, timedelta, timedelta]:
    config = current_app.config
    threshold = int(config.get("STAFF_LOCKOUT_THRESHOLD", 5))
    window = timedelta(minutes=float(config.get("STAFF_LOCKOUT_WINDOW_MINUTES", 15)))
    duration = timedelta(minutes=float(config.get("STAFF_LOCKOUT_MINUTES", 15)))
    return threshold, window, duration


def totp_required_for(user: StaffUser) -> bool:
    return bool(current_app.config.get("STAFF_REQUIRE_TOTP")) and (
        StaffRole(user.role) is StaffRole.ADMIN
    )


# ---------------------------------------------------------------- accounts


def get_by_email(email: str) -> StaffUser | None:
    try:
        key = normalise_staff_email(email)
    except StaffError:
        return None
    return db.session.scalar(select(StaffUser).where(StaffUser.email == key))


def list_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))


def _get_or_error(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise StaffError(f"There is no staff account {user_id}.")
    return user


def _snapshot(user: StaffUser) -> dict:
    return {
        "email": user.email,
        "role": StaffRole(user.role).value,
        "is_active": bool(user.is_active),
        "totp_enabled": bool(user.totp_enabled),
    }


def _record_staff(actor: Actor, action: str, user: StaffUser, before=None, detail=""):
    record(actor, action, before=before, after=_snapshot(user), detail=detail or user.email)


@write_transaction
def create_staff(email: str, password: str, role: StaffRole | str, actor: Actor) -> StaffUser:
    email = normalise_staff_email(email)
    role = StaffRole(role)
    user = StaffUser(email=email, password_hash=hash_password(password), role=role)
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise StaffError(f"A staff account for {email} already exists.") from None
    _record_staff(actor, "staff_created", user)
    return user


@write_transaction
def ensure_admin(email: str, actor: Actor) -> tuple[StaffUser, str] | None:
    """The first admin of a fresh install, with a generated password; None once any account exists."""
    if db.session.scalar(select(func.count(StaffUser.id))):
        return None
    password = generate_password()
    try:
        user = create_staff(email, password, StaffRole.ADMIN, actor)
    except StaffError:
        return None  # another process created it at the same moment
    return user, password


def _active_admins_other_than(user_id: int) -> int:
    return db.session.execute(
        select(func.count(StaffUser.id)).where(
            StaffUser.role == StaffRole.ADMIN,
            StaffUser.is_active.is_(True),
            StaffUser.id != user_id,
        )
    ).scalar_one()


@write_transaction
def set_password(user_id: int, password: str, actor: Actor, *, reset_totp: bool = False):
    """A new password ends every session of the account and lifts a lockout."""
    user = _get_or_error(user_id)
    before = _snapshot(user)
    user.password_hash = hash_password(password)
    user.session_token = None
    user.failed_logins = 0
    user.first_failed_login_at = None
    user.locked_until = None
    if reset_totp:
        user.totp_enabled = False
        user.totp_secret = None
    _record_staff(actor, "staff_password_set", user, before)
    return user


class WrongCurrentPassword(StaffError):
    pass


def change_own_password(user_id: int, current: str, new: str, actor: Actor) -> str:
    """Returns the new session token: the caller stays signed in, other sessions end.

    A wrong current password counts towards the account's lockout exactly as a failed sign-in
    does (a stolen session must not be a way to guess the password without limit), and a
    locked account cannot change its password until the lock ends.
    """
    outcome = _change_own_password(user_id, current, new, actor)
    if outcome is None:  # raised after the commit, so the failure stays counted
        raise WrongCurrentPassword(
            "The current password is not right. After a few wrong tries the account is locked"
            " for a while."
        )
    return outcome


@write_transaction
def _change_own_password(user_id: int, current: str, new: str, actor: Actor) -> str | None:
    user = _get_or_error(user_id)
    if user.locked_until is not None and user.locked_until > utcnow():
        _burn_time(current)
        raise WrongCurrentPassword(
            "The account is locked for a while after too many wrong passwords; try again later."
        )
    if not verify_password(user.password_hash, current):
        _count_failure(user)
        return None
    user.password_hash = hash_password(new)
    user.session_token = secrets.token_urlsafe(32)
    _record_staff(actor, "staff_password_changed", user)
    return user.session_token


@write_transaction
def set_active(user_id: int, active: bool, actor: Actor) -> StaffUser:
    user = _get_or_error(user_id)
    if (
        not active
        and StaffRole(user.role) is StaffRole.ADMIN
        and not _active_admins_other_than(user.id)
    ):
        raise StaffError("The last active admin cannot be disabled.")
    before = _snapshot(user)
    user.is_active = active
    if not active:
        user.session_token = None
    _record_staff(actor, "staff_enabled" if active else "staff_disabled", user, before)
    return user


@write_transaction
def set_role(user_id: int, role: StaffRole | str, actor: Actor) -> StaffUser:
    user = _get_or_error(user_id)
    role = StaffRole(role)
    if (
        StaffRole(user.role) is StaffRole.ADMIN
        and role is not StaffRole.ADMIN
        and user.is_active
        and not _active_admins_other_than(user.id)
    ):
        raise StaffError("The last active admin must stay an admin.")
    before = _snapshot(user)
    user.role = role
    _record_staff(actor, "staff_role_changed", user, before)
    return user


@write_transaction
def set_wants_digest(user_id: int, wants: bool) -> None:
    user = _get_or_error(user_id)
    user.wants_digest = wants


# ---------------------------------------------------------------- sign-in


@write_transaction
def authenticate(email: str, password: str) -> LoginResult:
    """Check a password; too many failures lock the account in the database (all processes)."""
    user = get_by_email(email)
    if user is None:
        _burn_time(password)
        return LoginResult(LoginOutcome.REFUSED)
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        _burn_time(password)
        return LoginResult(LoginOutcome.REFUSED)
    if not verify_password(user.password_hash, password) or not user.is_active:
        _count_failure(user)
        return LoginResult(LoginOutcome.REFUSED)
    if _hasher().check_needs_rehash(user.password_hash):
        # The argon2 parameters were raised since this hash was made: upgrade it now.
        user.password_hash = _hasher().hash(password)
    if user.totp_enabled:
        return LoginResult(LoginOutcome.NEED_TOTP, user.id)
    _start_session(user)
    return LoginResult(LoginOutcome.OK, user.id)


@write_transaction
def authenticate_totp(user_id: int, code: str) -> LoginResult:
    """Second step of a sign-in whose password was right; failures count towards the lockout."""
    user = db.session.get(StaffUser, user_id)
    now = utcnow()
    if (
        user is None
        or not user.is_active
        or not user.totp_enabled
        or (user.locked_until is not None and user.locked_until > now)
    ):
        return LoginResult(LoginOutcome.REFUSED)
    if not accept_totp(user, code):
        _count_failure(user)
        return LoginResult(LoginOutcome.REFUSED)
    _start_session(user)
    return LoginResult(LoginOutcome.OK, user.id)


def _start_session(user: StaffUser) -> None:
    """A new server-side session token: the sign-in view reads it from the user row."""
    user.session_token = secrets.token_urlsafe(32)
    user.last_login_at = utcnow()
    user.failed_logins = 0
    user.first_failed_login_at = None
    user.locked_until = None
    record(Actor.staff(user), "staff_signed_in", detail=user.email)


def _count_failure(user: StaffUser) -> None:
    """Atomic count within a sliding window, so parallel guesses cannot slip past the threshold."""
    threshold, window, duration = _lockout_settings()
    now = utcnow()
    stale = or_(
        StaffUser.first_failed_login_at.is_(None), StaffUser.first_failed_login_at < now - window
    )
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(
            failed_logins=case((stale, 1), else_=StaffUser.failed_logins + 1),
            first_failed_login_at=case((stale, now), else_=StaffUser.first_failed_login_at),
        )
        .execution_options(synchronize_session=False)
    )
    locked = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.failed_logins >= threshold)
        .values(locked_until=now + duration, failed_logins=0, first_failed_login_at=None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(locked):
        record(
            Actor.system("sign-in"),
            "staff_locked",
            detail=f"{user.email}: {threshold} failed sign-ins; locked for {duration}",
        )


@write_transaction
def end_session(user_id: int, *, reason: str = "signed out") -> None:
    """Server-side sign-out: the token in any copy of the cookie stops working."""
    user = db.session.get(StaffUser, user_id)
    if user is None:
        return
    user.session_token = None
    record(Actor.staff(user), "staff_signed_out", detail=f"{user.email}: {reason}")


# ---------------------------------------------------------------- TOTP


def totp_step(secret: str | None, code: str, now: float | None = None) -> int | None:
    """The time step a code belongs to, or None when it is not a current code of `secret`."""
    digits = re.sub(r"\s+", "", code or "")
    if not secret or not digits.isdigit() or len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = totp.timecode(datetime.fromtimestamp(now, tz=UTC))
    # One step either side tolerates a phone clock that is a little off.
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def accept_totp(user: StaffUser, code: str) -> bool:
    """A code is good once: a step at or before the last accepted one is a replay."""
    step = totp_step(user.totp_secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


@write_transaction
def begin_totp_enrolment(user_id: int) -> str:
    """A fresh secret, kept but not active until a code from it is confirmed."""
    user = _get_or_error(user_id)
    if user.totp_enabled:
        raise StaffError("Two-factor sign-in is already on.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


@write_transaction
def confirm_totp_enrolment(user_id: int, code: str, actor: Actor) -> None:
    user = _get_or_error(user_id)
    if user.totp_enabled:
        return
    if not accept_totp(user, code):
        raise StaffError("That code is not right. Check the time on your phone and try again.")
    before = _snapshot(user)
    user.totp_enabled = True
    _record_staff(actor, "staff_totp_enabled", user, before)


@write_transaction
def disable_totp(user_id: int, code: str, actor: Actor) -> None:
    user = _get_or_error(user_id)
    if totp_required_for(user):
        raise StaffError("Admins must keep two-factor sign-in on.")
    if not user.totp_enabled:
        return
    if not accept_totp(user, code):
        raise StaffError("That code is not right.")
    before = _snapshot(user)
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    _record_staff(actor, "staff_totp_disabled", user, before)


def totp_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI (the CSP allows data: images, not inline scripts)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode("ascii")
