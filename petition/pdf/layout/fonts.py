"""Noto Serif (text) and Noto Sans (headings, labels), shipped with the package, registered once.

The TTFs come from Debian's fonts-noto-core 20201225-1 (licence: fonts/LICENSE-Noto, SIL OFL 1.1):
shipping them keeps the PDF identical on every machine, and Noto covers Latin with its diacritics,
Greek and Cyrillic. ReportLab embeds only the glyphs a document uses (subsets). DejaVu Sans
(fonts/LICENSE) stays available, registered on request (register_fonts(reference=True)), for the
benchmarks' reference layouts; the statement PDF does not parse it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from weakref import WeakKeyDictionary

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
#: What is printed for a character the font has no glyph for: U+FFFD REPLACEMENT CHARACTER, a
#: visible mark (a question mark in a black diamond) that every Noto face here draws.
REPLACEMENT = "\ufffd"

log = logging.getLogger(__name__)


class CoveredTTFont(TTFont):
    """A TrueType font that never emits a character it has no glyph for.

    ReportLab's TTFont encodes such a character as code 0, the font's .notdef glyph: an empty
    box or nothing, which PDF/A forbids and which silently cuts a name short. Here the text is
    measured and encoded with each such character replaced by REPLACEMENT, and a warning names
    the character once per document. (Input is checked against the same fonts where it is
    typed, core/validation.printed_line; this catches what got in before, or elsewhere.)
    """

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename)
        self._covered = frozenset(self.face.charToGlyph)
        self._warned: WeakKeyDictionary[object, set[str]] = WeakKeyDictionary()

    def printable(self, text: str, doc: object = None) -> str:
        """`text` with every character outside the font's cmap replaced by REPLACEMENT."""
        covered = self._covered
        if covered.issuperset(map(ord, text)):  # a C loop: the common case costs little
            return text
        missing = {ch for ch in text if ord(ch) not in covered}
        if doc is not None:
            warned = self._warned.setdefault(doc, set())
            new = sorted(missing - warned)
            warned.update(new)
        else:
            new = sorted(missing)
        if new:
            log.warning(
                "%s has no glyph for %s (in %r): printed as U+FFFD",
                self.fontName,
                ", ".join(f"U+{ord(ch):04X}" for ch in new),
                text,
            )
        return "".join(REPLACEMENT if ch in missing else ch for ch in text)

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 - ReportLab's name
        if isinstance(text, bytes):
            text = text.decode(encoding)
        return super().splitString(self.printable(text, doc), doc, encoding)

    def stringWidth(self, text, size, encoding="utf8"):  # noqa: N802 - ReportLab's name
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return super().stringWidth(self.printable(text), size, encoding)


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
            pdfmetrics.registerFont(CoveredTTFont(name, str(FONT_DIR / f"{name}.ttf")))
        # Lets Paragraph markup (<b>, <i>) and ListFlowable bullets resolve to the family.
        pdfmetrics.registerFontFamily(
            FAMILY, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC
        )
        pdfmetrics.registerFontFamily(
            "NotoSans", normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS_BOLD
        )
        _registered = True
