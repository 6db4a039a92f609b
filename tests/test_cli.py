"""The command line: seed, statements, import/export, signatures, mail — in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from petition.core import events
from petition.core.validation import country_display_name, name_key
from petition.extensions import db
from petition.models import (
    AuditEvent,
    CampaignUpdate,
    OrganisationType,
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureSource,
    SignatureState,
    Statement,
    StatementVersion,
    utcnow,
)
from petition.signatories.service import OPEN_DATA_FIELDS, STAFF_FIELDS
from petition.statements.service import get_statement
from tests.conftest import valid_form, wait_jobs
from tests.flows import csv_text, post_form, read_csv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_pdf_rebuilds():
    """PDF builds are tested elsewhere; muting the rebuild signal keeps these commands quick."""
    with events.list_changed.muted():
        yield


def table_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Statement, StatementVersion, Signature, CampaignUpdate, AuditEvent)
        }


def add_signature(app, slug: str, name: str, state: SignatureState, email: str | None) -> int:
    """A signature in a given state, written directly: the CLI reads and moderates it."""
    with app.app_context():
        statement = get_statement(slug)
        sig = Signature(
            statement_id=statement.id,
            statement_version_id=statement.current_version_id,
            state=state,
            source=SignatureSource.FORM,
            organisation_name=name,
            organisation_name_key=name_key(name),
            organisation_type=OrganisationType.CLUSTER,
            organisation_type_order=OrganisationType.CLUSTER.order,
            country="DE",
            country_name=country_display_name("DE"),
            website="https://example.org",
            contact_name="Contact Person",
            contact_role="Director",
            email=email,
            email_normalised=email.lower() if email else None,
            verified_at=utcnow() if state is not SignatureState.PENDING_EMAIL else None,
        )
        db.session.add(sig)
        db.session.commit()
        return sig.id


def state_of(app, signature_id: int) -> SignatureState:
    with app.app_context():
        return SignatureState(db.session.get(Signature, signature_id).state)


def statement_file(tmp_path: Path, body: str, name: str = "statement.md", **meta) -> Path:
    front = {"slug": "cli-statement", "title": "A statement from the command line", **meta}
    lines = ["---", *(f"{k}: {v}" for k, v in front.items()), "---", "", body]
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------- seed


def test_seed_twice_changes_nothing(app, runner):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "statement interregional-innovation-investments: created" in first.output
    assert "founding signatories imported: 4" in first.output
    assert "campaign updates added: 6" in first.output
    after_first = table_counts(app)
    assert after_first["Statement"] == 1 and after_first["Signature"] == 4
    assert after_first["CampaignUpdate"] == 6

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert second.output.splitlines()[:3] == [
        "statement interregional-innovation-investments: up to date",
        "founding signatories imported: 0",
        "campaign updates added: 0",
    ]
    assert table_counts(app) == after_first
    with app.app_context():
        statement = get_statement("interregional-innovation-investments")
        assert statement.list_version == 1  # the import, once
        drafts = db.session.scalars(
            select(CampaignUpdate.title).where(CampaignUpdate.is_published.is_(False))
        ).all()
    assert drafts == ["3DP Business Innovators Meeting"]


# ---------------------------------------------------------------- statements load


def test_statements_load_creates_versions(app, runner, client, tmp_path):
    path = statement_file(tmp_path, "First body.\n", language="pl")
    created = runner.invoke(args=["statements", "load", str(path)])
    assert created.exit_code == 0, created.output
    assert created.output.startswith("created statement cli-statement (version 1, ")

    unchanged = runner.invoke(args=["statements", "load", str(path)])
    assert unchanged.output.strip() == "statement cli-statement unchanged (version 1)"
    # Line endings and trailing blank lines do not make a version.
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n\r\n")
    assert "unchanged (version 1)" in runner.invoke(args=["statements", "load", str(path)]).output

    # Sign version 1 (imported, and through the form), then change the body.
    signatories_csv = tmp_path / "v1.csv"
    signatories_csv.write_text(
        csv_text([{"organisation_name": "Early Org", "organisation_type": "sme", "country": "PL"}])
    )
    assert (
        runner.invoke(
            args=["signatories", "import", str(signatories_csv), "--statement", "cli-statement"]
        ).exit_code
        == 0
    )
    assert post_form(client, "cli-statement", valid_form(email="v1@example.org")).status_code == 302

    statement_file(tmp_path, "First body, amended.\n", language="pl")
    new = runner.invoke(args=["statements", "load", str(path)])
    assert new.exit_code == 0, new.output
    assert new.output.startswith("new version 2 of cli-statement (")
    assert "unchanged (version 2)" in runner.invoke(args=["statements", "load", str(path)]).output

    assert post_form(client, "cli-statement", valid_form(email="v2@example.org")).status_code == 302
    signatories_csv.write_text(
        csv_text([{"organisation_name": "Late Org", "organisation_type": "sme", "country": "PL"}])
    )
    runner.invoke(
        args=["signatories", "import", str(signatories_csv), "--statement", "cli-statement"]
    )

    with app.app_context():
        statement = get_statement("cli-statement")
        versions = {v.number: v for v in statement.versions}
        assert set(versions) == {1, 2}
        assert statement.current_version_id == versions[2].id
        assert versions[1].sha256 != versions[2].sha256
        assert versions[2].body == "First body, amended.\n"
        assert new.output.strip().endswith(f"({versions[2].sha256[:12]})")
        bound = dict(
            db.session.execute(
                select(Signature.organisation_name, Signature.statement_version_id).where(
                    Signature.statement_id == statement.id
                )
            ).all()
        )
        by_email = dict(
            db.session.execute(
                select(Signature.email, Signature.statement_version_id).where(
                    Signature.email.is_not(None)
                )
            ).all()
        )
    assert bound["Early Org"] == versions[1].id
    assert bound["Late Org"] == versions[2].id
    assert by_email == {"v1@example.org": versions[1].id, "v2@example.org": versions[2].id}
    # The public page shows the new text and its language.
    page = client.get("/statements/cli-statement").text
    assert "First body, amended." in page and '<html lang="pl">' in page

    # Loading the first text again makes it current without a third version.
    statement_file(tmp_path, "First body.\n", language="pl")
    back = runner.invoke(args=["statements", "load", str(path)])
    assert back.exit_code == 0
    assert back.output.startswith("statement cli-statement back at version 1 (")
    with app.app_context():
        statement = get_statement("cli-statement")
        assert statement.current_version.number == 1
        assert len(statement.versions) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("no front matter\n", "must start with '---' front matter"),
        ("---\nslug: x\ntitle: y\n\nBody never closed\n", "not closed by a '---' line"),
        ("---\nslug: [unclosed\n---\n\nBody\n", "not valid YAML"),
        ("---\n- a list\n---\n\nBody\n", "must be a mapping"),
        ("---\ntitle: No slug\n---\n\nBody\n", "has no slug"),
        ("---\nslug: no-title\n---\n\nBody\n", "has no title"),
        ("---\nslug: empty\ntitle: Empty\n---\n\n  \n", "body is empty"),
        ("---\nslug: Bad Slug!\ntitle: T\n---\n\nBody\n", "use lower-case letters"),
        ("---\nslug: ok\ntitle: T\npublished: yesterday\n---\n\nBody\n", "published: not a date"),
        ("---\nslug: ok\ntitle: T\nsigning_closes_at: soon\n---\n\nBody\n", "signing_closes_at"),
        ('---\nslug: ok\ntitle: T\nlanguage: en" onload="x\n---\n\nBody\n', "language tag"),
        ("---\nslug: ok\ntitle: " + "t" * 301 + "\n---\n\nBody\n", "title: at most 300"),
    ],
)
def test_statements_load_refuses_bad_files(app, runner, tmp_path, content, message):
    path = tmp_path / "bad.md"
    path.write_text(content, encoding="utf-8")
    before = table_counts(app)
    result = runner.invoke(args=["statements", "load", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.startswith("Error: ")
    assert table_counts(app) == before


def test_statements_load_refuses_missing_and_non_utf8_files(runner, tmp_path):
    missing = runner.invoke(args=["statements", "load", str(tmp_path / "nope.md")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("---\nslug: l\ntitle: Łódź\n---\n\nx\n".encode("utf-16"))
    result = runner.invoke(args=["statements", "load", str(latin1)])
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output


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
    assert audit == ["imported"] * 3
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
    assert lines == [
        f"{path}:3: Choose the type of organisation from the list.",
        f"{path}:5: Choose a country from the list.",
        "nothing imported: 2 error(s)",
    ]
    assert table_counts(app) == before


def test_signatories_import_header_and_statement_errors(app, runner, seeded, tmp_path):
    no_header = tmp_path / "no-header.csv"
    no_header.write_text("Some Org,sme,IT\n", encoding="utf-8")
    result = runner.invoke(args=["signatories", "import", str(no_header), "--statement", seeded])
    assert (
        result.exit_code == 1
        and f"{no_header}:1: the header must name the columns" in result.output
    )
    unknown = tmp_path / "unknown-column.csv"
    unknown.write_text("organisation_name,organisation_type,country,phone\nA Org,sme,IT,123\n")
    result = runner.invoke(args=["signatories", "import", str(unknown), "--statement", seeded])
    assert result.exit_code == 1 and "unknown column(s): phone" in result.output
    extra = tmp_path / "extra-cells.csv"
    extra.write_text("organisation_name,organisation_type,country\nA Org,sme,IT,surplus\n")
    result = runner.invoke(args=["signatories", "import", str(extra), "--statement", seeded])
    assert result.exit_code == 1 and f"{extra}:2: more cells than columns" in result.output
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


# ---------------------------------------------------------------- signatures list / approve / reject


def test_signatures_list(app, runner, seeded):
    verified = add_signature(app, seeded, "Verified Org", SignatureState.VERIFIED, "v@example.org")
    pending = add_signature(
        app, seeded, "Pending Org", SignatureState.PENDING_EMAIL, "p@example.org"
    )
    result = runner.invoke(args=["signatures", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "id\tstate\tstatement\torganisation_name\temail"
    assert len(lines) == 1 + 6
    assert lines[1].split("\t")[1:] == ["approved", seeded, "Vanguard Initiative", ""]
    assert lines[-2] == f"{verified}\tverified\t{seeded}\tVerified Org\tv@example.org"
    assert lines[-1] == f"{pending}\tpending_email\t{seeded}\tPending Org\tp@example.org"

    only = runner.invoke(args=["signatures", "list", "--state", "verified"])
    assert only.output.splitlines() == [
        "id\tstate\tstatement\torganisation_name\temail",
        f"{verified}\tverified\t{seeded}\tVerified Org\tv@example.org",
    ]
    none = runner.invoke(args=["signatures", "list", "--state", "rejected", "--statement", seeded])
    assert none.output.splitlines() == ["id\tstate\tstatement\torganisation_name\temail"]
    bad_state = runner.invoke(args=["signatures", "list", "--state", "bogus"])
    assert bad_state.exit_code == 2
    bad_slug = runner.invoke(args=["signatures", "list", "--statement", "nope"])
    assert bad_slug.exit_code == 1

    as_json = runner.invoke(args=["signatures", "list", "--json", "--state", "pending_email"])
    assert json.loads(as_json.output) == [
        {
            "id": pending,
            "state": "pending_email",
            "statement": seeded,
            "organisation_name": "Pending Org",
            "email": "p@example.org",
        }
    ]


def test_signatures_approve(app, runner, client, seeded):
    first = add_signature(app, seeded, "First Org", SignatureState.VERIFIED, "first@example.org")
    second = add_signature(app, seeded, "Second Org", SignatureState.VERIFIED, "second@example.org")
    result = runner.invoke(args=["signatures", "approve", str(first), str(second)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{first}: approved", f"{second}: approved"]
    assert state_of(app, first) is SignatureState.APPROVED
    names = [
        s["organisation_name"]
        for s in client.get(f"/statements/{seeded}/signatories.json").get_json()["signatories"]
    ]
    assert "First Org" in names and "Second Org" in names
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.signature_id == first, AuditEvent.action == "approve"
            )
        )
        assert (event.actor_type, event.actor_label, event.from_state, event.to_state) == (
            "cli",
            "signatures approve",
            "verified",
            "approved",
        )
        approved_mail = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.to_address == "first@example.org")
        )
        assert approved_mail.kind == "approved"

    # Already decided: a message, no change, exit 0.
    with app.app_context():
        audit_before = db.session.scalar(select(func.count(AuditEvent.id)))
    again = runner.invoke(args=["signatures", "approve", str(first)])
    assert again.exit_code == 0
    assert again.output.strip() == f"{first}: unchanged — Already approved."
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id))) == audit_before

    # Unknown id: exit 1 with a message, and nothing done to the known ones given with it.
    third = add_signature(app, seeded, "Third Org", SignatureState.VERIFIED, "third@example.org")
    unknown = runner.invoke(args=["signatures", "approve", str(third), "987654"])
    assert unknown.exit_code == 1
    assert "no signature with id 987654" in unknown.output
    assert state_of(app, third) is SignatureState.VERIFIED


def test_signatures_approve_refuses_unconfirmed(app, runner, seeded):
    pending = add_signature(
        app, seeded, "Unconfirmed Org", SignatureState.PENDING_EMAIL, "u@example.org"
    )
    result = runner.invoke(args=["signatures", "approve", str(pending)])
    assert result.exit_code == 0
    assert (
        f"{pending}: unchanged — Signature {pending} is pending_email; it cannot be approved."
        in result.output
    )
    assert state_of(app, pending) is SignatureState.PENDING_EMAIL


def test_signatures_reject_with_reason(app, runner, seeded):
    sig = add_signature(app, seeded, "Spam Org", SignatureState.VERIFIED, "spam@example.org")
    result = runner.invoke(
        args=["signatures", "reject", str(sig), "--reason", "Not an organisation"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{sig}: rejected"
    with app.app_context():
        row = db.session.get(Signature, sig)
        assert SignatureState(row.state) is SignatureState.REJECTED
        assert row.rejection_reason == "Not an organisation"
        assert row.decided_at is not None
        mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "rejected"))
        assert "Not an organisation" in mail.body_text
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reject"))
        assert event.detail == "Not an organisation"
    again = runner.invoke(args=["signatures", "reject", str(sig), "--reason", "twice"])
    assert again.exit_code == 0 and "unchanged — Already rejected." in again.output
    with app.app_context():
        assert db.session.get(Signature, sig).rejection_reason == "Not an organisation"
    assert runner.invoke(args=["signatures", "reject", "987654"]).exit_code == 1


# ---------------------------------------------------------------- mail


def test_mail_send_pending(app, runner, seeded, smtp):
    now = utcnow()
    with app.app_context():
        for index, due in enumerate(
            (now - timedelta(minutes=1), now - timedelta(hours=2), now + timedelta(hours=1))
        ):
            db.session.add(
                OutboxMessage(
                    kind="test",
                    to_address=f"queued{index}@example.org",
                    subject=f"Queued {index}",
                    body_text="Hello",
                    status=OutboxStatus.QUEUED,
                    next_attempt_at=due,
                )
            )
        db.session.commit()
    result = runner.invoke(args=["mail", "send-pending"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "due 2: sent 2, deferred 0, failed 0"
    assert sorted(m["To"] for m in smtp.wait_for(2)) == [
        "queued0@example.org",
        "queued1@example.org",
    ]
    with app.app_context():
        statuses = dict(
            db.session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all()
        )
    assert statuses == {
        "queued0@example.org": OutboxStatus.SENT,
        "queued1@example.org": OutboxStatus.SENT,
        "queued2@example.org": OutboxStatus.QUEUED,  # not due yet
    }
    again = runner.invoke(args=["mail", "send-pending"])
    assert again.output.strip() == "due 0: sent 0, deferred 0, failed 0"
    wait_jobs(app)
    assert len(smtp.messages) == 2


# ---------------------------------------------------------------- the real entry point


def _flask(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_real_flask_entry_point(tmp_path):
    """`flask --app wsgi …` as an operator runs it, on its own SQLite file (either backend run)."""
    database = tmp_path / "cli.db"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "MAIL_", "REDIS", "JOBS_", "PUBLIC_BASE", "PDF_"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "TEST_DATABASE_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY="cli-test-secret",
        PDF_DIR=str(tmp_path / "pdf"),
        FLASK_MAIL_DIR=str(tmp_path / "mail"),
        PDF_DEBOUNCE_SECONDS="0",
        PYTHONWARNINGS="error::DeprecationWarning",
    )
    upgrade = _flask(["db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert database.is_file()

    seed = _flask(["seed"], env)
    assert seed.returncode == 0, seed.stderr
    assert "statement interregional-innovation-investments: created" in seed.stdout
    assert "founding signatories imported: 4" in seed.stdout

    listed = _flask(["signatures", "list", "--state", "approved"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "id\tstate\tstatement\torganisation_name\temail"
    assert [line.split("\t")[3] for line in lines[1:]] == [
        "Vanguard Initiative",
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "UAS4Europe",
    ]

    # An error exits non-zero with its message on stderr.
    unknown = _flask(["signatures", "approve", "987654"], env)
    assert unknown.returncode == 1
    assert "no signature with id 987654" in unknown.stderr
