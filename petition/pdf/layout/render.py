"""Statement PDF: the statement typeset with platypus, then the signatory list streamed."""

from __future__ import annotations

import os
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import BinaryIO, cast

from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFStream
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
)

from ...core.dates import format_date, format_timestamp
from ...core.i18n import SOURCE_LANGUAGE
from . import styles, wording
from .archival import add_archival_entries
from .fonts import REGULAR, REPLACEMENT, SANS, SANS_BOLD, register_fonts
from .letterhead import Letterhead, Logo
from .markdown_story import markdown_flowables
from .text import clean_inline, escape_markup, format_count

# How it fits together, and why:
# * The statement part (title block, Markdown body, the "Signatories" introduction) is ordinary
#   platypus. The list is one special flowable, _SignatoryStream, that never fits: each time the
#   document asks it to split, it pulls from the row iterator exactly the entries that fit in the
#   space left and returns them as a small _ListChunk plus itself. Rows are read once, in order, and
#   only one page of entries exists at a time, so a 100,000-row database cursor streams through.
#   (One platypus Table of all rows is quadratic; a flowable per row costs twice the memory.)
# * Entries are raw text operators in one BT/ET block per page, not Paragraphs: one line per
#   organisation, long ones wrapped at word boundaries with a hanging indent, never cut short.
# * The list is set in two columns inside the one frame: each split fills the left column to the
#   space left, then the right one, so each column reads top to bottom before the next. Inside a
#   type group, a subheading opens each country; a column that starts inside a group says which
#   group and country continue.
# * "Page X of Y": Y is unknown until the last row has been read, so every footer draws a form
#   XObject that the canvas defines at save time with the final count. Nothing is laid out twice,
#   no page is held back, and the row iterator needs no second pass.
# * Everything that comes from data is escaped before a Paragraph sees it (CVE-2023-33733
#   surface); list entries never go through the markup parser at all.

ORGANISATION_TYPES = wording.ORGANISATION_TYPES
_t = wording.translate

SHORT_HASH_LENGTH = 12
# Marks for signatories of earlier versions, newest earlier version first; doubled after four.
VERSION_MARKS = ("†", "‡", "§", "¶")
EARLIER_VERSION_NOTE = wording.EARLIER_VERSION_NOTE

_PAGE_TOTAL_FORM = "PageTotal"
# The last frame of the list is balanced over its two columns when the left one alone would be
# taller than this: a short list stays in one column rather than two stubs.
_BALANCE_FROM = styles.FRAME_HEIGHT / 3
# Room for the "Signatories" heading, the summary, notes and a first group, so the section never
# starts with only its heading at the foot of a page.
_SIGNATORIES_MIN_HEIGHT = 150.0


@dataclass(frozen=True)
class StatementDoc:
    """What the PDF says about the statement itself."""

    title: str
    subtitle: str
    published_on: date
    body_markdown: str
    campaign: str  # PDF author
    version_sha256: str  # the current body version; its first 12 hex digits go in the footer
    generated_at: datetime
    keywords: tuple[str, ...] = ()
    # sha256 -> date of every earlier version that some row endorsed (and preferably only those:
    # each one gets a mark and a note).
    earlier_versions: Mapping[str, date] = field(default_factory=dict)
    # BCP 47 tag for the catalogue's /Lang and the XMP dc:language, e.g. "en"; None or empty: the
    # site's source language (a PDF without a language fails PDF/A and screen readers guess).
    language: str | None = None
    initiators: tuple[str, ...] = ()  # under "An initiative of", the statement's free text
    # The signatories flagged as initiators (SignatoryRow-like, in the site's order): printed
    # under "An initiative of" with their city and country, and not again in their type group.
    # A free-text name that is none of theirs follows them.
    initiator_rows: tuple[SignatoryRow, ...] = ()
    addressee: str = ""  # "To: ..." line; none when empty
    place: str = ""  # the date line reads "place, date" (just the date when empty)
    letter_date: date | None = None  # the date line's date; the generation date when None
    logo: Logo | None = None  # letterhead logo, from letterhead.load_logo
    # The rows' (English) country names in the PDF's language, where it is not English.
    country_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignatoryRow:
    """One line of the list. Any object with these attributes will do (e.g. a SQLAlchemy Row)."""

    organisation_type: str  # a code from ORGANISATION_TYPES
    organisation_name: str
    city: str
    country_name: str
    version_sha256: str  # the statement version this signatory endorsed


@dataclass(frozen=True)
class RenderResult:
    pages: int
    signatories: int


class SignatoryListError(ValueError):
    """The rows contradict what the caller promised: counts, type order, or version."""


def render_statement_pdf(
    out: BinaryIO | str | os.PathLike[str],
    doc: StatementDoc,
    type_counts: Mapping[str, int],
    rows: Iterable[SignatoryRow],
    *,
    type_labels: Sequence[tuple[str, str]] = ORGANISATION_TYPES,
) -> RenderResult:
    """Write the statement PDF to ``out`` (a path or a binary file object).

    ``rows`` is read exactly once, front to back, and must already be sorted by type order, then
    country name, then organisation name; ``type_counts`` maps type codes to the number of rows of
    that type (taken from the same snapshot as the rows). Any disagreement raises
    ``SignatoryListError``; when ``out`` is a path nothing is written in that case.
    """
    register_fonts()
    doc = replace(doc, language=clean_inline(doc.language or "") or SOURCE_LANGUAGE)
    # Base-85 stream encoding is pure Python in ReportLab without its C accelerator (~0.4 s for
    # 100,000 rows) and makes files larger; every PDF reader takes binary streams.
    rl_config.useA85 = 0

    labels = [(str(code), clean_inline(_t(label))) for code, label in type_labels]
    order = {code: index for index, (code, _) in enumerate(labels)}
    counts: dict[str, int] = {}
    for code, count in type_counts.items():
        key = str(code)
        if key not in order:
            raise SignatoryListError(f"unknown organisation type in counts: {key!r}")
        if count < 0:
            raise SignatoryListError(f"negative count for {key!r}")
        counts[key] = counts.get(key, 0) + count
    total = sum(counts.values())

    marks = _version_marks(doc)
    row_iter = iter(rows)
    stream = _SignatoryStream(
        row_iter, labels, order, counts, marks, doc.version_sha256, styles.FRAME_HEIGHT
    )
    stream.country_names = doc.country_names

    story: list[Flowable] = [
        _Bookmark("statement", clean_inline(doc.title) or _t(wording.OUTLINE_SIGNATORIES), 0),
        *_title_block(doc),
        *markdown_flowables(doc.body_markdown),
    ]
    story.extend(_signatories_intro(doc, total + len(doc.initiator_rows), marks))
    if total:
        story.append(stream)
    elif next(row_iter, None) is not None:
        raise SignatoryListError("rows given but the counts add up to zero")
    story.extend(_colophon(doc))

    canvases: list[_PagedCanvas] = []

    def canvasmaker(*args: object, **kwargs: object) -> _PagedCanvas:
        canvas = _PagedCanvas(*args, **kwargs)
        canvas.archival = (doc.language, doc.generated_at)
        canvas.setDateFormatter(_pdf_date_formatter(doc.generated_at))
        canvases.append(canvas)
        return canvas

    template = _StatementTemplate(out, doc)
    template.build(story, canvasmaker=canvasmaker)
    return RenderResult(
        pages=canvases[-1].page_count, signatories=stream.placed + len(doc.initiator_rows)
    )


# --- statement part ---------------------------------------------------------------------------


class _Bookmark(Flowable):
    """An outline entry pointing at where it stands in the story; takes no room."""

    def __init__(self, key: str, title: str, level: int) -> None:
        super().__init__()
        self._key = key
        self._title = title
        self._level = level
        self.width = self.height = 0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv.bookmarkHorizontal(self._key, 0, 0)
        self.canv.addOutlineEntry(self._title, self._key, level=self._level)


def _title_block(doc: StatementDoc) -> list[Flowable]:
    campaign = clean_inline(doc.campaign)
    block: list[Flowable] = []
    if campaign or doc.logo is not None:
        name = _fit(campaign, SANS_BOLD, styles.LETTERHEAD_SIZE, styles.FRAME_WIDTH - 140)
        block.append(Letterhead(name, doc.logo))
        block.append(Spacer(0, 14))
    when = format_date(doc.letter_date or doc.generated_at.date())
    place = clean_inline(doc.place)
    date_line = _t(wording.DATE_PLACE).format(place=place, date=when) if place else when
    block.append(Paragraph(escape_markup(date_line), styles.LETTER_DATE))
    addressee = clean_inline(doc.addressee)
    if addressee:
        line = _t(wording.ADDRESSEE).format(addressee=addressee)
        block.append(Paragraph(escape_markup(line), styles.LETTER))
        block.append(Spacer(0, 14))
    block.append(Paragraph(escape_markup(clean_inline(doc.title)), styles.TITLE))
    subtitle = clean_inline(doc.subtitle)
    if subtitle:
        block.append(Paragraph(escape_markup(subtitle), styles.SUBTITLE))
    published = _t(wording.PUBLISHED).format(date=format_date(doc.published_on))
    block.append(Paragraph(escape_markup(published), styles.META))
    initiators = _initiator_lines(doc)
    if initiators:
        block.append(Paragraph(escape_markup(_t(wording.INITIATIVE_OF)), styles.LABEL))
        if doc.initiator_rows:
            block.extend(Paragraph(escape_markup(line), styles.INITIATOR) for line in initiators)
            block.append(Spacer(0, 4))
        else:
            block.append(Paragraph(escape_markup(", ".join(initiators)), styles.INITIATORS))
    block.append(Spacer(0, 8))
    block.append(HRFlowable(width="100%", thickness=0.6, color=styles.RULE, spaceAfter=16))
    return block


def _initiator_lines(doc: StatementDoc) -> list[str]:
    """The initiators: each flagged signatory as "name — city, country" (marked like the list
    when it endorsed an earlier version), then each free-text name that is none of theirs."""
    marks = _version_marks(doc)
    lines: list[str] = []
    named: set[str] = set()
    for row in doc.initiator_rows:
        name = clean_inline(row.organisation_name)
        named.add(name.casefold())
        version = str(row.version_sha256)
        mark = marks.get(version, "") if version != doc.version_sha256 else ""
        country = clean_inline(doc.country_names.get(row.country_name, row.country_name) or "")
        place = ", ".join(part for part in (clean_inline(row.city or ""), country) if part)
        lines.append(f"{name}{mark} — {place}" if place else f"{name}{mark}")
    for text in doc.initiators:
        name = clean_inline(text)
        if name and name.casefold() not in named:
            named.add(name.casefold())
            lines.append(name)
    return lines


def _colophon(doc: StatementDoc) -> list[Flowable]:
    lines = [
        _t(wording.COLOPHON_VERSION).format(sha256=clean_inline(doc.version_sha256)),
        _t(wording.COLOPHON_GENERATED).format(timestamp=format_timestamp(doc.generated_at)),
        _t(wording.COLOPHON_ACCESSIBLE),
        _t(wording.COLOPHON_TYPE),
    ]
    block: list[Flowable] = [
        Spacer(0, 18),
        HRFlowable(width="100%", thickness=0.4, color=styles.RULE, spaceAfter=6),
        _Bookmark("colophon", _t(wording.OUTLINE_COLOPHON), 0),
        Paragraph(escape_markup(_t(wording.COLOPHON_HEADING)), styles.COLOPHON_HEADING),
        *(Paragraph(escape_markup(line), styles.COLOPHON) for line in lines),
    ]
    return [KeepTogether(block)]


def _signatories_intro(doc: StatementDoc, total: int, marks: dict[str, str]) -> list[Flowable]:
    heading = Paragraph(escape_markup(_t(wording.SIGNATORIES)), styles.SECTION)
    heading.keepWithNext = True
    as_of = format_date(doc.generated_at.date())
    if total == 0:
        summary = _t(wording.SUMMARY_NONE).format(date=as_of)
    elif total == 1:
        summary = _t(wording.SUMMARY_ONE).format(date=as_of)
    else:
        summary = wording.summary_many(total).format(
            date=as_of, words=wording.count_in_words(total), figures=format_count(total)
        )
    intro: list[Flowable] = [
        CondPageBreak(_SIGNATORIES_MIN_HEIGHT),
        _Bookmark("signatories", _t(wording.OUTLINE_SIGNATORIES), 0),
        heading,
    ]
    intro.append(Paragraph(escape_markup(summary), styles.BODY))
    if doc.initiator_rows and total > len(doc.initiator_rows):
        note = _t(wording.INITIATORS_COUNTED)
        intro.append(Paragraph(escape_markup(note), styles.NOTE))
    for sha, mark in marks.items():
        note = _t(EARLIER_VERSION_NOTE).format(
            short_hash=sha[:SHORT_HASH_LENGTH], date=format_date(doc.earlier_versions[sha])
        )
        intro.append(Paragraph(escape_markup(clean_inline(f"{mark} {note}")), styles.NOTE))
    intro.append(Spacer(0, 8))
    return intro


def _version_marks(doc: StatementDoc) -> dict[str, str]:
    earlier = sorted(
        ((when, sha) for sha, when in doc.earlier_versions.items() if sha != doc.version_sha256),
        reverse=True,
    )
    return {
        sha: VERSION_MARKS[i % len(VERSION_MARKS)] * (i // len(VERSION_MARKS) + 1)
        for i, (_, sha) in enumerate(earlier)
    }


def _pdf_date_formatter(when: datetime) -> Callable[..., str]:
    offset = when.utcoffset()
    if offset is None:
        stamp = f"D:{when:%Y%m%d%H%M%S}"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        stamp = f"D:{when:%Y%m%d%H%M%S}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
    return lambda *_: stamp


class _FlateDone:
    """A stream filter whose encoding has already been applied: names FlateDecode, changes nothing."""

    pdfname = "FlateDecode"

    @staticmethod
    def encode(data: bytes) -> bytes:
        return data


_FLATE_DONE = _FlateDone()


class _PagedCanvas(Canvas):
    """A canvas whose footers say "of Y" before Y is known: Y is a form defined at save time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.page_count = 0
        self.archival: tuple[str | None, datetime] | None = None

    def showPage(self) -> None:
        self.page_count += 1
        super().showPage()
        # ReportLab keeps every page's operators as text until save() and compresses them then;
        # compressing each page as it is finished (the same bytes) keeps only the compressed form
        # in memory: about 15 MB less at 100,000 signatories.
        page = self._doc.Pages.pages[-1]  # type: ignore[attr-defined]
        if page.compression and page.stream and not page.Contents and not rl_config.useA85:
            content = zlib.compress(page.stream.encode("utf-8"))
            page.Contents = PDFStream(content=content, filters=[_FLATE_DONE])
            page.Contents.__Comment__ = "page stream"
            page.stream = None

    def save(self) -> None:
        self.beginForm(_PAGE_TOTAL_FORM)
        self.setFont(SANS, styles.FOOTER_SIZE)
        self.setFillColor(styles.FAINT)
        self.drawString(0, 0, str(self.page_count))
        self.endForm()
        if self.archival is not None:
            self.setViewerPreference("DisplayDocTitle", "true")
            self.showOutline()
            add_archival_entries(self._doc, *self.archival)  # type: ignore[attr-defined]
        super().save()


class _StatementTemplate(BaseDocTemplate):
    def __init__(self, out: BinaryIO | str | os.PathLike[str], doc: StatementDoc) -> None:
        target = os.fspath(out) if isinstance(out, os.PathLike) else out
        super().__init__(
            target,
            pagesize=(styles.PAGE_WIDTH, styles.PAGE_HEIGHT),
            leftMargin=styles.MARGIN_LEFT,
            rightMargin=styles.MARGIN_RIGHT,
            topMargin=styles.MARGIN_TOP,
            bottomMargin=styles.MARGIN_BOTTOM,
            title=clean_inline(doc.title),
            author=clean_inline(doc.campaign),
            subject=clean_inline(doc.subtitle),
            keywords=[k for k in (clean_inline(k) for k in doc.keywords) if k],
            creator="Jointly",
            lang=doc.language,
            # Same inputs, same bytes: the creation date comes from doc.generated_at instead.
            invariant=1,
            pageCompression=1,
            # The canvas opens every page with its initial font: ours (embedded), not Helvetica.
            initialFontName=SANS,
        )
        self._title = clean_inline(doc.title)
        frame = Frame(
            styles.MARGIN_LEFT,
            styles.MARGIN_BOTTOM,
            styles.FRAME_WIDTH,
            styles.FRAME_HEIGHT,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id="body",
        )
        self.addPageTemplates([PageTemplate("page", [frame], onPageEnd=self._decorate)])

    def _decorate(self, canvas: Canvas, _doc: BaseDocTemplate) -> None:
        """Footer: "Page X of Y" at the left, the title at the right, a hairline above."""
        page = canvas.getPageNumber()
        left = styles.MARGIN_LEFT
        right = styles.PAGE_WIDTH - styles.MARGIN_RIGHT
        canvas.saveState()
        canvas.setFont(SANS, styles.FOOTER_SIZE)
        canvas.setFillColor(styles.FAINT)
        canvas.setStrokeColor(styles.RULE)
        canvas.setLineWidth(0.4)
        rule_y = styles.FOOTER_BASELINE + 10
        canvas.line(left, rule_y, right, rule_y)
        label = _t(wording.PAGE_OF).format(page=page)
        canvas.drawRightString(
            right,
            styles.FOOTER_BASELINE,
            _fit(self._title, SANS, styles.FOOTER_SIZE, styles.FRAME_WIDTH - 110),
        )
        canvas.drawString(left, styles.FOOTER_BASELINE, label)
        canvas.translate(
            left + pdfmetrics.stringWidth(label, SANS, styles.FOOTER_SIZE),
            styles.FOOTER_BASELINE,
        )
        canvas.doForm(_PAGE_TOTAL_FORM)
        canvas.restoreState()


def _fit(text: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


# --- signatory list ----------------------------------------------------------------------------

# PDF literal-string escaping as a str.translate table: str.translate runs in C, where ReportLab's
# own escaper is a Python loop per character (without its optional accelerator).
_PDF_ESCAPES = {c: f"\\{c:03o}" for c in (*range(0, 32), *range(127, 256))}
_PDF_ESCAPES.update({ord("("): "\\(", ord(")"): "\\)", ord("\\"): "\\\\"})
_WORDS = re.compile(r"\S+\s*")
_TAIL_CACHE_LIMIT = 4096


class _Widths(dict[str, float]):
    """Advance widths per character at 1 pt, filled on first use; sums run at C speed."""

    def __init__(self, font_name: str) -> None:
        super().__init__()
        face = cast(TTFont, pdfmetrics.getFont(font_name)).face  # fonts.py registers TTFonts
        self._lookup = face.charWidths.get
        self._default = face.defaultWidth
        self._covered = face.charToGlyph

    def __missing__(self, char: str) -> float:
        # A character without a glyph is printed as REPLACEMENT (fonts.CoveredTTFont).
        code = ord(char) if ord(char) in self._covered else ord(REPLACEMENT)
        width = self[char] = 0.001 * self._lookup(code, self._default)
        return width

    def measure(self, text: str, size: float) -> float:
        return sum(map(self.__getitem__, text)) * size


_WIDTHS: dict[str, _Widths] = {}


def _widths(font_name: str) -> _Widths:
    table = _WIDTHS.get(font_name)
    if table is None:
        table = _WIDTHS[font_name] = _Widths(font_name)
    return table


class _Encoder:
    """Turns text into (PDF font resource, escaped string) pieces for one TrueType font."""

    def __init__(self, font_name: str, pdf_doc: object) -> None:
        self._font = cast(TTFont, pdfmetrics.getFont(font_name))  # fonts.py registers TTFonts
        self._doc = pdf_doc
        self._names: dict[int, str] = {}
        self._font.splitString(" ", pdf_doc)
        # Set by ReportLab when the state is made; types-reportlab omits it.
        state = self._font.state[pdf_doc]
        self._assignments: dict[int, int] = state.assignments  # type: ignore[attr-defined]
        # ReportLab's "ASCII readable" subsetting puts printable ASCII at its own code in subset 0,
        # so ASCII text needs no per-character lookup. Checked rather than assumed.
        self._ascii_identity = all(self._assignments.get(c) == c for c in range(32, 127))
        # Most Latin diacritics also land in subset 0: two str.translate calls (C loops) tell
        # whether a string is all subset 0 and encode it, instead of ReportLab's per-char loop.
        self._subset0_escape: dict[int, str] = {c: _PDF_ESCAPES[c] for c in b"()\\"}
        self._subset0_known: dict[int, None] = {}
        if self._ascii_identity:
            self._learn(range(32, 127))

    def _learn(self, codepoints: Iterable[int]) -> None:
        for cp in codepoints:
            code = self._assignments.get(cp)
            if code is not None and code < 256 and cp not in self._subset0_known:
                self._subset0_known[cp] = None
                if code != cp or cp >= 127:
                    self._subset0_escape[cp] = _PDF_ESCAPES.get(code, chr(code))

    def name(self, subset: int) -> str:
        name = self._names.get(subset)
        if name is None:
            name = self._names[subset] = self._font.getSubsetInternalName(subset, self._doc)
        return name

    def encode(self, text: str) -> list[tuple[str, str]]:
        if self._ascii_identity and not text.translate(self._subset0_known):
            return [(self.name(0), text.translate(self._subset0_escape))]
        pieces = [
            (self.name(subset), chunk.decode("latin-1").translate(_PDF_ESCAPES))
            for subset, chunk in self._font.splitString(text, self._doc)
        ]
        self._learn(map(ord, text))
        return pieces


# A run is (encoder, font size, grey level, text); a line is a list of runs.
_Run = tuple[_Encoder, float, float, str]


@dataclass
class _Entry:
    type_index: int
    country: str
    lines: list[list[_Run]]
    placed: bool = False
    group_goes_on: bool = False  # more rows of its type follow


class _ChunkBuilder:
    """Collects the PDF operators of one frame's worth of list; y grows downwards from the top."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.graphics: list[str] = []
        self.bookmarks: list[tuple[str, str, float, float]] = []  # key, title, x, y
        self.used = 0.0  # in the current column
        self.height = 0.0  # of the tallest column so far
        self.x0 = 0.0  # left edge of the current column
        self._font: tuple[str, float] | None = None
        self._grey: float | None = None

    def next_column(self, x0: float) -> None:
        self.height = max(self.height, self.used)
        self.used = 0.0
        self.x0 = x0

    def line(self, x: float, baseline: float, runs: list[_Run]) -> None:
        emit = self.text.append
        emit(f"1 0 0 1 {self.x0 + x:.2f} {-baseline:.2f} Tm")
        for encoder, size, grey, text in runs:
            if grey != self._grey:
                emit(f"{grey:.2f} g")
                self._grey = grey
            for name, escaped in encoder.encode(text):
                if (name, size) != self._font:
                    emit(f"{name} {size:g} Tf")
                    self._font = (name, size)
                emit(f"({escaped}) Tj")

    def rule(self, y: float, width: float) -> None:
        x0 = self.x0
        self.graphics.append(
            f"{_grey(styles.RULE):.2f} G 0.4 w {x0:.2f} {-y:.2f} m {x0 + width:.2f} {-y:.2f} l S"
        )

    def flowable(self, width: float) -> _ListChunk:
        height = max(self.height, self.used)
        return _ListChunk(width, height, self.text, self.graphics, self.bookmarks)


def _wrap_plain(
    text: str, widths: _Widths, size: float, width: float, keep_last: bool = False
) -> list[str]:
    """Greedy word wrap of a short one-style text (headings); over-long words are broken.

    keep_last keeps the last two words on one line: a heading's count goes with its label.
    """
    words = text.split(" ")
    if keep_last and len(words) > 1:
        words[-2:] = [f"{words[-2]} {words[-1]}"]
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if current and widths.measure(trial, size) > width:
            lines.append(current)
            trial = word
        current = trial
        while len(current) > 1 and widths.measure(current, size) > width:
            cut = len(current) - 1
            while cut > 1 and widths.measure(current[:cut], size) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


# What goes above an entry: (height, [(baseline, size, grey, text)], rule y or None).
_Head = tuple[float, list[tuple[float, float, float, str]], float | None]
_NO_HEAD: _Head = (0.0, [], None)


def _grey(color: Color) -> float:
    return float(color.red)  # the palette is neutral grey: one channel says it all


_INK = _grey(styles.INK)
_MUTED = _grey(styles.MUTED)
_FAINT = _grey(styles.FAINT)


class _ListChunk(Flowable):
    """The entries of one frame, as ready-made operators: drawing is a single append."""

    def __init__(
        self,
        width: float,
        height: float,
        text: list[str],
        graphics: list[str],
        bookmarks: list[tuple[str, str, float, float]],
    ) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._text = text
        self._graphics = graphics
        self._bookmarks = bookmarks

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        # Operators use y measured down from the chunk's top edge.
        canvas.translate(0, self.height)
        for key, title, x, y in self._bookmarks:
            canvas.bookmarkHorizontal(key, x, -y)
            canvas.addOutlineEntry(title, key, level=1)
        if self._graphics:
            canvas.addLiteral("\n".join(self._graphics))
        if self._text:
            canvas.addLiteral("BT\n" + "\n".join(self._text) + "\nET")


class _SignatoryStream(Flowable):
    """The whole list as a flowable that hands out one frame of entries at a time."""

    def __init__(
        self,
        rows: Iterator[SignatoryRow],
        labels: list[tuple[str, str]],
        order: dict[str, int],
        counts: dict[str, int],
        marks: dict[str, str],
        current_version: str,
        frame_height: float,
    ) -> None:
        super().__init__()
        self._rows = rows
        self._labels = labels
        self._order = order
        self._counts = counts
        self._marks = marks
        self._current = current_version
        self._frame_height = frame_height
        self._seen = [0] * len(labels)
        self._peeked_index = -1  # type of the last row read, to check the order
        self._group_index = -1  # type of the last entry placed, for headings
        self._country: str | None = None  # country of the last entry placed, for subheadings
        # Entries read but not placed yet: up to two frames' worth, so the last frame of the list
        # can be seen coming and its two columns balanced.
        self._buffer: deque[_Entry] = deque()
        self._exhausted = False
        self._regular: _Encoder | None = None
        self._bold: _Encoder | None = None
        self._tails: dict[str, tuple[float, str]] = {}
        self.country_names: Mapping[str, str] = {}
        self._name_widths = _widths(REGULAR)
        self._bold_widths = _widths(SANS_BOLD)
        self._headings: dict[tuple[str, float], list[str]] = {}
        self._group_headings = [
            _t(wording.GROUP_HEADING).format(label=label, count=format_count(counts.get(code, 0)))
            for code, label in labels
        ]
        self.placed = 0

    # platypus protocol: never fit, always split, so every frame asks for its share.
    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return availWidth, availHeight + 1

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        # platypus flags a flowable that once did not fit and errors if it fails again; the stream
        # legitimately declines many frame bottoms.
        self.__dict__.pop("_postponed", None)
        if self._regular is None:
            # The document the canvas writes into: the font subsets are per document.
            pdf_doc = self.canv._doc  # type: ignore[attr-defined]
            self._regular = _Encoder(REGULAR, pdf_doc)
            self._bold = _Encoder(SANS_BOLD, pdf_doc)
        at_top = availHeight >= self._frame_height - 0.5
        limit = self._balanced_height(availHeight, at_top)
        if limit is not None:
            at_top = True  # this frame takes the rest of the list, however it starts
        chunk = _ChunkBuilder()
        status, _ = self._fill(chunk, limit or availHeight, at_top)
        if status == "none":
            return []  # not even one entry fits here: the list goes on in the next frame
        if status == "done":
            return [chunk.flowable(availWidth)]
        return [chunk.flowable(availWidth), self]

    def _balanced_height(self, avail: float, at_top: bool) -> float | None:
        """The column height that splits the rest of the list evenly over this frame's two
        columns, when the rest fits here and would otherwise leave the right column (nearly)
        empty; None otherwise."""
        capacity = 2 * avail / styles.LIST_LEADING
        lines = 0
        index = 0
        while (entry := self._entry_at(index)) is not None:
            lines += len(entry.lines)
            index += 1
            if lines > capacity:
                return None
        status, height = self._fill(None, avail, at_top)
        if status != "done" or height < _BALANCE_FROM:
            return None
        low, high = 0.0, avail
        while high - low > 0.5:
            middle = (low + high) / 2
            if self._fill(None, middle, True)[0] == "done":
                high = middle
            else:
                low = middle
        return high

    def _fill(self, chunk: _ChunkBuilder | None, limit: float, at_top: bool) -> tuple[str, float]:
        """Lay entries into the two columns, each at most ``limit`` high.

        With ``chunk`` None, a dry run: nothing is drawn or taken. Returns ("done": the list
        ended, "full": the frame is, "none": nothing fits, "split": a dry run met an entry
        taller than a column) and the height of the taller column.
        """
        width = styles.COLUMN_WIDTH
        group, country = self._group_index, self._country
        index = 0  # dry runs look entries up; real ones take them off the buffer's front
        tallest = 0.0
        for column in (0, 1):
            used = 0.0
            if chunk is not None:
                chunk.next_column(column * (width + styles.COLUMN_GAP))
            while True:
                entry = self._entry_at(index)
                if entry is None:
                    return "done", max(tallest, used)
                opens_group = entry.type_index != group
                opens_country = opens_group or entry.country != country
                head = self._head(entry, used, opens_group, opens_country)
                lines = entry.lines
                # A (sub)heading keeps at least two lines under it when its group goes on.
                keep = styles.LIST_LEADING if opens_country and entry.group_goes_on else 0.0
                needed = head[0] + len(lines) * styles.LIST_LEADING
                if used + needed + keep > limit + 1e-6:
                    if used:
                        break  # this column is full
                    if column == 0 and not at_top:
                        return "none", 0.0
                    if needed > limit + 1e-6:
                        # Taller than a whole column (an absurdly long name): place what fits.
                        if chunk is None:
                            return "split", limit
                        fit = max(1, int((limit - head[0]) // styles.LIST_LEADING))
                        self._place(chunk, entry, lines[:fit], opens_group, opens_country, head)
                        entry.lines = lines[fit:]
                        group, country, used = entry.type_index, entry.country, limit
                        break
                    # Otherwise a column too short to keep two lines: the entry goes in anyway.
                if chunk is None:
                    index += 1
                else:
                    self._place(chunk, entry, lines, opens_group, opens_country, head)
                    self._buffer.popleft()
                group, country = entry.type_index, entry.country
                used += needed
            tallest = max(tallest, used)
        return "full", tallest

    def _place(
        self,
        chunk: _ChunkBuilder,
        entry: _Entry,
        lines: list[list[_Run]],
        opens_group: bool,
        opens_country: bool,
        head: _Head,
    ) -> None:
        assert self._bold is not None
        height, texts, rule = head
        top = chunk.used
        for baseline, size, grey, text in texts:
            chunk.line(0, top + baseline, [(self._bold, size, grey, text)])
        if rule is not None:
            chunk.rule(top + rule, styles.COLUMN_WIDTH)
        if opens_group:
            code = self._labels[entry.type_index][0]
            key = f"group-{code}"
            chunk.bookmarks.append((key, self._group_headings[entry.type_index], chunk.x0, top))
            self._group_index = entry.type_index
        if opens_country:
            self._country = entry.country
        y = top + height
        for i, runs in enumerate(lines):
            x = 0.0 if i == 0 and not entry.placed else styles.LIST_INDENT
            chunk.line(x, y + 8.8, runs)
            y += styles.LIST_LEADING
        chunk.used = y
        if not entry.placed:
            entry.placed = True
            self.placed += 1

    def _head(self, entry: _Entry, used: float, opens_group: bool, opens_country: bool) -> _Head:
        """The group heading, continuation note and country subheading above an entry, if any.

        Headings wrap like names (a long label or country is never cut or run into the next
        column). A column that starts inside a group names the group and the country again.
        """
        continues = not opens_group and used == 0
        if not (opens_group or opens_country or continues):
            return _NO_HEAD
        texts: list[tuple[float, float, float, str]] = []
        rule = None
        y = 0.0

        def add(
            text: str, size: float, grey: float, first: float, step: float, keep_last: bool = False
        ) -> None:
            nonlocal y
            wrapped = self._heading_lines(text, size, keep_last)
            for n, line in enumerate(wrapped):
                texts.append((y + first + n * step, size, grey, line))
            y += (len(wrapped) - 1) * step

        label = self._labels[entry.type_index][1]
        if opens_group:
            y += styles.GROUP_GAP if used else 0.0
            heading = self._group_headings[entry.type_index]
            add(heading, styles.GROUP_SIZE, _INK, 11.0, 12.0, keep_last=True)
            rule = y + 15.0
            y += styles.GROUP_HEADING_HEIGHT
        elif continues:
            note = _t(wording.CONTINUED).format(label=label)
            add(note, styles.CONTINUED_SIZE, _FAINT, 9.0, 9.0)
            y += styles.CONTINUED_HEIGHT
        elif opens_country:
            y += styles.COUNTRY_GAP
        country = entry.country or _t(wording.NO_COUNTRY)
        add(country, styles.COUNTRY_SIZE, _MUTED, 8.5, 9.5)
        y += styles.COUNTRY_HEIGHT
        return (y, texts, rule)

    def _heading_lines(self, text: str, size: float, keep_last: bool) -> list[str]:
        key = (text, size)
        lines = self._headings.get(key)
        if lines is None:
            if len(self._headings) >= _TAIL_CACHE_LIMIT:
                self._headings.clear()
            lines = _wrap_plain(text, self._bold_widths, size, styles.COLUMN_WIDTH, keep_last)
            self._headings[key] = lines
        return lines

    def _entry_at(self, index: int) -> _Entry | None:
        """The index-th entry not yet placed, reading rows as needed; None past the last."""
        while len(self._buffer) <= index:
            if self._exhausted:
                return None
            row = next(self._rows, None)
            if row is None:
                self._exhausted = True
                self._check_group_end(len(self._labels))
                return None
            entry = self._layout(row, styles.COLUMN_WIDTH)
            code = self._labels[entry.type_index][0]
            entry.group_goes_on = self._seen[entry.type_index] < self._counts.get(code, 0)
            self._buffer.append(entry)
        return self._buffer[index]

    def _layout(self, row: SignatoryRow, width: float) -> _Entry:
        code = str(row.organisation_type)
        index = self._order.get(code)
        if index is None:
            raise SignatoryListError(f"unknown organisation type {code!r}")
        if index < self._peeked_index:
            raise SignatoryListError(f"rows are not sorted by organisation type at {code!r}")
        if index != self._peeked_index:
            self._check_group_end(index)
            self._peeked_index = index
        self._seen[index] += 1
        if self._seen[index] > self._counts.get(code, 0):
            raise SignatoryListError(f"more {code!r} rows than counted")

        version = str(row.version_sha256)
        mark = ""
        if version != self._current:
            mark = self._marks.get(version, "")
            if not mark:
                raise SignatoryListError(f"row endorses an unknown version {version[:12]!r}")
        name = clean_inline(row.organisation_name) + mark
        country = self._country_name(row.country_name)
        tail_width, tail = self._tail(row.city)
        if self._name_widths.measure(name, styles.LIST_SIZE) + tail_width <= width:
            assert self._regular is not None
            runs: list[_Run] = [(self._regular, styles.LIST_SIZE, _INK, name)]
            if tail:
                runs.append((self._regular, styles.LIST_SIZE, _MUTED, tail))
            return _Entry(index, country, [runs])
        return _Entry(index, country, self._wrap(name, tail, width))

    def _country_name(self, country: str | None) -> str:
        key = f"\x01{country or ''}"
        cached = self._tails.get(key)
        if cached is None:
            name = self.country_names.get(country or "", country or "")
            cached = self._tails[key] = (0.0, clean_inline(name))
        return cached[1]

    def _tail(self, city: str | None) -> tuple[float, str]:
        key = city or ""
        cached = self._tails.get(key)
        if cached is None:
            place = clean_inline(city or "")
            tail = f" — {place}" if place else ""
            if len(self._tails) >= _TAIL_CACHE_LIMIT:
                self._tails.clear()
            cached = self._tails[key] = (self._name_widths.measure(tail, styles.LIST_SIZE), tail)
        return cached

    def _wrap(self, name: str, tail: str, width: float) -> list[list[_Run]]:
        """Greedy word wrap of name + tail; words wider than a line are broken between letters."""
        assert self._regular is not None
        widths = self._name_widths
        size = styles.LIST_SIZE
        full = name + tail
        boundary = len(name)
        ranges: list[tuple[int, int]] = []
        start = 0
        used = 0.0
        avail = width
        for match in _WORDS.finditer(full):
            word_start, word_end = match.span()
            word = match.group()
            trimmed = widths.measure(word.rstrip(), size)
            if used + trimmed <= avail:
                used += widths.measure(word, size)
                continue
            if used:
                ranges.append((start, word_start))
                start, used, avail = word_start, 0.0, width - styles.LIST_INDENT
                if trimmed <= avail:
                    used = widths.measure(word, size)
                    continue
            # A single word longer than the line: cut it where it stops fitting.
            pos = word_start
            while widths.measure(full[pos:word_end].rstrip(), size) > avail:
                cut, run_width = pos, 0.0
                while cut < word_end:
                    step = widths.measure(full[cut], size)
                    if run_width + step > avail and cut > pos:
                        break
                    run_width += step
                    cut += 1
                ranges.append((pos, cut))
                pos, avail = cut, width - styles.LIST_INDENT
            start, used = pos, widths.measure(full[pos:word_end], size)
        ranges.append((start, len(full)))

        lines: list[list[_Run]] = []
        for a, b in ranges:
            text_end = a + len(full[a:b].rstrip())
            runs: list[_Run] = []
            if a < boundary:
                runs.append((self._regular, size, _INK, full[a : min(boundary, text_end)]))
            if text_end > boundary:
                runs.append((self._regular, size, _MUTED, full[max(a, boundary) : text_end]))
            runs = [run for run in runs if run[3]]
            if runs:
                lines.append(runs)
        return lines

    def _check_group_end(self, next_index: int) -> None:
        """Every type before next_index must have delivered exactly its count."""
        for index in range(max(self._peeked_index, 0), next_index):
            code = self._labels[index][0]
            expected = self._counts.get(code, 0)
            if self._seen[index] != expected:
                raise SignatoryListError(
                    f"{self._seen[index]} {code!r} rows where the counts say {expected} "
                    "(rows missing, or not sorted by type)"
                )
