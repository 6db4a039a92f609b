"""WSGI entry point: `wsgi:app` for gunicorn, `flask --app wsgi` for the CLI."""

import sys

from petition import create_app
from petition.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # A setting that does not parse stops every entry point (web, worker, CLI) with one line.
    sys.exit(f"Configuration error: {exc}")
