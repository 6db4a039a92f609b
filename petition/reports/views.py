"""Dashboard, audit log and staff exports."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for

from ..core import outbox
from ..core.forms import ButtonForm
from ..core.http import whole_number
from ..extensions import db
from ..models import Statement
from ..staff.access import actor
from ..statements.service import StatementNotFound, all_statements, get_statement
from . import audit_log, bp, exports
from . import dashboard as figures


@bp.get("/")
def dashboard():
    statement_id = request.args.get("statement", type=whole_number) or None
    statements = all_statements()
    chosen = db.session.get(Statement, statement_id) if statement_id else None
    scope = chosen.id if chosen else None
    days = figures.per_day(scope)
    return render_template(
        "staff/dashboard.html",
        statements=statements,
        chosen=chosen,
        counts=figures.state_counts(scope),
        days=days,
        chart=figures.day_chart(days),
        countries=figures.by_country(scope),
        all_countries=request.args.get("countries") == "all",
        types=figures.by_type(scope),
        outbox=figures.outbox_summary(),
        button=ButtonForm(formdata=None),
    )


@bp.post("/outbox/<id:message_id>/retry")
def outbox_retry(message_id: int):
    """Send a failed or uncertain message again."""
    if outbox.send_again(message_id, actor()):
        flash(f"Message {message_id} is queued again.", "success")
    else:
        flash(
            f"Message {message_id} is not a failed or uncertain message; nothing to retry.", "info"
        )
    return redirect(url_for("reports.dashboard") + "#outbox", 303)


@bp.post("/outbox/<id:message_id>/mark-sent")
def outbox_mark_sent(message_id: int):
    """An uncertain message did arrive (the recipient or the relay's log says so)."""
    if outbox.mark_sent(message_id, actor()):
        flash(f"Message {message_id} is marked as sent; it will not be sent again.", "success")
    else:
        flash(f"Message {message_id} is not an uncertain message; nothing changed.", "info")
    return redirect(url_for("reports.dashboard") + "#outbox", 303)


# ---------------------------------------------------------------- audit log


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat((request.args.get(name) or "").strip())
    except ValueError:
        return None


def _audit_filter() -> audit_log.AuditFilter:
    return audit_log.AuditFilter(
        action=(request.args.get("action") or "").strip()[:50],
        actor=(request.args.get("actor") or "").strip()[:100],
        signature_id=request.args.get("signature", type=whole_number) or None,
        statement_id=request.args.get("statement", type=whole_number) or None,
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        page=min(request.args.get("page", 1, type=whole_number), 1_000_000),
    )


@bp.get("/audit")
def audit():
    flt = _audit_filter()
    return render_template(
        "staff/audit.html",
        flt=flt,
        page=audit_log.search(flt),
        actions=audit_log.actions(),
        statements={s.id: s for s in all_statements()},
    )


@bp.get("/audit.csv")
def audit_csv():
    body = "".join(audit_log.export_csv(_audit_filter()))
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- staff export


@bp.get("/export/<slug>.<any(csv, xlsx):fmt>")
@bp.get("/export/<slug>/<any(all, approved, delivery):kind>.<any(csv, xlsx):fmt>")
def export(slug: str, fmt: str, kind: str = "all"):
    try:
        statement = get_statement(slug)
    except StatementNotFound:
        abort(404, description="There is no statement with that name.")
    chosen = exports.EXPORT_SETS[kind]
    body = exports.render(chosen.rows(statement), chosen.fields, fmt, kind)
    exports.record_export(statement, chosen.title, fmt, actor())
    suffix = {"all": "all-fields", "approved": "approved", "delivery": "delivery-list"}[kind]
    return exports.response(body, fmt, f"signatures-{statement.slug}-{suffix}")
