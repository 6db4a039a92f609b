"""core/db.py ping_when_idle: a server's pooled connection is tested only after a wait in the
pool, and one that died while it waited is replaced before anyone uses it."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import create_engine, text

from petition.core.db import PING_AFTER_IDLE_SECONDS, ping_when_idle
from petition.extensions import db

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
    ping_when_idle(engine, idle_seconds=0.2)
    engine.pings = pings  # type: ignore[attr-defined]
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_used_moments_ago_is_not_pinged(engine) -> None:
    first = backend_pid(engine)
    for _ in range(5):
        assert backend_pid(engine) == first  # the same pooled connection, every time
    assert engine.pings == []


def test_a_connection_that_died_while_idle_is_replaced_before_use(engine, database_url) -> None:
    dead = backend_pid(engine)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
    time.sleep(0.3)  # longer than idle_seconds
    replaced = backend_pid(engine)  # a dead connection here would raise
    assert replaced != dead
    assert engine.pings == [1]


def test_the_app_replaces_a_connection_that_died_between_two_requests(app, database_url) -> None:
    """The application's engine tests a connection after PING_AFTER_IDLE_SECONDS in the pool
    (SQLAlchemy's pool_pre_ping, a round trip in every transaction, is off)."""
    assert not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
    with app.app_context():
        dead = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()  # the end of a request: the connection goes back to the pool
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)
        replaced = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert replaced != dead
