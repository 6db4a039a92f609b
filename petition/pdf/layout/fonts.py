"""DejaVu Sans, shipped with the package and registered once per process for ReportLab."""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

# The TTFs and LICENSE come from Debian's fonts-dejavu-core / fonts-dejavu-extra 2.37: shipping them
# keeps the PDF identical on every machine, and DejaVu covers Latin diacritics, Greek and Cyrillic.
FONT_DIR = Path(__file__).with_name("fonts")
FAMILY = "DejaVuSans"
REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
ITALIC = "DejaVuSans-Oblique"
BOLD_ITALIC = "DejaVuSans-BoldOblique"

_lock = threading.Lock()
_registered = False


def register_fonts() -> None:
    """Register the DejaVu Sans family with ReportLab (idempotent and thread-safe)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        for name in (REGULAR, BOLD, ITALIC, BOLD_ITALIC):
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{name}.ttf")))
        # Lets Paragraph markup (<b>, <i>) and ListFlowable bullets resolve to the family.
        pdfmetrics.registerFontFamily(
            FAMILY, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC
        )
        _registered = True
