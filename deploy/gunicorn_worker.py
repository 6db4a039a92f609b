"""A gunicorn gthread worker that never lends a thread to a client still sending its request head.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and the
thread then blocks until the request line and headers are complete, with no time limit. A handful of
clients that send half a request and stop (slowloris) hold every thread: the site stops answering.
This worker reads the head without blocking, on the worker's event loop: bytes are gathered as they
arrive, the connection waits in the poller between them, and only a complete head is parsed in a
thread. A head that takes longer than `header_timeout` seconds in all (a byte every few seconds is
no loophole) closes the connection. nginx in front does the same with `client_header_timeout`; this
keeps gunicorn safe when it is reached directly.
"""

from __future__ import annotations

import os
import time

from gunicorn.workers import gthread

# Seconds a client has to send its whole request line and headers, from its first byte.
HEADER_TIMEOUT = float(os.environ.get("GUNICORN_HEADER_TIMEOUT") or 10)
# A head larger than this is handed to gunicorn's parser as it is, which answers it with a 4xx.
MAX_HEAD_BYTES = 64 * 1024
_END_OF_HEAD = (b"\r\n\r\n", b"\n\n")


class HeadFirstThreadWorker(gthread.ThreadWorker):
    def handle(self, conn):
        if self.cfg.is_ssl or conn.is_http2:
            return super().handle(conn)
        parser = conn.parser
        if parser is not None and parser.unreader.buf.getbuffer().nbytes:
            # A pipelined request already read: gunicorn's own path handles it.
            return super().handle(conn)
        state = _gather_head(conn)
        if state is _CLOSE:
            return False
        if state is _WAIT:
            return gthread._DEFER
        head = conn.jointly_head
        conn.jointly_head = None
        conn.jointly_deadline = None
        conn.data_ready = True  # the head is in hand: no waiting for data in the thread
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(bytes(head))
        return super().handle(conn)


_WAIT = object()
_READY = object()
_CLOSE = object()


def _gather_head(conn) -> object:
    """Read what the socket holds without blocking; say whether the head is complete."""
    head = getattr(conn, "jointly_head", None)
    if head is None:
        head = conn.jointly_head = bytearray()
        conn.jointly_deadline = time.monotonic() + HEADER_TIMEOUT
    try:
        conn.sock.setblocking(False)
        while len(head) < MAX_HEAD_BYTES:
            try:
                data = conn.sock.recv(8192)
            except BlockingIOError:
                break  # all there is for now
            if not data:
                return _CLOSE  # the client went away
            head += data
    except (OSError, ValueError):
        return _CLOSE  # reset, or already closed
    if len(head) >= MAX_HEAD_BYTES:
        return _READY
    if any(marker in head for marker in _END_OF_HEAD):
        return _READY
    if time.monotonic() >= conn.jointly_deadline:
        return _CLOSE
    # Back to the poller: a later byte brings the connection to a thread again; silence past the
    # keep-alive timeout closes it there.
    conn.data_ready = False
    return _WAIT
