"""The PDF job: built in the background on list changes, debounced, locked, versioned, served cached."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from petition.core.audit import Actor
from petition.core.db import write_transaction
from petition.extensions import db
from petition.models import PdfBuildLog, PdfVersion, Signature, Statement, utcnow
from petition.moderation import service as moderation
from petition.pdf import builds
from petition.statements.service import load_statement
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve, fetch, latest_pdf, pdf_text, versions


def test_seed_builds_the_first_pdf_and_the_page_links_it(app, client):
    # Through the list-changed event and the debounced job (the `seeded` fixture builds directly).
    from petition.seed import seed

    with app.app_context():
        seed()
    wait_jobs(app)
    [first] = versions(app)
    assert first.signatory_count == 4
    page = client.get(f"/statements/{SLUG}").get_data(as_text=True)
    assert f"/statements/{SLUG}/statement.pdf" in page
    assert "4 signatories" in page

    response = fetch(client, f"/statements/{SLUG}/statement.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    today = first.created_at.strftime("%Y-%m-%d")
    assert f"Joint-Statement-{SLUG}-{today}.pdf" in response.headers["Content-Disposition"]
    sha = hashlib.sha256(response.data).hexdigest()
    assert sha == first.file_sha256
    assert response.headers["ETag"] == f'"{sha}"'
    assert response.headers["Last-Modified"]
    assert "max-age" in response.headers["Cache-Control"]


def test_pdf_lists_exactly_the_approved_signatories(app, client, seeded, tmp_path):
    names = {
        "approved": [
            ("Περιφέρεια Κεντρικής Μακεδονίας", "region", "GR", "Θεσσαλονίκη"),
            ("Київський політехнічний інститут", "university", "UA", "Київ"),
            ("Województwo Łódzkie", "region", "PL", "Łódź"),
            ("Žďár Cluster s.r.o.", "cluster", "CZ", "Žďár nad Sázavou"),
            ("<b>Evil</b> & <font size=40>Co</font>", "company", "BE", "Brussels"),
            ('<img src="x"/> Ltd', "sme", "IE", "Cork"),
        ],
        "rejected": [("Rejected Robotics", "company", "DE", "Berlin")],
        "withdrawn": [("Withdrawn Widgets", "company", "FR", "Lyon")],
        "verified": [("Waiting Works", "startup", "ES", "Bilbao")],
    }
    ids = {}
    for entries in names.values():
        for name, org_type, country, city in entries:
            ids[name] = add_verified(app, name, org_type=org_type, country=country, city=city)
    approve(app, *(ids[n[0]] for n in names["approved"]), ids["Withdrawn Widgets"])
    with app.app_context():
        moderation.decide(
            ids["Rejected Robotics"], "reject", Actor.cli(), reason="spam", notify=False
        )
        from petition.signing.service import withdraw

        withdraw(db.session.get(Signature, ids["Withdrawn Widgets"]), Actor.cli())
    wait_jobs(app)
    text = pdf_text(latest_pdf(client), tmp_path)
    for name, *_ in names["approved"]:
        assert name in text, name
    assert "Θεσσαλονίκη" in text and "Київ" in text and "Žďár nad Sázavou" in text
    for excluded in ("Rejected Robotics", "Withdrawn Widgets", "Waiting Works"):
        assert excluded not in text
    # Grouped by type in the fixed order, each heading with its count.
    headings = [
        "Regions (2)",
        "Cluster organisations (1)",
        "Universities (1)",
        "Companies (1)",
        "SMEs (1)",
    ]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions)
    # Within a group: by country name, then name (Greece before Poland).
    assert text.index("Περιφέρεια Κεντρικής Μακεδονίας") < text.index("Województwo Łódzkie")
    assert "ten (10) organisations" in text  # the four initiators too, named before the list
    assert "Networks and associations" not in text  # the initiators' group holds only them
    # The statement text itself is in the PDF.
    assert "Value chains – main priority" in text
    assert "Policies to restart the single market" in text


INITIATORS = (
    "Vanguard Initiative",
    "European Clusters Alliance",
    "EuroTech Universities Alliance",
    "UAS4Europe",
)


def test_initiators_are_set_apart_once_under_an_initiative_of(app, client, seeded, tmp_path):
    """The flagged initiators (the seeded founding signatories, networks in Brussels) are named
    under "An initiative of" with their city and country, and not again in their type group."""
    other = add_verified(app, "Other Network", org_type="network", country="BE", city="Gent")
    approve(app, other)
    wait_jobs(app)
    text = pdf_text(latest_pdf(client), tmp_path)
    label = text.index("An initiative of")
    summary = text.index("As of ")
    for name in INITIATORS:
        assert text.count(name) == 1, name
        assert label < text.index(f"{name} — Brussels, Belgium") < summary, name
    assert "Networks and associations (1)" in text
    assert summary < text.index("Other Network — Gent") and text.count("Other Network") == 1
    assert "five (5) organisations" in text
    assert "The initiators, named at the beginning, are counted here" in text
    # A version lists them all: withdrawing an initiator withdraws the version (as for anyone).
    with app.app_context():
        latest = db.session.scalars(select(PdfVersion).order_by(PdfVersion.number.desc())).first()
        listed = set(builds.unpack_ids(latest.signature_ids))
        flagged = db.session.scalars(select(Signature.id).where(Signature.is_initiator)).all()
    assert set(flagged) | {other} == listed


def test_burst_of_approvals_yields_one_or_two_rebuilds(app, client, seeded, tmp_path):
    # A window wider than any pause between two approvals on a loaded machine (half a second
    # let a third build start there); tests/test_pdf_debounce.py pins the debounce itself.
    app.config["PDF_DEBOUNCE_SECONDS"] = 2.0
    ids = [
        add_verified(app, f"Burst Organisation {i:02d}", org_type="sme", country="IT")
        for i in range(50)
    ]
    before = len(versions(app))
    with app.app_context():
        for sig_id in ids:
            moderation.decide(sig_id, "approve", Actor.cli(), notify=False)
    wait_jobs(app, timeout=60)
    builds = versions(app)[before:]
    assert 1 <= len(builds) <= 2, [b.signatory_count for b in builds]
    assert builds[-1].signatory_count == 54
    text = pdf_text(latest_pdf(client), tmp_path)
    assert all(f"Burst Organisation {i:02d}" in text for i in range(50))


def test_change_during_a_build_yields_exactly_one_more(app, client, seeded, monkeypatch, tmp_path):
    from petition.pdf import layout as pdf_package

    real_render = pdf_package.render_statement_pdf
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_render(*args, **kwargs):
        calls.append(time.monotonic())
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pdf_package, "render_statement_pdf", slow_render)
    first, second = add_verified(app, "First Foundry"), add_verified(app, "Second Studio")
    before = len(versions(app))
    approve(app, first)
    assert started.wait(10), "the rebuild did not start"
    # Arrives while the first build is rendering: its rebuild request waits behind that build,
    # whose end sees the newer list version and asks for exactly one more.
    approve(app, second)
    release.set()
    wait_jobs(app, timeout=30)
    builds = versions(app)[before:]
    assert len(builds) == 2
    assert [b.signatory_count for b in builds] == [5, 6]
    assert "Second Studio" in pdf_text(latest_pdf(client), tmp_path)


def test_failed_build_keeps_the_previous_version_served(app, client, seeded, monkeypatch):
    from petition.pdf import layout as pdf_package

    good = latest_pdf(client)

    def broken(*args, **kwargs):
        raise RuntimeError("font cache exploded")

    monkeypatch.setattr(pdf_package, "render_statement_pdf", broken)
    approve(app, add_verified(app, "Doomed Dynamics"))
    wait_jobs(app)
    assert latest_pdf(client) == good
    with app.app_context():
        failure = db.session.scalar(select(PdfBuildLog).order_by(PdfBuildLog.id.desc()))
        assert failure.ok is False
        assert "font cache exploded" in failure.message
        statement = db.session.scalar(select(Statement))
        assert statement.pdf_building_since is None  # the lock was released
        assert statement.pdf_built_list_version < statement.list_version
    leftovers = [p for p in Path(app.config["PDF_DIR"]).iterdir() if p.name.startswith(".build-")]
    assert leftovers == []


def test_only_one_build_per_statement_at_a_time(app, seeded, monkeypatch):
    from petition.pdf import layout as pdf_package

    real_render = pdf_package.render_statement_pdf
    inside = threading.Event()
    release = threading.Event()

    def held(*args, **kwargs):
        inside.set()
        assert release.wait(10)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pdf_package, "render_statement_pdf", held)
    outcomes = []

    def build():
        with app.app_context():
            outcomes.append(builds.build_statement_pdf(1, trigger="test"))

    with app.app_context():
        statement_id = db.session.scalar(select(Statement.id))
    assert statement_id == 1
    first = threading.Thread(target=build)
    first.start()
    assert inside.wait(10)
    with app.app_context():
        second = builds.build_statement_pdf(statement_id, trigger="test")
    assert not second.built
    assert "another build" in second.reason
    release.set()
    first.join(30)
    assert outcomes and outcomes[0].built


def test_new_statement_version_marks_earlier_signatories(app, client, seeded, tmp_path):
    early = add_verified(app, "Early Endorser GmbH", org_type="company", country="DE")
    approve(app, early)
    wait_jobs(app)
    source = (
        Path(__file__).parent.parent / "petition/content/interregional-innovation-investments.md"
    ).read_text()
    corrected = source.replace("publics authorities", "public authorities")
    with app.app_context():
        result = load_statement(corrected)
        assert result.new_version
        old_sha = db.session.scalar(
            select(Signature.statement_version_id).where(Signature.id == early)
        )
        assert old_sha != result.statement.current_version_id
    late = add_verified(app, "Late Endorser AB", org_type="company", country="SE")
    approve(app, late)
    wait_jobs(app)
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "public authorities, fablabs" in text
    assert "publics authorities" not in text
    assert "Early Endorser GmbH†" in text or "Early Endorser GmbH †" in text
    assert "Late Endorser AB†" not in text
    assert "endorsed an earlier version of the statement" in text


@write_transaction
def _set_embargo(when) -> None:
    db.session.scalar(select(Statement)).list_public_from = when


def test_embargo_hides_the_list_until_it_ends(app, client, seeded, tmp_path):
    with app.app_context():
        _set_embargo(utcnow() + timedelta(days=1))
    approve(app, add_verified(app, "Embargoed Engineering"))
    wait_jobs(app)
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "Embargoed Engineering" not in text
    assert client.get(f"/statements/{SLUG}/signatories.json").get_json()["count"] == 0
    # The embargo ends by itself, after that build; the periodic check notices once it has.
    ends = utcnow()
    with app.app_context():
        _set_embargo(ends)
        assert builds.check_embargoes(now=ends - timedelta(seconds=1)) == 0
        assert builds.check_embargoes(now=ends) == 1
    wait_jobs(app)
    assert "Embargoed Engineering" in pdf_text(latest_pdf(client), tmp_path)
    with app.app_context():
        assert builds.check_embargoes() == 0


def test_lost_rebuild_job_is_recovered_by_the_periodic_sweep(app, client, seeded, tmp_path):
    sig = add_verified(app, "Recovered Research")
    before = len(versions(app))
    approve(app, sig)
    app.extensions["jobs"].clear()  # the process died before its debounced job ran
    with app.app_context():
        assert builds.rebuild_stale() == 0  # too recent: its own job may still come
        assert builds.rebuild_stale(now=utcnow() + timedelta(minutes=1)) == 1
    wait_jobs(app)
    assert len(versions(app)) == before + 1
    assert "Recovered Research" in pdf_text(latest_pdf(client), tmp_path)
    with app.app_context():
        assert builds.rebuild_stale(now=utcnow() + timedelta(minutes=1)) == 0


def test_cli_pdf_rebuild(app, runner, seeded):
    result = runner.invoke(args=["pdf", "rebuild", SLUG])
    assert result.exit_code == 0, result.output
    assert "PDF version 2" in result.output
    missing = runner.invoke(args=["pdf", "rebuild", "no-such-statement"])
    assert missing.exit_code != 0
    assert "no statement" in missing.output


def test_cli_change_rebuilds_once_at_its_end(app, runner, seeded, tmp_path):
    ids = [add_verified(app, f"Cli Org {i}") for i in range(3)]
    before = len(versions(app))
    result = runner.invoke(args=["signatures", "approve", *map(str, ids)])
    assert result.exit_code == 0, result.output
    builds = versions(app)[before:]
    assert len(builds) == 1
    assert builds[0].signatory_count == 7


def test_healthz_reports_pdf_age(client, seeded):
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok"
    assert isinstance(body["pdf_age_seconds"][SLUG], int)
    with client.application.app_context():
        assert db.session.scalar(select(func.count(PdfVersion.id))) == 1


def test_cli_pdf_letter_lines_reach_the_pdf(app, runner, client, seeded, tmp_path):
    result = runner.invoke(
        args=[
            "pdf", "letter", SLUG, "--addressee", "European Commission",
            "--place", "Bruxelles", "--date", "2025-04-01",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["pdf", "rebuild", SLUG]).exit_code == 0
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "To: European Commission" in text
    assert "Bruxelles, 1 April 2025" in text
    # Options left out are cleared: no addressee, and the date of the build.
    assert runner.invoke(args=["pdf", "letter", SLUG]).exit_code == 0
    assert runner.invoke(args=["pdf", "rebuild", SLUG]).exit_code == 0
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "To:" not in text
    assert "Bruxelles" not in text
    bad = runner.invoke(args=["pdf", "letter", SLUG, "--date", "1 April"])
    assert bad.exit_code != 0
