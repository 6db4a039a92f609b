"""Jinja filters and globals shared by the templates."""

from __future__ import annotations

from flask import Flask

from ..models import ORGANISATION_TYPE_LABELS, OrganisationType, utcnow
from .dates import format_date, format_timestamp, machine_datetime
from .validation import country_display_name


def type_label(value) -> str:
    try:
        return ORGANISATION_TYPE_LABELS[OrganisationType(value)]
    except ValueError:
        return str(value)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_timestamp
    app.jinja_env.filters["machine_datetime"] = machine_datetime
    app.jinja_env.filters["type_label"] = type_label
    app.jinja_env.filters["country_name"] = country_display_name
    app.jinja_env.globals["site_name"] = "Jointly"

    @app.context_processor
    def _now() -> dict:
        return {"now": utcnow()}
