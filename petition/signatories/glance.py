"""Who signed, at a glance (the statement page): approved signatories per country on a map of
Europe, per type of organisation, and over time. Three aggregate queries; the page's ETag (the
list's version) changes with every figure here, so the page cache keeps the drawing with it.

The map's shapes are Natural Earth's (public domain), projected once by tools/build_map.py into
europe_map.json; nothing is downloaded at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from sqlalchemy import func, select

from ..core.i18n import country_name, type_label
from ..extensions import db
from ..models import (
    OrganisationType,
    Signature,
    SignatureState,
    Statement,
)
from .changes import _as_date, _utc_day

MAP_FILE = Path(__file__).resolve().parent.parent / "statements" / "europe_map.json"
#: Map classes: (lowest count, label); a country's class is the last whose lowest it reaches.
CLASSES = ((1, "1"), (2, "2–4"), (5, "5–9"), (10, "10–24"), (25, "25+"))
SPARK_WIDTH, SPARK_HEIGHT = 300, 64


@cache
def europe_map() -> dict:
    return json.loads(MAP_FILE.read_text())


def map_class(count: int) -> int:
    """0 for none, else 1–5 (CLASSES)."""
    found = 0
    for index, (lowest, _label) in enumerate(CLASSES, start=1):
        if count >= lowest:
            found = index
    return found


@dataclass
class Glance:
    total: int
    by_country: list[tuple[str, str, int]]  # code, name, count; most first
    by_type: list[tuple[str, str, int]]  # code, label, count; in the PDF's order
    shapes: list[tuple[str, str, str, int, int]]  # code, name, path, count, class
    markers: list[tuple[str, str, int, int, int, int]]  # code, name, x, y, count, class
    background: list[str]
    width: int
    height: int
    spark_points: str  # SVG polyline points of the cumulative count
    first_day: date | None
    days: int


def _approved(statement: Statement, *columns):
    return (
        select(*columns, func.count())
        .where(Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
        .group_by(*columns)
    )


def glance(statement: Statement) -> Glance | None:
    if not statement.is_list_public():
        return None
    countries: dict[str, int] = {
        code: n for code, n in db.session.execute(_approved(statement, Signature.country))
    }
    if not countries:
        return None
    types: dict[str, int] = {
        code: n for code, n in db.session.execute(_approved(statement, Signature.organisation_type))
    }
    day = _utc_day(Signature.approved_at)
    per_day = sorted(
        (_as_date(d), n) for d, n in db.session.execute(_approved(statement, day)).all() if d
    )
    drawing = europe_map()
    shapes = [
        (
            code,
            country_name(code),
            d,
            countries.get(code, 0),
            map_class(countries.get(code, 0)),
        )
        for code, d in drawing["countries"].items()
    ]
    markers = [
        (
            code,
            country_name(code),
            x,
            y,
            countries.get(code, 0),
            map_class(countries.get(code, 0)),
        )
        for code, (x, y) in drawing["markers"].items()
    ]
    by_country = sorted(
        ((code, country_name(code), n) for code, n in countries.items()),
        key=lambda row: (-row[2], row[1]),
    )
    by_type = [
        (t.value, type_label(t.value), types[t.value])
        for t in OrganisationType
        if types.get(t.value)
    ]
    return Glance(
        total=sum(countries.values()),
        by_country=by_country,
        by_type=by_type,
        shapes=shapes,
        markers=markers,
        background=drawing["background"],
        width=drawing["width"],
        height=drawing["height"],
        spark_points=_spark(per_day),
        first_day=per_day[0][0] if per_day else None,
        days=len(per_day),
    )


def _spark(per_day: list[tuple[date, int]]) -> str:
    """The cumulative count, one point per day with approvals, scaled to the sparkline's box."""
    if not per_day:
        return ""
    first, last = per_day[0][0], per_day[-1][0]
    span = max((last - first).days, 1)
    total = sum(n for _d, n in per_day)
    points, running = [], 0
    if len(per_day) == 1:
        points.append(f"0,{SPARK_HEIGHT - 2}")
    for when, n in per_day:
        running += n
        x = SPARK_WIDTH * (when - first).days / span if len(per_day) > 1 else SPARK_WIDTH
        y = (SPARK_HEIGHT - 2) - (SPARK_HEIGHT - 4) * running / total
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)
