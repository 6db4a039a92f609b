"""Import in the console (issue 13.1): template, upload, preview, import, undo, as admins."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from petition.extensions import db
from petition.models import AuditEvent, ImportBatch, Signature, SignatureSource, SignatureState
from tests.conftest import wait_jobs
from tests.htmltree import parse
from tests.pdf_helpers import versions
from tests.staff_helpers import page_token, signed_in

HEADER = "organisation_name,organisation_type,country,city,website,email,contact_name\n"


def _statement_id(app) -> int:
    from petition.models import Statement

    with app.app_context():
        return db.session.scalar(select(Statement.id))


def _upload(admin, statement_id: int, name: str, data: bytes):
    """POST the file as a browser would (the body built in memory: Werkzeug's test client would
    spool a large one to a temporary file it never closes)."""
    token = page_token(admin, f"/staff/statements/{statement_id}/import")
    boundary, body = encode_multipart(
        {"csrf_token": token, "file": FileStorage(io.BytesIO(data), filename=name)}
    )
    return admin.post(
        f"/staff/statements/{statement_id}/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _confirm(admin, preview_url: str, mode: str = "approved", confirm: bool = True):
    token = page_token(admin, preview_url)
    data = {"csrf_token": token, "mode": mode}
    if confirm:
        data["confirm"] = "y"
    return admin.post(preview_url, data=data)


def _count(app, **where) -> int:
    """Signatures, or those of console batches with the given columns."""
    with app.app_context():
        query = select(func.count(Signature.id))
        if where:
            query = query.where(Signature.import_batch_id.is_not(None))
        for name, value in where.items():
            query = query.where(getattr(Signature, name) == value)
        return db.session.scalar(query)


GOOD = (
    HEADER
    + "Regione Ελλάδα Test,Regions,Ελλάδα,Αθήνα,https://www.example.gr,info@example.gr,Eleni\n"
    + "Uniwersytet Testowy,University,Polska,Kraków,https://www.uni.pl,rektor@uni.pl,Jan\n"
    + "Cluster Bayern,Clusterorganisationen,Deutschland,München,,,\n"
).encode()


def test_an_admin_imports_a_checked_file_as_approved_with_one_rebuild(app, admin, client):
    sid = _statement_id(app)
    wait_jobs(app)
    builds_before = len(versions(app))
    before = _count(app)
    uploaded = _upload(admin, sid, "event.csv", GOOD)
    assert uploaded.status_code == 303
    preview_url = uploaded.headers["Location"]
    preview = admin.get(preview_url)
    assert preview.status_code == 200
    # Nothing stored yet; every row shown with the country and type understood.
    assert _count(app) == before
    rows = parse(preview.text).find("table", class_="import-rows").find("tbody").find_all("tr")
    assert len(rows) == 3
    assert "Greece" in rows[0].text and "Regions" in rows[0].text
    assert "Poland" in rows[1].text and "Universities" in rows[1].text
    assert "Germany" in rows[2].text and "Cluster organisations" in rows[2].text
    done = _confirm(admin, preview_url, "approved")
    assert done.status_code == 303
    wait_jobs(app)
    assert _count(app) == before + 3
    assert _count(app, source=SignatureSource.IMPORT, state=SignatureState.APPROVED) == 3
    # One rebuild for the whole file; the list shows them.
    assert len(versions(app)) == builds_before + 1
    listing = client.get("/statements/interregional-innovation-investments/signatories.json")
    names = {s["organisation_name"] for s in listing.get_json()["signatories"]}
    assert {"Regione Ελλάδα Test", "Uniwersytet Testowy", "Cluster Bayern"} <= names
    with app.app_context():
        batch = db.session.scalar(select(ImportBatch))
        assert (batch.state, batch.mode, batch.row_count, batch.data) == (
            "imported",
            "approved",
            3,
            None,
        )
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import_batch"))
        assert event.actor_label == "admin@example.org" and event.after["file"] == "event.csv"
    # Confirming the same preview again imports nothing more.
    again = _confirm(admin, preview_url, "approved")
    assert again.status_code in (200, 409) and _count(app) == before + 3


def test_verified_mode_puts_the_rows_in_the_queue(app, admin):
    sid = _statement_id(app)
    preview_url = _upload(admin, sid, "event.csv", GOOD).headers["Location"]
    assert _confirm(admin, preview_url, "verified").status_code == 303
    assert _count(app, source=SignatureSource.IMPORT, state=SignatureState.VERIFIED) == 3
    queue = admin.get("/staff/queue").text
    assert "Uniwersytet Testowy" in queue
    # Nobody confirmed by email: the queue and the signature's page say it came from a file.
    assert "imported from a file" in queue and "confirmed " not in queue
    # The file stands for the email confirmation: the audit names the admin and the file.
    with app.app_context():
        batch_id = db.session.scalar(select(ImportBatch.id))
        events = db.session.scalars(
            select(AuditEvent)
            .join(Signature, Signature.id == AuditEvent.signature_id)
            .where(AuditEvent.action == "imported", Signature.import_batch_id == batch_id)
        ).all()
        assert len(events) == 3
        assert {(e.actor_label, e.to_state, e.detail) for e in events} == {
            ("admin@example.org", "verified", f"file event.csv, batch {batch_id}")
        }
        one = db.session.scalar(select(Signature.id).where(Signature.import_batch_id == batch_id))
    page = parse(admin.get(f"/staff/signatures/{one}").text).find("dl", class_="summary")
    assert f"Batch {batch_id}: the file stands for the email confirmation" in page.normalised_text
    assert "Email confirmed" not in page.text
    links = [a.get("href") for a in page.find_all("a")]
    assert f"/staff/statements/{sid}/import#batch-{batch_id}" in links
    with app.app_context():
        assert all(
            sig.verified_at is not None and sig.approved_at is None
            for sig in db.session.scalars(
                select(Signature).where(Signature.import_batch_id.is_not(None))
            )
        )


def test_errors_name_line_column_and_choices_and_nothing_is_stored(app, admin):
    sid = _statement_id(app)
    bad = (
        HEADER
        + "Good Org,sme,IT,,,,\n"
        + "Bad Type Org,charity,IT,,,,\n"
        + "Bad Country Org,ngo,Atlantis,,,,\n"
        + "X,ngo,FR,,,not-an-email,\n"
        + "Typo Org,Universty,Germny,,,,\n"
    ).encode()
    before = _count(app)
    preview = admin.get(_upload(admin, sid, "bad.csv", bad).headers["Location"])
    summary = parse(preview.text).by_id("error-summary").normalised_text
    assert "Line 3, organisation_type: Write one of the types: region (Regions)" in summary
    assert "university (Universities)" in summary
    assert "Line 4, country: Write the country as its two-letter ISO code" in summary
    assert "Line 5, organisation_name:" in summary and "Line 5, email:" in summary
    # A misspelling gets what was most likely meant; nonsense gets no guess.
    assert "Line 6, country: Write the country" in summary
    assert "Did you mean Germany (DE)?" in summary
    assert "Did you mean university (Universities)?" in summary
    assert summary.count("Did you mean") == 2
    # No import form while there are problems; posting anyway stores nothing.
    assert "Import all" not in preview.text
    refused = _confirm(admin, preview.request.path, "approved")
    assert refused.status_code == 409 and _count(app) == before


def test_duplicates_are_flagged_with_the_queues_signals(app, admin):
    sid = _statement_id(app)
    first = _upload(admin, sid, "one.csv", GOOD).headers["Location"]
    _confirm(admin, first, "approved")
    again = (
        HEADER
        + "Uniwersytet Testowy,university,PL,Kraków,,,\n"  # the same: skipped
        + "The Cluster Bayern e.V.,cluster,AT,Wien,https://cluster.at,x@gmail.com,\n"
    ).encode()
    preview = admin.get(_upload(admin, sid, "two.csv", again).headers["Location"])
    text = parse(preview.text).find("table", class_="import-rows").normalised_text
    assert "Already on the list: skipped" in text
    assert "Possible duplicate of #" in text and "Cluster Bayern" in text
    assert "Free mail address" in text


def test_rows_of_one_file_are_checked_against_each_other(app, admin):
    sid = _statement_id(app)
    before = _count(app)
    rows = (
        HEADER
        + "Cluster Nord GmbH,cluster,DE,Kiel,,,\n"  # line 2
        + "Cluster Nord,cluster,AT,Linz,,,\n"  # line 3: the queue's test says maybe the same
        + "Agence Sud,region,FR,Nice,,sud@agence.fr,\n"  # line 4
        + "Agence Sud,regions,France,Nice,,,\n"  # line 5: line 4 again
        + "Autre Agence,region,FR,Nice,,SUD@agence.fr,\n"  # line 6: line 4's address
    ).encode()
    preview = admin.get(_upload(admin, sid, "twice.csv", rows).headers["Location"])
    table = parse(preview.text).find("table", class_="import-rows")
    text = {tr.get("id"): tr.normalised_text for tr in table.find("tbody").find_all("tr")}
    assert "Possible duplicate of line 3 in this file" in text["line-2"]
    assert "Possible duplicate of line 2 in this file" in text["line-3"]
    assert "Same as line 4: skipped" in text["line-5"]
    assert "Same as line 4: skipped" in text["line-6"]
    assert "duplicate" not in text["line-4"] and "OK" in text["line-4"]
    assert "Import all 3 rows" in preview.text
    assert _confirm(admin, preview.request.path, "approved").status_code == 303
    assert _count(app) == before + 3


def test_an_import_is_undone_as_a_whole_until_staff_decide_on_a_row(app, admin):
    sid = _statement_id(app)
    before = _count(app)
    preview_url = _upload(admin, sid, "event.csv", GOOD).headers["Location"]
    _confirm(admin, preview_url, "verified")
    with app.app_context():
        batch_id = db.session.scalar(select(ImportBatch.id))
        one = db.session.scalar(
            select(Signature.id).where(Signature.organisation_name == "Cluster Bayern")
        )
    # A moderator approves one row: the batch can no longer be undone as a whole.
    token = page_token(admin, "/staff/queue")
    admin.post(f"/staff/signatures/{one}/approve", data={"csrf_token": token})
    token = page_token(admin, f"/staff/statements/{sid}/import")
    refused = admin.post(f"/staff/imports/{batch_id}/undo", data={"csrf_token": token})
    assert refused.status_code == 303 and _count(app) == before + 3
    assert "was not undone" in admin.get(refused.headers["Location"]).text
    # A fresh batch nobody touched is undone at once, audited, and removed from the list.
    other = (
        HEADER
        + "Regione Due,region,IT,Roma,,,\n"
        + "Uniwersytet Drugi,university,PL,Gdańsk,,,\n"
        + "Cluster Drei,cluster,DE,Köln,,,\n"
    ).encode()
    second = _upload(admin, sid, "second.csv", other).headers["Location"]
    _confirm(admin, second, "approved")
    with app.app_context():
        second_id = db.session.scalar(select(func.max(ImportBatch.id)))
    assert _count(app) == before + 6
    wait_jobs(app)
    builds_before = len(versions(app))
    token = page_token(admin, f"/staff/statements/{sid}/import")
    undone = admin.post(f"/staff/imports/{second_id}/undo", data={"csrf_token": token})
    assert undone.status_code == 303 and _count(app) == before + 3
    # The list lost three approved signatories: one rebuild, and the public list follows.
    wait_jobs(app)
    assert len(versions(app)) == builds_before + 1
    listing = admin.get("/statements/interregional-innovation-investments/signatories.json")
    names = {s["organisation_name"] for s in listing.get_json()["signatories"]}
    assert not names & {"Regione Due", "Uniwersytet Drugi", "Cluster Drei"}
    with app.app_context():
        assert db.session.get(ImportBatch, second_id).state == "undone"
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "import_batch_undone")
            )
            == 1
        )
        # Each removed endorsement keeps its audit row, naming the admin and the batch.
        removed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "import_undone")
        ).all()
        assert sorted(e.detail for e in removed) == [
            f"batch {second_id}: {name}"
            for name in ("Cluster Drei", "Regione Due", "Uniwersytet Drugi")
        ]
        assert {e.actor_label for e in removed} == {"admin@example.org"}
    # Undone once only.
    again = admin.post(f"/staff/imports/{second_id}/undo", data={"csrf_token": token})
    assert again.status_code == 303 and _count(app) == before + 3


def _damaged_workbook() -> bytes:
    """A workbook whose sheet is cut in half: openpyxl opens it and fails while reading rows."""
    import zipfile

    book = Workbook()
    book.active.append(["organisation_name", "organisation_type", "country"])
    book.active.append(["A Org", "sme", "IT"])
    whole = io.BytesIO()
    book.save(whole)
    source, out = zipfile.ZipFile(whole), io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            damaged.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.csv", b"", "The file is empty"),
        ("notes.pdf", b"%PDF-1.7 ...", "Upload a CSV or XLSX file"),
        ("latin1.csv", HEADER.encode() + "Région Île,region,FR,,,,\n".encode("latin-1"), "UTF-8"),
        ("header-only.csv", HEADER.encode(), "no endorsements"),
        ("no-header.csv", b"Some Org,sme,IT\n", "The first row must name the columns"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", "cannot be read"),
        ("damaged.xlsx", _damaged_workbook(), "cannot be read"),
    ],
)
def test_a_file_that_cannot_be_read_gets_a_clear_error(app, admin, name, data, words):
    sid = _statement_id(app)
    response = _upload(admin, sid, name, data)
    assert response.status_code == 422
    assert words in parse(response.text).find("p", class_="error-message").text
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportBatch.id))) == 0


def test_a_file_over_5_mb_is_refused(app, admin):
    sid = _statement_id(app)
    just_over = _upload(admin, sid, "big.csv", HEADER.encode() + b"x" * (5 * 1024 * 1024 + 10))
    assert just_over.status_code == 422 and "larger than 5 MB" in just_over.text
    # Far over: refused at the door, before the body is read.
    assert _upload(admin, sid, "huge.csv", b"x" * (7 * 1024 * 1024)).status_code == 413


def test_xlsx_files_and_the_templates(app, admin):
    sid = _statement_id(app)
    template = admin.get(f"/staff/statements/{sid}/import/template.xlsx")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.data))
    sheet = book["Endorsements"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["organisation_name", "organisation_type", "country"]
    allowed = book["Allowed values"]
    assert ("university", "Universities") in [(r[0].value, r[1].value) for r in allowed.iter_rows()]
    csv_template = admin.get(f"/staff/statements/{sid}/import/template.csv")
    assert csv_template.data.decode("utf-8-sig").startswith("organisation_name,organisation_type")
    # The template as filled in: its example row imports.
    out = io.BytesIO()
    book.save(out)
    preview = admin.get(_upload(admin, sid, "filled.xlsx", out.getvalue()).headers["Location"])
    assert "Łódzkie Region" in preview.text and "Import all 1 rows" in preview.text
    # A workbook made elsewhere, with headings in words.
    made = Workbook()
    ws = made.active
    ws.append(["Organisation name", "Type", "Country", "City"])
    ws.append(["Kauno technologijos universitetas", "University", "Lietuva", "Kaunas"])
    ws.append(["Tartu Ülikool", "universities", "EE", 2024])
    buf = io.BytesIO()
    made.save(buf)
    preview = admin.get(_upload(admin, sid, "made.xlsx", buf.getvalue()).headers["Location"])
    assert "Lithuania" in preview.text and "Estonia" in preview.text
    assert "Import all 2 rows" in preview.text


def test_moderators_cannot_import(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    sid = _statement_id(app)
    assert moderator.get(f"/staff/statements/{sid}/import").status_code == 403


def test_the_statements_page_links_the_import(app, admin):
    sid = _statement_id(app)
    page = admin.get("/staff/statements").text
    assert re.search(rf'href="/staff/statements/{sid}/import"', page)


def test_a_file_never_imported_is_dropped_after_a_day(app, admin):
    from datetime import timedelta

    from sqlalchemy import update

    from petition import housekeeping
    from petition.models import utcnow
    from petition.signatories import imports

    sid = _statement_id(app)
    preview_url = _upload(admin, sid, "forgotten.csv", GOOD).headers["Location"]
    assert "petition.signatories.imports:discard_stale_previews" in housekeeping.TASKS
    with app.app_context():
        assert imports.discard_stale_previews() == 0  # fresh: kept for its confirmation
        db.session.execute(update(ImportBatch).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
        assert imports.discard_stale_previews() == 1
        batch = db.session.scalar(select(ImportBatch))
        assert (batch.state, batch.data) == ("discarded", None)
    # Its preview says so, and it can no longer be imported.
    assert "discarded already" in admin.get(preview_url).text
    assert _confirm(admin, preview_url).status_code == 409
    assert _count(app, source=SignatureSource.IMPORT) == 0


def test_a_file_with_too_many_rows_is_refused(app, admin):
    from petition.signatories.imports import MAX_ROWS

    sid = _statement_id(app)
    rows = "".join(f"Org {i},sme,IT,,,,\n" for i in range(MAX_ROWS + 1))
    response = _upload(admin, sid, "many.csv", (HEADER + rows).encode())
    assert response.status_code == 422
    message = parse(response.text).find("p", class_="error-message").text
    assert f"import at most {MAX_ROWS} at a time" in message
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportBatch.id))) == 0


def test_an_upload_is_previewed_and_imported_only_by_the_admin_who_uploaded_it(app, admin):
    sid = _statement_id(app)
    preview_url = _upload(admin, sid, "event.csv", GOOD).headers["Location"]
    other = signed_in(app, "other-admin@example.org", "admin")
    assert other.get(preview_url).status_code == 404
    token = page_token(other, f"/staff/statements/{sid}/import")
    confirmed = other.post(
        preview_url, data={"csrf_token": token, "mode": "approved", "confirm": "y"}
    )
    assert confirmed.status_code == 404
    assert other.post(f"{preview_url}/discard", data={"csrf_token": token}).status_code == 404
    assert _count(app, source=SignatureSource.IMPORT) == 0
    # The uploader still has it.
    assert _confirm(admin, preview_url, "approved").status_code == 303
    assert _count(app, source=SignatureSource.IMPORT) == 3


# Each country as people write it: the ISO codes, English (current and former), the country's
# own name, and its name in each of the site's languages (en, nl, de, fr, es, it, pl).
COUNTRY_SPELLINGS = {
    "GR": [
        "GR", "gr", "GRC", "EL", "Greece", "Hellenic Republic", "Ελλάδα", "ελλαδα",
        "Griekenland", "Griechenland", "Grèce", "Grecia", "Grecja",
    ],
    "DE": ["Germany", "Deutschland", "Duitsland", "Allemagne", "Alemania", "Germania", "Niemcy"],
    "PL": ["Poland", "Polska", "Polen", "Pologne", "Polonia"],
    "BE": ["Belgium", "België", "Belgique", "Belgien", "Bélgica", "Belgio", "Belgia"],
    "NL": ["Netherlands", "The Netherlands", "Nederland", "Niederlande", "Pays-Bas", "Holland"],
    "CZ": ["Czechia", "Czech Republic", "Česko", "Česká republika", "Tschechien", "Czechy"],
    "TR": ["Türkiye", "Turkey", "Türkei"],
    "GB": ["United Kingdom", "UK", "Scotland", "Wales"],
    "CY": ["Cyprus", "Κύπρος", "Kıbrıs", "Zypern", "Chypre"],
}  # fmt: skip
TYPE_SPELLINGS = {
    "university": [
        "university", "University", "Universities", "Universiteiten", "Universitäten",
        "Universités", "Universidades", "Università", "Uczelnie",
    ],
    # Dutch "Regio’s" with the catalogue's apostrophe, or the one on the keyboard.
    "region": ["region", "Region", "Regions", "Regionen", "Régions", "Regio’s", "Regio's"],
    "startup": ["startup", "Start-up", "Start-ups"],
    "cluster": ["cluster", "Cluster organisations", "Clusterorganisationen"],
}  # fmt: skip


def test_countries_and_types_are_read_however_people_write_them(app):
    from petition.core.validation import InvalidValue
    from petition.signatories.imports import resolve_country, resolve_type

    with app.app_context():
        for code, spellings in COUNTRY_SPELLINGS.items():
            for spelling in spellings:
                assert resolve_country(spelling) == code, spelling
        for kind, spellings in TYPE_SPELLINGS.items():
            for spelling in spellings:
                assert resolve_type(spelling).value == kind, spelling
        # Nothing is guessed: the error says how to write it, and for a type names every one.
        for wrong in ("Atlantis", "Greek", "G", "Frankreich-Süd"):
            with pytest.raises(InvalidValue, match="two-letter ISO code"):
                resolve_country(wrong)
        with pytest.raises(InvalidValue) as refused:
            resolve_type("charity")
        message = str(refused.value)
        for code, label in (
            ("region", "Regions"),
            ("university", "Universities"),
            ("ngo", "NGOs"),
            ("other", "Other"),
        ):
            assert f"{code} ({label}" in message


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("event\x00list.csv", "event list.csv"),  # PostgreSQL refuses NUL in text
        ("../../event.csv", "event.csv"),
        ("event\u202evsc.csv", "event vsc.csv"),  # a right-to-left override
        ("x" * 300 + ".csv", "x" * 247 + "….csv"),
    ],
)
def test_an_uploaded_files_name_is_kept_clean(app, admin, sent, kept):
    sid = _statement_id(app)
    uploaded = _upload(admin, sid, sent, GOOD)
    assert uploaded.status_code == 303
    assert admin.get(uploaded.headers["Location"]).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ImportBatch.filename)) == kept


@pytest.mark.postgres_only
def test_an_undo_waits_for_a_decision_being_made_and_then_refuses(app, admin):
    """A moderator approves a row of the batch while an admin undoes it: the undo waits for the
    row, sees the decision and refuses, rather than deleting a just-approved endorsement."""
    import threading

    from sqlalchemy import update

    from petition.core.audit import Actor
    from petition.signatories import imports

    sid = _statement_id(app)
    _confirm(admin, _upload(admin, sid, "event.csv", GOOD).headers["Location"], "verified")
    with app.app_context():
        batch_id = db.session.scalar(select(ImportBatch.id))
        one = db.session.scalar(select(Signature.id).where(Signature.import_batch_id == batch_id))
        engine = db.engine
    outcome: dict[str, object] = {}

    def undo() -> None:
        with app.app_context():
            try:
                outcome["removed"] = imports.undo_batch(batch_id, Actor.cli("test"))
            except imports.UndoRefused as exc:
                outcome["refused"] = str(exc)

    with engine.connect() as moderator:
        decision = moderator.begin()
        moderator.execute(
            update(Signature)
            .where(Signature.id == one)
            .values(state=SignatureState.APPROVED, row_version=Signature.row_version + 1)
        )
        worker = threading.Thread(target=undo)
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "the undo waits for the row being decided"
        decision.commit()
    worker.join(10.0)
    assert "refused" in outcome, outcome
    assert _count(app, import_batch_id=batch_id) == 3


def test_a_file_of_misspelt_countries_gets_a_few_hints(app, admin):
    """Each hint is a fuzzy look-up among some 1,900 names: a file of nonsense gets 50."""
    sid = _statement_id(app)
    rows = "".join(f"Org {i},sme,Germny,,,,\n" for i in range(60))
    preview = admin.get(
        _upload(admin, sid, "typos.csv", (HEADER + rows).encode()).headers["Location"]
    )
    summary = parse(preview.text).by_id("error-summary").normalised_text
    assert summary.count("Line ") == 60 and summary.count("Did you mean Germany (DE)?") == 50
