"""Every page is valid HTML: the W3C Nu checker (vnu-jar from npm, on Java) reports no error.

The pages are rendered once for the module (public pages, the sign-on form with errors, the pages
the emailed links open, every staff page, error pages) and checked in one run of the checker, next
to a document with known faults that proves the checker reports what it finds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask import template_rendered
from sqlalchemy import select, update

from petition import create_app
from petition.core import events
from petition.core.audit import Actor
from petition.extensions import db
from petition.models import (
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureState,
    SignatureToken,
    StaffUser,
    Statement,
    utcnow,
)
from petition.moderation import service as moderation
from tests.conftest import (
    CSRF_RE,
    _base_config,
    free_port,
    truncate_all,
    valid_form,
    wait_jobs,
)
from tests.flows import confirm_link, legacy_withdraw_link, manage_link, post_form
from tests.pdf_helpers import fetch
from tests.staff_helpers import (
    PASSWORD,
    login,
    make_signature,
    make_staff,
    page_token,
    post,
    signed_in,
)

ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
JAVA = shutil.which("java")

# A document with faults the checker must report (the canary of the run).
CANARY = "canary: a document with known faults"
CANARY_HTML = (
    "<!doctype html><html lang=en><head><title>x</title></head><body>"
    '<p><span><form action=""></form></span></p>'
    '<time datetime="2026-01-02T03:04:05.123456+00:00">now</time>'
    '<input id="a"><input id="a"></body></html>'
)


@dataclass
class Pages:
    """Rendered pages by name ("GET /path" and what state it shows), and what the checker found."""

    html: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    templates: set[str] = field(default_factory=set)

    def add(self, name: str, response, status: int = 200) -> None:
        assert response.status_code == status, (name, response.status_code)
        assert response.mimetype == "text/html", (name, response.mimetype)
        assert name not in self.html, f"two pages named {name}"
        self.html[name] = response.get_data(as_text=True)

    def failing(self, prefix: str) -> str:
        """The checker's errors on the pages whose name starts with prefix, one page a paragraph."""
        assert any(name.startswith(prefix) for name in self.html), f"no page for {prefix}"
        return "\n\n".join(
            name + ":\n  " + "\n  ".join(found)
            for name, found in self.errors.items()
            if name.startswith(prefix) and found
        )


def nu_check(documents: dict[str, str], folder: Path) -> dict[str, list[str]]:
    """Run the Nu checker once over all documents; its errors for each, as readable lines."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for number, (name, html) in enumerate(documents.items()):
        path = folder / f"page-{number:03d}.html"
        path.write_text(html, encoding="utf-8")
        files[path.resolve().as_uri()] = name
    done = subprocess.run(
        [JAVA, "-Xss4m", "-jar", str(VNU_JAR), "--format", "json", "--stdout"]
        + ["--exit-zero-always", *(str(folder / Path(uri).name) for uri in files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    found: dict[str, list[str]] = {name: [] for name in documents}
    for message in report["messages"]:
        if message["type"] not in ("error", "non-document-error"):
            continue  # "info" messages (warnings) are advice, not validity
        name = files.get(message.get("url", "").replace("file:/", "file:///", 1), "?")
        where = f"line {message.get('lastLine', '?')}"
        found.setdefault(name, []).append(
            f"{where}: {message['message']} [{message.get('extract', '').strip()}]"
        )
    return found


@pytest.fixture(scope="module")
def pages(migrated, tmp_path_factory) -> Pages:
    if JAVA is None:
        pytest.skip("Java is not installed: the Nu HTML checker needs it (default-jre-headless)")
    if not VNU_JAR.exists():
        pytest.skip(f"the Nu HTML checker is not installed at {VNU_JAR}: run `npm ci`")
    tmp = tmp_path_factory.mktemp("html-validity")
    # Small pages, so that the public list and the console show their pagers.
    app = create_app(
        {**_base_config(migrated, tmp), "SIGNATORIES_PER_PAGE": 3, "STAFF_PAGE_SIZE": 2}
    )
    with app.app_context():
        truncate_all(db.engine)
    try:
        result = Pages()

        def rendered(sender, template, context, **extra):
            result.templates.add(template.name)

        with template_rendered.connected_to(rendered, app):
            render_pages(app, result, tmp)
        result.errors = nu_check({CANARY: CANARY_HTML, **result.html}, tmp / "pages")
        yield result
    finally:
        app.extensions["jobs"].stop()
        with app.app_context():
            db.session.remove()
            truncate_all(db.engine)
            db.engine.dispose()


def render_pages(app, pages: Pages, tmp: Path) -> None:
    from petition.seed import seed

    with app.app_context():
        slug = seed().statement.slug
        statement_id = db.session.scalar(select(Statement.id).where(Statement.slug == slug))
    wait_jobs(app)
    render_public(app, pages, slug)
    render_signing(app, pages, slug)
    render_manage(app, pages, slug)
    render_staff(app, pages, slug, statement_id)
    render_mailings(app, pages, statement_id)
    render_pdf_pages(app, pages, slug)
    render_closed_and_several_statements(app, pages, slug, statement_id)
    render_outage(pages, slug, tmp)


def render_public(app, pages: Pages, slug: str) -> None:
    client = app.test_client()
    base = f"/statements/{slug}"
    for path in (
        base,
        f"{base}/signatories",
        f"{base}/signatories?q=zzzz",
        f"{base}/signatories?country=DE&type=cluster",
        f"{base}/signatories?page=2",
        f"{base}/versions",
        "/privacy",
        f"{base}/sign",
        f"{base}/sign/check-your-email",
        f"{base}/withdraw-link",
        f"{base}/data",
        f"{base}/changes",
        f"{base}/embed",
        f"{base}/embed?theme=dark",
        f"{base}/share/mastodon",
        f"{base}/share/mastodon?instance=mastodon.social",
        # The other languages (issue 12.1).
        f"/de{base}",
        f"/pl{base}/sign",
        f"/fr{base}/signatories",
        f"/es{base}/data",
        f"/it{base}/versions",
        f"/nl{base}/changes",
        "/pl/privacy",
    ):
        pages.add(f"public GET {path}", client.get(path))
    pages.add(
        "public GET share/mastodon (bad server)",
        client.get(f"{base}/share/mastodon?instance=a%20b"),
        400,
    )
    pages.add("public GET / (one statement)", client.get("/"))
    pages.add("public 404 page", client.get("/no-such-page"), 404)
    pages.add("public 404 statement", client.get("/statements/no-such-statement"), 404)
    pages.add("public 405 page", client.get("/staff/logout"), 405)
    pages.add("public 400 page (no CSRF token)", client.post("/confirm/abc"), 400)
    pages.add("public POST sign: empty form", post_form(client, slug, {}), 422)
    bad = valid_form(email="not an address", website="ftp://x", country="XX", consent=None)
    pages.add("public POST sign: invalid fields", post_form(client, slug, bad), 422)
    token = CSRF_RE.search(client.get(f"{base}/withdraw-link").text).group(1)
    lost = client.post(f"{base}/withdraw-link", data={"email": "nope", "csrf_token": token})
    pages.add("public POST withdraw-link: invalid address", lost, 422)
    sent = client.post(f"{base}/withdraw-link", data={"email": "a@b.org", "csrf_token": token})
    pages.add("public GET withdraw-link/sent", client.get(sent.headers["Location"]))


def render_signing(app, pages: Pages, slug: str) -> None:
    """The pages that emailed links open, in each state they can show."""
    client = app.test_client()
    email = valid_form()["email"]
    assert post_form(client, slug, valid_form()).status_code == 302
    confirm = confirm_link(app, email)
    pages.add("email GET /confirm (pending)", client.get(confirm))
    token = CSRF_RE.search(client.get(confirm).text).group(1)
    pages.add("email POST /confirm", client.post(confirm, data={"csrf_token": token}))
    pages.add("email GET /confirm (already confirmed)", client.get(confirm))
    pages.add("email GET /confirm (unknown token)", client.get("/confirm/unknown-token"), 404)
    with app.app_context():
        signature_id = db.session.scalar(select(Signature.id).where(Signature.email == email))
    withdraw = legacy_withdraw_link(app, signature_id)
    pages.add("email GET /withdraw", client.get(withdraw))
    token = CSRF_RE.search(client.get(withdraw).text).group(1)
    pages.add("email POST /withdraw", client.post(withdraw, data={"csrf_token": token}))
    pages.add("email GET /withdraw (withdrawn)", client.get(withdraw))
    pages.add("email GET /withdraw (unknown token)", client.get("/withdraw/unknown-token"), 404)

    late = valid_form(email="late@lodzkie.pl", organisation_name="Late Region")
    assert post_form(client, slug, late).status_code == 302
    expired = confirm_link(app, "late@lodzkie.pl")
    with app.app_context():
        db.session.execute(update(SignatureToken).values(expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    pages.add("email GET /confirm (expired)", client.get(expired), 410)
    token = CSRF_RE.search(client.get(expired).text).group(1)
    resent = client.post(f"{expired}/resend", data={"csrf_token": token})
    pages.add("email POST /confirm/resend", resent)


def _manage_form(client, path: str, **changes) -> dict:
    page = client.get(path).text
    data = {**valid_form(**changes), "csrf_token": CSRF_RE.search(page).group(1)}
    data["row_version"] = re.search(r'name="row_version" type="hidden" value="(\d+)"', page)[1]
    data.pop("consent")
    return data


def render_manage(app, pages: Pages, slug: str) -> None:
    """The manage link's pages in each state, its forms with errors, a new address, staff's side."""
    client = app.test_client()
    email = "manage@lodzkie.pl"
    assert post_form(client, slug, valid_form(email=email)).status_code == 302
    manage = manage_link(app, email)
    pages.add("email GET /manage (pending)", client.get(manage))
    token = CSRF_RE.search(client.get(manage).text).group(1)
    resent = client.post(f"{manage}/resend", data={"csrf_token": token})
    pages.add("email POST /manage/resend", client.get(resent.headers["Location"]))
    bad = _manage_form(client, manage, organisation_name="", website="ftp://x", email="nope")
    pages.add("email POST /manage: invalid fields", client.post(manage, data=bad), 422)
    moved = _manage_form(client, manage, email="moved@lodzkie.pl", city="Kraków")
    saved = client.post(manage, data=moved)
    pages.add(
        "email GET /manage (saved, new address waiting)", client.get(saved.headers["Location"])
    )
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "new_email")
        )
    address = re.search(r"http://localhost(/manage/email/\S+)", body)[1]
    pages.add("email GET /manage/email", client.get(address))
    token = CSRF_RE.search(client.get(address).text).group(1)
    pages.add("email POST /manage/email", client.post(address, data={"csrf_token": token}))
    pages.add("email GET /manage/email (used)", client.get(address), 404)
    pages.add(
        "email GET /manage (unknown token)", client.get("/manage/unknown-token-0123456789"), 404
    )

    link = confirm_link(app, email)  # mailed to the address before it moved
    token = CSRF_RE.search(client.get(link).text).group(1)
    assert client.post(link, data={"csrf_token": token}).status_code == 200
    pages.add("email GET /manage (verified)", client.get(manage))
    with app.app_context():
        signature_id = db.session.scalar(
            select(Signature.id).where(Signature.email == "moved@lodzkie.pl")
        )
    with events.list_changed.muted(), app.app_context():  # no PDF builds: see render_pdf_pages
        moderation.decide(signature_id, "approve", Actor.cli("test"))
    wait_jobs(app)
    proposal = _manage_form(client, manage, email="moved@lodzkie.pl", organisation_name="Region Ł")
    client.post(manage, data=proposal)
    pages.add("email GET /manage (approved, change proposed)", client.get(manage))
    staff = signed_in(app, "changes@example.org")
    pages.add("staff GET /staff/changes", staff.get("/staff/changes"))
    pages.add(
        f"staff GET /staff/signatures/{signature_id} (change proposed)",
        staff.get(f"/staff/signatures/{signature_id}"),
    )
    with events.list_changed.muted(), app.app_context():
        moderation.decide(signature_id, "unpublish", Actor.cli("test"), reason="x")
    wait_jobs(app)
    pages.add("email GET /manage (rejected)", client.get(manage))

    other = valid_form(email="other@lodzkie.pl", organisation_name="Other Region")
    assert post_form(client, slug, other).status_code == 302
    other_manage = manage_link(app, "other@lodzkie.pl")
    taken = _manage_form(
        client, other_manage, email="moved@lodzkie.pl", organisation_name="Other Region"
    )
    client.post(other_manage, data=taken)
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.kind == "new_email")
            .order_by(OutboxMessage.id.desc())
        )
    address = re.search(r"http://localhost(/manage/email/\S+)", body)[1]
    token = CSRF_RE.search(client.get(address).text).group(1)
    pages.add(
        "email POST /manage/email (address taken)",
        client.post(address, data={"csrf_token": token}),
        409,
    )
    token = CSRF_RE.search(client.get(other_manage).text).group(1)
    done = client.post(f"{other_manage}/withdraw", data={"csrf_token": token})
    pages.add("email POST /manage/withdraw", done)
    pages.add("email GET /manage (withdrawn)", client.get(other_manage))


def render_staff(app, pages: Pages, slug: str, statement_id: int) -> None:
    anonymous = app.test_client()
    pages.add("staff GET /staff/login", anonymous.get("/staff/login"))
    make_staff(app, "totp@example.org", "moderator")
    # The mail of the pages above is still being recorded as sent by the jobs thread: a plain
    # read-then-write commit here would meet its write (SQLite: "database is locked").
    wait_jobs(app)
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == "totp@example.org"))
        user.totp_secret, user.totp_enabled = pyotp.random_base32(), True
        db.session.commit()
    failed = login(anonymous, "totp@example.org", "wrong password")
    pages.add("staff POST /staff/login: wrong password", failed, 401)
    assert login(anonymous, "totp@example.org", PASSWORD).status_code == 302
    pages.add("staff GET /staff/login/code", anonymous.get("/staff/login/code"))
    token = CSRF_RE.search(anonymous.get("/staff/login/code").text).group(1)
    wrong = anonymous.post("/staff/login/code", data={"code": "000000", "csrf_token": token})
    pages.add("staff POST /staff/login/code: wrong code", wrong, 401)

    verified = make_signature(app, slug, email="anna@gmail.com", website="https://lodzkie.pl")
    make_signature(app, slug, name="Lodzkie Region", email="office@lodzkie.pl")
    approved = make_signature(
        app, slug, name="Acme", email="info@acme.example", state=SignatureState.APPROVED
    )
    with app.app_context():  # the dashboard's outbox tables: failed, and may have arrived
        for status in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN):
            db.session.add(
                OutboxMessage(
                    kind="confirm",
                    to_address=f"{status.value}@example.org",
                    subject="s",
                    body_text="b",
                    status=status,
                    message_id="<m@example.org>",
                    last_error="timed out",
                )
            )
        db.session.commit()
    admin = signed_in(app, "admin@example.org", "admin")
    for path in (
        "/staff/",
        "/staff/queue",
        "/staff/signatures",
        "/staff/signatures?state=approved&q=acme",
        f"/staff/signatures/{verified}",
        f"/staff/signatures/{approved}",
        "/staff/audit",
        "/staff/audit?action=confirmed",
        "/staff/pdf",
        "/staff/account",
        "/staff/account/totp",
        "/staff/users",
        "/staff/statements",
        f"/staff/statements/{statement_id}",
        f"/staff/statements/{statement_id}/updates",
        f"/staff/statements/{statement_id}/translations",
        f"/staff/statements/{statement_id}/translations/de",
        "/staff/texts/privacy",
        "/staff/identity",
    ):
        pages.add(f"staff GET {path}", admin.get(path))
    update_id = first_update(app, statement_id)
    pages.add(f"staff GET /staff/updates/{update_id}", admin.get(f"/staff/updates/{update_id}"))
    preview = f"/staff/updates/{update_id}/preview"
    pages.add(f"staff GET {preview}", admin.get(preview))

    # Forms sent back with errors, and pages after an action.
    pages.add(
        "staff POST /staff/users: invalid",
        post(admin, "/staff/users", {"email": "", "role": "moderator"}),
        422,
    )
    invited = post(admin, "/staff/users", {"email": "new@example.org", "role": "moderator"})
    assert invited.status_code == 303
    pages.add("staff GET /staff/users: invited", admin.get("/staff/users"))
    render_password_links(app, pages)
    wrong_password = {"current": "wrong", "new": "short", "confirm": "other"}
    pages.add(
        "staff POST /staff/account/password: errors",
        post(admin, "/staff/account/password", wrong_password),
        422,
    )
    pages.add(
        "staff POST /staff/statements/updates: errors",
        post(
            admin,
            f"/staff/statements/{statement_id}/updates",
            {"kind": "news", "title": "", "published_on": "soon"},
        ),
        422,
    )
    pages.add(
        "staff POST /staff/statements/<id>: errors",
        post(admin, f"/staff/statements/{statement_id}", {"signing_opens_at": "soon"}),
        422,
    )
    render_statement_editor(admin, pages, statement_id)
    delivery = f"/staff/pdf/{statement_id}/versions/1"
    pages.add(f"staff GET {delivery}/delivery", admin.get(f"{delivery}/delivery"))
    pages.add(
        "staff POST delivered: errors",
        post(admin, f"{delivery}/delivered", {"delivered": "1", "delivered_on": "soon"}),
        422,
    )
    marked = {"delivered": "1", "delivered_on": "2026-11-30", "delivered_to": "DG REGIO"}
    assert post(admin, f"{delivery}/delivered", marked).status_code == 303
    pages.add("staff GET delivery: delivered", admin.get(f"{delivery}/delivery"))
    for path in (f"/statements/{slug}", f"/statements/{slug}/versions"):
        pages.add(f"GET {path}: a version delivered", app.test_client().get(path))
    pages.add(
        "staff POST /staff/identity: errors",
        post(admin, "/staff/identity", {"name": "", "reply_to": "nope"}, "/staff/identity"),
        422,
    )
    pages.add(
        "staff POST /staff/account/totp: wrong code",
        post(admin, "/staff/account/totp", {"code": "000000"}, "/staff/account/totp"),
        422,
    )
    edit = post(
        admin,
        f"/staff/signatures/{verified}/edit",
        {"organisation_name": "", "website": "nope", "row_version": "1"},
    )
    pages.add("staff POST /staff/signatures/edit: errors", edit, 422)
    rejected = post(
        admin, f"/staff/signatures/{verified}/reject", {"expected_state": "verified", "reason": ""}
    )
    pages.add("staff GET after an action (flash)", admin.get(rejected.headers["Location"]))

    moderator = signed_in(app, "mod@example.org", "moderator")
    pages.add("staff 403 page", moderator.get("/staff/users"), 403)


def render_mailings(app, pages: Pages, statement_id: int) -> None:
    """The mailing pages: list, compose (and its errors), draft with preview, confirmation,
    delivery status; the unsubscribe link's pages."""
    with app.app_context():
        db.session.execute(
            update(Signature)
            .where(Signature.state == SignatureState.APPROVED, Signature.email.is_not(None))
            .values(keep_informed=True)
        )
        db.session.commit()
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302
    new = f"/staff/mailings/new/{statement_id}"
    pages.add("staff GET /staff/mailings", admin.get("/staff/mailings"))
    pages.add(f"staff GET {new}", admin.get(new))
    errors = post(admin, new, {"subject_en": "", "body_en": "", "subject_de": "x"}, new)
    pages.add(f"staff POST {new}: errors", errors, 422)
    created = post(admin, new, {"subject_en": "News", "body_en": "**Thanks**", "body_de": ""}, new)
    assert created.status_code == 303
    draft = created.headers["Location"]
    pages.add(f"staff GET {draft}: draft", admin.get(draft))
    pages.add(f"staff GET {draft}/send", admin.get(f"{draft}/send"))
    pages.add(f"staff POST {draft}/send: unconfirmed", post(admin, f"{draft}/send", {}, draft), 422)
    assert post(admin, f"{draft}/send", {"confirm": "y"}, draft).status_code == 303
    pages.add(f"staff GET {draft}: sent", admin.get(draft))
    pages.add("staff GET /staff/mailings: one sent", admin.get("/staff/mailings"))
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "mailing")
        )
    path = re.search(r"http://localhost(/unsubscribe/\S+)", body).group(1)
    visitor = app.test_client()
    pages.add(f"email GET {path}", visitor.get(path))
    pages.add(f"email POST {path}", visitor.post(path, data={"List-Unsubscribe": "One-Click"}))
    pages.add(f"email GET {path}: unsubscribed", visitor.get(path))
    pages.add("email GET /unsubscribe/<unknown>", visitor.get("/unsubscribe/" + "x" * 43), 404)


def first_update(app, statement_id: int) -> int:
    from petition.models import CampaignUpdate

    with app.app_context():
        update_id = db.session.scalar(
            select(CampaignUpdate.id).where(CampaignUpdate.statement_id == statement_id)
        )
    assert update_id, "the seed has campaign updates"
    return update_id


def render_statement_editor(admin, pages: Pages, statement_id: int) -> None:
    """The statement pages: new (and its errors), the text editor with a preview, closing."""
    pages.add("staff GET /staff/statements/new", admin.get("/staff/statements/new"))
    pages.add(
        "staff POST /staff/statements/new: errors",
        post(admin, "/staff/statements/new", {"title": "x", "slug": "Bad slug", "body": ""}),
        422,
    )
    text = f"/staff/statements/{statement_id}/text"
    pages.add(f"staff GET {text}", admin.get(text))
    edited = {"body": "# Changed\n\nA new text.\n", "based_on": "", "action": "preview"}
    pages.add(f"staff POST {text}: preview", post(admin, text, edited))
    unconfirmed = {**edited, "action": "publish"}
    pages.add(f"staff POST {text}: unconfirmed", post(admin, text, unconfirmed), 422)
    close = f"/staff/statements/{statement_id}/close"
    pages.add(f"staff GET {close}", admin.get(close))
    render_import(admin, pages, statement_id)


def render_import(admin, pages: Pages, statement_id: int) -> None:
    """The import pages: upload, a refused file, a preview with errors, one to confirm."""
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    url = f"/staff/statements/{statement_id}/import"
    pages.add(f"staff GET {url}", admin.get(url))

    def upload(name: str, data: bytes):
        token = CSRF_RE.search(admin.get(url).text).group(1)
        boundary, body = encode_multipart(
            {"csrf_token": token, "file": FileStorage(io.BytesIO(data), filename=name)}
        )
        return admin.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")

    pages.add(f"staff POST {url}: refused file", upload("x.pdf", b"%PDF"), 422)
    header = b"organisation_name,organisation_type,country,email\n"
    bad = upload("bad.csv", header + b"A,charity,XX,nope\nGood Org,sme,IT,a@b.example\n")
    pages.add("staff GET /staff/imports/<id>: errors", admin.get(bad.headers["Location"]))
    good = upload("good.csv", header + b"Good Org,sme,IT,info@good.example\n")
    pages.add("staff GET /staff/imports/<id>", admin.get(good.headers["Location"]))


def render_password_links(app, pages: Pages) -> None:
    """The invitation just sent: its set-password page, and the forgot-password pages."""
    from petition.models import OutboxMessage

    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "staff_invite")
        )
    path = re.search(r"https?://[^/\s]+(/staff/password/set/\S+)", body).group(1)
    visitor = app.test_client()
    pages.add("staff GET set-password link", visitor.get(path))
    token = page_token(visitor, path)
    sent = visitor.post(path, data={"new": "short", "confirm": "other", "csrf_token": token})
    pages.add("staff POST set-password link: errors", sent, 422)
    pages.add("staff GET set-password link: expired", visitor.get(path + "x"), 410)
    pages.add("staff GET forgot password", visitor.get("/staff/password/forgot"))
    token = page_token(visitor, "/staff/password/forgot")
    for email, status in (("", 422), ("new@example.org", 200)):
        sent = visitor.post("/staff/password/forgot", data={"email": email, "csrf_token": token})
        pages.add(f"staff POST forgot password: {status}", sent, status)


def render_pdf_pages(app, pages: Pages, slug: str) -> None:
    """An organisation listed in every PDF withdraws: the versions leave public view."""
    from petition.core import events
    from petition.core.audit import Actor
    from petition.pdf import builds
    from petition.signing.service import withdraw

    with events.list_changed.muted(), app.app_context():  # out of view, and no rebuild yet
        founder = db.session.scalar(
            select(Signature)
            .where(Signature.state == SignatureState.APPROVED, Signature.email.is_(None))
            .order_by(Signature.id)
        )
        withdraw(founder, Actor.cli())
        assert builds.withdraw_departed_versions(founder.statement_id) == 1
    client = app.test_client()
    base = f"/statements/{slug}"
    pages.add("public GET versions (one withdrawn)", client.get(f"{base}/versions"))
    pages.add("public GET statement.pdf (rebuilding)", fetch(client, f"{base}/statement.pdf"), 503)
    pages.add("public GET versions/1.pdf (withdrawn)", fetch(client, f"{base}/versions/1.pdf"), 410)


def render_outage(pages: Pages, slug: str, tmp: Path) -> None:
    """The page every request gets while the database is unreachable (nothing listens there)."""
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone"
    config = {**_base_config(dead, tmp / "dead"), "PROPAGATE_EXCEPTIONS": False}
    app = create_app({**config, "WTF_CSRF_ENABLED": False})  # a form as typed, token and all
    try:
        client = app.test_client()
        pages.add("public GET statement (database down)", client.get(f"/statements/{slug}"), 503)
        sent = client.post(f"/statements/{slug}/sign", data=valid_form(csrf_token="t"))
        pages.add("public POST sign (database down)", sent, 503)
    finally:
        app.extensions["jobs"].stop()
        with app.app_context():
            db.engine.dispose()
    # Rendered without render_template (no database for the context processors): no signal.
    pages.templates.add("unavailable.html")


def render_closed_and_several_statements(app, pages: Pages, slug: str, statement_id: int) -> None:
    from petition.statements.service import load_statement

    client = app.test_client()
    with app.app_context():
        db.session.execute(
            update(Statement).where(Statement.id == statement_id).values(is_open=False)
        )
        db.session.commit()
    pages.add("public GET sign (signing closed)", client.get(f"/statements/{slug}/sign"))
    pages.add("public GET statement (signing closed)", client.get(f"/statements/{slug}"))
    with app.app_context():
        load_statement(
            "---\nslug: second-statement\ntitle: A second statement\nlanguage: en\n---\n\nText.\n"
        )
    pages.add("public GET / (several statements)", client.get("/"))
    with app.app_context():
        assert db.session.scalar(select(Signature.id).limit(1)) is not None


# ---------------------------------------------------------------- the tests


def test_the_checker_reports_faults(pages):
    found = " ".join(pages.errors[CANARY])
    assert "Stray end tag “span”" in found
    assert "Bad value “2026-01-02T03:04:05.123456+00:00” for attribute “datetime”" in found
    assert "Duplicate ID “a”" in found


def test_every_page_template_is_checked(pages):
    """Each template that is a page (not a partial, a layout or an email) was rendered above."""
    folder = ROOT / "templates"
    page_templates = {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*.html")
        if not path.name.startswith("_") and path.parts[-2] != "emails" and path.name != "base.html"
    }
    assert page_templates - pages.templates == set()


def test_public_pages_are_valid_html(pages):
    failing = pages.failing("public ")
    assert not failing, "\n" + failing


def test_pages_opened_from_emails_are_valid_html(pages):
    failing = pages.failing("email ")
    assert not failing, "\n" + failing


def test_staff_pages_are_valid_html(pages):
    failing = pages.failing("staff ")
    assert not failing, "\n" + failing
