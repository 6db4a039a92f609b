"""Noto Serif (text) and Noto Sans (headings, labels), shipped with the package, registered once.

The TTFs come from Debian's fonts-noto-core 20201225-1 (licence: fonts/LICENSE-Noto, SIL OFL 1.1):
shipping them keeps the PDF identical on every machine, and Noto covers Latin with its diacritics,
Greek and Cyrillic. ReportLab embeds only the glyphs a document uses (subsets). DejaVu Sans
(fonts/LICENSE) stays available, registered on request (register_fonts(reference=True)), for the
benchmarks' reference layouts; the statement PDF does not parse it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).with_name("fonts")
FAMILY = "NotoSerif"
REGULAR = "NotoSerif-Regular"
BOLD = "NotoSerif-Bold"
ITALIC = "NotoSerif-Italic"
BOLD_ITALIC = "NotoSerif-BoldItalic"
SANS = "NotoSans-Regular"
SANS_BOLD = "NotoSans-Bold"
_OTHERS = ("DejaVuSans", "DejaVuSans-Bold")

_lock = threading.Lock()
_registered = False
_reference_registered = False


def register_fonts(reference: bool = False) -> None:
    """Register the Noto faces with ReportLab (idempotent and thread-safe); ``reference``: DejaVu too."""
    global _registered, _reference_registered
    if reference and not _reference_registered:
        with _lock:
            if not _reference_registered:
                for name in _OTHERS:
                    pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{name}.ttf")))
                _reference_registered = True
    if _registered:
        return
    with _lock:
        if _registered:
            return
        for name in (REGULAR, BOLD, ITALIC, BOLD_ITALIC, SANS, SANS_BOLD):
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{name}.ttf")))
        # Lets Paragraph markup (<b>, <i>) and ListFlowable bullets resolve to the family.
        pdfmetrics.registerFontFamily(
            FAMILY, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC
        )
        pdfmetrics.registerFontFamily(
            "NotoSans", normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS_BOLD
        )
        _registered = True
