"""Campaign mailings: staff email the contacts of approved signatories who asked to be kept
informed; the one-click unsubscribe link."""

from flask import Blueprint

from ..staff.access import staff_blueprint

bp = Blueprint("mailings", __name__)
admin_bp = staff_blueprint("mailings_admin", __name__)

from . import admin_views, views  # noqa: E402,F401
