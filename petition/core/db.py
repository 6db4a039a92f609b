"""Transactions: engine tuning, the write-transaction decorator, after-commit work, compare-and-set."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import (
    JSON,
    Insert,
    Select,
    Table,
    Text,
    bindparam,
    column,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.exc import DisconnectionError

from ..extensions import db
from ..models import Signature, SignatureState

if TYPE_CHECKING:
    import psycopg

P = ParamSpec("P")
R = TypeVar("R")

_writing: ContextVar[int] = ContextVar("jointly_writing", default=0)
_after_write: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "jointly_after_write", default=None
)
#: Set by `after_write_held`: where committed transactions leave their after-write work.
_held: ContextVar[list[Callable[[], None]] | None] = ContextVar("jointly_held", default=None)


def after_write(callback: Callable[[], None]) -> None:
    """Run `callback` once the outermost write transaction has committed (now, outside one).

    If that transaction rolls back instead, the callback is dropped: nothing it would
    announce (an email, a job, a list change) happened.
    """
    pending = _after_write.get()
    if _writing.get() and pending is not None:
        pending.append(callback)
    else:
        callback()


@contextmanager
def after_write_held() -> Iterator[list[Callable[[], None]]]:
    """Within the block, the work that committed transactions register with `after_write` is
    left in the list this yields instead of run: the caller runs it when it chooses (the
    leader of a batch of sign-ons, once the batch's threads have their answers)."""
    held: list[Callable[[], None]] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def in_write_transaction() -> bool:
    return _writing.get() > 0


@contextmanager
def schema_migration() -> Iterator[None]:
    """Migrations begin as writers (SQLite: BEGIN IMMEDIATE). A process using the database
    meanwhile (a scheduler, a web worker) then makes the migration wait its busy timeout at the
    start, instead of failing halfway with 'database is locked' when the read snapshot it began
    with cannot become a write."""
    token = _writing.set(_writing.get() + 1)
    try:
        yield
    finally:
        _writing.reset(token)


class SQLiteWriters:
    """The turn to write to one SQLite database, taken before BEGIN IMMEDIATE.

    SQLite has one writer at a time, and a connection that finds the write lock taken polls
    for it, sleeping 1, 2, 5, 10 … 25 ms in between, while the lock may have been free for most
    of that: under a burst of sign-ons, writers waited longer than they wrote. Here the threads
    of a process queue on a lock that hands over at once, and the processes (gunicorn's
    workers) on an advisory lock on a file beside the database, polled every fraction of a
    millisecond. After `timeout` a writer goes ahead without its turn, and SQLite's busy
    timeout has the last word, as before.
    """

    def __init__(self, database: str | None, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self._threads = threading.Lock()
        self._path = f"{database}-writers.lock" if database and database != ":memory:" else None
        self._file: tuple[int, int] | None = None  # (pid, fd): opened once per process

    def _fd(self) -> int | None:
        if self._path is None:
            return None
        if self._file is None or self._file[0] != os.getpid():  # new after a fork
            try:
                self._file = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
            except OSError:
                self._path = None  # a read-only folder: the thread lock alone
                return None
        return self._file[1]

    def acquire(self) -> tuple[bool, bool]:
        """Wait for the turn; returns what is held (this process's lock, the file's), for
        `release`."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False, False
        fd = self._fd()
        pause = 0.0002
        while fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True, True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
            except OSError:
                break
        return True, False

    def release(self, held: tuple[bool, bool]) -> None:
        threads, file = held
        if file and self._file is not None:
            fcntl.flock(self._file[1], fcntl.LOCK_UN)
        if threads:
            self._threads.release()


#: SQLite engines -> the writers' queue of their database (see SQLiteWriters).
_writers: weakref.WeakKeyDictionary[Engine, SQLiteWriters] = weakref.WeakKeyDictionary()


#: A pooled connection to a server given back this recently is used as it is; one that waited
#: longer is tested first (ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def configure_engine(engine: Engine) -> None:
    """A server: its connections tested after a wait in the pool (ping_when_idle). SQLite: WAL
    so readers never block the writer, a busy timeout instead of 'database is locked', and
    writers that queue for their turn (SQLiteWriters)."""
    if engine.dialect.name != "sqlite":
        ping_when_idle(engine)
        return
    _writers[engine] = SQLiteWriters(engine.url.database)

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


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """A connection to a server can die while it waits in the pool (a restart, a failover, a
    firewall's idle timeout): one that waited more than `idle_seconds` is tested as it is taken
    out, and replaced if it is dead. SQLAlchemy's pool_pre_ping tests every one, and under a
    burst a connection goes back and out again within milliseconds: that was a round trip more
    in every transaction, one in eight of a batch of sign-ons'. A server that dies in the
    moment between two uses fails the request that meets it (an outage page, nothing half
    written), and the pool then replaces every connection it holds."""

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken_out(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= idle_seconds:
            return  # just connected, or given back moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and hands out a new one.
            raise DisconnectionError("the connection died while it waited in the pool") from exc


@contextmanager
def transaction(name: str = "transaction") -> Iterator[None]:
    """One write transaction: the only place in the application that commits or rolls back.

    The outermost block ends a read-only transaction left open by the caller, so that the
    write starts from a fresh snapshot (and, on SQLite, holds the write lock from its first
    statement); on exit it commits, or rolls back if the block raised, so no lock outlives
    it. A nested block (or decorated function) joins the outer transaction and never ends
    it. Work registered with `after_write` runs after the outermost commit, with no lock
    held, and not at all after a rollback.
    """
    depth = _writing.get()
    if depth:
        token = _writing.set(depth + 1)
        try:
            yield
        finally:
            _writing.reset(token)
        return
    session = db.session()  # the scoped session's current Session
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError(f"{name} called with uncommitted changes")
        session.rollback()
    token = _writing.set(1)
    pending: list[Callable[[], None]] = []
    pending_token = _after_write.set(pending)
    bind = session.get_bind()
    writers = _writers.get(bind) if isinstance(bind, Engine) else None
    held = writers.acquire() if writers is not None else (False, False)
    try:
        try:
            yield
            if session.in_transaction():
                session.commit()
        except BaseException:
            session.rollback()
            raise
    finally:
        if writers is not None:
            writers.release(held)
        _writing.reset(token)
        _after_write.reset(pending_token)
    holding = _held.get()
    if holding is not None:
        holding.extend(pending)
        return
    for callback in pending:
        callback()


@contextmanager
def pipelined() -> Iterator[None]:
    """PostgreSQL: the statements of the block go to the server without waiting for each answer
    (psycopg's pipeline mode); the connection waits where a result is read, and at the end.
    Elsewhere, statements as usual. An error surfaces at one of those waits, and the write
    transaction rolls back whole as always."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    with driver.pipeline():
        yield


def write_transaction(func: Callable[P, R]) -> Callable[P, R]:
    """Make a service function one write transaction (see `transaction`)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction(func.__qualname__):
            return func(*args, **kwargs)

    return wrapper


def paginate(query: Select, *, page: int, per_page: int) -> Pagination:
    """One page of `query`; a page past the end shows the last one (a list that shrank under a link)."""
    result = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if result.pages and result.page > result.pages:
        result = db.paginate(query, page=result.pages, per_page=per_page, error_out=False)
    return result


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
    return rowcount(result) == 1


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched: `Session.execute` is typed as returning a plain Result."""
    return cast("CursorResult[Any]", result).rowcount


def insert_rows(
    table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...] = ()
) -> Result[Any] | None:
    """Rows of `table`, all with the same keys, in one statement in the current transaction;
    with `returning`, those columns of the new rows (in no particular order). On the session's
    connection: no autoflush of ORM objects comes first (its callers write rows, not objects).

    On PostgreSQL, the rows as one JSON document (INSERT … SELECT … FROM json_to_recordset):
    one parameter, encoded by the json module's C encoder and parsed by the server, with a
    query text that is the same for 2 rows or 200. SQLAlchemy's executemany sends the rows one
    by one (a message each, even in a pipeline); insertmanyvalues writes a parameter per value,
    which psycopg parses anew on every call once there are more than 50; and arrays, one per
    column, are escaped by psycopg element by element in Python (a regular expression per
    string: the emails' bodies are most of a sign-on's bytes). The columns' own bind
    processing (enums, UTC datetimes) applies as for any INSERT; a JSON column's value goes in
    as the document's own JSON. A key whose values are all None is left out (its column is
    NULL all the same) unless its column has a default of either kind. Python-side column
    defaults are SQLAlchemy's to add, into the SELECT (`include_defaults`), as into rows.
    Elsewhere: executemany, or insertmanyvalues with `returning`."""
    if not rows:
        return None
    dialect = db.session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            statement = statement.returning(*(table.c[key] for key in returning))
        return db.session.connection().execute(statement, rows)
    columns = tuple(
        key
        for key in rows[0]
        if table.c[key].default is not None
        or table.c[key].server_default is not None
        or any(row[key] is not None for row in rows)
    )
    processors = _bind_processors(table, columns, dialect)
    if processors:
        rows = [{**row, **{key: process(row[key]) for key, process in processors}} for row in rows]
    return db.session.connection().execute(
        _insert_json(table, columns, returning),
        {"rows": json.dumps(rows, separators=(",", ":"), default=_json_value)},
    )


def _json_value(value: Any) -> str:
    """What the json module cannot write itself: datetimes (already in UTC, see UTCDateTime)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form for insert_rows")


@functools.cache
def _bind_processors(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The columns whose values SQLAlchemy converts before sending them, with the conversion;
    a JSON column is left out: its value is the document's own JSON."""
    found = []
    for key in columns:
        column_type = table.c[key].type
        if isinstance(column_type, JSON):
            continue
        process = column_type.bind_processor(dialect)
        if process is not None:
            found.append((key, process))
    return tuple(found)


@functools.cache
def _insert_json(table: Table, columns: tuple[str, ...], returning: tuple[str, ...]) -> Insert:
    records = (
        func.json_to_recordset(bindparam("rows", type_=Text).cast(JSON))
        .table_valued(*(column(key, table.c[key].type) for key in columns))
        .render_derived(name="r", with_types=True)
    )
    statement = insert(table).from_select(list(columns), select(*records.c))
    return statement.returning(*(table.c[key] for key in returning)) if returning else statement
