"""Text hygiene for the PDF: cleaning data, escaping it for Paragraph markup, English dates."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

# C0/C1 controls and the Unicode line/paragraph separators would either break the layout (a newline
# in an organisation name) or reach the PDF as undefined glyphs, so they become plain spaces.
_CONTROLS = {c: " " for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}

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


def clean_inline(text: str) -> str:
    """One-line text from data: NFC, no control characters, whitespace runs collapsed."""
    # NFC so that a decomposed "S" + combining comma prints with the font's precomposed glyph.
    return " ".join(unicodedata.normalize("NFC", text).translate(_CONTROLS).split())


def clean_block(text: str) -> str:
    """Multi-line text (code blocks): NFC and no control characters except newlines."""
    lines = unicodedata.normalize("NFC", text).replace("\t", "    ").splitlines()
    return "\n".join(line.translate(_CONTROLS).rstrip() for line in lines)


def escape_markup(text: str) -> str:
    """Escape text so ReportLab's Paragraph parser treats every character literally.

    Paragraph markup is a live mini-language (fonts, images, links, and in old versions evaluated
    attributes: CVE-2023-33733), so no data may reach it unescaped.
    """
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def format_date(value: date) -> str:
    """'4 March 2025', independent of the process locale."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_timestamp(value: datetime) -> str:
    """'4 March 2025, 10:22 UTC' for aware datetimes; naive ones are printed as given."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        utc = value.astimezone(UTC)
        return f"{format_date(utc.date())}, {utc:%H:%M} UTC"
    return f"{format_date(value.date())}, {value:%H:%M}"


def format_count(value: int) -> str:
    """Thousands separated: '12,345'."""
    return f"{value:,}"
