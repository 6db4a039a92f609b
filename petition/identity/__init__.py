"""The campaign's identity: names, data controller, mail sender, contact address, logo."""

from flask import Blueprint

from ..staff.access import staff_blueprint

bp = Blueprint("identity", __name__)
admin_bp = staff_blueprint("identity_admin", __name__)

from . import views  # noqa: E402,F401
