"""The PDF: the layout (layout/), the debounced versioned builds, serving and the staff page."""

from flask import Blueprint

from ..staff.access import staff_blueprint

bp = Blueprint("pdf", __name__)
admin_bp = staff_blueprint("pdf_admin", __name__)

from . import admin_views, views  # noqa: E402,F401
