"""Signatories: the public list with search and filters, open data, CSV import and export."""

from flask import Blueprint

bp = Blueprint("signatories", __name__)

from . import views  # noqa: E402,F401
