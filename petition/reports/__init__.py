"""Reports for staff: the dashboard, the audit log and the exports."""

from ..staff.access import staff_blueprint

bp = staff_blueprint("reports", __name__)

from . import views  # noqa: E402,F401
