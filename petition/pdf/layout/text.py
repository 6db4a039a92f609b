"""Text hygiene for the PDF: cleaning data, escaping it for Paragraph markup (dates: core.dates)."""

from __future__ import annotations

import unicodedata

from babel.numbers import format_decimal

from ...core.i18n import writing_locale

# C0/C1 controls and the Unicode line/paragraph separators would either break the layout (a newline
# in an organisation name) or reach the PDF as undefined glyphs, so they become plain spaces.
_CONTROLS = {c: " " for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}


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


def format_count(value: int) -> str:
    """Thousands separated in the language being written: '12,345', '12.345', '12 345'."""
    locale = writing_locale()
    if locale is not None and locale.language != "en":
        return format_decimal(value, locale=locale)
    return f"{value:,}"
