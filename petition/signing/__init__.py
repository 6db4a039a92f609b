"""Signing blueprint: the sign-on form, email confirmation, withdrawal and the manage link."""

from flask import Blueprint

bp = Blueprint("signing", __name__)

from . import manage_views, views  # noqa: E402,F401
