"""Staff accounts: argon2id passwords, sign-in with progressive delays, rotating sessions, TOTP."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core.audit import Actor, record
from ..core.db import rowcount, write_transaction
from ..core.http import client_block
from ..extensions import db
from ..models import StaffRole, StaffSigninFailure, StaffUser, utcnow

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
    REFUSED = "refused"  # wrong email or password, disabled, waiting: one answer for all


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user_id: int | None = None


# ---------------------------------------------------------------- passwords


# Production cost: OWASP's argon2id recommendation (m=19 MiB, t=2, p=1) with the memory raised to
# 32 MiB, about 60 ms per verify on one core of the reference 2-core machine.
# argon2-cffi's RFC 9106 "low memory" profile (t=3, 64 MiB, p=4) took 160 ms there on both cores,
# so a few failed sign-ins a second could hold the CPU the public pages need.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST = 32768  # KiB
ARGON2_PARALLELISM = 1


def _hasher_settings() -> tuple[int, int, int]:
    config = current_app.config
    testing = current_app.testing
    # Tests hash hundreds of passwords with cheap parameters.
    time_cost = config.get("STAFF_ARGON2_TIME_COST") or (1 if testing else ARGON2_TIME_COST)
    memory_cost = config.get("STAFF_ARGON2_MEMORY_COST") or (
        1024 if testing else ARGON2_MEMORY_COST
    )
    parallelism = config.get("STAFF_ARGON2_PARALLELISM") or (1 if testing else ARGON2_PARALLELISM)
    return int(time_cost), int(memory_cost), int(parallelism)


@lru_cache(maxsize=8)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    # PasswordHasher's default type is argon2id.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    return _hasher_for(*_hasher_settings())


_slots_lock = threading.Lock()
_slots: dict[tuple[int, int], threading.BoundedSemaphore] = {}


@contextmanager
def _argon2_slot() -> Iterator[None]:
    """At most STAFF_ARGON2_CONCURRENCY hashes at a time in this process (the others queue).

    argon2 releases the GIL, so without a bound every thread of a worker could be hashing at
    once: all its cores and m × threads of memory. The rate limits keep the queue short.
    """
    key = (os.getpid(), max(1, int(current_app.config.get("STAFF_ARGON2_CONCURRENCY", 1))))
    with _slots_lock:
        slot = _slots.get(key)
        if slot is None:
            slot = _slots[key] = threading.BoundedSemaphore(key[1])
    with slot:
        yield


# The share of one core that password checks asked for by requests (sign-in, the Account page's
# current password) may take in one process over time, whatever the rate limits do: those live in
# Redis, and while it is down Flask-Limiter falls back to per-process limits that no longer bound
# the argon2 work. With one process per core this is the share of the machine.
ARGON2_CPU_SHARE = 0.15


class PasswordChecksBusy(Exception):
    """This process is checking a password already, or has used its share of argon2 time.

    The try is answered at once (429) instead of queueing: queued tries would hold the threads
    the public pages need, and nothing about the try has been counted yet.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__("password checks busy")
        self.retry_after = retry_after


@dataclass
class _Gate:
    in_flight: int = 0
    open_at: float = 0.0  # time.monotonic() from which the next check is admitted


_gates_lock = threading.Lock()


def _gate() -> _Gate:
    """This process's gate (a forked worker has its own), kept with the app. Call under the lock."""
    gates = current_app.extensions.setdefault("staff_password_gates", {})
    return gates.setdefault(os.getpid(), _Gate())


def _cpu_share() -> float:
    config = current_app.config
    # Tests check passwords back to back; the share applies where it is configured.
    share = config.get("STAFF_ARGON2_CPU_SHARE") or (
        1.0 if current_app.testing else ARGON2_CPU_SHARE
    )
    return min(1.0, max(0.01, float(share)))


@contextmanager
def password_check_admitted(known_browser: bool = False) -> Iterator[None]:
    """Admit the password check of one request, or raise PasswordChecksBusy.

    One check at a time per process, and a check that took d seconds closes the gate for
    d × (1/share − 1) after it: argon2 takes at most STAFF_ARGON2_CPU_SHARE of one core, per
    process, however many tries get past the rate limits. A refused try was neither counted nor
    checked, so it tells nothing about the account. A browser that signed in to the account before
    (its device cookie, which no stranger has) is admitted at any time, as the global rate limit
    lets it through: a flood of tries from elsewhere does not keep staff out; its check still
    counts towards the cool-down.
    """
    share = _cpu_share()
    with _gates_lock:
        gate = _gate()
        now = time.monotonic()
        if not known_browser and (gate.in_flight or now < gate.open_at):
            raise PasswordChecksBusy(max(gate.open_at - now, 1.0))
        gate.in_flight += 1
    started = time.monotonic()
    try:
        yield
    finally:
        ended = time.monotonic()
        with _gates_lock:
            gate.in_flight -= 1
            gate.open_at = max(gate.open_at, ended + (ended - started) * (1 / share - 1))


def _hash(password: str) -> str:
    with _argon2_slot():
        return _hasher().hash(password)


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        with _argon2_slot():
            return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=8)
def _dummy_hash(settings: tuple[int, int, int]) -> str:
    with _argon2_slot():
        return _hasher_for(*settings).hash(secrets.token_urlsafe(16))


def _burn_time(password: str) -> None:
    """A refusal before any password check (an unknown email, a client that must wait) costs as
    much as a wrong password, so timing does not tell the causes apart."""
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


def normalise_staff_email(value: str, *, new: bool = False) -> str:
    """Staff addresses may be local (admin@localhost), so only the shape is checked.

    `new`: an address an account is given, which must be able to receive its links: as on the
    sign-on form, nothing beyond ASCII before the @ unless MAIL_SMTPUTF8 says the relay takes it
    (an account created earlier is still found by its address).
    """
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email.split("@")[1]:
        raise StaffError(f"{value!r} is not an email address.")
    if new and not email.split("@")[0].isascii() and not current_app.config.get("MAIL_SMTPUTF8"):
        raise StaffError(
            f"{value!r} has characters beyond ASCII before the @: mail to it needs a relay with "
            "SMTPUTF8 (MAIL_SMTPUTF8), which this site does not use."
        )
    return email


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class SigninRules:
    """How failed sign-ins are answered; each a STAFF_SIGNIN_* setting (see docs/staff-console.md)."""

    delay_after: int  # failures of one (account, address) pair before that pair waits
    first_delay: timedelta  # its first wait, doubled by each further failure …
    max_delay: timedelta  # … up to this
    forget_after: timedelta  # a pair's record is forgotten this long after its wait ends
    guard_failures: int  # failures from unknown browsers, from any address, within …
    guard_window: timedelta  # … this window guard the account …
    guard_for: timedelta  # … for this long: only browsers it signed in from may sign in
    device_days: int  # how long a browser stays known after signing in


def signin_rules() -> SigninRules:
    config = current_app.config
    return SigninRules(
        delay_after=max(1, int(config.get("STAFF_SIGNIN_DELAY_AFTER", 5))),
        first_delay=timedelta(seconds=float(config.get("STAFF_SIGNIN_FIRST_DELAY_SECONDS", 60))),
        max_delay=timedelta(seconds=float(config.get("STAFF_SIGNIN_MAX_DELAY_SECONDS", 3600))),
        forget_after=timedelta(hours=float(config.get("STAFF_SIGNIN_FORGET_HOURS", 24))),
        guard_failures=max(1, int(config.get("STAFF_SIGNIN_GUARD_FAILURES", 20))),
        guard_window=timedelta(minutes=float(config.get("STAFF_SIGNIN_GUARD_WINDOW_MINUTES", 60))),
        guard_for=timedelta(minutes=float(config.get("STAFF_SIGNIN_GUARD_MINUTES", 60))),
        device_days=max(1, int(config.get("STAFF_DEVICE_DAYS", 180))),
    )


def delay_after_failures(failures: int, rules: SigninRules) -> timedelta | None:
    """The wait of a pair with this many failures: none, then 1 min, 2, 4 … up to the cap."""
    if failures < rules.delay_after:
        return None
    doublings = min(failures - rules.delay_after, 60)
    seconds = rules.first_delay.total_seconds() * 2.0**doublings
    return timedelta(seconds=min(seconds, rules.max_delay.total_seconds()))


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


def get_or_error(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise StaffError(f"There is no staff account {user_id}.")
    return user


def snapshot(user: StaffUser) -> dict:
    return {
        "email": user.email,
        "role": StaffRole(user.role).value,
        "is_active": bool(user.is_active),
        "totp_enabled": bool(user.totp_enabled),
    }


def _record_staff(actor: Actor, action: str, user: StaffUser, before=None, detail=""):
    record(actor, action, before=before, after=snapshot(user), detail=detail or user.email)


@write_transaction
def create_staff(email: str, password: str, role: StaffRole | str, actor: Actor) -> StaffUser:
    email = normalise_staff_email(email, new=True)
    role = StaffRole(role)
    user = insert_staff(StaffUser(email=email, password_hash=hash_password(password), role=role))
    _record_staff(actor, "staff_created", user)
    return user


def insert_staff(user: StaffUser) -> StaffUser:
    """Add a new account in the current transaction; StaffError if the address has one."""
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise StaffError(f"A staff account for {user.email} already exists.") from None
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
def set_password(
    user_id: int, password: str, actor: Actor, *, reset_totp: bool = False, detail: str = ""
):
    """A new password ends every session of the account and lifts every wait and guard."""
    user = get_or_error(user_id)
    before = snapshot(user)
    user.password_hash = hash_password(password)
    user.session_token = None
    user.failed_logins = 0
    user.first_failed_login_at = None
    user.signin_guarded_until = None
    db.session.execute(
        delete(StaffSigninFailure).where(StaffSigninFailure.staff_user_id == user.id)
    )
    if reset_totp:
        user.totp_enabled = False
        user.totp_secret = None
    _record_staff(actor, "staff_password_set", user, before, detail)
    return user


class WrongCurrentPassword(StaffError):
    pass


WAIT_MESSAGE = "Too many wrong passwords were tried from here: wait a few minutes, then try again."


def change_own_password(
    user_id: int, current: str, new: str, actor: Actor, client: Client, now: datetime | None = None
) -> str:
    """Returns the new session token: the caller stays signed in, other sessions end.

    A wrong current password counts exactly as a failed sign-in from this client does (a stolen
    session must not be a way to guess the password without limit): after a few, this client
    address waits before the next try, while the account owner elsewhere is not held up.
    """
    now = now or utcnow()
    check_password_strength(new)
    attempt = _begin_attempt_for(user_id, client, now)
    if attempt is None:
        _burn_time(current)
        raise WrongCurrentPassword(WAIT_MESSAGE)
    if not verify_password(attempt.password_hash, current):
        _attempt_failed(attempt, now)  # committed: the failure stays counted
        raise WrongCurrentPassword(
            "The current password is not right. After a few wrong tries you have to wait a"
            " while before trying again."
        )
    return _replace_own_password(attempt, _hash(new), actor)


@write_transaction
def _replace_own_password(attempt: Attempt, new_hash: str, actor: Actor) -> str:
    user = get_or_error(attempt.user_id)
    if user.password_hash != attempt.password_hash:
        raise StaffError("The password was changed meanwhile. Sign in again with the new one.")
    user.password_hash = new_hash
    user.session_token = secrets.token_urlsafe(32)
    _clear_pair(attempt)
    _record_staff(actor, "staff_password_changed", user)
    return user.session_token


@write_transaction
def set_active(user_id: int, active: bool, actor: Actor) -> StaffUser:
    user = get_or_error(user_id)
    if (
        not active
        and StaffRole(user.role) is StaffRole.ADMIN
        and not _active_admins_other_than(user.id)
    ):
        raise StaffError("The last active admin cannot be disabled.")
    before = snapshot(user)
    user.is_active = active
    if not active:
        user.session_token = None
    _record_staff(actor, "staff_enabled" if active else "staff_disabled", user, before)
    return user


@write_transaction
def set_role(user_id: int, role: StaffRole | str, actor: Actor) -> StaffUser:
    user = get_or_error(user_id)
    role = StaffRole(role)
    if (
        StaffRole(user.role) is StaffRole.ADMIN
        and role is not StaffRole.ADMIN
        and user.is_active
        and not _active_admins_other_than(user.id)
    ):
        raise StaffError("The last active admin must stay an admin.")
    before = snapshot(user)
    user.role = role
    _record_staff(actor, "staff_role_changed", user, before)
    return user


@write_transaction
def set_wants_digest(user_id: int, wants: bool) -> None:
    user = get_or_error(user_id)
    user.wants_digest = wants


# ---------------------------------------------------------------- sign-in
#
# Failed sign-ins are counted per (account, client address) pair, an IPv6 client by its /64, in
# the database so that every process and host sees them: after STAFF_SIGNIN_DELAY_AFTER failures
# that pair waits, 1 minute, then twice as long after each further failure, up to an hour. Nobody else waits, so knowing a
# staff email is not enough to keep its owner out. Against guessing spread over many addresses,
# each account also counts the failures of browsers it does not know (no valid device cookie,
# set when a sign-in succeeds); too many within the guard window guard the account for a while,
# during which only browsers it has signed in from before may sign in. The password step, the
# code step and the current password on the Account page all count the same way, and every
# refusal gives the same answer at the same cost.


@dataclass(frozen=True)
class Client:
    """Who is trying: the client address (request.remote_addr) and the browser's device cookie."""

    address: str
    device: str | None = None

    @property
    def key(self) -> str:
        """The pair's address: an IPv6 client by its /64, else fresh addresses from one
        subscriber's range would each be a new pair."""
        return (client_block(self.address) or "unknown")[:64]


@dataclass(frozen=True)
class Attempt:
    """One try counted in advance against its pair, so parallel tries cannot slip past the count."""

    user_id: int
    email: str
    password_hash: str
    address: str
    trusted: bool  # a browser the account signed in from before
    number: int  # the pair's failures, this try included
    previous_delay: datetime | None  # the pair's delayed_until before this try


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="jointly-staff-device")


def _device_key(user: StaffUser) -> str:
    # Bound to the password: a new password (an admin's reset) makes every browser unknown again.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def device_token(user_id: int) -> str:
    """The device cookie of a browser that just signed in: it vouches for this account only."""
    user = db.session.get_one(StaffUser, user_id)
    return _device_serializer().dumps({"u": user.id, "k": _device_key(user)})


def _is_known_device(user: StaffUser, token: str | None) -> bool:
    if not token or len(token) > 500:
        return False
    max_age = signin_rules().device_days * 86400
    try:
        data = _device_serializer().loads(token, max_age=max_age)
    except BadData:
        return False
    return (
        isinstance(data, dict)
        and data.get("u") == user.id
        and hmac.compare_digest(str(data.get("k", "")), _device_key(user))
    )


def is_known_device_for(email: str, token: str | None) -> bool:
    """Whether this device cookie vouches for the account of `email` (for the global rate limit)."""
    if not token:
        return False
    user = get_by_email(email)
    return user is not None and _is_known_device(user, token)


def authenticate(
    email: str, password: str, client: Client, now: datetime | None = None
) -> LoginResult:
    """Check a password; the argon2 work runs outside any transaction (no lock held meanwhile)."""
    now = now or utcnow()
    attempt = _begin_attempt(email, client, now)
    if attempt is None:
        _burn_time(password)
        return LoginResult(LoginOutcome.REFUSED)
    if not verify_password(attempt.password_hash, password):
        _attempt_failed(attempt, now)
        return LoginResult(LoginOutcome.REFUSED)
    new_hash = None
    if _hasher().check_needs_rehash(attempt.password_hash):
        # The argon2 parameters changed since this hash was made: upgrade it now.
        new_hash = _hash(password)
    return _password_accepted(attempt, new_hash, now)


@write_transaction
def _begin_attempt(email: str, client: Client, now: datetime) -> Attempt | None:
    user = get_by_email(email)
    if user is None:
        return None
    return _begin_attempt_for(user.id, client, now)


@write_transaction
def _begin_attempt_for(user_id: int, client: Client, now: datetime) -> Attempt | None:
    """Count the try against its pair; None when the pair waits, or the account is guarded and
    this browser is unknown to it."""
    user = db.session.get(StaffUser, user_id)
    if user is None:
        return None
    trusted = _is_known_device(user, client.device)
    if not trusted and _is_guarded(user, now):
        return None
    reserved = _reserve(user.id, client.key, now)
    if reserved is None:
        return None
    number, previous_delay = reserved
    return Attempt(
        user.id, user.email, user.password_hash, client.key, trusted, number, previous_delay
    )


def _is_guarded(user: StaffUser, now: datetime) -> bool:
    return user.signin_guarded_until is not None and user.signin_guarded_until > now


def _pair_query(user_id: int, address: str):
    return select(StaffSigninFailure).where(
        StaffSigninFailure.staff_user_id == user_id, StaffSigninFailure.address == address
    )


def _reserve(user_id: int, address: str, now: datetime) -> tuple[int, datetime | None] | None:
    """Count one more failure of the pair now (a success undoes it); None while the pair waits."""
    rules = signin_rules()
    # The row lock (PostgreSQL; SQLite's write lock does the same) orders parallel tries.
    row = db.session.scalar(_pair_query(user_id, address).with_for_update())
    if row is None:
        try:
            with db.session.begin_nested():
                row = StaffSigninFailure(
                    staff_user_id=user_id,
                    address=address,
                    failures=0,
                    first_failed_at=now,
                    last_failed_at=now,
                    expires_at=now + rules.forget_after,
                )
                db.session.add(row)
                db.session.flush()
        except IntegrityError:  # a parallel try from the same pair inserted it first
            row = db.session.scalar(_pair_query(user_id, address).with_for_update())
            if row is None:
                return None
    if row.delayed_until is not None and row.delayed_until > now:
        return None
    if row.expires_at <= now:  # forgotten: start again
        row.failures = 0
        row.first_failed_at = now
        row.delayed_until = None
    previous_delay = row.delayed_until
    row.failures += 1
    row.last_failed_at = now
    delay = delay_after_failures(row.failures, rules)
    if delay is not None:
        row.delayed_until = now + delay
    row.expires_at = (row.delayed_until or now) + rules.forget_after
    db.session.flush()
    return row.failures, previous_delay


@write_transaction
def _attempt_failed(attempt: Attempt, now: datetime) -> None:
    """The counted try failed: note a pair that starts waiting, count it for the account."""
    rules = signin_rules()
    if attempt.number == rules.delay_after:
        record(
            Actor.system("sign-in"),
            "staff_signin_delayed",
            detail=(
                f"{attempt.email} from {attempt.address}: {attempt.number} failed sign-ins;"
                f" this address waits {delay_after_failures(attempt.number, rules)} before its"
                " next try, twice as long after each further failure"
            ),
        )
    if not attempt.trusted:
        _count_unknown_browser_failure(attempt, now, rules)


def _count_unknown_browser_failure(attempt: Attempt, now: datetime, rules: SigninRules) -> None:
    """Atomic count within a sliding window; enough failures guard the account."""
    stale = or_(
        StaffUser.first_failed_login_at.is_(None),
        StaffUser.first_failed_login_at < now - rules.guard_window,
    )
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == attempt.user_id)
        .values(
            failed_logins=case((stale, 1), else_=StaffUser.failed_logins + 1),
            first_failed_login_at=case((stale, now), else_=StaffUser.first_failed_login_at),
        )
        .execution_options(synchronize_session=False)
    )
    guarded = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == attempt.user_id, StaffUser.failed_logins >= rules.guard_failures)
        .values(
            signin_guarded_until=now + rules.guard_for,
            failed_logins=0,
            first_failed_login_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(guarded):
        addresses = db.session.scalar(
            select(func.count(StaffSigninFailure.id)).where(
                StaffSigninFailure.staff_user_id == attempt.user_id,
                StaffSigninFailure.last_failed_at >= now - rules.guard_window,
            )
        )
        record(
            Actor.system("sign-in"),
            "staff_signin_guarded",
            detail=(
                f"{attempt.email}: {rules.guard_failures} failed sign-ins within"
                f" {rules.guard_window} from browsers it does not know, from {addresses}"
                f" address(es); for {rules.guard_for} only browsers it signed in from before"
                " may sign in"
            ),
        )


def _clear_pair(attempt: Attempt) -> None:
    db.session.execute(
        delete(StaffSigninFailure).where(
            StaffSigninFailure.staff_user_id == attempt.user_id,
            StaffSigninFailure.address == attempt.address,
        )
    )


def _undo_reservation(attempt: Attempt) -> None:
    """A right password whose code is still to come: the code step counts instead."""
    db.session.execute(
        update(StaffSigninFailure)
        .where(
            StaffSigninFailure.staff_user_id == attempt.user_id,
            StaffSigninFailure.address == attempt.address,
            StaffSigninFailure.failures == attempt.number,  # no try counted since
        )
        .values(failures=attempt.number - 1, delayed_until=attempt.previous_delay)
        .execution_options(synchronize_session=False)
    )


@write_transaction
def _password_accepted(attempt: Attempt, new_hash: str | None, now: datetime) -> LoginResult:
    user = db.session.get(StaffUser, attempt.user_id)
    if user is None or not user.is_active or user.password_hash != attempt.password_hash:
        # Disabled, or the password was changed while this one was being checked.
        _attempt_failed(attempt, now)
        return LoginResult(LoginOutcome.REFUSED)
    if new_hash is not None:
        user.password_hash = new_hash
    if user.totp_enabled:
        _undo_reservation(attempt)
        return LoginResult(LoginOutcome.NEED_TOTP, user.id)
    _clear_pair(attempt)
    start_session(user)
    return LoginResult(LoginOutcome.OK, user.id)


@write_transaction
def authenticate_totp(
    user_id: int, code: str, client: Client, now: datetime | None = None
) -> LoginResult:
    """Second step of a sign-in whose password was right; it counts exactly as the first does."""
    now = now or utcnow()
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active or not user.totp_enabled:
        return LoginResult(LoginOutcome.REFUSED)
    attempt = _begin_attempt_for(user.id, client, now)
    if attempt is None:
        return LoginResult(LoginOutcome.REFUSED)
    if not accept_totp(user, code):
        _attempt_failed(attempt, now)
        return LoginResult(LoginOutcome.REFUSED)
    _clear_pair(attempt)
    start_session(user)
    return LoginResult(LoginOutcome.OK, user.id)


def start_session(user: StaffUser) -> None:
    """A new server-side session token: the sign-in view reads it from the user row."""
    user.session_token = secrets.token_urlsafe(32)
    user.last_login_at = utcnow()
    record(Actor.staff(user), "staff_signed_in", detail=user.email)


@write_transaction
def prune_signin_failures(now: datetime | None = None) -> int:
    """Delete the pair records past their expiry (a housekeeping task); the number deleted."""
    result = db.session.execute(
        delete(StaffSigninFailure).where(StaffSigninFailure.expires_at < (now or utcnow()))
    )
    return rowcount(result)


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
    user = get_or_error(user_id)
    if user.totp_enabled:
        raise StaffError("Two-factor sign-in is already on.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


@write_transaction
def confirm_totp_enrolment(user_id: int, code: str, actor: Actor) -> None:
    user = get_or_error(user_id)
    if user.totp_enabled:
        return
    if not accept_totp(user, code):
        raise StaffError("That code is not right. Check the time on your phone and try again.")
    before = snapshot(user)
    user.totp_enabled = True
    _record_staff(actor, "staff_totp_enabled", user, before)


@write_transaction
def disable_totp(user_id: int, code: str, actor: Actor) -> None:
    user = get_or_error(user_id)
    if totp_required_for(user):
        raise StaffError("Admins must keep two-factor sign-in on.")
    if not user.totp_enabled:
        return
    if not accept_totp(user, code):
        raise StaffError("That code is not right.")
    before = snapshot(user)
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
