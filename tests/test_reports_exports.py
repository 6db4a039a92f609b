"""Staff exports: CSV and spreadsheet cells that a spreadsheet could read as formulas are guarded."""

from __future__ import annotations

import csv
import html
import io
import re

from openpyxl import load_workbook

from tests.staff_helpers import audit_rows, make_signature

# ---------------------------------------------------------------- exports


def test_staff_exports_guard_formulas(app, seeded, moderator):
    make_signature(
        app,
        seeded,
        name='=HYPERLINK("http://evil.example","click")',
        email="formula@x.example",
        comment="+1+1",
        contact_name="@SUM(A1:A2)",
    )
    csv_response = moderator.get(f"/staff/export/{seeded}.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))
    row = next(r for r in rows if r["email"] == "formula@x.example")
    assert row["organisation_name"].startswith("'=")
    assert row["comment"] == "'+1+1"
    assert row["contact_name"] == "'@SUM(A1:A2)"

    xlsx = moderator.get(f"/staff/export/{seeded}.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    header = [c.value for c in sheet[1]]
    found = False
    for cells in sheet.iter_rows(min_row=2):
        values = dict(zip(header, cells, strict=True))
        if values["email"].value == "formula@x.example":
            found = True
            assert values["organisation_name"].data_type == "s"
            assert values["organisation_name"].value.startswith("'=")
            assert values["comment"].value == "'+1+1"
        for cell in cells:
            assert cell.data_type != "f"
    assert found
    exported = audit_rows(app, action="exported")
    assert [e.detail for e in exported] == ["all fields as csv", "all fields as xlsx"]
    assert moderator.get("/staff/export/no-such-statement.csv").status_code == 404


def _sheet(response):
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return load_workbook(io.BytesIO(response.data)).active


def test_xlsx_is_made_for_a_spreadsheet(app, seeded, moderator):
    make_signature(app, seeded, name="Łódzkie Region", email="anna@lodzkie.pl")
    sheet = _sheet(moderator.get(f"/staff/export/{seeded}/all.xlsx"))
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["id", "state", "source"]
    assert "created_at (UTC)" in header
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{sheet.max_row}"
    assert all(cell.font.bold for cell in sheet[1])
    widths = {
        sheet.cell(1, i + 1).value: sheet.column_dimensions[
            sheet.cell(1, i + 1).column_letter
        ].width
        for i in range(len(header))
    }
    assert widths["organisation_name"] >= 40 and widths["id"] <= 10
    row = next(
        r for r in sheet.iter_rows(min_row=2) if r[header.index("email")].value == "anna@lodzkie.pl"
    )
    created = row[header.index("created_at (UTC)")]
    assert created.is_date and created.value.year >= 2026
    assert row[header.index("organisation_name")].value == "Łódzkie Region"


def test_approved_and_delivery_exports(app, seeded, moderator):
    from petition.models import SignatureState

    make_signature(app, seeded, name="Waiting Works", email="w@x.example")
    make_signature(
        app,
        seeded,
        name="Aardvark Approved",
        email="a@x.example",
        state=SignatureState.APPROVED,
        country="GR",
        city="Αθήνα",
        org_type="university",
    )
    approved = _sheet(moderator.get(f"/staff/export/{seeded}/approved.xlsx"))
    header = [c.value for c in approved[1]]
    names = [r[header.index("organisation_name")].value for r in approved.iter_rows(min_row=2)]
    states = {r[header.index("state")].value for r in approved.iter_rows(min_row=2)}
    assert "Aardvark Approved" in names and "Waiting Works" not in names
    assert states == {"approved"}

    delivery = moderator.get(f"/staff/export/{seeded}/delivery.csv")
    assert delivery.headers["Content-Disposition"].endswith('-delivery-list.csv"')
    rows = list(csv.reader(io.StringIO(delivery.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["organisation_name", "organisation_type_label", "country_name", "city"]
    assert ["Aardvark Approved", "Universities", "Greece", "Αθήνα"] in rows
    assert all("Waiting Works" not in r for r in rows)
    # The PDF's order: the public list's order (type, country, name).
    with app.app_context():
        from petition.extensions import db
        from petition.models import Statement
        from petition.signatories.service import public_query

        statement = db.session.query(Statement).filter_by(slug=seeded).one()
        expected = [s.organisation_name for s in db.session.scalars(public_query(statement))]
    assert [r[0] for r in rows[1:]] == expected
    exported = audit_rows(app, action="exported")
    assert [e.detail for e in exported] == [
        "approved, all fields as xlsx",
        "signatory list for the delivery as csv",
    ]
    assert moderator.get(f"/staff/export/{seeded}/everything.csv").status_code == 404


def test_the_console_list_exports_what_it_shows(app, seeded, moderator):
    from petition.models import SignatureState

    make_signature(app, seeded, name="Île-de-France Region", email="idf@x.example", country="FR")
    make_signature(app, seeded, name="Saint-Ouen Lab", email="so@x.example", country="FR")
    make_signature(app, seeded, name="Berlin Cluster", email="b@x.example", country="DE")
    make_signature(
        app,
        seeded,
        name="Paris Approved",
        email="pa@x.example",
        country="FR",
        state=SignatureState.APPROVED,
    )
    page = moderator.get("/staff/queue?country=FR&page=1").get_data(as_text=True)
    links = re.findall(r'href="(/staff/queue\.(?:xlsx|csv)[^"]*)"', page)
    assert len(links) == 2 and all("country=FR" in link and "page=" not in link for link in links)
    csv_link = html.unescape(next(link for link in links if ".csv" in link))
    rows = list(
        csv.DictReader(io.StringIO(moderator.get(csv_link).get_data(as_text=True).lstrip("\ufeff")))
    )
    # The queue's FR entries, oldest first: not the German one, not the approved one.
    assert [r["organisation_name"] for r in rows] == ["Île-de-France Region", "Saint-Ouen Lab"]
    assert rows[0]["email"] == "idf@x.example"

    searched = moderator.get("/staff/signatures.xlsx?q=ile+de+france")
    sheet = _sheet(searched)
    header = [c.value for c in sheet[1]]
    names = [r[header.index("organisation_name")].value for r in sheet.iter_rows(min_row=2)]
    assert names == ["Île-de-France Region"]
    approved = moderator.get("/staff/signatures.csv?state=approved&country=FR")
    approved_rows = list(
        csv.DictReader(io.StringIO(approved.get_data(as_text=True).lstrip("\ufeff")))
    )
    assert [r["organisation_name"] for r in approved_rows] == ["Paris Approved"]
    assert moderator.get("/staff/signatures.csv?state=nonsense").status_code == 400
    details = [e.detail for e in audit_rows(app, action="exported")]
    assert details == [
        "the console's list: state verified, country FR as csv",
        "the console's list: search 'ile de france' as xlsx",
        "the console's list: state approved, country FR as csv",
    ]


def test_the_xlsx_control_characters_are_openpyxls_own():
    """exports.py keeps openpyxl's pattern of what XLSX cannot hold (so that openpyxl is imported
    only where a workbook is written): the two must never drift apart."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from petition.reports.exports import _ILLEGAL_CHARACTERS

    assert _ILLEGAL_CHARACTERS.pattern == ILLEGAL_CHARACTERS_RE.pattern
