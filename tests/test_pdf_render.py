"""The statement PDF renderer: content, scripts, escaping, page numbering, metadata, streaming."""

from __future__ import annotations

import enum
import hashlib
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from petition.pdf.layout import (
    ORGANISATION_TYPES,
    SignatoryListError,
    SignatoryRow,
    StatementDoc,
    render_statement_pdf,
)

CURRENT = hashlib.sha256(b"body v2").hexdigest()
EARLIER = hashlib.sha256(b"body v1").hexdigest()
GENERATED_AT = datetime(2025, 3, 5, 10, 22, tzinfo=UTC)

BODY = """\
## Why we sign

Europe's regions need **place-based** innovation policy, and *smart specialisation* works.

We call on the institutions to:

1. keep the [Smart Specialisation](https://example.org/s3) approach;
2. fund interregional partnerships;
   - through dedicated instruments

- a bullet point

> Innovation happens in places.

Markup stays text: <b>not bold</b> & <font size=40>big</font> <para> <img src="x"/>
"""

HOSTILE_BOLD = "<b>Evil</b> & <font size=40>Co</font>"
HOSTILE_IMG = '<img src="x"/>'
LONG_NAME = ("Interregional Partnership for Advanced Manufacturing and Smart Specialisation " * 3)[
    :200
].strip()
LONG_WORD = "Z" * 200

ROWS = [
    SignatoryRow("region", "Łódzkie Voivodeship", "Łódź", "Poland", CURRENT),
    SignatoryRow("region", "Περιφέρεια Κεντρικής Μακεδονίας", "Θεσσαλονίκη", "Greece", EARLIER),
    SignatoryRow("region", "Ștefan cel Mare Region", "Suceava", "Romania", CURRENT),
    SignatoryRow("university", "Univerzita Žďár", "Žďár nad Sázavou", "Czechia", CURRENT),
    SignatoryRow("university", "Vilniaus universitetas", "Šiauliai", "Lithuania", CURRENT),
    SignatoryRow("university", "Київська політехніка", "Київ", "Ukraine", CURRENT),
    SignatoryRow("network", HOSTILE_BOLD, "", "Belgium", CURRENT),
    SignatoryRow("network", "Vanguard Initiative", "Brussels", "Belgium", CURRENT),
    SignatoryRow("network", "Türkiye Ağ Üyeleri", "İstanbul", "Türkiye", EARLIER),
    SignatoryRow("network", "<para>", "Paris", "France", CURRENT),
    SignatoryRow("other", HOSTILE_IMG, "Rome", "Italy", CURRENT),
    SignatoryRow("other", LONG_NAME, "Bilbao", "Spain", CURRENT),
    SignatoryRow("other", LONG_WORD, "", "Spain", CURRENT),
]


def make_doc(**changes: object) -> StatementDoc:
    fields: dict[str, object] = {
        "title": "Joint statement on regional innovation",
        "subtitle": "A call from Europe's regions",
        "published_on": date(2025, 3, 4),
        "body_markdown": BODY,
        "campaign": "Vanguard Initiative",
        "version_sha256": CURRENT,
        "generated_at": GENERATED_AT,
        "keywords": ("innovation", "regions"),
        "earlier_versions": {EARLIER: date(2025, 2, 1)},
    }
    fields.update(changes)
    return StatementDoc(**fields)  # type: ignore[arg-type]


def counts_of(rows: list[SignatoryRow]) -> dict[str, int]:
    return dict(Counter(row.organisation_type for row in rows))


def page_texts(path: Path) -> list[str]:
    """Text of each page: pdftotext -layout when installed (CI has it), else pypdf."""
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8")
        return out.split("\f")[:-1]
    return [page.extract_text() for page in PdfReader(path).pages]


def lines_of(path: Path) -> list[str]:
    return [line.strip() for text in page_texts(path) for line in text.splitlines()]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def entry(row: SignatoryRow, mark: str = "") -> str:
    """A list line: the country is the subheading above it, so only the city follows the name."""
    tail = f" — {row.city}" if row.city else ""
    return f"{row.organisation_name}{mark}{tail}"


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[Path, object]:
    path = tmp_path / "statement.pdf"
    result = render_statement_pdf(path, make_doc(), counts_of(ROWS), iter(ROWS))
    return path, result


def test_statement_text_is_printed(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    lines = lines_of(path)
    text = "\n".join(lines)
    assert squash("Joint statement on regional innovation") in squash(page_texts(path)[0])
    assert "A call from Europe's regions" in lines
    assert "Published 4 March 2025" in lines
    assert "Why we sign" in lines
    # The running text wraps at its reading measure: compare without the line breaks.
    assert squash(
        "Europe's regions need place-based innovation policy, and smart specialisation works."
    ) in squash(text)
    assert squash("keep the Smart Specialisation (https://example.org/s3) approach;") in squash(
        text
    )
    assert "through dedicated instruments" in text
    assert "a bullet point" in text
    assert "Innovation happens in places." in text


def test_markup_in_the_statement_prints_literally(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    expected = 'Markup stays text: <b>not bold</b> & <font size=40>big</font> <para> <img src="x"/>'
    assert squash(expected) in squash("".join(lines_of(path)))


def test_every_signatory_is_listed_exactly(rendered: tuple[Path, object]) -> None:
    path, result = rendered
    lines = lines_of(path)
    assert result.signatories == len(ROWS)
    for row in ROWS:
        if row in (ROWS[-1], ROWS[-2]):
            continue  # the long ones wrap: see test_long_names_wrap_and_stay_complete
        mark = "†" if row.version_sha256 == EARLIER else ""
        assert entry(row, mark) in lines, entry(row, mark)


def test_non_latin_scripts_print_byte_exact(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    lines = lines_of(path)
    for expected in (
        "Łódzkie Voivodeship — Łódź",
        "Περιφέρεια Κεντρικής Μακεδονίας† — Θεσσαλονίκη",
        "Київська політехніка — Київ",
        "Türkiye Ağ Üyeleri† — İstanbul",
        "Vilniaus universitetas — Šiauliai",
        "Ștefan cel Mare Region — Suceava",
        "Univerzita Žďár — Žďár nad Sázavou",
        "Türkiye",
        "Ukraine",
    ):
        assert expected in lines, expected


def test_hostile_names_print_literally(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    lines = lines_of(path)
    assert HOSTILE_BOLD in lines  # no city: no dangling dash
    assert f"{HOSTILE_IMG} — Rome" in lines
    assert "<para> — Paris" in lines


def test_groups_follow_the_interface_order_with_counts(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    labels = dict(ORGANISATION_TYPES)
    counts = counts_of(ROWS)
    expected = [
        f"{labels[code]} ({counts[code]})" for code, _ in ORGANISATION_TYPES if counts.get(code)
    ]
    headings = [line for line in lines_of(path) if re.fullmatch(r".+ \(\d+\)", line)]
    assert headings == expected
    assert expected[2] == "Networks and associations (4)"
    assert not any(line.startswith("Companies") for line in lines_of(path))


def test_summary_and_earlier_version_note(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    lines = lines_of(path)
    summary = "As of 5 March 2025, thirteen (13) organisations have signed this statement."
    assert squash(summary) in squash("".join(lines))
    note = f"† endorsed an earlier version of the statement ({EARLIER[:12]}, 1 February 2025)"
    assert note in lines
    marked = [line for line in lines if "† —" in line]
    assert len(marked) == 2


def test_long_names_wrap_and_stay_complete(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    lines = lines_of(path)
    text = squash("".join(lines))
    assert len(LONG_NAME) == 200
    assert squash(entry(ROWS[-2])) in text
    assert squash(entry(ROWS[-1])) in text
    # Wrapped, not overflowing: no line is anywhere near the whole 200 characters.
    assert max(len(line) for line in lines if "Interregional" in line or "ZZZ" in line) < 120


def test_footer_numbers_every_page(rendered: tuple[Path, object], tmp_path: Path) -> None:
    path, result = rendered
    assert_footers(path, result.pages)  # type: ignore[attr-defined]
    # The version and the generation time are in the colophon at the end, not in every footer.
    texts = page_texts(path)
    assert all("Statement version" not in text for text in texts[:-1])
    last = squash(texts[-1])
    assert squash(f"Statement version (SHA-256): {CURRENT}") in last
    assert squash("Generated 5 March 2025, 10:22 UTC") in last
    assert all(squash("Joint statement on regional innovation") in squash(t) for t in texts)


def assert_footers(path: Path, pages: int) -> None:
    reader = PdfReader(path)
    assert len(reader.pages) == pages
    texts = page_texts(path)
    assert len(texts) == pages
    for number, text in enumerate(texts, start=1):
        found = re.findall(r"Page\s+(\d+)\s+of\s+(\d+)", text)
        assert found == [(str(number), str(pages))], (number, found)


def test_metadata(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    meta = PdfReader(path).metadata
    assert meta is not None
    assert meta.title == "Joint statement on regional innovation"
    assert meta.author == "Vanguard Initiative"
    assert meta.subject == "A call from Europe's regions"
    assert meta["/Keywords"] == "innovation, regions"
    assert meta.creation_date == GENERATED_AT


def test_fonts_are_embedded_noto(rendered: tuple[Path, object]) -> None:
    path, _ = rendered
    fonts = set()
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any(name.endswith("+NotoSerif-Regular") for name in fonts)
    assert any(name.endswith("+NotoSans-Bold") for name in fonts)
    assert not any("DejaVu" in name for name in fonts)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    render_statement_pdf(first, make_doc(), counts_of(ROWS), ROWS)
    render_statement_pdf(second, make_doc(), counts_of(ROWS), ROWS)
    assert first.read_bytes() == second.read_bytes()


def test_writes_to_a_file_object(tmp_path: Path) -> None:
    path = tmp_path / "statement.pdf"
    with path.open("wb") as handle:
        result = render_statement_pdf(handle, make_doc(), counts_of(ROWS), ROWS)
    assert len(PdfReader(path).pages) == result.pages


def many_rows(total: int) -> Iterator[SignatoryRow]:
    """Sorted synthetic rows, generated lazily like a database cursor."""
    per_type = total // len(ORGANISATION_TYPES)
    for type_index, (code, _) in enumerate(ORGANISATION_TYPES):
        count = per_type + (1 if type_index < total % len(ORGANISATION_TYPES) else 0)
        for i in range(count):
            version = EARLIER if i % 17 == 0 else CURRENT
            name = f"Organisation {code} {i:05d}" + (" with a much longer name" * 5) * (i % 50 == 0)
            yield SignatoryRow(code, name, "Thessaloniki", "Greece", version)


def test_three_thousand_rows_stream_with_consistent_page_total(tmp_path: Path) -> None:
    total = 3000
    counts = Counter(row.organisation_type for row in many_rows(total))
    pulled = 0

    def counting() -> Iterator[SignatoryRow]:
        nonlocal pulled
        for row in many_rows(total):
            pulled += 1
            yield row

    path = tmp_path / "big.pdf"
    result = render_statement_pdf(path, make_doc(), counts, counting())
    assert pulled == total
    assert result.signatories == total
    assert result.pages > 20  # two columns of about 55 entries
    assert_footers(path, result.pages)
    text = squash("".join(page_texts(path)))
    for row in many_rows(total):
        mark = "†" if row.version_sha256 == EARLIER else ""
        assert squash(entry(row, mark)) in text
    lines = lines_of(path)
    assert "Regions (273)" in lines
    # A column that starts inside a group names the group again, and the country below it.
    at = lines.index("Regions (continued)")
    assert lines[at + 1] == "Greece"


def test_no_signatories_yet(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    result = render_statement_pdf(path, make_doc(earlier_versions={}), {}, [])
    lines = lines_of(path)
    assert "As of 5 March 2025, no organisation has signed this statement yet." in lines
    assert result.signatories == 0
    assert_footers(path, result.pages)


@pytest.mark.parametrize(
    ("counts", "rows", "message"),
    [
        ({"region": 2}, ROWS[:1], "counts say 2 "),
        ({"region": 1}, ROWS[:2], "more 'region' rows"),
        ({"region": 1, "university": 1}, [ROWS[3], ROWS[0]], "or not sorted by type"),
        ({"region": 1, "university": 1}, [ROWS[0], ROWS[3], ROWS[2]], "not sorted"),
        ({"region": 1}, [SignatoryRow("region", "X", "", "Y", "f" * 64)], "unknown version"),
        ({"regions": 1}, ROWS[:1], "unknown organisation type"),
        ({}, ROWS[:1], "add up to zero"),
    ],
)
def test_rows_that_contradict_the_counts_are_refused(
    tmp_path: Path, counts: dict[str, int], rows: list[SignatoryRow], message: str
) -> None:
    path = tmp_path / "refused.pdf"
    with pytest.raises(SignatoryListError, match=re.escape(message)):
        render_statement_pdf(path, make_doc(), counts, iter(rows))
    assert not path.exists()


def test_statement_fields_are_escaped_too(tmp_path: Path) -> None:
    path = tmp_path / "statement.pdf"
    doc = make_doc(
        title="<b>Title</b> & <font size=40>Co</font>",
        subtitle='<img src="x"/> subtitle',
        campaign="<a href='x'>Campaign</a>",
    )
    render_statement_pdf(path, doc, {}, [])
    text = squash("".join(page_texts(path)))
    assert squash("<b>Title</b> & <font size=40>Co</font>") in text
    assert squash('<img src="x"/> subtitle') in text
    assert PdfReader(path).metadata.author == "<a href='x'>Campaign</a>"  # type: ignore[union-attr]


def test_each_earlier_version_gets_its_own_mark(tmp_path: Path) -> None:
    oldest = hashlib.sha256(b"body v0").hexdigest()
    rows = [
        SignatoryRow("region", "Alpha Region", "", "Austria", oldest),
        SignatoryRow("region", "Beta Region", "", "Austria", EARLIER),
        SignatoryRow("region", "Gamma Region", "", "Austria", CURRENT),
    ]
    doc = make_doc(earlier_versions={EARLIER: date(2025, 2, 1), oldest: date(2025, 1, 10)})
    path = tmp_path / "statement.pdf"
    render_statement_pdf(path, doc, {"region": 3}, rows)
    lines = lines_of(path)
    # The newest earlier version gets the first mark.
    assert f"† endorsed an earlier version of the statement ({EARLIER[:12]}, 1 February 2025)" in (
        lines
    )
    assert f"‡ endorsed an earlier version of the statement ({oldest[:12]}, 10 January 2025)" in (
        lines
    )
    assert "Alpha Region‡" in lines
    assert "Beta Region†" in lines
    assert "Gamma Region" in lines


def test_enum_type_codes_are_accepted(tmp_path: Path) -> None:
    class Kind(enum.StrEnum):  # like the model's enum: member names differ from the values
        REGION = "region"
        NETWORK = "network"

    rows = [
        SignatoryRow(Kind.REGION, "Alpha Region", "", "Austria", CURRENT),  # type: ignore[arg-type]
        SignatoryRow(Kind.NETWORK, "Beta Network", "", "Austria", CURRENT),  # type: ignore[arg-type]
    ]
    path = tmp_path / "statement.pdf"
    result = render_statement_pdf(path, make_doc(), {Kind.REGION: 1, "network": 1}, rows)
    assert result.signatories == 2
    assert {"Regions (1)", "Networks and associations (1)"} <= set(lines_of(path))
