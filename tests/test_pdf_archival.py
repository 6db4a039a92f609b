"""The statement PDF as an archive takes it: fonts embedded, XMP agreeing with Info, PDF/A-2b id."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path

import pikepdf
import pytest

from petition.pdf.layout import render_statement_pdf
from tests.test_pdf_render import GENERATED_AT, ROWS, counts_of, make_doc


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archival") / "statement.pdf"
    render_statement_pdf(path, make_doc(language="en"), counts_of(ROWS), iter(ROWS))
    return path


def pdf_date(value: object) -> datetime:
    """D:YYYYMMDDHHmmSS+HH'mm' as a datetime."""
    match = re.fullmatch(r"D:(\d{14})(?:([+-])(\d\d)'(\d\d)'?|Z)?", str(value))
    assert match, value
    stamp = match[1] + (f"{match[2]}{match[3]}{match[4]}" if match[2] else "+0000")
    return datetime.strptime(stamp, "%Y%m%d%H%M%S%z")


@pytest.mark.parametrize(("language", "expected"), [("de", "de"), (None, "en"), ("", "en")])
def test_lang_and_xmp_say_the_same_language_and_dates(
    tmp_path: Path, language: str | None, expected: str
) -> None:
    """With no language given, the site's source language: never a PDF without /Lang."""
    path = tmp_path / "lang.pdf"
    render_statement_pdf(path, make_doc(language=language), counts_of(ROWS), iter(ROWS))
    with pikepdf.open(path) as doc:
        info = doc.docinfo
        assert str(doc.Root.Lang) == expected
        with doc.open_metadata() as meta:
            assert meta["dc:language"] == {str(doc.Root.Lang)}
            created = datetime.fromisoformat(meta["xmp:CreateDate"])
            modified = datetime.fromisoformat(meta["xmp:ModifyDate"])
        assert created == pdf_date(info["/CreationDate"]) == GENERATED_AT
        assert modified == pdf_date(info["/ModDate"]) == created
    assert b"x-default</rdf:li></rdf:Bag>" not in path.read_bytes()


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_every_font_is_embedded(pdf: Path) -> None:
    # pdffonts: name type encoding emb sub uni object ID; two header lines.
    rows = run("pdffonts", str(pdf)).splitlines()[2:]
    assert rows
    for row in rows:
        fields = row.split()
        assert fields[-5] == "yes", row  # emb
        assert fields[-4] == "yes", row  # sub(set)
    assert "Helvetica" not in "\n".join(rows)


def test_qpdf_finds_no_fault(pdf: Path) -> None:
    out = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No syntax or stream encoding errors" in out.stdout


def test_pdfinfo_sees_metadata_and_no_encryption(pdf: Path) -> None:
    info = run("pdfinfo", str(pdf))
    assert re.search(r"^Metadata Stream:\s+yes", info, re.M)
    assert re.search(r"^Encrypted:\s+no", info, re.M)
    assert re.search(r"^Title:\s+Joint statement on regional innovation", info, re.M)


def test_xmp_agrees_with_info_and_says_pdfa_2b(pdf: Path) -> None:
    with pikepdf.open(pdf) as doc:
        info = doc.docinfo
        with doc.open_metadata() as meta:
            assert meta["pdfaid:part"] == "2"
            assert meta["pdfaid:conformance"] == "B"
            assert meta["dc:title"] == str(info["/Title"])
            assert meta["dc:creator"] == [str(info["/Author"])]
            assert meta["dc:description"] == str(info["/Subject"])
            assert meta["pdf:Keywords"] == str(info["/Keywords"])
            assert meta["pdf:Producer"] == str(info["/Producer"])
            assert meta["xmp:CreatorTool"] == str(info["/Creator"])
            assert meta["dc:language"] == {"en"}
            assert meta["xmp:CreateDate"] == GENERATED_AT.isoformat()
        created = info["/CreationDate"]
        assert str(created).startswith(f"D:{GENERATED_AT:%Y%m%d%H%M%S}")
        assert str(info["/ModDate"]) == str(info["/CreationDate"])


def test_catalogue_for_archive_and_viewer(pdf: Path) -> None:
    with pikepdf.open(pdf) as doc:
        root = doc.Root
        assert str(root.Lang) == "en"
        assert root.ViewerPreferences.DisplayDocTitle is True
        (intent,) = list(root.OutputIntents)
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        assert int(profile.N) == 3
        assert b"sRGB" in profile.read_bytes()[:200] or b"desc" in profile.read_bytes()[:200]
        assert "/Encrypt" not in doc.trailer
        # No transparency: no soft masks, no blend modes, no constant alpha below 1.
        for page in doc.pages:
            assert "/Group" not in page.obj
            for gs in page.obj.Resources.get("/ExtGState", {}).values():
                assert float(gs.get("/CA", 1)) == 1 and float(gs.get("/ca", 1)) == 1
                assert "/SMask" not in gs or gs.SMask == pikepdf.Name.None_


def test_content_streams_are_compressed(pdf: Path) -> None:
    with pikepdf.open(pdf) as doc:
        for page in doc.pages:
            contents = page.obj.Contents
            streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
            for stream in streams:
                assert stream.get("/Filter") is not None
