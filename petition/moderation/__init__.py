"""Moderation: the queue, signatures by state, one signature, decisions and edits, and their signals."""

from ..staff.access import staff_blueprint

bp = staff_blueprint("moderation", __name__)

from . import change_views, views  # noqa: E402,F401
