"""Slow and idle clients cannot take the site down: gunicorn with the shipped gunicorn.conf.py, no proxy.

With sync workers, two sockets that sent half a request head stopped every answer for ~40 s. The
shipped configuration reads request heads on the worker's event loop, so such sockets hold no
thread, and a head that takes too long closes the connection.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.servers import (
    PARTIAL_HEAD,
    SLUG,
    answers,
    assert_site_answers,
    connections_by_process,
    open_slow_sockets,
    site_database,
    start_gunicorn,
    stop,
    wait_until,
    warm_up,
)


@contextlib.contextmanager
def serving(tmp_path: Path, tmp_path_factory, **settings: str):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'slow.db'}",
        "SECRET_KEY": "slow-clients-test",
        "PDF_DIR": str(tmp_path / "pdf"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(free_port()),  # nothing listens: no mail leaves this test
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        "GUNICORN_HEADER_TIMEOUT": "3",
        "GUNICORN_BODY_TIMEOUT": "3",
        **settings,
    }
    site_database(tmp_path / "slow.db", tmp_path_factory)  # migrated and seeded
    log = tmp_path / "gunicorn.log"
    server = start_gunicorn(env, port, log)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}"), 30, "gunicorn to answer")
        warm_up(port)
        yield port, log
    finally:
        stop([server])


@pytest.fixture(scope="module")
def gunicorn_alone(tmp_path_factory):
    """The shipped configuration as it is (workers sized to this machine's cores)."""
    with serving(tmp_path_factory.mktemp("gunicorn"), tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def two_by_four(tmp_path_factory):
    """The shipped configuration with 2 workers of 4 threads: few threads, easy to exhaust."""
    tmp_path = tmp_path_factory.mktemp("two-by-four")
    with serving(tmp_path, tmp_path_factory, WEB_CONCURRENCY="2", GUNICORN_THREADS="4") as running:
        yield running


def test_eight_slow_header_sockets_do_not_stop_the_site(gunicorn_alone):
    port, _log = gunicorn_alone
    sockets = open_slow_sockets(port, 8)
    try:
        time.sleep(0.5)  # the server has taken them all in
        assert_site_answers(port)
    finally:
        for sock in sockets:
            sock.close()


def test_more_slow_sockets_than_threads_hold_no_thread(two_by_four):
    # Twice as many half-sent heads as threads, and idle sockets besides.
    port, _log = two_by_four
    sockets = open_slow_sockets(port, 16) + open_slow_sockets(port, 8, head=b"")
    try:
        time.sleep(0.5)
        assert_site_answers(port)
    finally:
        for sock in sockets:
            sock.close()


def test_slow_bodies_hold_no_thread_either(two_by_four):
    port, _log = two_by_four
    head = (
        f"POST /statements/{SLUG}/sign HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n"
        "csrf_token=x&organisation_name=Slow"
    ).encode()
    sockets = open_slow_sockets(port, 16, head=head)
    try:
        time.sleep(0.5)
        assert_site_answers(port)
        # GUNICORN_BODY_TIMEOUT is 3 s here: the unfinished bodies are given up, not answered.
        for sock in sockets[:2]:
            sock.settimeout(8)
            assert sock.recv(1) == b""
    finally:
        for sock in sockets:
            sock.close()


def test_a_head_trickled_byte_by_byte_is_cut_off_at_the_header_timeout(gunicorn_alone):
    port, _log = gunicorn_alone
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        closed_after = None
        # A byte every 0.5 s never completes the head; GUNICORN_HEADER_TIMEOUT is 3 s here.
        for byte in PARTIAL_HEAD * 4:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            time.sleep(0.5)
            if time.monotonic() - started > 15:
                break
        if closed_after is None:
            sock.settimeout(1)
            try:
                assert sock.recv(1) == b""
            except OSError:
                pass
            closed_after = time.monotonic() - started
    assert 2.5 < closed_after < 8, f"closed after {closed_after:.1f} s"


def test_a_silent_connection_is_closed_after_the_keep_alive(gunicorn_alone):
    port, _log = gunicorn_alone
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        # keepalive is 5 s in gunicorn.conf.py; the worker's loop checks once a second.
        assert 4 < time.monotonic() - started < 9


def test_heads_and_bodies_in_pieces_and_kept_alive_connections_still_work(gunicorn_alone):
    port, log = gunicorn_alone
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        # A head in three pieces, with pauses: answered once complete.
        for piece in (b"GET /healthz HT", b"TP/1.1\r\nHost: local", b"host\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        first = _read_response(sock)
        assert first.startswith(b"HTTP/1.1 200") and b'"database": "ok"' in first
        # The same connection, kept alive: a POST whose body comes after a pause.
        body = b"csrf_token=nope&organisation_name=X"
        sock.sendall(
            f"POST /statements/{SLUG}/sign HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        time.sleep(0.3)
        sock.sendall(body)
        second = _read_response(sock)
        # Parsed as a whole form: refused for its missing CSRF token, not a broken request.
        assert second.split(b" ", 2)[1] in (b"400", b"422"), second[:200]
    assert "Traceback" not in log.read_text()


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_a_burst_of_connections_is_spread_over_the_workers(tmp_path_factory):
    """A worker takes a connection only while it has a thread for it (deploy/gunicorn_worker.py),
    so a burst of persistent connections cannot all land in the process that woke first while
    the other idles. On 2 workers of 4 threads: eight connections opened one after another, each
    answered and kept alive, are held 4 and 4; twelve at once are too, the other 4 wait in the
    kernel's backlog, and every one is answered once it asks. (A connection that has sent
    nothing, or was just answered, counts for GUNICORN_FRESH_CONNECTION_SECONDS, 5 s here.)"""
    tmp_path = tmp_path_factory.mktemp("burst")
    settings = {
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_FRESH_CONNECTION_SECONDS": "5",
    }
    with serving(tmp_path, tmp_path_factory, **settings) as (port, log):
        time.sleep(1)  # warm_up's own connections are gone
        # One after another, each answered and kept alive before the next connects: a worker
        # that answers quickly still counts those as its threads' for a while.
        kept = []
        for _ in range(8):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")
            kept.append(sock)
        held = connections_by_process(port)
        assert sorted(held.values()) == [4, 4], held
        for sock in kept:
            sock.close()
        wait_until(lambda: not connections_by_process(port), 10, "the kept connections to close")
        time.sleep(5)  # and their time as fresh ones to pass
        # All at once, before any request.
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(12)]
        try:
            deadline = time.monotonic() + 3
            while sum(connections_by_process(port).values()) < 8 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # time to take more, were any worker willing
            held = connections_by_process(port)
            assert sorted(held.values()) == [4, 4], held
            for sock in sockets:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            for sock in sockets:
                assert _read_response(sock).startswith(b"HTTP/1.1 200")
        finally:
            for sock in sockets:
                sock.close()
    assert "Traceback" not in log.read_text()
