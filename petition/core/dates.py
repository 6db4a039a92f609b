"""Dates as people read them, one form everywhere (pages, emails, the PDF): '4 March 2025',
'4. März 2025', '4 marca 2025' in the language of the page, email or PDF being written; and as
machines read them in a `<time datetime>` attribute.

English month names come from this module, not the process locale, so a server set to another
language still writes English dates; other languages' from CLDR (Babel), never the process's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel import dates as babel_dates

from .i18n import writing_locale

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(value: date | datetime | None) -> str:
    """'4 March 2025' ('' for None); in another language, its long date ('4. März 2025')."""
    if value is None:
        return ""
    locale = writing_locale()
    if locale is not None and locale.language != "en":
        return babel_dates.format_date(value, format="long", locale=locale)
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_timestamp(value: datetime | None) -> str:
    """'4 March 2025, 10:22 UTC' ('' for None). The application stores UTC: a naive value is UTC."""
    if value is None:
        return ""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    return f"{format_date(value)}, {value:%H:%M} UTC"


def machine_datetime(value: date | datetime | None) -> str:
    """A `<time datetime>` value: whole seconds, as HTML allows at most three fractional digits."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()
