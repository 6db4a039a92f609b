"""The statement PDF as a reader gets it: two columns read in order, groups and countries, outline,
letterhead and logo, reading measure, count in words, no empty page. Checked with poppler's tools
(pdftotext crops per column) and pikepdf."""

from __future__ import annotations

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


def column_text(path: Path, column: int) -> list[str]:
    """pdftotext of one list column on every page (72 dpi: pixels are points), pages split."""
    half = styles.COLUMN_WIDTH + styles.COLUMN_GAP / 2
    x = styles.MARGIN_LEFT - 2 + column * half
    out = subprocess.run(
        [
            "pdftotext",
            "-raw",
            "-enc",
            "UTF-8",
            "-x",
            str(int(x)),
            "-y",
            str(int(styles.MARGIN_TOP - 4)),
            "-W",
            str(int(half)),
            "-H",
            str(int(styles.FRAME_HEIGHT + 8)),
            str(path),
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    return out.split("\f")[:-1]


def read_list(path: Path) -> list[tuple[str, str, str]]:
    """(group label, country, entry text) in reading order: page by page, left column first."""
    left, right = column_text(path, 0), column_text(path, 1)
    heading = re.compile(r"(.+) \((\d[\d,]*)\)")
    continued = re.compile(r"(.+) · (.+) \(continued\)")
    entries: list[list[str]] = []
    group = country = ""
    started = False
    columns = [text for pair in zip(left, right, strict=True) for text in pair]
    for column in columns:
        in_list = False  # above the list, a crop cuts through the statement's text: skip it
        for line in column.splitlines():
            line = line.strip()
            if not line:
                continue
            if not in_list:
                in_list = (
                    bool(heading.fullmatch(line) or continued.fullmatch(line) or line in COUNTRIES)
                    or line.startswith("Org")
                    or line == "About this document"
                )
                if not in_list:
                    continue
            if line == "About this document":
                return [(g, c, t) for g, c, t in entries]  # type: ignore[misc]
            match = heading.fullmatch(line)
            if match and match.group(1) in LABELS.values():
                group, country, started = match.group(1), "", True
                continue
            if not started:
                continue
            match = continued.fullmatch(line)
            if match:
                assert (match.group(1), match.group(2)) == (group, country), line
                continue
            if line in COUNTRIES:
                country = line
            elif line.startswith("Org"):
                entries.append([group, country, line])
            else:  # a wrapped entry's next line
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


def test_two_columns_read_in_order_at_30k(big: tuple[Path, list[SignatoryRow]]) -> None:
    path, rows = big
    assert_list_reads_in_order(path, rows)


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
