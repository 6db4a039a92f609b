"""Page geometry, colours and paragraph styles of the statement PDF."""

from __future__ import annotations

from reportlab.lib.colors import Color
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from .fonts import BOLD, REGULAR

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT = MARGIN_RIGHT = 25 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 24 * mm
FRAME_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
FOOTER_BASELINE = 13 * mm
HEADER_BASELINE = PAGE_HEIGHT - 14 * mm

# Near-black reads as black in print but is softer on screen; greys carry the secondary information.
INK = Color(0.10, 0.10, 0.10)
MUTED = Color(0.36, 0.36, 0.36)
FAINT = Color(0.50, 0.50, 0.50)
RULE = Color(0.74, 0.74, 0.74)
CODE_BACKGROUND = Color(0.955, 0.955, 0.955)

FOOTER_SIZE = 7.5

# The signatory list is drawn straight onto the canvas (render.py); its metrics live here too.
LIST_SIZE = 9.0
LIST_LEADING = 12.6
LIST_INDENT = 14.0  # continuation lines of a wrapped entry
GROUP_SIZE = 10.5
GROUP_GAP = 11.0  # above a group heading, unless it opens the frame
GROUP_HEADING_HEIGHT = 19.0  # heading line, its hairline and the gap before the first entry
CONTINUED_SIZE = 7.5
CONTINUED_HEIGHT = 15.0

BODY = ParagraphStyle(
    "Body",
    fontName=REGULAR,
    fontSize=10,
    leading=15,
    textColor=INK,
    alignment=TA_LEFT,
    spaceAfter=7,
)
TITLE = ParagraphStyle("Title", parent=BODY, fontName=BOLD, fontSize=21, leading=26, spaceAfter=6)
SUBTITLE = ParagraphStyle(
    "Subtitle", parent=BODY, fontSize=12.5, leading=17, textColor=MUTED, spaceAfter=8
)
META = ParagraphStyle("Meta", parent=BODY, fontSize=8.5, leading=12, textColor=FAINT, spaceAfter=0)
HEADINGS = {
    1: ParagraphStyle(
        "H1", parent=BODY, fontName=BOLD, fontSize=14, leading=18, spaceBefore=12, spaceAfter=6
    ),
    2: ParagraphStyle(
        "H2", parent=BODY, fontName=BOLD, fontSize=12, leading=16, spaceBefore=10, spaceAfter=5
    ),
    3: ParagraphStyle(
        "H3", parent=BODY, fontName=BOLD, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=4
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
    "Section", parent=BODY, fontName=BOLD, fontSize=15, leading=19, spaceBefore=18, spaceAfter=6
)
NOTE = ParagraphStyle("Note", parent=BODY, fontSize=8.5, leading=12, textColor=MUTED, spaceAfter=2)
