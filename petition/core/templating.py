"""Jinja filters and globals shared by the templates."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask

from ..models import ORGANISATION_TYPE_LABELS, OrganisationType, utcnow
from .validation import country_display_name


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y, %H:%M} UTC"


def machine_datetime(value: date | datetime | None) -> str:
    """A `<time datetime>` value: whole seconds, as HTML allows at most three fractional digits."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def type_label(value) -> str:
    try:
        return ORGANISATION_TYPE_LABELS[OrganisationType(value)]
    except ValueError:
        return str(value)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["machine_datetime"] = machine_datetime
    app.jinja_env.filters["type_label"] = type_label
    app.jinja_env.filters["country_name"] = country_display_name
    app.jinja_env.globals["site_name"] = "Jointly"

    @app.context_processor
    def _now() -> dict:
        return {"now": utcnow()}
