"""WSGI entry point: `wsgi:app` for gunicorn, `flask --app wsgi` for the CLI."""

from petition import create_app

app = create_app()
