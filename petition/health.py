"""/healthz: whether the database, the queue, the housekeeping and the PDFs are fine, for monitors."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from .extensions import db
from .models import utcnow
from .statements.service import all_statements

bp = Blueprint("health", __name__)


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return f"error: {type(exc).__name__}"
    return "ok"


def _queue() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "in-process"
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


def _pdf_ages() -> dict[str, int | None]:
    """Seconds since each statement's newest PDF was built (None: never built)."""
    from .pdf import builds

    ages: dict[str, int | None] = {}
    for statement in all_statements():
        latest = builds.latest_version(statement)
        ages[statement.slug] = (
            round((utcnow() - latest.created_at).total_seconds()) if latest else None
        )
    return ages


def _stale_pdfs():
    from .pdf import builds

    return builds.stale_pdfs()


def health_report() -> tuple[dict, bool]:
    """The report /healthz shows, and whether everything it depends on answers.

    An overdue housekeeping run or a PDF older than its list makes the status "degraded" but
    the check still passes: the site serves, and the report says what to look at.
    """
    from . import housekeeping

    report: dict = {"status": "ok", "database": _database(), "queue": _queue()}
    healthy = not any(report[part].startswith("error") for part in ("database", "queue"))
    if not healthy:
        report["status"] = "error"
    if report["database"] == "ok":
        # When the periodic housekeeping last ran (recorded in the database, so every host
        # sees the whole deployment's schedule) and whether it is overdue.
        report["housekeeping"] = housekeeping.status()
        if report["housekeeping"]["overdue"] and healthy:
            report["status"] = "degraded"
        report["pdf_age_seconds"] = _pdf_ages()
        stale = _stale_pdfs()
        if stale:
            # The served PDF is older than the list (a failed or lost build): still serving.
            report["pdf_stale"] = stale
            if report["status"] == "ok":
                report["status"] = "degraded"
    return report, healthy


@bp.get("/healthz")
def healthz():
    report, healthy = health_report()
    return Response(json.dumps(report), status=200 if healthy else 503, mimetype="application/json")
