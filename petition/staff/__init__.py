"""Staff blueprint: sign-in, sign-out, the account page and (for admins) staff accounts."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")

# Settings of the console; each can be given as FLASK_<NAME> (Flask's from_prefixed_env).
CONFIG_DEFAULTS = {
    # Password tries per client address (the sign-in and code steps, the Account page's password).
    "STAFF_LOGIN_RATE_LIMIT": "10 per minute;60 per hour",
    # Password tries from all addresses together, browsers known to the account exempt: with one
    # argon2 verify at ~60 ms this is at most ~3% of one core.
    "STAFF_LOGIN_GLOBAL_RATE_LIMIT": "2 per second;30 per minute",
    # One (account, address) pair waits after this many failures: first delay, doubling, cap.
    "STAFF_SIGNIN_DELAY_AFTER": 5,
    "STAFF_SIGNIN_FIRST_DELAY_SECONDS": 60,
    "STAFF_SIGNIN_MAX_DELAY_SECONDS": 3600,
    # A pair's record is forgotten this long after its last failure or the end of its wait.
    "STAFF_SIGNIN_FORGET_HOURS": 24,
    # This many failures from unknown browsers within the window guard the account for a while.
    "STAFF_SIGNIN_GUARD_FAILURES": 20,
    "STAFF_SIGNIN_GUARD_WINDOW_MINUTES": 60,
    "STAFF_SIGNIN_GUARD_MINUTES": 60,
    # A browser that signed in stays known to the account this long (the device cookie).
    "STAFF_DEVICE_DAYS": 180,
    # argon2 hashes at a time per process (memory: this × STAFF_ARGON2_MEMORY_COST).
    "STAFF_ARGON2_CONCURRENCY": 1,
    "STAFF_DIGEST_INTERVAL_HOURS": 24,
    "STAFF_PAGE_SIZE": 50,
    "STAFF_BULK_LIMIT": 500,
}


def init_app(app: Flask) -> None:
    """The console's settings; the blueprints are registered by the app.

    The digests that are due are sent by the periodic housekeeping (petition/housekeeping.py).
    """
    for key, value in CONFIG_DEFAULTS.items():
        app.config.setdefault(key, value)


from .access import guard, template_globals  # noqa: E402

bp.before_request(guard)
bp.context_processor(template_globals)

from . import views  # noqa: E402,F401
