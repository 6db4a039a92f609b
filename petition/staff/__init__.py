"""Staff blueprint: sign-in, sign-out, the account page and (for admins) staff accounts."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")

# Settings of the console; each can be given as FLASK_<NAME> (Flask's from_prefixed_env).
CONFIG_DEFAULTS = {
    "STAFF_LOGIN_RATE_LIMIT": "10 per minute;60 per hour",
    "STAFF_LOCKOUT_THRESHOLD": 5,
    "STAFF_LOCKOUT_WINDOW_MINUTES": 15,
    "STAFF_LOCKOUT_MINUTES": 15,
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
