"""Signing blueprint: the sign-on form, email confirmation and withdrawal."""

from flask import Blueprint

bp = Blueprint("signing", __name__)

from . import views  # noqa: E402,F401
