"""Staff session loading for Flask-Login: the cookie carries a server-side token, not the user id."""

from __future__ import annotations

from sqlalchemy import select

from .extensions import db, login_manager
from .models import StaffUser


class StaffIdentity:
    """Flask-Login's view of a staff account; get_id() is the rotating session token."""

    def __init__(self, user: StaffUser) -> None:
        self.user = user

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

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
