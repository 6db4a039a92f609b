"""/healthz: whether the database, the queue, the housekeeping and the PDFs are fine, for monitors."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from .extensions import db
from .models import utcnow
from .statements.service import open_statements

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    result: dict = {"status": "ok"}
    status = 200
    try:
        db.session.execute(text("SELECT 1"))
        result["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        result["database"] = f"error: {type(exc).__name__}"
        result["status"] = "error"
        status = 503
    if current_app.config.get("REDIS_URL"):
        try:
            from redis import Redis

            Redis.from_url(
                current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2
            ).ping()
            result["queue"] = "ok"
        except Exception as exc:  # noqa: BLE001
            result["queue"] = f"error: {type(exc).__name__}"
            result["status"] = "error"
            status = 503
    else:
        result["queue"] = "in-process"
    if result["database"] == "ok":
        from . import housekeeping
        from .pdf import builds

        # When the periodic housekeeping last ran (recorded in the database, so every host
        # sees the whole deployment's schedule) and whether it is overdue.
        result["housekeeping"] = housekeeping.status()
        if result["housekeeping"]["overdue"] and result["status"] == "ok":
            result["status"] = "degraded"

        ages = {}
        for st in open_statements():
            latest = builds.latest_version(st)
            ages[st.slug] = (
                round((utcnow() - latest.created_at).total_seconds()) if latest else None
            )
        result["pdf_age_seconds"] = ages
        stale = builds.stale_pdfs()
        if stale:
            # The served PDF is older than the list (a failed or lost build): still serving.
            result["pdf_stale"] = stale
            if result["status"] == "ok":
                result["status"] = "degraded"
    return Response(json.dumps(result), status=status, mimetype="application/json")
