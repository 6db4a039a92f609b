"""Characters the PDF's fonts cannot draw (issue 14.1, 14.2): refused where organisation data is
typed, and never printed as the font's empty .notdef glyph by the renderer."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont as FontFile

from petition.core import events, validation
from petition.core.validation import InvalidValue, printed_line, unprintable_characters
from petition.pdf.layout import SignatoryRow, render_statement_pdf
from petition.pdf.layout.fonts import FONT_DIR, REPLACEMENT
from tests.conftest import valid_form
from tests.flows import post_form
from tests.htmltree import parse
from tests.staff_helpers import get_signature, make_signature, page_token, post
from tests.test_moderation_console import _edit_data
from tests.test_pdf_render import CURRENT, counts_of, make_doc
from tests.test_signatories_import_console import HEADER, _statement_id, _upload
from tests.test_signing_manage import _correct, _signed

MIXED = "北京 Innovation 🌍 ქართული"
R = REPLACEMENT


@pytest.fixture
def _no_pdf_rebuilds():
    with events.list_changed.muted():
        yield


# ---------------------------------------------------------------- the renderer


def shown_strings(path: Path) -> list[bytes]:
    """Every string a page or form shows (Tj, TJ, ', ")."""
    shown: list[bytes] = []
    with pikepdf.open(path) as pdf:
        streams = [page.obj for page in pdf.pages]
        for page in pdf.pages:
            for xobject in page.Resources.get("/XObject", {}).values():
                if xobject.get("/Subtype") == pikepdf.Name.Form:
                    streams.append(xobject)
        for stream in streams:
            for operands, op in pikepdf.parse_content_stream(stream):
                if str(op) in ("Tj", "'", '"'):
                    shown.append(bytes(operands[-1]))
                elif str(op) == "TJ":
                    shown.extend(bytes(x) for x in operands[0] if isinstance(x, pikepdf.String))
    return shown


def test_characters_without_a_glyph_print_as_a_visible_replacement(tmp_path, caplog):
    rows = [
        SignatoryRow("region", MIXED, "თბილისი", "Georgia", CURRENT),
        SignatoryRow("region", "Łódzkie Voivodeship", "Łódź", "Poland", CURRENT),
    ]
    doc = make_doc(title=f"Statement {MIXED}", initiators=(MIXED,), campaign="Campaign 🌍")
    path = tmp_path / "mixed.pdf"
    with caplog.at_level(logging.WARNING, logger="petition.pdf.layout.fonts"):
        render_statement_pdf(path, doc, counts_of(rows), rows)

    # No string refers to code 0 (.notdef in every subset, forbidden by PDF/A).
    shown = shown_strings(path)
    assert shown and not [s for s in shown if 0 in s]
    text = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")
    printed = f"{R}{R} Innovation {R} {R * 7}"
    assert f"{printed} — {R * 7}" in text  # the list entry keeps every character's place
    assert f"Statement {printed}" in text  # title (a Paragraph)
    assert "Łódzkie Voivodeship — Łódź" in text  # covered text is untouched
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "U+5317" in warnings and "U+1F30D" in warnings and "U+10E5" in warnings


# ---------------------------------------------------------------- the shared validator


def test_every_shipped_face_draws_the_same_characters():
    """The validator reads one face; the PDF prints in all of them."""
    maps = {f.name: set(FontFile(f).getBestCmap()) for f in FONT_DIR.glob("Noto*.ttf")}
    assert len(maps) == 6
    first = next(iter(maps.values()))
    assert all(cmap == first for cmap in maps.values())
    assert validation.pdf_font_coverage() == frozenset(first)


@pytest.mark.parametrize(
    "name", ["Łódź", "Ελλάδα", "Київ", "Ştefan cel Mare", "Île-de-France", "Zürich AG & Co."]
)
def test_latin_greek_and_cyrillic_are_accepted(name):
    assert printed_line(name, field="city") == name
    assert unprintable_characters(name) == []


def test_characters_outside_the_fonts_are_refused_and_named():
    with pytest.raises(InvalidValue) as caught:
        printed_line(MIXED, field="organisation name")
    message = str(caught.value)
    assert message.startswith("The organisation name contains characters")
    assert "北 (U+5317), 京 (U+4EAC), 🌍 (U+1F30D), ქ (U+10E5)" in message
    assert "Latin, Greek or Cyrillic" in message


# ---------------------------------------------------------------- where the data is typed


def test_the_sign_on_form_refuses_them_in_the_pages_language(app, client, seeded, _no_pdf_rebuilds):
    response = post_form(client, seeded, valid_form(organisation_name=MIXED))
    assert response.status_code == 422
    error = parse(response.text).by_id("organisation_name-error").normalised_text
    assert "cannot print" in error and "北 (U+5317)" in error

    path = f"/de/statements/{seeded}/sign"
    data = valid_form(city="東京")
    data["csrf_token"] = page_token(client, path)
    german = client.post(path, data=data)
    assert german.status_code == 422
    error = parse(german.text).by_id("city-error").normalised_text
    assert "東 (U+6771)" in error and "PDF" in error and "cannot print" not in error


def test_the_manage_page_correction_refuses_them(app, client, seeded, _no_pdf_rebuilds):
    link = _signed(app, client, seeded)
    response = _correct(client, link, city="ქუთაისი")
    assert response.status_code == 422
    assert "ქ (U+10E5)" in response.get_data(as_text=True)


def test_the_staff_edit_refuses_them(app, seeded, moderator, _no_pdf_rebuilds):
    sid = make_signature(app, seeded, name="Tbilisi Region", email="t@example.ge")
    sig = get_signature(app, sid)
    response = post(
        moderator, f"/staff/signatures/{sid}/edit", _edit_data(sig, organisation_name=MIXED)
    )
    assert response.status_code == 422
    assert "北 (U+5317)" in response.get_data(as_text=True)
    assert get_signature(app, sid).organisation_name == "Tbilisi Region"


def test_the_import_refuses_them(app, admin, _no_pdf_rebuilds):
    data = (HEADER + f"{MIXED},ngo,GE,Tbilisi,,,\nGood Org,ngo,GE,თბილისი,,,\n").encode()
    preview = admin.get(_upload(admin, _statement_id(app), "g.csv", data).headers["Location"])
    summary = parse(preview.text).by_id("error-summary").normalised_text
    assert "Line 2, organisation_name:" in summary and "北 (U+5317)" in summary
    assert "Line 3, city:" in summary and "თ (U+10D7)" in summary
    assert "Import all" not in preview.text


def test_the_campaign_name_and_a_new_statements_title_are_checked_too(app, seeded, admin):
    """Staff text the PDF prints: the letterhead's name, the title, subtitle and campaign."""
    from tests.test_identity import IDENTITY

    response = post(admin, "/staff/identity", {**IDENTITY, "name": "Regions 🌍"}, "/staff/identity")
    assert response.status_code == 422
    assert "🌍 (U+1F30D)" in parse(response.text).by_id("name-error").normalised_text
    form = {
        "title": "Ένα κείμενο 北京",
        "slug": "beijing-statement",
        "subtitle": "",
        "language": "en",
        "campaign": "",
        "initiators": "",
        "body": "Text.",
    }
    created = post(admin, "/staff/statements/new", form, "/staff/statements/new")
    assert created.status_code == 422
    assert "北 (U+5317)" in parse(created.text).by_id("title-error").normalised_text
