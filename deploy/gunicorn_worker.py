"""A gunicorn gthread worker that never lends a thread to a client still sending its request.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and the
thread then blocks until the request line and headers are complete, with no time limit. A handful of
clients that send half a request and stop (slowloris) hold every thread: the site stops answering.
This worker reads the request without blocking, on the worker's event loop: bytes are gathered as
they arrive, the connection waits in the poller between them, and only a complete request (its head,
and a body of announced length up to 1 MiB) goes to a thread. A head that takes longer than
GUNICORN_HEADER_TIMEOUT seconds in all (a byte every few seconds is no loophole), or a body longer
than GUNICORN_BODY_TIMEOUT after it, closes the connection. nginx in front does the same with
`client_header_timeout` and `client_body_timeout`; this keeps gunicorn safe when reached directly.

It also takes a new connection only while it has a thread free for it. gunicorn's worker accepts
whenever the listening socket is readable, so the first process to wake could take every
connection of a burst: 16 persistent connections (a load test's, or nginx's upstream keepalive
pool) all went to one process in four runs out of six here, and the other process, with its own
core, idled. A worker whose threads are all taken or about to be (see `_claimed`) now leaves the
socket to the others; the connection waits in the kernel's backlog until some thread is free.
A connection trickling its request holds no thread and does not count, so slow clients cannot
close the door either.
"""

from __future__ import annotations

import os
import time

from gunicorn.workers import gthread

# Seconds a client has to send its whole request line and headers, from its first byte.
HEADER_TIMEOUT = float(os.environ.get("GUNICORN_HEADER_TIMEOUT") or 10)
# Seconds, from the end of the head, to send a body of announced length (buffered likewise).
BODY_TIMEOUT = float(os.environ.get("GUNICORN_BODY_TIMEOUT") or 30)
# How long a connection that has sent nothing yet counts as taking a thread (see _claimed).
FRESH_CONNECTION_SECONDS = float(os.environ.get("GUNICORN_FRESH_CONNECTION_SECONDS") or 0.25)
# A head larger than this is handed to gunicorn's parser as it is, which answers it with a 4xx.
MAX_HEAD_BYTES = 64 * 1024
# Bodies up to this size are gathered before the request goes to a thread (nginx's
# client_max_body_size); larger ones, chunked ones and `Expect: 100-continue` go as they are.
MAX_BUFFERED_BODY = 1024 * 1024


class HeadFirstThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Connections handed to the thread pool and not yet back (the event loop's thread alone
        # counts them: gunicorn calls enqueue_req and finish_request there).
        self.jointly_busy = 0

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self._claimed() < self.cfg.threads)

    def _claimed(self) -> int:
        """Threads taken or about to be: the connections in the thread pool, and for their first
        FRESH_CONNECTION_SECONDS after being parked, those that have sent nothing yet and those
        kept alive after an answer. A burst's connections are accepted before their requests
        arrive, and a quick answer parks a connection before the next one is accepted; without
        counting both, the process that woke first could take every connection of a burst and
        the next request on each. Past that time they count no more, and a connection that has
        sent part of a request never does: a client that connects and says nothing, or an idle
        keep-alive connection, holds the door shut briefly; one that trickles its request
        (slowloris) not at all."""
        claimed, since = self.jointly_busy, time.monotonic() - FRESH_CONNECTION_SECONDS
        for parked, counts in (
            (self.pending_conns, lambda conn: not getattr(conn, "jointly_received", None)),
            (self.keepalived_conns, lambda conn: True),
        ):
            for conn in reversed(parked):  # parked in this order, each for `keepalive` seconds
                if conn.timeout - self.cfg.keepalive < since:
                    break
                claimed += counts(conn)
        return claimed

    def enqueue_req(self, conn):
        self.jointly_busy += 1
        super().enqueue_req(conn)
        self._accept_if_free()

    def finish_request(self, conn, fs):
        self.jointly_busy -= 1
        super().finish_request(conn, fs)  # may hand the connection to a thread again
        self._accept_if_free()

    def _accept_if_free(self) -> None:
        self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def handle(self, conn):
        if self.cfg.is_ssl or conn.is_http2:
            return super().handle(conn)
        parser = conn.parser
        if parser is not None and parser.unreader.buf.getbuffer().nbytes:
            # A pipelined request already read: gunicorn's own path handles it.
            return super().handle(conn)
        state = _gather_request(conn)
        if state is _CLOSE:
            return False
        if state is _WAIT:
            return gthread._DEFER
        received = conn.jointly_received
        conn.jointly_received = conn.jointly_deadline = conn.jointly_size = None
        conn.data_ready = True  # the request is in hand: no waiting for data in the thread
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(bytes(received))
        return super().handle(conn)


_WAIT = object()
_READY = object()
_CLOSE = object()


def _gather_request(conn) -> object:
    """Read what the socket holds without blocking; say whether the request is complete."""
    received = getattr(conn, "jointly_received", None)
    if received is None:
        received = conn.jointly_received = bytearray()
        conn.jointly_deadline = time.monotonic() + HEADER_TIMEOUT
        conn.jointly_size = None  # known once the head is complete
    try:
        conn.sock.setblocking(False)
        while len(received) < (conn.jointly_size or MAX_HEAD_BYTES):
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                break  # all there is for now
            if not data:
                return _CLOSE  # the client went away
            received += data
            if conn.jointly_size is None and (size := _request_size(received)) is not None:
                conn.jointly_size = size
                conn.jointly_deadline = time.monotonic() + BODY_TIMEOUT
    except (OSError, ValueError):
        return _CLOSE  # reset, or already closed
    if len(received) >= (conn.jointly_size or MAX_HEAD_BYTES):
        return _READY
    if time.monotonic() >= conn.jointly_deadline:
        return _CLOSE
    # Back to the poller: a later byte brings the connection to a thread again; silence past the
    # keep-alive timeout closes it there.
    conn.data_ready = False
    return _WAIT


def _request_size(received: bytearray) -> int | None:
    """The bytes the request takes up to the end of a body we buffer; None while the head is open."""
    ends = [
        (index + len(marker))
        for marker in (b"\r\n\r\n", b"\n\n")
        if (index := received.find(marker)) >= 0
    ]
    if not ends:
        return None
    head_end = min(ends)
    body = 0
    for line in bytes(received[:head_end]).split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"transfer-encoding" or (name == b"expect" and value == b"100-continue"):
            return head_end  # the thread reads it as it comes, as gunicorn always does
        if name == b"content-length" and value.isdigit():
            body = int(value)
    return head_end + (body if body <= MAX_BUFFERED_BODY else 0)
