"""Emailed secrets: 256 bits from `secrets`, only their SHA-256 stored."""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def new_token() -> tuple[str, str]:
    """Return (token for the link, hash for the database)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check, so forged junk never reaches the database."""
    return bool(_TOKEN_RE.match(token or ""))
