"""Moderation blueprint: the queue, signatures, audit log, dashboard, exports and campaign admin."""

from flask import Blueprint

from ..staff.access import guard, template_globals

bp = Blueprint("moderation", __name__, url_prefix="/staff")
# Every route here is for signed-in staff; the guard runs before any of them.
bp.before_request(guard)
bp.context_processor(template_globals)

from . import campaign_views, pdf_views, reports, site_views, views  # noqa: E402,F401
