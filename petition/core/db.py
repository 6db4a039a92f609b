"""Transactions: engine tuning, the write-transaction decorator, after-commit work, compare-and-set."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from sqlalchemy import event, update
from sqlalchemy.engine import Engine

from ..extensions import db
from ..models import Signature, SignatureState

P = ParamSpec("P")
R = TypeVar("R")

_writing: ContextVar[int] = ContextVar("jointly_writing", default=0)
_after_write: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "jointly_after_write", default=None
)


def after_write(callback: Callable[[], None]) -> None:
    """Run `callback` once the outermost write transaction has ended (now, outside one)."""
    pending = _after_write.get()
    if _writing.get() and pending is not None:
        pending.append(callback)
    else:
        callback()


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
        # Inside a write service, take the write lock up front: concurrent writers then queue
        # on busy_timeout instead of failing on a lock upgrade from a stale read snapshot.
        # Everything else (page views, the PDF build's long read) reads without blocking writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


def write_transaction(func: Callable[P, R]) -> Callable[P, R]:
    """Mark a service function as one write transaction.

    On entry, a read-only transaction left open by the caller is ended so that the write
    starts from a fresh snapshot (and, on SQLite, holds the write lock from its first
    statement). On exit, whatever the function left open is committed, or rolled back if
    it raised, so no lock outlives the call. Nested calls join the outer one.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        depth = _writing.get()
        session = db.session()  # the scoped session's current Session
        if depth == 0 and session.in_transaction():
            if session.new or session.dirty or session.deleted:
                raise RuntimeError(f"{func.__qualname__} called with uncommitted changes")
            session.rollback()
        token = _writing.set(depth + 1)
        pending_token = _after_write.set([]) if depth == 0 else None
        try:
            result = func(*args, **kwargs)
            if depth == 0 and session.in_transaction():
                session.commit()
            return result
        except BaseException:
            if depth == 0:
                session.rollback()
            raise
        finally:
            _writing.reset(token)
            if pending_token is not None:
                callbacks = _after_write.get() or []
                _after_write.reset(pending_token)
                # Work queued by commits inside (e.g. sync-mode jobs) runs with no lock held.
                for callback in callbacks:
                    callback()

    return wrapper


def compare_and_set(signature_id: int, expected: SignatureState, **values) -> bool:
    """Apply `values` if the row is still in `expected`; bump row_version. True if this call won.

    Two clicks, two moderators or two processes acting at once: the database decides, and the
    loser is told instead of overwriting a decision it never saw.
    """
    result = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.state == expected)
        .values(row_version=Signature.row_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
