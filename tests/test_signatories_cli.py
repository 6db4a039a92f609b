"""`flask signatories import/export`: all-or-nothing CSV import and the staff export."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import AuditEvent, Signature, SignatureSource, SignatureState
from petition.signatories.service import OPEN_DATA_FIELDS, STAFF_FIELDS
from tests.flows import add_signature, csv_text, read_csv, table_counts

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- signatories import / export

IMPORT_ROWS = [
    {"organisation_name": "Łódzkie Region", "organisation_type": "region", "country": "PL", "city": "Łódź", "website": "lodzkie.pl", "comment": "Together.", "email": "Biuro@Lodzkie.pl", "contact_name": "Anna Nowak", "note": "from the event list"},
    {"organisation_name": "Clusters of Attica", "organisation_type": "cluster", "country": "gr", "city": "Αθήνα", "website": "", "comment": "", "email": "", "contact_name": "", "note": ""},
    {"organisation_name": "KPI", "organisation_type": "university", "country": "UA", "city": "Київ", "website": "https://kpi.ua", "comment": "", "email": "", "contact_name": "", "note": ""},
]  # fmt: skip


def test_signatories_import_good_file(app, runner, client, seeded, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text("\ufeff" + csv_text(IMPORT_ROWS), encoding="utf-8")
    result = runner.invoke(args=["signatories", "import", str(path), "--statement", seeded])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported 3 signatories (0 already present)"
    with app.app_context():
        rows = db.session.scalars(
            select(Signature).where(
                Signature.source == SignatureSource.IMPORT, Signature.is_initiator.is_(False)
            )
        ).all()
        assert {r.organisation_name: SignatureState(r.state) for r in rows} == {
            "Łódzkie Region": SignatureState.APPROVED,
            "Clusters of Attica": SignatureState.APPROVED,
            "KPI": SignatureState.APPROVED,
        }
        lodz = next(r for r in rows if r.country == "PL")
        assert (lodz.website, lodz.email, lodz.email_normalised) == (
            "https://lodzkie.pl",
            "Biuro@lodzkie.pl",
            "biuro@lodzkie.pl",
        )
        assert lodz.contact_name == "Anna Nowak" and lodz.note == "from the event list"
        assert lodz.approved_at is not None
        assert next(r for r in rows if r.city == "Αθήνα").country == "GR"
        audit = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_label == "signatories import")
        ).all()
    # One audit row per endorsement, and one for the file (an undoable batch).
    assert sorted(audit) == ["import_batch"] + ["imported"] * 3
    listing = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert listing["count"] == 7

    again = runner.invoke(args=["signatories", "import", str(path), "--statement", seeded])
    assert again.exit_code == 0
    assert again.output.strip() == "imported 0 signatories (3 already present)"
    assert client.get(f"/statements/{seeded}/signatories.json").get_json()["count"] == 7


def test_signatories_import_with_bad_rows_imports_nothing(app, runner, seeded, tmp_path):
    rows = [
        {"organisation_name": "Good One", "organisation_type": "sme", "country": "IT"},  # line 2
        {"organisation_name": "Bad Type", "organisation_type": "charity", "country": "IT"},  # 3
        {"organisation_name": "Good Two", "organisation_type": "ngo", "country": "FR"},  # line 4
        {"organisation_name": "Bad Country", "organisation_type": "ngo", "country": "XX"},  # 5
        {"organisation_name": "Good Three", "organisation_type": "rto", "country": "ES"},  # 6
    ]
    path = tmp_path / "bad.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    before = table_counts(app)
    result = runner.invoke(args=["signatories", "import", str(path), "--statement", seeded])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # Each error names its line and column and what to write instead.
    assert lines[0].startswith(f"{path}:3: organisation_type: Write one of the types: region (")
    assert "university (Universities)" in lines[0]
    assert lines[1].startswith(f"{path}:5: country: Write the country as its two-letter ISO code")
    assert lines[2:] == ["nothing imported: 2 error(s)"]
    assert table_counts(app) == before


def test_signatories_import_reads_xlsx_with_the_consoles_rules(app, runner, seeded, tmp_path):
    """The command line shares the console's reading: XLSX, headings in words, countries and
    types as people write them, one batch the console can undo."""
    from openpyxl import Workbook

    from petition.models import ImportBatch

    book = Workbook()
    sheet = book.active
    sheet.append(["Organisation name", "Type", "Country", "City"])
    sheet.append(["Universität Test", "Universitäten", "Österreich", "Graz"])
    sheet.append(["Région Test", "Region", "Frankreich", "Lyon"])
    path = tmp_path / "event.xlsx"
    book.save(path)
    result = runner.invoke(args=["signatories", "import", str(path), "--statement", seeded])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported 2 signatories (0 already present)"
    with app.app_context():
        batch = db.session.scalar(select(ImportBatch))
        assert (batch.filename, batch.state, batch.mode, batch.row_count) == (
            "event.xlsx",
            "imported",
            "approved",
            2,
        )
        rows = db.session.execute(
            select(Signature.country, Signature.organisation_type).where(
                Signature.import_batch_id == batch.id
            )
        ).all()
        assert sorted((c, t.value) for c, t in rows) == [("AT", "university"), ("FR", "region")]


def test_signatories_import_header_and_statement_errors(app, runner, seeded, tmp_path):
    no_header = tmp_path / "no-header.csv"
    no_header.write_text("Some Org,sme,IT\n", encoding="utf-8")
    result = runner.invoke(args=["signatories", "import", str(no_header), "--statement", seeded])
    assert (
        result.exit_code == 1
        and f"{no_header}: The first row must name the columns: organisation_name" in result.output
    )
    unknown = tmp_path / "unknown-column.csv"
    unknown.write_text("organisation_name,organisation_type,country,phone\nA Org,sme,IT,123\n")
    result = runner.invoke(args=["signatories", "import", str(unknown), "--statement", seeded])
    assert result.exit_code == 1 and f"{unknown}:1: phone: Unknown column" in result.output
    extra = tmp_path / "extra-cells.csv"
    extra.write_text("organisation_name,organisation_type,country\nA Org,sme,IT,surplus\n")
    result = runner.invoke(args=["signatories", "import", str(extra), "--statement", seeded])
    assert result.exit_code == 1 and f"{extra}:2: More cells than columns." in result.output
    result = runner.invoke(args=["signatories", "import", str(extra), "--statement", "nope"])
    assert result.exit_code == 1 and "no statement with slug 'nope'" in result.output
    assert table_counts(app)["Signature"] == 4


def test_signatories_export(app, runner, seeded, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(csv_text(IMPORT_ROWS), encoding="utf-8")
    runner.invoke(args=["signatories", "import", str(path), "--statement", seeded])
    pending = add_signature(
        app, seeded, "=Pending Org", SignatureState.VERIFIED, "pending@example.org"
    )

    public = runner.invoke(args=["signatories", "export", "--statement", seeded])
    assert public.exit_code == 0
    assert public.output.splitlines()[0] == ",".join(OPEN_DATA_FIELDS)
    rows = read_csv(public.output.encode())
    assert len(rows) == 7  # approved only
    assert rows[0]["organisation_name"] == "Łódzkie Region"  # regions first
    assert "@" not in public.output and "Anna Nowak" not in public.output
    assert "Pending Org" not in public.output

    full = runner.invoke(args=["signatories", "export", "--statement", seeded, "--all-fields"])
    assert full.exit_code == 0
    assert full.output.splitlines()[0] == ",".join(STAFF_FIELDS)
    staff_rows = read_csv(full.output.encode())
    assert len(staff_rows) == 8  # every state
    by_name = {r["organisation_name"]: r for r in staff_rows}
    assert by_name["Łódzkie Region"]["email"] == "Biuro@lodzkie.pl"
    assert by_name["Łódzkie Region"]["contact_name"] == "Anna Nowak"
    assert by_name["Łódzkie Region"]["note"] == "from the event list"
    assert by_name["'=Pending Org"]["state"] == "verified"  # formula guard applies here too
    assert by_name["'=Pending Org"]["id"] == str(pending)
    assert by_name["'=Pending Org"]["contact_role"] == "Director"

    missing = runner.invoke(args=["signatories", "export", "--statement", "nope"])
    assert missing.exit_code == 1 and "no statement with slug 'nope'" in missing.output
