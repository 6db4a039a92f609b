"""The machine's yardstick for the sign-on bench: `gunicorn bench.minimal_form_app:app`.

The issue sizes its target by "a minimal Flask form POST that inserts one row", about 2,000/s on
the machine it was measured on. This is that app, served and loaded exactly as the sign-on bench
serves and loads Jointly (gunicorn.conf.py, `-w 2`, bench/signon.lua), so that a run on a slower
or faster machine says how far the machine itself moved the numbers.

GET /statements/<slug>/sign gives a form with a hidden token and a cookie (what signon.lua
replays); POST reads the form, checks the token and the email, inserts one row into SQLite (WAL,
a connection per thread) and answers 303, as a sign-on does. No templates, no ORM, no validation
beyond that: the floor under any real form. BENCH_MINIMAL_DB names the database file.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask, Response, abort, redirect, request

TOKEN = "minimal-form-token"
DATABASE = os.environ.get("BENCH_MINIMAL_DB") or "minimal-form.sqlite3"
FIELDS = ("organisation_name", "organisation_type", "country", "city", "website", "email")

app = Flask(__name__)
_local = threading.local()


def _connection() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(DATABASE, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS signatures (id INTEGER PRIMARY KEY, "
            + ", ".join(f"{name} TEXT" for name in FIELDS)
            + ")"
        )
        _local.connection = connection
    return connection


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.get("/statements/<slug>/sign")
def form(slug: str) -> Response:
    body = (
        f'<form method="post"><input name="csrf_token" type="hidden" value="{TOKEN}">'
        + "".join(f'<input name="{name}">' for name in FIELDS)
        + "</form>"
    )
    response = Response(body, mimetype="text/html")
    response.set_cookie("session", "minimal", httponly=True)
    return response


@app.post("/statements/<slug>/sign")
def sign(slug: str) -> Response:
    if request.form.get("csrf_token") != TOKEN or "@" not in request.form.get("email", ""):
        abort(400)
    connection = _connection()
    connection.execute(
        f"INSERT INTO signatures ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
        [request.form.get(name, "") for name in FIELDS],
    )
    return redirect(f"/statements/{slug}/sign/thanks", 303)


def count_rows(database: str | None = None) -> int:
    with sqlite3.connect(database or DATABASE) as connection:
        return connection.execute("SELECT count(*) FROM signatures").fetchone()[0]
