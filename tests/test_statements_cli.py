"""`flask statements load`: versions from a Markdown file with front matter, and the files it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import Signature
from petition.statements.service import get_statement
from tests.conftest import valid_form
from tests.flows import csv_text, post_form, table_counts

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def statement_file(tmp_path: Path, body: str, name: str = "statement.md", **meta) -> Path:
    front = {"slug": "cli-statement", "title": "A statement from the command line", **meta}
    lines = ["---", *(f"{k}: {v}" for k, v in front.items()), "---", "", body]
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


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
    # The public page shows the new text, marked with its language (the page is in the
    # visitor's).
    page = client.get("/statements/cli-statement").text
    assert "First body, amended." in page and '<div class="prose" lang="pl">' in page

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
