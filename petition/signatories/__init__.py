"""Signatories: the public list with search and filters, open data, imports and exports."""

from flask import Blueprint

from ..staff.access import staff_blueprint

bp = Blueprint("signatories", __name__)
admin_bp = staff_blueprint("signatories_admin", __name__)

from . import import_views, views  # noqa: E402,F401
