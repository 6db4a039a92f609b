"""One date formatter for pages, emails and the PDF."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from petition.core import dates
from petition.pdf.layout import render


def test_dates_read_the_same_everywhere(app):
    assert app.jinja_env.filters["date"] is dates.format_date
    assert app.jinja_env.filters["datetime"] is dates.format_timestamp
    assert render.format_date is dates.format_date
    assert render.format_timestamp is dates.format_timestamp


def test_formats():
    assert dates.format_date(date(2025, 3, 4)) == "4 March 2025"
    assert dates.format_date(datetime(2025, 12, 31, 23, 59)) == "31 December 2025"
    assert dates.format_date(None) == "" and dates.format_timestamp(None) == ""
    cet = timezone(timedelta(hours=1))
    assert dates.format_timestamp(datetime(2025, 3, 4, 11, 22, tzinfo=cet)) == (
        "4 March 2025, 10:22 UTC"
    )
    # Stored values are UTC, with or without tzinfo (SQLite returns them naive).
    assert dates.format_timestamp(datetime(2025, 3, 4, 0, 5)) == "4 March 2025, 00:05 UTC"


def test_a_page_shows_the_date_in_that_form(app, client, seeded):
    with app.app_context():
        from petition.extensions import db
        from petition.models import Statement

        published = db.session.scalar(select(Statement.published_on))
    assert published is not None
    assert f">{dates.format_date(published)}</time>" in client.get(f"/statements/{seeded}").text
