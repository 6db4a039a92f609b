"""Public blueprint: statement pages, the signatory list, open data, privacy, health."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import pdf, views  # noqa: E402,F401
