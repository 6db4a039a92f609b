"""The statement PDF as a reader gets it: two columns read in order, groups and countries, outline,
letterhead and logo, reading measure, count in words, no empty page. Checked with poppler's tools
(pdftotext crops per column) and pikepdf."""

from __future__ import annotations

import functools
import io
import re
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from petition.pdf.layout import ORGANISATION_TYPES, SignatoryRow, render_statement_pdf, styles
from petition.pdf.layout.letterhead import LogoError, load_logo
from petition.pdf.layout.wording import count_in_words
from tests.test_pdf_render import CURRENT, ROWS, counts_of, make_doc

LABELS = dict(ORGANISATION_TYPES)
COUNTRIES = ("Belgium", "Ελλάδα", "France", "Україна", "Österreich", "Polska", "España")
NAMES = (
    "Alpha Cluster",
    "Περιφέρεια Αττικής",
    "Київський інститут",
    "Agence régionale de développement économique et d'innovation de la Nouvelle-Aquitaine",
    "Łódź Tech",
)
DATA = Path(__file__).with_name("data")


def make_rows(total: int) -> list[SignatoryRow]:
    """Sorted like the database sorts them: type order, country, name."""
    rows = []
    for i in range(total):
        code = ORGANISATION_TYPES[(i * 7) % len(ORGANISATION_TYPES)][0]
        country = COUNTRIES[(i * 3) % len(COUNTRIES)]
        name = f"Org{i:06d} {NAMES[i % len(NAMES)]}"
        rows.append(SignatoryRow(code, name, "Città" if i % 4 else "", country, CURRENT))
    order = {code: n for n, (code, _) in enumerate(ORGANISATION_TYPES)}
    rows.sort(key=lambda r: (order[r.organisation_type], r.country_name, r.organisation_name))
    return rows


@functools.lru_cache(maxsize=4)  # the order and the orphan checks read the same crops
def column_text(path: Path, column: int) -> list[str]:
    """pdftotext of one list column on every page (72 dpi: pixels are points), pages split.

    On the last page the crop stops above the colophon, which spans both columns.
    """
    half = styles.COLUMN_WIDTH + styles.COLUMN_GAP / 2
    x = styles.MARGIN_LEFT - 2 + column * half
    top = styles.MARGIN_TOP - 4

    def crop(height: float, *pages: str) -> list[str]:
        out = subprocess.run(
            ["pdftotext", "-raw", "-enc", "UTF-8", *pages, "-x", str(int(x)), "-y", str(int(top))]
            + ["-W", str(int(half)), "-H", str(int(height)), str(path), "-"],
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8")
        return out.split("\f")[:-1]

    texts = crop(styles.FRAME_HEIGHT + 8)
    last = len(texts)
    words = word_boxes(path, first_page=last)[0]
    colophon = next(
        y0
        for n, (_, y0, _, _, word) in enumerate(words)
        if (word, words[n + 1][4]) == ("About", "this")
    )
    texts[-1:] = crop(colophon - top - 1, "-f", str(last), "-l", str(last))
    return texts


def join_wrapped_headings(lines: list[str], heading: re.Pattern[str]) -> list[str]:
    """Non-empty lines, a group heading wrapped over two lines joined again."""
    lines = [line.strip() for line in lines if line.strip()]
    joined: list[str] = []
    at = 0
    while at < len(lines):
        pair = " ".join(lines[at : at + 2])
        match = heading.fullmatch(pair)
        if at + 1 < len(lines) and match and match.group(1) in LABELS.values():
            joined.append(pair)
            at += 2
        else:
            joined.append(lines[at])
            at += 1
    return joined


def read_list(path: Path) -> list[tuple[str, str, str]]:
    """(group label, country, entry text) in reading order: page by page, left column first.

    Every column is read on its own: one that starts inside a group must name the group (and the
    country, when that goes on) before its first entry, or its entries get no group or country.
    """
    left, right = column_text(path, 0), column_text(path, 1)
    heading = re.compile(r"(.+) \((\d[\d,]*)\)")
    continued = re.compile(r"(.+) \(continued\)")
    entries: list[list[str]] = []
    group = country = ""  # where the previous column ended
    columns = [text for pair in zip(left, right, strict=True) for text in pair]
    for column in columns:
        ended = (group, country)
        group = country = ""
        in_list = False  # above the list, a crop cuts through the statement's text: skip it
        for line in join_wrapped_headings(column.splitlines(), heading):
            if not in_list:
                in_list = (
                    bool(heading.fullmatch(line) or continued.fullmatch(line))
                    or line in COUNTRIES
                    or line.startswith("Org")
                )
                if not in_list:
                    continue
            match = heading.fullmatch(line)
            if match and match.group(1) in LABELS.values():
                group, country = match.group(1), ""
                continue
            match = continued.fullmatch(line)
            if match:
                group = match.group(1)
                assert group == ended[0], line
                continue
            if line in COUNTRIES:
                country = line
            elif line.startswith("Org"):
                entries.append([group, country, line])
            elif entries:  # a wrapped entry's next line
                entries[-1][2] += " " + line
    return [(g, c, t) for g, c, t in entries]  # type: ignore[misc]


def assert_list_reads_in_order(path: Path, rows: list[SignatoryRow]) -> None:
    found = read_list(path)
    assert len(found) == len(rows)
    for (group, country, text), row in zip(found, rows, strict=True):
        expected = row.organisation_name + (f" — {row.city}" if row.city else "")
        assert text == expected
        assert group == LABELS[row.organisation_type], text
        assert country == row.country_name, text


def assert_no_orphaned_headings(path: Path) -> None:
    """No column ends with a group heading or country subheading above fewer than two lines
    while its group goes on in the next column."""
    heading = re.compile(r"(.+) \((\d[\d,]*)\)")
    left, right = column_text(path, 0), column_text(path, 1)
    columns = [text for pair in zip(left, right, strict=True) for text in pair]
    checked = 0
    for column, following in zip(columns, columns[1:], strict=False):
        lines = join_wrapped_headings(column.splitlines(), heading)
        nxt = join_wrapped_headings(following.splitlines(), heading)
        if not lines or not nxt or not nxt[0].endswith("(continued)"):
            continue
        checked += 1
        tail = lines[-3:]
        last_heading = max(
            (n for n, line in enumerate(tail) if line in COUNTRIES or heading.fullmatch(line)),
            default=None,
        )
        if last_heading is not None:
            assert len(tail) - last_heading - 1 >= 2, (tail, nxt[:2])
    assert checked


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SignatoryRow]]:
    rows = make_rows(30_000)
    path = tmp_path_factory.mktemp("design") / "big.pdf"
    render_statement_pdf(path, make_doc(), counts_of(rows), iter(rows))
    return path, rows


def test_two_columns_read_in_order_at_1k(tmp_path: Path) -> None:
    rows = make_rows(1000)
    path = tmp_path / "1k.pdf"
    render_statement_pdf(path, make_doc(), counts_of(rows), iter(rows))
    assert_list_reads_in_order(path, rows)
    assert_no_orphaned_headings(path)


def test_two_columns_read_in_order_at_30k(big: tuple[Path, list[SignatoryRow]]) -> None:
    path, rows = big
    assert_list_reads_in_order(path, rows)
    assert_no_orphaned_headings(path)


def test_the_long_document_passes_the_structure_and_font_checks(
    big: tuple[Path, list[SignatoryRow]],
) -> None:
    """The archive checks of test_pdf_archival hold at 30,000 names too (many font subsets)."""
    path, _ = big
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    rows = fonts.stdout.splitlines()[2:]
    assert len(rows) >= 4
    assert all(row.split()[-5:-3] == ["yes", "yes"] for row in rows), fonts.stdout  # emb, sub


def test_outline_has_the_statement_each_group_and_the_colophon(
    big: tuple[Path, list[SignatoryRow]],
) -> None:
    path, rows = big
    counts = Counter(row.organisation_type for row in rows)
    with pikepdf.open(path) as pdf, pdf.open_outline() as outline:
        top = [item.title for item in outline.root]
        assert top == [
            "Joint statement on regional innovation",
            "Signatories",
            "About this document",
        ]
        groups = [item.title for item in outline.root[1].children]
        assert groups == [
            f"{label} ({counts[code]:,})" for code, label in ORGANISATION_TYPES if counts[code]
        ]
        assert str(pdf.Root.PageMode) == "/UseOutlines"


def test_short_list_has_no_empty_page(tmp_path: Path) -> None:
    rows = ROWS[:3]
    path = tmp_path / "short.pdf"
    result = render_statement_pdf(
        path, make_doc(body_markdown="We call for place-based innovation."), counts_of(rows), rows
    )
    assert result.pages == 1
    # And with the full fixture, every page carries more than its footer.
    path = tmp_path / "fixture.pdf"
    result = render_statement_pdf(path, make_doc(), counts_of(ROWS), ROWS)
    texts = (
        subprocess.run(
            ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
        )
        .stdout.decode("utf-8")
        .split("\f")[:-1]
    )
    assert len(texts) == result.pages
    for text in texts:
        body = [line for line in text.splitlines() if line.strip() and "Page " not in line]
        assert len(body) > 3


def test_letterhead_addressee_date_place_and_initiators(tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    doc = make_doc(
        addressee="European Commission, DG REGIO",
        place="Bruxelles",
        letter_date=date(2025, 4, 1),
        initiators=("Vanguard Initiative", "Київ <Hub>"),
    )
    render_statement_pdf(path, doc, counts_of(ROWS), ROWS)
    first = (
        subprocess.run(
            ["pdftotext", "-raw", "-l", "1", "-enc", "UTF-8", str(path), "-"],
            check=True,
            capture_output=True,
        )
        .stdout.decode("utf-8")
        .splitlines()
    )
    assert first[0] == "Vanguard Initiative"  # the campaign's name heads the letter
    assert "Bruxelles, 1 April 2025" in first
    assert "To: European Commission, DG REGIO" in first
    at = first.index("An initiative of")
    assert first[at + 1] == "Vanguard Initiative, Київ <Hub>"


def test_running_text_keeps_a_reading_measure(tmp_path: Path) -> None:
    words = "Regions and cities build the partnerships that carry innovation across Europe. " * 12
    path = tmp_path / "measure.pdf"
    render_statement_pdf(path, make_doc(body_markdown=words), {}, [])
    lines = (
        subprocess.run(
            ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
        )
        .stdout.decode("utf-8")
        .splitlines()
    )
    body = [line for line in lines if "partnerships" in line or "Regions and" in line]
    body = [line for line in body if len(line) > 30][:-1]  # full lines; the last may be short
    assert len(body) >= 8
    assert all(60 <= len(line) <= 75 for line in body), [len(line) for line in body]


def test_svg_logo_is_drawn_as_vectors(tmp_path: Path) -> None:
    logo = load_logo((DATA / "logo.svg").read_bytes())
    path = tmp_path / "svg.pdf"
    render_statement_pdf(path, make_doc(logo=logo), {}, [])
    with pikepdf.open(path) as pdf:
        page = pdf.pages[0]
        assert not page.Resources.get("/XObject", {}).keys() - {"/FormXob.PageTotal"}
        ops = {op for _, op in pikepdf.parse_content_stream(page)}
        assert pikepdf.Operator("re") in ops or pikepdf.Operator("c") in ops
        for gs in page.Resources.get("/ExtGState", {}).values():  # opacity dropped
            assert float(gs.get("/ca", 1)) == 1
    # Its text and the renderer's default font are our embedded sans, not a standard font.
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows
    assert all(row.split()[-5] == "yes" for row in rows), fonts.stdout
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    assert "RIS" in text.stdout


def test_png_logo_is_flattened(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (60, 20), (200, 30, 30, 128)).save(buffer, "PNG")
    path = tmp_path / "png.pdf"
    render_statement_pdf(path, make_doc(logo=load_logo(buffer.getvalue())), {}, [])
    with pikepdf.open(path) as pdf:
        images = [
            x for x in pdf.pages[0].Resources.XObject.values() if x.Subtype == pikepdf.Name.Image
        ]
        assert len(images) == 1
        assert "/SMask" not in images[0]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a",
        b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
        b"\x89PNG\r\n\x1a\nbroken",
    ],
)
def test_unusable_logos_are_refused(data: bytes) -> None:
    with pytest.raises(LogoError):
        load_logo(data)


def test_count_in_words() -> None:
    assert count_in_words(1) == "one"
    assert count_in_words(21) == "twenty-one"
    assert count_in_words(105) == "one hundred and five"
    assert count_in_words(12_004) == "twelve thousand and four"
    assert count_in_words(100_004) == "one hundred thousand and four"
    assert count_in_words(2_500_013) == "two million five hundred thousand and thirteen"


def word_boxes(
    path: Path, first_page: int = 1
) -> list[list[tuple[float, float, float, float, str]]]:
    """pdftotext -bbox: per page, (xMin, yMin, xMax, yMax, word) in points from the top left."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(first_page), "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    pages = []
    for page in out.split("<page ")[1:]:
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            page,
        )
        pages.append([(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in words])
    return pages


def test_list_text_stays_inside_its_column(tmp_path: Path) -> None:
    """Long names, long group labels (as translations may have) and long country names wrap:
    nothing runs into the other column or past the margin, and nothing is lost."""
    labels = [
        (code, f"{label} and their long translated heading") for code, label in ORGANISATION_TYPES
    ]
    country = "Congo, The Democratic Republic of the Congo, a country name of some length"
    rows = [
        SignatoryRow(
            code, f"Org{i:04d} {NAMES[i % len(NAMES)]} Consortium", "Città", country, CURRENT
        )
        for i, code in enumerate(code for code, _ in ORGANISATION_TYPES for _ in range(60))
    ]
    path = tmp_path / "columns.pdf"
    result = render_statement_pdf(
        path, make_doc(body_markdown="Short."), counts_of(rows), rows, type_labels=labels
    )
    assert result.pages >= 4
    left = styles.MARGIN_LEFT
    left_end = left + styles.COLUMN_WIDTH
    right_start = left_end + styles.COLUMN_GAP
    right_end = styles.PAGE_WIDTH - styles.MARGIN_RIGHT
    list_bottom = styles.PAGE_HEIGHT - styles.MARGIN_BOTTOM
    words = 0
    for page in word_boxes(path, first_page=2):  # page 1 holds the statement's wider text
        for n, (x0, y0, x1, _, word) in enumerate(page):
            if word == "About" and page[n + 1][4] == "this":
                break  # the colophon, full width, after the list
            if y0 > list_bottom:
                continue  # the footer
            words += 1
            in_left = left - 0.5 <= x0 and x1 <= left_end + 0.5
            in_right = right_start - 0.5 <= x0 and x1 <= right_end + 0.5
            assert in_left or in_right, (word, x0, x1)
    assert words > 1000
    text = " ".join(" ".join(lines_of_text(path)).split())
    for _, label in labels:
        assert f"{label} (60)" in text
    assert text.count(country) >= len(ORGANISATION_TYPES)


def lines_of_text(path: Path) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    )
    return [line.strip() for line in out.stdout.decode("utf-8").splitlines()]


def test_footer_holds_only_page_x_of_y_and_the_title(tmp_path: Path) -> None:
    rows = make_rows(400)
    path = tmp_path / "footer.pdf"
    result = render_statement_pdf(path, make_doc(), counts_of(rows), iter(rows))
    assert result.pages >= 3
    band_top = styles.PAGE_HEIGHT - styles.FOOTER_BASELINE - 14
    footers = (
        subprocess.run(
            [
                "pdftotext",
                "-raw",
                "-enc",
                "UTF-8",
                "-y",
                str(int(band_top)),
                "-H",
                "60",
                "-x",
                "0",
                "-W",
                str(int(styles.PAGE_WIDTH)),
                str(path),
                "-",
            ],
            check=True,
            capture_output=True,
        )
        .stdout.decode("utf-8")
        .split("\f")[:-1]
    )
    assert len(footers) == result.pages
    for number, footer in enumerate(footers, start=1):
        expected = f"Page {number} of {result.pages} Joint statement on regional innovation"
        assert sorted(footer.split()) == sorted(expected.split()), footer


def column_bottoms(path: Path, page: int) -> tuple[float, float]:
    """Lowest word of each list column on ``page``, above the colophon if it is there."""
    words = word_boxes(path, first_page=page)[0]
    limit = styles.PAGE_HEIGHT - styles.MARGIN_BOTTOM
    for n, (_, y0, _, _, word) in enumerate(words):
        if (word, words[n + 1][4] if n + 1 < len(words) else "") == ("About", "this"):
            limit = y0
    middle = styles.MARGIN_LEFT + styles.COLUMN_WIDTH + styles.COLUMN_GAP / 2
    left = [y1 for x0, _, _, y1, _ in words if y1 < limit and x0 < middle]
    right = [y1 for x0, _, _, y1, _ in words if y1 < limit and x0 >= middle]
    return max(left, default=0.0), max(right, default=0.0)


@pytest.mark.parametrize("total", [150, 400])
def test_the_list_ends_in_balanced_columns(tmp_path: Path, total: int) -> None:
    rows = make_rows(total)
    path = tmp_path / "balanced.pdf"
    result = render_statement_pdf(path, make_doc(), counts_of(rows), iter(rows))
    assert result.pages >= 2
    left, right = column_bottoms(path, result.pages)
    assert right > styles.MARGIN_TOP  # the right column is used
    # Within a heading and two lines of each other.
    assert abs(left - right) <= styles.GROUP_HEADING_HEIGHT + styles.COUNTRY_HEIGHT + 2 * 11.4
    assert_list_reads_in_order(path, rows)


def test_a_short_list_stays_in_one_column(tmp_path: Path) -> None:
    rows = make_rows(3)  # three groups: a third of a page
    path = tmp_path / "short.pdf"
    result = render_statement_pdf(path, make_doc(body_markdown="Short."), counts_of(rows), rows)
    assert result.pages == 1
    middle = styles.MARGIN_LEFT + styles.COLUMN_WIDTH + styles.COLUMN_GAP / 2
    starts = [x0 for x0, _, _, _, word in word_boxes(path)[0] if word.startswith("Org")]
    assert len(starts) == 3
    assert all(x0 < middle for x0 in starts)
