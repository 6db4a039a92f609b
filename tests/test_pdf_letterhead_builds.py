"""The letterhead and letter lines through real builds (issue 14.3): a change of the campaign's
name or logo, or of a statement's letter lines (console or CLI), requests the debounced rebuild,
and the letter lines are audited."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
from sqlalchemy import select

from petition.extensions import db
from petition.models import AuditEvent, Statement
from tests.conftest import wait_jobs
from tests.htmltree import parse
from tests.pdf_helpers import SLUG, latest_pdf, versions
from tests.staff_helpers import page_token, post
from tests.test_identity import IDENTITY, configure, upload

DATA = Path(__file__).with_name("data")


def first_page_lines(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / f"v{len(list(tmp_path.iterdir()))}.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-raw", "-l", "1", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode("utf-8").splitlines()


def letter_events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "statement_letter_changed")
            .order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def statement_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Statement.id).where(Statement.slug == SLUG))


def test_a_new_campaign_name_rebuilds_the_pdf_and_other_fields_do_not(
    app, client, seeded, tmp_path
):
    before = len(versions(app))
    admin = configure(app)  # the name and the contact fields change
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    assert first_page_lines(latest_pdf(client), tmp_path)[0] == "Regions for Recovery"
    # A field the PDF does not print: no rebuild.
    response = post(
        admin,
        "/staff/identity",
        {**IDENTITY, "reply_to": "other@regions-network.eu"},
        "/staff/identity",
    )
    assert response.status_code == 303
    wait_jobs(app)
    assert len(versions(app)) == before + 1


def test_an_svg_logo_set_through_the_identity_is_drawn_in_the_next_build(
    app, client, seeded, tmp_path
):
    admin = configure(app)
    wait_jobs(app)
    before = len(versions(app))
    assert upload(admin, (DATA / "logo.svg").read_bytes()).status_code == 303
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    data = latest_pdf(client)
    lines = first_page_lines(data, tmp_path)
    assert lines[0] == "RIS Regions for Recovery"  # the logo's own text, then the name
    path = tmp_path / "logo.pdf"
    path.write_bytes(data)
    with pikepdf.open(path) as pdf:
        ops = [str(op) for _, op in pikepdf.parse_content_stream(pdf.pages[0])]
    assert "re" in ops and "c" in ops  # the rounded square and the circle, as vectors

    removed = post(admin, "/staff/identity/logo/remove", {}, "/staff/identity")
    assert removed.status_code == 303
    wait_jobs(app)
    assert len(versions(app)) == before + 2
    assert first_page_lines(latest_pdf(client), tmp_path)[0] == "Regions for Recovery"


def test_the_letter_lines_are_set_in_the_console_audited_and_rebuilt(
    app, client, seeded, admin, tmp_path
):
    sid = statement_id(app)
    settings = f"/staff/statements/{sid}"
    page = parse(admin.get(settings).text)
    assert page.by_id("addressee") is not None and page.by_id("letter_date") is not None
    before = len(versions(app))
    form = {
        "csrf_token": page_token(admin, settings),
        "addressee": "European Commission, DG REGIO",
        "place": "Bruxelles",
        "letter_date": "2025-04-01",
    }
    response = admin.post(f"{settings}/pdf-letter", data=form)
    assert response.status_code == 303
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    lines = first_page_lines(latest_pdf(client), tmp_path)
    assert "Bruxelles, 1 April 2025" in lines
    assert "To: European Commission, DG REGIO" in lines
    [event] = letter_events(app)
    assert event.actor_label == "admin@example.org"
    assert event.before == {"addressee": None, "place": None, "date": None}
    assert event.after == {
        "addressee": "European Commission, DG REGIO",
        "place": "Bruxelles",
        "date": "2025-04-01",
    }
    # The page shows what is set; the same values again change nothing.
    page = parse(admin.get(settings).text)
    assert page.by_id("addressee").get("value") == "European Commission, DG REGIO"
    assert page.by_id("letter_date").get("value") == "2025-04-01"
    assert admin.post(f"{settings}/pdf-letter", data=form).status_code == 303
    wait_jobs(app)
    assert len(versions(app)) == before + 1 and len(letter_events(app)) == 1
    # Text the PDF cannot print is refused with the field named, and nothing changes.
    refused = admin.post(f"{settings}/pdf-letter", data={**form, "addressee": "北京市政府"})
    assert refused.status_code == 422
    assert "北 (U+5317)" in parse(refused.text).by_id("addressee-error").normalised_text
    assert len(letter_events(app)) == 1


def test_cli_letter_lines_are_audited_and_rebuild_the_pdf(app, runner, client, seeded, tmp_path):
    before = len(versions(app))
    result = runner.invoke(
        args=[
            "pdf", "letter", SLUG, "--addressee", "European Commission",
            "--place", "Bruxelles", "--date", "2025-04-01",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the PDF is rebuilt" in result.output
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    lines = first_page_lines(latest_pdf(client), tmp_path)
    assert "To: European Commission" in lines and "Bruxelles, 1 April 2025" in lines
    [event] = letter_events(app)
    assert event.actor_type == "cli"
    refused = runner.invoke(args=["pdf", "letter", SLUG, "--place", "東京"])
    assert refused.exit_code != 0 and "東 (U+6771)" in refused.output
