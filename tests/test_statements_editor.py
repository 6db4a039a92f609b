"""Statements in the console (issue 13.2): create one, edit its text with a preview and the
changes marked, publish a new version after a confirmation, manage the initiators, and close
signing only after a confirmation."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from petition.extensions import db
from petition.models import Signature, SignatureState, Statement, StatementVersion
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, latest_pdf, pdf_text
from tests.staff_helpers import audit_rows, make_signature, post, signed_in, statement_id

NEW = {
    "title": "Joint statement on cohesion after 2027",
    "slug": "cohesion-2027",
    "subtitle": "",
    "campaign": "Regions for Recovery",
    "language": "en",
    "initiators": "Region of Łódź, Poland\nEuropean Cluster Collaboration Platform",
    "body": "We, the undersigned, call for cohesion.\n\n## Why\n\nBecause regions matter.\n",
}


def _versions(app, sid: int) -> list[tuple[int, str]]:
    with app.app_context():
        return list(
            db.session.execute(
                select(StatementVersion.number, StatementVersion.sha256)
                .where(StatementVersion.statement_id == sid)
                .order_by(StatementVersion.number)
            ).tuples()
        )


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_admin_creates_a_statement_closed_for_signing(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    assert admin.get("/staff/statements/new").status_code == 200
    response = post(admin, "/staff/statements/new", NEW)
    assert response.status_code == 303
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == "cohesion-2027"))
        assert statement is not None and statement.is_open is False
        assert statement.initiator_list == [
            "Region of Łódź, Poland",
            "European Cluster Collaboration Platform",
        ]
        sid = statement.id
    [(number, sha)] = _versions(app, sid)
    assert number == 1 and len(sha) == 64
    [event] = [e for e in audit_rows(app, action="statement_created") if e.statement_id == sid]
    assert event.actor_label == "admin@example.org"
    page = _text(app.test_client().get("/statements/cohesion-2027").get_data(as_text=True))
    assert (
        "An initiative of Region of Łódź, Poland, European Cluster Collaboration Platform" in page
    )
    assert "Because regions matter." in page

    errors = {
        "Use lower-case letters, digits and hyphens": {**NEW, "slug": "Not a slug!"},
        "already exists": NEW,
        "Write the statement's text.": {**NEW, "slug": "other", "body": ""},
        "language code": {**NEW, "slug": "other", "language": "english please"},
    }
    for message, data in errors.items():
        refused = post(admin, "/staff/statements/new", data)
        assert refused.status_code == 422, message
        assert message in html.unescape(refused.get_data(as_text=True)), message
    with app.app_context():
        assert db.session.scalar(select(Statement.id).where(Statement.slug == "other")) is None


def test_an_edit_is_previewed_with_its_changes_then_published_as_a_new_version(
    app, seeded, tmp_path
):
    sid = statement_id(app, SLUG)
    admin = signed_in(app, "admin@example.org", "admin")
    earlier = make_signature(app, SLUG, name="Early Endorser", state=SignatureState.APPROVED)
    [(_, first_sha)] = _versions(app, sid)
    page = admin.get(f"/staff/statements/{sid}/text").get_data(as_text=True)
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\n?(.*?)</textarea>', page, re.S).group(1)
    body = html.unescape(body)
    assert body.strip(), "the editor shows the current text"
    edited = body.replace("\n", "\n\nA new closing paragraph.<script>alert(1)</script>\n", 1)
    preview = post(
        admin,
        f"/staff/statements/{sid}/text",
        {"body": edited, "based_on": first_sha, "action": "preview"},
    )
    assert preview.status_code == 200
    shown = preview.get_data(as_text=True)
    assert "<ins>A new closing paragraph.&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in shown
    assert "<script>alert(1)" not in shown
    assert "Publishing makes version 2" in shown
    assert len(_versions(app, sid)) == 1  # a preview stores nothing

    unconfirmed = post(
        admin,
        f"/staff/statements/{sid}/text",
        {"body": edited, "based_on": first_sha, "action": "publish"},
    )
    assert unconfirmed.status_code == 422
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert len(_versions(app, sid)) == 1

    published = post(
        admin,
        f"/staff/statements/{sid}/text",
        {"body": edited, "based_on": first_sha, "action": "publish", "confirm": "y"},
    )
    assert published.status_code == 303
    versions = _versions(app, sid)
    assert [n for n, _ in versions] == [1, 2]
    with app.app_context():
        statement = db.session.get(Statement, sid)
        assert statement.current_version.number == 2
        signature = db.session.get(Signature, earlier)
        assert signature.statement_version.number == 1  # the earlier endorsement stays
    # The public page shows the new text; the PDF marks the earlier endorsement.
    assert "A new closing paragraph." in app.test_client().get(f"/statements/{SLUG}").get_data(
        as_text=True
    )
    wait_jobs(app)
    text = pdf_text(latest_pdf(app.test_client()), tmp_path)
    assert "A new closing paragraph." in " ".join(text.split())
    assert f"endorsed an earlier version of the statement ({first_sha[:12]}" in " ".join(
        text.split()
    )
    assert [e.after["version"] for e in audit_rows(app, action="statement_version_added")] == [2]

    # Someone else's edit in the meantime is not overwritten.
    stale = post(
        admin,
        f"/staff/statements/{sid}/text",
        {"body": edited + "\nMore.\n", "based_on": first_sha, "action": "publish", "confirm": "y"},
    )
    assert stale.status_code == 422
    assert "was published while you were editing" in stale.get_data(as_text=True)
    same = post(
        admin,
        f"/staff/statements/{sid}/text",
        {"body": edited, "based_on": versions[1][1], "action": "publish", "confirm": "y"},
    )
    assert same.status_code == 422 and "nothing to publish" in same.get_data(as_text=True)
    assert len(_versions(app, sid)) == 2


def test_initiators_are_ordered_and_kept_whole(app, seeded):
    sid = statement_id(app, SLUG)
    admin = signed_in(app, "admin@example.org", "admin")
    names = "Zeta Network\nRegion of Łódź, Poland\n\n  Alpha   Cluster  \n"
    assert post(admin, f"/staff/statements/{sid}/initiators", {"names": names}).status_code == 303
    with app.app_context():
        assert db.session.get(Statement, sid).initiator_list == [
            "Zeta Network",
            "Region of Łódź, Poland",
            "Alpha Cluster",
        ]
    sign_page = _text(app.test_client().get(f"/statements/{SLUG}/sign").get_data(as_text=True))
    assert "An initiative of Zeta Network, Region of Łódź, Poland, Alpha Cluster" in sign_page
    [event] = audit_rows(app, action="statement_initiators_changed")
    assert event.after["initiators"][0] == "Zeta Network"
    assert admin.post(f"/staff/statements/{sid}/initiators", data={"names": "x"}).status_code == 400


def test_closing_signing_asks_for_a_confirmation(app, seeded):
    sid = statement_id(app, SLUG)
    admin = signed_in(app, "admin@example.org", "admin")
    make_signature(app, SLUG, name="Waiting Works")
    first = post(admin, f"/staff/statements/{sid}/close")
    assert first.status_code == 303
    assert first.headers["Location"].endswith(f"/staff/statements/{sid}/close")
    with app.app_context():
        assert db.session.get(Statement, sid).is_open is True
    confirm = admin.get(f"/staff/statements/{sid}/close").get_data(as_text=True)
    assert "endorsements already given stay" in confirm
    assert post(admin, f"/staff/statements/{sid}/close", {"confirm": "yes"}).status_code == 303
    with app.app_context():
        assert db.session.get(Statement, sid).is_open is False
    assert admin.post(f"/staff/statements/{sid}/open").status_code == 400  # no CSRF token


def test_moderators_cannot_edit_statements(app, seeded):
    sid = statement_id(app, SLUG)
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert moderator.get("/staff/statements/new").status_code == 403
    assert moderator.get(f"/staff/statements/{sid}/text").status_code == 403
    assert post(moderator, "/staff/statements/new", NEW).status_code == 403
