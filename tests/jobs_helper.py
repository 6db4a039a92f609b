"""Module-level job functions for the job runner tests (RQ imports jobs by dotted name)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app


def write_marker(path: str, text: str) -> str:
    """Write `text` and the running app's JOBS_MARKER setting: proof the job had an app context."""
    line = f"{text}:{current_app.config.get('JOBS_MARKER', '')}"
    Path(path).write_text(line, encoding="utf-8")
    return line


def write_time(path: str) -> None:
    """Write when the job ran (time.time())."""
    import time

    Path(path).write_text(repr(time.time()), encoding="utf-8")
