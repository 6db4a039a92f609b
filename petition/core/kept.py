"""Reads a process keeps for PAGE_FRESH_SECONDS, as it keeps public pages (core/caching.py).

Within that moment a change made in another process shows that much later; the process that
makes a change calls `forget` and sees it at once. With PAGE_FRESH_SECONDS 0 (the default)
every call reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")


def kept(name: str, key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, or what it returned for (`name`, `key`) less than PAGE_FRESH_SECONDS ago."""
    fresh = current_app.config.get("PAGE_FRESH_SECONDS", 0)
    if not fresh:
        return read()
    reads: dict = current_app.extensions.setdefault("kept_reads", {})
    hit = reads.get((name, key))
    if hit is not None and time.monotonic() - hit[0] < fresh:
        return hit[1]
    value = read()
    reads[(name, key)] = (time.monotonic(), value)
    return value


def forget(name: str) -> None:
    """Drop what is kept under `name`: the next call reads."""
    reads: dict = current_app.extensions.get("kept_reads", {})
    for found in [k for k in reads if k[0] == name]:
        reads.pop(found, None)
