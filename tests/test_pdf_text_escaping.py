"""The PDF's own text encoder escapes `(`, `)` and `\\`: a name cannot end its string and eat the rest.

The signatory list is written as raw `(…) Tj` operators, not through ReportLab's Paragraphs. An
unescaped `)` ends the literal string early and the rest of the content stream is garbage to a
viewer: every entry after the name silently vanishes. Both encoding paths are covered: names
entirely in the font's first subset (ASCII and most Latin letters), and names that need other
subsets (Cyrillic, Greek).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime

import pytest

from petition.pdf.layout import SignatoryRow, StatementDoc, render_statement_pdf

SHA = "a" * 64

# Each tricky name is followed, in the same group, by an ordinary one that must still print.
TRICKY = [
    "Acme Europe) Ltd",  # subset 0, a lone ")"
    "Bravo (Benelux",  # subset 0, a lone "("
    "Charlie \\ Partners \\",  # subset 0, backslashes (one at the end escapes the closing ")")
    "Delta Ltd)) Tj ET BT (",  # subset 0, an attempt to write operators
    "Εταιρεία Ε) Ζήτα",  # other subsets, a lone ")"
    "Київ \\ (Kyiv) Hub \\",  # other subsets, backslashes and parentheses
]


def _rows() -> list[SignatoryRow]:
    rows = []
    for n, name in enumerate(TRICKY):
        rows.append(SignatoryRow("company", f"{n:02d} {name}", "Lyon", "France", SHA))
        rows.append(SignatoryRow("company", f"{n:02d} zz Follower {n}", "Lyon", "France", SHA))
    rows.append(SignatoryRow("other", "Omega Last Entry", "Nice", "France", SHA))
    return rows


def _doc() -> StatementDoc:
    return StatementDoc(
        title="Joint statement",
        subtitle="",
        published_on=date(2025, 3, 4),
        body_markdown="A short body.",
        campaign="Campaign",
        version_sha256=SHA,
        generated_at=datetime(2025, 3, 5, 10, 0, tzinfo=UTC),
        keywords=(),
        earlier_versions={},
    )


@pytest.fixture(scope="module")
def printed_lines(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("pdf") / "escaping.pdf"
    rows = _rows()
    render_statement_pdf(path, _doc(), {"company": len(rows) - 1, "other": 1}, rows)
    text = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    return [line.strip() for line in text.splitlines()]


@pytest.mark.parametrize("n", range(len(TRICKY)), ids=[name for name in TRICKY])
def test_a_name_with_parentheses_or_backslashes_prints_exactly(printed_lines, n):
    assert f"{n:02d} {TRICKY[n]} — Lyon" in printed_lines


def test_every_entry_after_a_tricky_name_is_still_there(printed_lines):
    for n in range(len(TRICKY)):
        assert f"{n:02d} zz Follower {n} — Lyon" in printed_lines
    assert "Omega Last Entry — Nice" in printed_lines
    assert "Companies (12)" in printed_lines
