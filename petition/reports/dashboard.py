"""Figures for the staff dashboard: counts by state, day, country and type; the mail outbox; a chart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ..core.validation import country_display_name
from ..extensions import db
from ..models import (
    ORGANISATION_TYPE_LABELS,
    OrganisationType,
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureState,
    utcnow,
)


def _scoped(query, statement_id: int | None):
    return query.where(Signature.statement_id == statement_id) if statement_id else query


def state_counts(statement_id: int | None = None) -> dict[str, int]:
    counts = {state.value: 0 for state in SignatureState}
    rows = db.session.execute(
        _scoped(select(Signature.state, func.count()), statement_id).group_by(Signature.state)
    )
    for state, n in rows:
        counts[SignatureState(state).value] = n
    return counts


@dataclass(frozen=True)
class DayCount:
    day: date
    submitted: int
    approved: int


def per_day(statement_id: int | None = None, days: int = 30, now: datetime | None = None):
    """Endorsements submitted and approved per UTC day, oldest first, days without any included."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    submitted = Counter(
        created.date()
        for created in db.session.scalars(
            _scoped(select(Signature.created_at), statement_id).where(Signature.created_at >= since)
        )
    )
    approved = Counter(
        stamp.date()
        for stamp in db.session.scalars(
            _scoped(select(Signature.approved_at), statement_id).where(
                Signature.approved_at >= since, Signature.state == SignatureState.APPROVED
            )
        )
    )
    return [
        DayCount(d, submitted.get(d, 0), approved.get(d, 0))
        for d in (first + timedelta(days=i) for i in range(days))
    ]


@dataclass(frozen=True)
class Breakdown:
    key: str
    label: str
    approved: int
    waiting: int

    @property
    def total(self) -> int:
        return self.approved + self.waiting


def _breakdown(column, statement_id: int | None) -> dict[str, dict[str, int]]:
    rows = db.session.execute(
        _scoped(select(column, Signature.state, func.count()), statement_id)
        .where(Signature.state.in_((SignatureState.APPROVED, SignatureState.VERIFIED)))
        .group_by(column, Signature.state)
    )
    table: dict[str, dict[str, int]] = {}
    for key, state, n in rows:
        key = getattr(key, "value", key)
        table.setdefault(key, {"approved": 0, "verified": 0})[SignatureState(state).value] = n
    return table


def by_country(statement_id: int | None = None) -> list[Breakdown]:
    table = _breakdown(Signature.country, statement_id)
    items = [
        Breakdown(code, country_display_name(code), c["approved"], c["verified"])
        for code, c in table.items()
    ]
    return sorted(items, key=lambda b: (-b.total, b.label))


def by_type(statement_id: int | None = None) -> list[Breakdown]:
    table = _breakdown(Signature.organisation_type, statement_id)
    return [
        Breakdown(
            t.value,
            ORGANISATION_TYPE_LABELS[t],
            table[t.value]["approved"],
            table[t.value]["verified"],
        )
        for t in OrganisationType
        if t.value in table
    ]


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]
    failed: list[OutboxMessage]
    oldest_queued: datetime | None
    # Taken by the relay without an answer, twice: may have arrived; staff decide.
    uncertain: list[OutboxMessage]


def outbox_summary(limit: int = 20) -> OutboxSummary:
    counts = {status.value: 0 for status in OutboxStatus}
    for status, n in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[OutboxStatus(status).value] = n
    failed, uncertain = (
        list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == status)
                .order_by(OutboxMessage.id.desc())
                .limit(limit)
            )
        )
        for status in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN)
    )
    oldest = db.session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.QUEUED
        )
    )
    return OutboxSummary(counts, failed, oldest, uncertain)


# ---------------------------------------------------------------- chart


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    series: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """Geometry for a server-rendered SVG; the template only draws it (no script, no CDN)."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    plot_left: int
    bars: list[Bar]
    ticks: list[Tick]
    y_max: int
    gridlines: list[tuple[float, int]]


def day_chart(days: list[DayCount], width: int = 1000, height: int = 220) -> BarChart:
    left, right, top, bottom = 36, 8, 10, height - 26
    slot = (width - left - right) / max(len(days), 1)
    peak = max([d.submitted for d in days] + [d.approved for d in days] + [1])
    y_max = _nice_ceiling(peak)
    scale = (bottom - top) / y_max
    bar_w = max(slot / 2 - 1.5, 1.0)
    bars, ticks = [], []
    for i, d in enumerate(days):
        x = left + i * slot + 1
        label = f"{d.day:%d %b}"
        for offset, series, value in ((0, "submitted", d.submitted), (1, "approved", d.approved)):
            h = value * scale
            bars.append(
                Bar(
                    round(x + offset * (bar_w + 1), 1),
                    round(bottom - h, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    value,
                    label,
                    series,
                )
            )
        if (len(days) - 1 - i) % 7 == 0:  # weekly, ending on today
            ticks.append(Tick(round(x + bar_w, 1), label))
    steps = 4
    gridlines = [
        (round(bottom - (y_max * k / steps) * scale, 1), y_max * k // steps) for k in range(1, 5)
    ]
    return BarChart(width, height, top, bottom, left, bars, ticks, y_max, gridlines)


def _nice_ceiling(value: int) -> int:
    """The next 'round' number at or above value, divisible by 4 for the gridlines."""
    for nice in (4, 8, 12, 20, 40, 60, 80, 100, 200, 400, 600, 800, 1000):
        if value <= nice:
            return nice
    magnitude = 10 ** (len(str(value)) - 1)
    return -(-value // (4 * magnitude)) * 4 * magnitude
