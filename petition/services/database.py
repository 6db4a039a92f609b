"""Engine tuning and transaction helpers shared by the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

_read_only: ContextVar[bool] = ContextVar("sqlite_read_only", default=False)


@contextmanager
def read_only() -> Iterator[None]:
    """Mark the transactions begun inside as reads, so SQLite does not take the write lock."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def _wants_write_lock() -> bool:
    if _read_only.get():
        return False
    return not (has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"))


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL so readers never block the writer, a busy timeout instead of 'database is locked'."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # pysqlite's own transaction handling defers BEGIN; take control so BEGIN IMMEDIATE works.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        # IMMEDIATE takes the write lock up front: concurrent writers queue on busy_timeout
        # rather than failing later with an unretryable lock upgrade. Reads (GET requests,
        # the PDF build's streaming read) stay deferred so they never block writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write_lock() else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
