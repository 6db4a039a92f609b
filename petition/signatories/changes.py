"""The public record of a statement's changes, day by day: organisations that joined (as the list
publishes them today: one that withdrew or was unpublished since is gone from its day), how many
withdrew, statement versions published, PDF versions built; and the Atom feeds beside it.

Everything comes from stored timestamps (approved_at, withdrawn_at, created_at), not from the
audit log. The page shows a bounded number of days; an older page starts before a given day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    CampaignUpdate,
    PdfVersion,
    Signature,
    SignatureState,
    Statement,
    StatementVersion,
)
from .service import latest_public, public_query

#: Days with something to show per page, and names shown per day (the rest is a count).
DAYS_PER_PAGE = 30
NAMES_PER_DAY = 100
#: Entries in the new-signatories feed.
FEED_ENTRIES = 50


@dataclass
class Day:
    day: date
    joined: list[Signature] = field(default_factory=list)
    joined_count: int = 0
    withdrawn: int = 0
    statement_versions: list[StatementVersion] = field(default_factory=list)
    pdf_versions: list[PdfVersion] = field(default_factory=list)

    @property
    def more_joined(self) -> int:
        return self.joined_count - len(self.joined)


@dataclass
class Record:
    days: list[Day]
    older_before: date | None  # the next page's `before`, when there are older days


def _as_date(value) -> date:
    """func.date() answers a date on PostgreSQL and 'YYYY-MM-DD' on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _utc_day(column):
    """The UTC calendar day of a timestamp column (PostgreSQL would use the session's zone)."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _per_day(column, *where) -> dict[date, int]:
    day = _utc_day(column)
    rows = db.session.execute(select(day, func.count()).where(*where).group_by(day)).all()
    return {_as_date(d): n for d, n in rows if d is not None}


def changes(statement: Statement, before: date | None = None) -> Record:
    """The days with activity before `before` (or up to today), newest first."""
    joined: dict[date, int] = {}
    withdrawn: dict[date, int] = {}
    if statement.is_list_public():
        joined = _per_day(
            Signature.approved_at,
            Signature.statement_id == statement.id,
            Signature.state == SignatureState.APPROVED,
        )
        # Only endorsements the list had published: one withdrawn before approval never showed.
        withdrawn = _per_day(
            Signature.withdrawn_at,
            Signature.statement_id == statement.id,
            Signature.state == SignatureState.WITHDRAWN,
            Signature.approved_at.is_not(None),
        )
    versions: dict[date, list[StatementVersion]] = defaultdict(list)
    for version in db.session.scalars(
        select(StatementVersion)
        .where(StatementVersion.statement_id == statement.id)
        .order_by(StatementVersion.number.desc())
    ):
        versions[version.created_at.astimezone(UTC).date()].append(version)
    pdfs: dict[date, list[PdfVersion]] = defaultdict(list)
    if statement.is_list_public():
        for pdf in db.session.scalars(
            select(PdfVersion)
            .where(PdfVersion.statement_id == statement.id)
            .order_by(PdfVersion.number.desc())
        ):
            pdfs[pdf.created_at.astimezone(UTC).date()].append(pdf)
    all_days = sorted({*joined, *withdrawn, *versions, *pdfs}, reverse=True)
    if before is not None:
        all_days = [d for d in all_days if d < before]
    shown, rest = all_days[:DAYS_PER_PAGE], all_days[DAYS_PER_PAGE:]
    days = []
    for day in shown:
        entry = Day(
            day,
            joined_count=joined.get(day, 0),
            withdrawn=withdrawn.get(day, 0),
            statement_versions=versions.get(day, []),
            pdf_versions=pdfs.get(day, []),
        )
        if entry.joined_count:
            start, end = _day_bounds(day)
            approved_that_day = public_query(statement).where(
                Signature.approved_at >= start, Signature.approved_at < end
            )
            entry.joined = list(db.session.scalars(approved_that_day.limit(NAMES_PER_DAY)))
        days.append(entry)
    return Record(days, shown[-1] if rest else None)


def changes_state(statement: Statement) -> tuple:
    """Part of the ETags of the record and the feeds: the list, the versions, the updates."""
    pdf = db.session.execute(
        select(func.count(PdfVersion.id), func.max(PdfVersion.id)).where(
            PdfVersion.statement_id == statement.id
        )
    ).one()
    updates = db.session.execute(
        select(func.count(CampaignUpdate.id), func.max(CampaignUpdate.updated_at)).where(
            CampaignUpdate.statement_id == statement.id
        )
    ).one()
    return (*pdf, *updates)


def newest_signatories(statement: Statement, limit: int = FEED_ENTRIES) -> list[Signature]:
    return latest_public(statement, limit, with_initiators=True)
