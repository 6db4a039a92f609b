"""Reading the audit trail: filters, pages and the CSV export. (Writing is services.audit.record.)"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, select

from ..core.db import paginate
from ..extensions import db
from ..models import AuditEvent, Statement
from ..signatories.service import write_csv

CSV_FIELDS = (
    "id",
    "created_at",
    "actor_type",
    "actor",
    "action",
    "statement",
    "signature_id",
    "from_state",
    "to_state",
    "before",
    "after",
    "detail",
)


@dataclass
class AuditFilter:
    action: str = ""
    actor: str = ""
    signature_id: int | None = None
    statement_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    per_page: int = 100


def _printable(text: str) -> str:
    # Filters come from the query string; PostgreSQL refuses NUL in a text parameter.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _query(flt: AuditFilter) -> Select:
    query = select(AuditEvent)
    action, actor = _printable(flt.action), _printable(flt.actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(
            func.lower(AuditEvent.actor_label).contains(actor.lower(), autoescape=True)
        )
    if flt.signature_id is not None:
        query = query.where(AuditEvent.signature_id == flt.signature_id)
    if flt.statement_id is not None:
        query = query.where(AuditEvent.statement_id == flt.statement_id)
    if flt.date_from:
        query = query.where(AuditEvent.created_at >= datetime.combine(flt.date_from, time(), UTC))
    if flt.date_to and flt.date_to < date.max:  # up to 9999-12-31 is no upper bound at all
        end = datetime.combine(flt.date_to + timedelta(days=1), time(), UTC)
        query = query.where(AuditEvent.created_at < end)
    return query


def search(flt: AuditFilter) -> Pagination:
    query = _query(flt).order_by(AuditEvent.id.desc())
    return paginate(query, page=flt.page, per_page=flt.per_page)


def actions() -> list[str]:
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value is not None else ""


def export_csv(flt: AuditFilter) -> Iterator[str]:
    slugs: dict[int | None, str] = dict(
        db.session.execute(select(Statement.id, Statement.slug)).tuples().all()
    )
    rows = db.session.scalars(_query(flt).order_by(AuditEvent.id).execution_options(yield_per=1000))

    def as_row(event: AuditEvent) -> dict:
        return {
            "id": event.id,
            "created_at": event.created_at.isoformat() if event.created_at else "",
            "actor_type": event.actor_type,
            "actor": event.actor_label,
            "action": event.action,
            "statement": slugs.get(event.statement_id, ""),
            "signature_id": event.signature_id or "",
            "from_state": event.from_state or "",
            "to_state": event.to_state or "",
            "before": _json(event.before),
            "after": _json(event.after),
            "detail": event.detail,
        }

    return write_csv((as_row(e) for e in rows), CSV_FIELDS)
