"""Staff session loading for Flask-Login: the cookie carries a server-side token, not the user id."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db, login_manager
from ..models import StaffRole, StaffUser

login_manager.login_view = "staff.login"
login_manager.login_message = "Sign in to use the staff console."
login_manager.login_message_category = "info"
# The token in the session is the whole identity; no long-lived "remember me" cookie is ever set.
login_manager.session_protection = "basic"


class StaffIdentity:
    """Flask-Login's view of a staff account; get_id() is the rotating session token."""

    def __init__(self, user: StaffUser) -> None:
        self.user = user

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

    @property
    def is_admin(self) -> bool:
        return StaffRole(self.user.role) is StaffRole.ADMIN

    def get_id(self) -> str:
        return self.user.session_token or ""

    def __getattr__(self, name):
        return getattr(self.user, name)


@login_manager.user_loader
def load_staff(session_token: str) -> StaffIdentity | None:
    if not session_token:
        return None
    user = db.session.scalar(select(StaffUser).where(StaffUser.session_token == session_token))
    if user is None or not user.is_active:
        return None
    return StaffIdentity(user)
