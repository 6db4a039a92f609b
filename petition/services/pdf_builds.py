"""Published PDF builds of a statement: which one is current."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import PdfVersion, Statement


def latest_version(statement: Statement) -> PdfVersion | None:
    """The newest published build; None until the first one exists (or while under embargo)."""
    return db.session.scalar(
        select(PdfVersion)
        .where(PdfVersion.statement_id == statement.id)
        .order_by(PdfVersion.number.desc())
        .limit(1)
    )
