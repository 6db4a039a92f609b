"""Who may see which /staff page: one guard before every staff and moderation route."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from ..core.audit import Actor
from ..models import utcnow
from . import accounts

#: The only /staff endpoints open to anonymous users.
PUBLIC_ENDPOINTS = frozenset(
    {"staff.login", "staff.login_totp", "staff.password_forgot", "staff.password_set"}
)
#: What an admin who must still turn on two-factor sign-in can reach.
ENROLMENT_ENDPOINTS = frozenset({"staff.totp_enrol", "staff.logout", "staff.account"})
SEEN_KEY = "staff_seen"


def admin_only(view):
    """Mark a view for admins; the guard answers 403 to moderators."""
    view.admin_only = True
    return view


def guard():
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        flash("Sign in to use the staff console.", "info")
        next_path = request.full_path if request.method == "GET" else None
        return redirect(url_for("staff.login", next=next_path))
    now = int(time.time())
    idle_limit = int(current_app.config["STAFF_SESSION_IDLE_MINUTES"]) * 60
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int) or now - seen > idle_limit:
        accounts.end_session(current_user.id, reason="idle session expired")
        logout_user()
        session.clear()
        flash(
            f"You were signed out after {idle_limit // 60} minutes without activity. "
            "Sign in again.",
            "info",
        )
        return redirect(url_for("staff.login"))
    if now - seen >= 15:  # no need to rewrite the cookie on every click
        session[SEEN_KEY] = now
    if (
        accounts.totp_required_for(current_user.user)
        and not current_user.totp_enabled
        and endpoint not in ENROLMENT_ENDPOINTS
    ):
        flash("Admins must turn on two-factor sign-in before using the console.", "warning")
        return redirect(url_for("staff.totp_enrol"))
    view = current_app.view_functions.get(endpoint)
    if getattr(view, "admin_only", False) and not current_user.is_admin:
        abort(403, description="Only admins can do this.")
    return None


def template_globals() -> dict:
    return {"now": utcnow()}


def mark_seen() -> None:
    session[SEEN_KEY] = int(time.time())


def actor() -> Actor:
    return Actor.staff(current_user.user)


def safe_next(value: str | None, default: str) -> str:
    """Only a path inside the console: never another host, never a scheme-relative //url."""
    if not value:
        return default
    # CR/LF or other control characters cannot go into a Location header (werkzeug raises).
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or not value.startswith("/staff"):
        return default
    if value.startswith("//"):
        return default
    return value


def staff_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under /staff whose every route is behind the staff guard."""
    bp = Blueprint(name, import_name, url_prefix="/staff")
    bp.before_request(guard)
    bp.context_processor(template_globals)
    return bp
