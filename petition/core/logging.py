"""Logs carry no personal data and no emailed secret: tokens in link paths and email addresses are masked.

Installed once per process by create_app (and by gunicorn's configuration, which may reference
`petition.core.logging.install`, `RedactingFilter` and `ACCESS_LOG_FORMAT`). The masking happens
when a record is made, so every logger and handler sees the masked text: the root logger, werkzeug's
request log, gunicorn's access and error logs, and pytest's caplog alike.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# /confirm/<token>, /withdraw/<token>, /manage/<token>, /manage/email/<token>, /unsubscribe/<token>,
# /staff/password/set/<token> (and anything after them). tests/test_core_logging.py walks the URL
# map: a new route with a <token> fails there until it is listed here and in nginx's map.
_TOKEN_PATH = re.compile(
    r"(/(?:confirm|withdraw|manage(?:/email)?|unsubscribe|staff/password/set)/)[^\s\"'<>]+",
    re.IGNORECASE,
)
# Anything shaped like an address, in any script (local parts and domains may be non-ASCII).
_EMAIL = re.compile(r"[^\s@\"'<>(),;:\[\]]+@[^\s@\"'<>(),;:\[\]]+\.[^\s@\"'<>(),;:\[\]]+")
# A word holding percent-encoding: "?q=anna%40example.org" is an address once decoded.
_ENCODED_WORD = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")
# The query string of an HTTP request line ("GET /staff/signatures?q=Anna+Nowak HTTP/1.1", as
# werkzeug logs it): a search may hold a name or an address, so request lines keep the path only.
_REQUEST_QUERY = re.compile(r"([A-Z]{3,10} [^\s\"?]*)\?[^\s\"]*(?= HTTP/\d)")
# PostgreSQL's error detail quotes the values ("Failing row contains (…)", "Key (email)=(…)").
_PG_DETAIL = re.compile(r"(DETAIL:\s*).*")
MASK_TOKEN = r"\1[token]"
MASK_EMAIL = "[email]"

# gunicorn's default access-log format without the query string (%(U)s is the path only; a query
# could carry anything), with the referrer left out (a confirm page is its own referrer). The
# path still goes through the masking of tokens.
ACCESS_LOG_FORMAT = '%(h)s - - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'


def _decoded_email(match: re.Match[str]) -> str:
    word = match.group(0)
    decoded = unquote_plus(word)
    return _EMAIL.sub(MASK_EMAIL, decoded) if _EMAIL.search(decoded) else word


def redact(text: str) -> str:
    """The text with request lines' query strings dropped, and tokens in link paths and email
    addresses (percent-encoded ones too) masked."""
    if "?" in text and " HTTP/" in text:
        text = _REQUEST_QUERY.sub(r"\1", text)
    if "%" in text:
        text = _ENCODED_WORD.sub(_decoded_email, text)
    if "@" in text:
        text = _EMAIL.sub(MASK_EMAIL, text)
    if "/" in text:
        text = _TOKEN_PATH.sub(MASK_TOKEN, text)
    if "DETAIL:" in text:
        text = _PG_DETAIL.sub(r"\1[values hidden]", text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record in place: its message (arguments merged in) and its traceback text."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logged as its bare format
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        # Exceptions carry values too (PostgreSQL's "Key (email)=(…) already exists").
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """The same masking for a handler or logger configured elsewhere (logging.config, gunicorn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False


def install() -> None:
    """Mask every record this process makes, whichever logger makes it (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
