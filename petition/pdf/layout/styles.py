"""Page geometry, colours and paragraph styles of the statement PDF."""

from __future__ import annotations

from reportlab.lib.colors import Color
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from .fonts import ITALIC, REGULAR, SANS, SANS_BOLD

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT = MARGIN_RIGHT = 25 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 24 * mm
FRAME_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
FOOTER_BASELINE = 13 * mm
HEADER_BASELINE = PAGE_HEIGHT - 14 * mm
# The statement's running text keeps a reading measure of 60-75 characters (about 68 in Noto
# Serif 10.5 pt); the list's two columns and the letterhead use the full frame width.
MEASURE = 360.0
TEXT_INDENT_RIGHT = FRAME_WIDTH - MEASURE
COLUMN_GAP = 20.0
COLUMN_WIDTH = (FRAME_WIDTH - COLUMN_GAP) / 2
LETTERHEAD_HEIGHT = 40.0
LOGO_HEIGHT = 30.0
LOGO_MAX_WIDTH = 120.0
LETTERHEAD_SIZE = 11.0

# Near-black reads as black in print but is softer on screen; greys carry the secondary information.
INK = Color(0.10, 0.10, 0.10)
MUTED = Color(0.36, 0.36, 0.36)
FAINT = Color(0.50, 0.50, 0.50)
RULE = Color(0.74, 0.74, 0.74)
ACCENT = Color(0.20, 0.20, 0.20)
CODE_BACKGROUND = Color(0.955, 0.955, 0.955)

FOOTER_SIZE = 7.5

# The signatory list is drawn straight onto the canvas (render.py); its metrics live here too.
LIST_SIZE = 8.5
LIST_LEADING = 11.4
LIST_INDENT = 10.0  # continuation lines of a wrapped entry
GROUP_SIZE = 9.5
GROUP_GAP = 12.0  # above a group heading, unless it opens the column
GROUP_HEADING_HEIGHT = 18.0  # heading line, its hairline and the gap below
COUNTRY_SIZE = 7.5
COUNTRY_GAP = 5.0  # above a country subheading inside a group, unless it opens the column
COUNTRY_HEIGHT = 12.0
CONTINUED_SIZE = 7.0
CONTINUED_HEIGHT = 14.0

BODY = ParagraphStyle(
    "Body",
    fontName=REGULAR,
    fontSize=10.5,
    leading=15.5,
    textColor=INK,
    alignment=TA_LEFT,
    spaceAfter=7,
    rightIndent=TEXT_INDENT_RIGHT,
)
TITLE = ParagraphStyle(
    "Title", parent=BODY, fontName=SANS_BOLD, fontSize=20, leading=25, spaceAfter=6
)
SUBTITLE = ParagraphStyle(
    "Subtitle",
    parent=BODY,
    fontName=ITALIC,
    fontSize=12.5,
    leading=17,
    textColor=MUTED,
    spaceAfter=8,
)
META = ParagraphStyle(
    "Meta", parent=BODY, fontName=SANS, fontSize=8.5, leading=12, textColor=FAINT, spaceAfter=0
)
LETTER = ParagraphStyle("Letter", parent=BODY, spaceAfter=2, rightIndent=0)
LETTER_DATE = ParagraphStyle("LetterDate", parent=LETTER, alignment=TA_RIGHT, spaceAfter=10)
LABEL = ParagraphStyle(
    "Label", parent=META, fontName=SANS_BOLD, textColor=MUTED, spaceBefore=6, spaceAfter=1
)
INITIATORS = ParagraphStyle("Initiators", parent=BODY, spaceAfter=4)
# One flagged initiator a line, long ones with a hanging indent like the list's entries.
INITIATOR = ParagraphStyle(
    "Initiator", parent=BODY, spaceAfter=1, leftIndent=10, firstLineIndent=-10
)
HEADINGS = {
    1: ParagraphStyle(
        "H1",
        parent=BODY,
        fontName=SANS_BOLD,
        fontSize=13.5,
        leading=18,
        spaceBefore=12,
        spaceAfter=6,
    ),
    2: ParagraphStyle(
        "H2",
        parent=BODY,
        fontName=SANS_BOLD,
        fontSize=12,
        leading=16,
        spaceBefore=10,
        spaceAfter=5,
    ),
    3: ParagraphStyle(
        "H3",
        parent=BODY,
        fontName=SANS_BOLD,
        fontSize=10.5,
        leading=14,
        spaceBefore=8,
        spaceAfter=4,
    ),
}
LIST_ITEM = ParagraphStyle("ListItem", parent=BODY, spaceAfter=3)
CODE = ParagraphStyle(
    "Code",
    parent=BODY,
    fontSize=8.5,
    leading=12,
    backColor=CODE_BACKGROUND,
    borderPadding=4,
    spaceBefore=4,
    spaceAfter=10,
)
SECTION = ParagraphStyle(
    "Section",
    parent=BODY,
    fontName=SANS_BOLD,
    fontSize=15,
    leading=19,
    spaceBefore=18,
    spaceAfter=6,
)
NOTE = ParagraphStyle("Note", parent=BODY, fontSize=8.5, leading=12, textColor=MUTED, spaceAfter=2)
COLOPHON = ParagraphStyle(
    "Colophon", parent=META, fontSize=7.5, leading=10.5, textColor=MUTED, spaceAfter=1
)
COLOPHON_HEADING = ParagraphStyle("ColophonHeading", parent=COLOPHON, fontName=SANS_BOLD)
