"""Staff exports: CSV and spreadsheet cells that a spreadsheet could read as formulas are guarded."""

from __future__ import annotations

import csv
import io

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
