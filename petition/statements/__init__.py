"""Statements: the public statement pages, versions, campaign updates and the site's editable texts."""

from flask import Blueprint

from ..staff.access import staff_blueprint

bp = Blueprint("statements", __name__)
admin_bp = staff_blueprint("statements_admin", __name__)

from . import admin_views, embed, sharing, site_files, site_text_views, views  # noqa: E402,F401
