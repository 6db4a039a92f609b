"""The campaign's identity: set once in the console, carried by every page, every email and the
privacy notice; the logo upload (one of the two forms that take a file) and what it refuses."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from petition.extensions import db
from petition.models import AuditEvent, CampaignFile, CampaignIdentity, SignatureToken, utcnow
from tests.conftest import CSRF_RE, csrf_token, links_in, submit_sign, wait_jobs
from tests.flows import confirm, legacy_withdraw_link, text_of
from tests.staff_helpers import post, signed_in

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

IDENTITY = {
    "name": "Regions for Recovery",
    "short_name": "R4R",
    "organisation_name": "Innovation Regions Network AISBL",
    "organisation_address": "Rue de la Loi 1\n1000 Brussels, Belgium",
    "organisation_email": "privacy@regions-network.eu",
    "contact_email": "hello@regions-network.eu",
    "sender_name": "Regions for Recovery team",
    "sender_email": "statement@regions-network.eu",
    "reply_to": "team@regions-network.eu",
    "processors": "Example Hosting SA (hosting, Belgium)\nExample Mail GmbH (email delivery, Germany)",
}


def configure(app, **overrides) -> object:
    """Save the identity through the console page as an admin; returns the admin's client."""
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/identity", {**IDENTITY, **overrides}, "/staff/identity")
    assert response.status_code == 303, response.text
    return admin


def png(width: int = 2, height: int = 2, *, corrupt: bool = False) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) ^ (1 if corrupt and kind == b"IDAT" else 0)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def upload(client, data: bytes, filename: str = "logo.svg"):
    """The multipart body built here: the test client spools a large one to a file it never closes."""
    token = csrf_token(client, "/staff/identity")
    boundary = "jointly-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="logo"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/staff/identity/logo",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


# ---------------------------------------------------------------- console, audit, pages


def test_identity_is_seeded_from_the_content_and_changed_with_an_audit_row(app, client, seeded):
    with app.app_context():
        row = db.session.get(CampaignIdentity, 1)
        assert row.name == "Interregional Innovation Investments joint statement"
        # The content names no legal entity: a campaign's title is none, so the field starts empty.
        assert row.organisation_name == ""
    configure(app)
    with app.app_context():
        row = db.session.get(CampaignIdentity, 1)
        assert row.reply_to == "team@regions-network.eu"
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "campaign_identity_changed")
        ).one()
        assert event.after["name"] == "Regions for Recovery"
        assert event.before["name"] == "Interregional Innovation Investments joint statement"
        assert event.actor_label == "admin@example.org"
    page = client.get(f"/statements/{seeded}")
    header = text_of(page.text.split("</header>")[0])
    assert "Regions for Recovery" in header


def test_mail_and_jobs_read_the_identity_once_per_page_fresh_seconds(app, seeded, monkeypatch):
    """identity.load() (mail delivery, jobs) keeps what it read for PAGE_FRESH_SECONDS, as the
    kept pages do; a change made in this process is seen at once; 0 reads every time."""
    from sqlalchemy import event

    from petition.core import identity, kept

    clock = [1000.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: clock[0])
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "campaign_identity" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            app.config["PAGE_FRESH_SECONDS"] = 0
            identity.load(), identity.load()
            assert len(reads) == 2
            app.config["PAGE_FRESH_SECONDS"] = 1.0
            reads.clear()
            first = identity.load()
            clock[0] += 0.5
            assert identity.load() is first
            assert len(reads) == 1
            identity.forget()  # this process changed it
            identity.load()
            assert len(reads) == 2
            clock[0] += 1.0
            identity.load()
            assert len(reads) == 3
        finally:
            event.remove(engine, "before_cursor_execute", count)


def test_a_cached_page_is_not_revalidated_across_an_identity_change(app, client, seeded):
    before = client.get(f"/statements/{seeded}")
    etag = before.headers["ETag"]
    assert client.get(f"/statements/{seeded}", headers={"If-None-Match": etag}).status_code == 304
    configure(app)
    after = client.get(f"/statements/{seeded}", headers={"If-None-Match": etag})
    assert after.status_code == 200 and "Regions for Recovery" in after.text


def test_the_identity_page_says_what_is_missing_before_launch(app, seeded):
    admin = signed_in(app, "first@example.org", "admin")
    before = unescape(text_of(admin.get("/staff/identity").text))
    assert "Before launch" in before
    for gap in (
        "legal name of the organisation that runs the campaign is missing, or is the campaign's name",
        "postal address is missing",
        "no email for data-protection requests",
        "no public contact address",
        "Emails are still sent from no-reply@jointly.invalid",
        "No processors are listed",
    ):
        assert gap in before, gap
    # A legal name that is the campaign's title is no legal name.
    saved = {**IDENTITY, "organisation_name": "Regions for Recovery"}
    assert post(admin, "/staff/identity", saved, "/staff/identity").status_code == 303
    page = unescape(text_of(admin.get("/staff/identity").text))
    assert "or is the campaign's name" in page and "postal address is missing" not in page
    configure(app)
    assert "Before launch" not in admin.get("/staff/identity").text


@pytest.mark.config(MAIL_DEFAULT_SENDER="Team <team@regions-network.eu>")
def test_a_sender_from_the_environment_is_no_gap_before_launch(app, seeded):
    admin = signed_in(app, "first@example.org", "admin")
    page = text_of(admin.get("/staff/identity").text)
    assert "Before launch" in page and "jointly.invalid" not in page


def test_invalid_fields_are_named_and_nothing_changes(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(
        admin,
        "/staff/identity",
        {**IDENTITY, "name": "", "reply_to": "not an address"},
        "/staff/identity",
    )
    assert response.status_code == 422
    assert "Enter the The campaign name" not in response.text
    assert 'id="reply_to-error"' in response.text and 'id="name-error"' in response.text
    with app.app_context():
        assert db.session.get(CampaignIdentity, 1).reply_to == ""


def _mailing_recipient(app, slug: str, signature_id: int) -> str:
    """An unsubscribe token of a sent mailing, as its email's link carries it."""
    from petition.core.tokens import new_token
    from petition.models import Mailing, MailingRecipient, MailingStatus, Statement

    token, token_hash = new_token()
    # The jobs thread may still be recording a sent mail: a plain read-then-write commit here
    # would meet its write (SQLite: "database is locked").
    wait_jobs(app)
    with app.app_context():
        statement = db.session.scalars(select(Statement).where(Statement.slug == slug)).one()
        mailing = Mailing(statement_id=statement.id, status=MailingStatus.SENT, texts={})
        db.session.add(mailing)
        db.session.flush()
        db.session.add(
            MailingRecipient(
                mailing_id=mailing.id, signature_id=signature_id, token_hash=token_hash
            )
        )
        db.session.commit()
    return token


@pytest.mark.config(PROPAGATE_EXCEPTIONS=False)
def test_every_page_reachable_from_an_email_carries_the_campaign(
    app, client, seeded, smtp, monkeypatch
):
    from petition.statements import site_texts
    from tests.test_signing_manage import _correct

    configure(app)
    assert submit_sign(client, seeded, email="anna@lodzkie.pl").status_code == 302
    [message] = smtp.wait_for(1)
    links = links_in(message)
    pages = {
        "confirm": client.get(links["confirm"]),
        "manage": client.get(links["manage"]),
        "unknown token": client.get("/confirm/no-such-token"),
        "not found": client.get("/no-such-page"),
        "privacy": client.get("/privacy"),
        "statement": client.get(f"/statements/{seeded}"),
        "lost link": client.get(f"/statements/{seeded}/withdraw-link"),
        "bad request": client.post(f"/statements/{seeded}/sign", data={"city": "x"}),
        "method not allowed": client.delete("/privacy"),
    }
    signature_id = confirm(app, client, "anna@lodzkie.pl")
    pages["confirmed"] = client.get(links["confirm"])
    pages["old withdrawal link"] = client.get(legacy_withdraw_link(app, signature_id))
    # The link that confirms a new address, from the email sent to that address.
    assert _correct(client, links["manage"], email="anna@lodzkie.eu").status_code == 303
    smtp.wait_for(2)
    [new_address] = smtp.to("anna@lodzkie.eu")
    body = new_address.get_body(("plain",)).get_content()
    pages["new address"] = client.get(re.search(r"http://localhost(/manage/email/\S+)", body)[1])
    # A campaign mailing's unsubscribe link: the page, the answer, and an unknown token.
    unsubscribe = f"/unsubscribe/{_mailing_recipient(app, seeded, signature_id)}"
    pages["unsubscribe"] = client.get(unsubscribe)
    pages["unsubscribed"] = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    pages["unsubscribe unknown"] = client.get("/unsubscribe/" + "x" * 43)
    with app.app_context():
        db.session.execute(update(SignatureToken).values(expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    pages["expired token"] = client.get(links["confirm"])

    def broken(*_args):
        raise RuntimeError("an unexpected error")

    monkeypatch.setattr(site_texts, "privacy_changed_on", broken)
    pages["server error"] = app.test_client().get("/privacy?fresh=1")
    statuses = {name: response.status_code for name, response in pages.items()}
    assert statuses["bad request"] == 400 and statuses["method not allowed"] == 405
    assert statuses["server error"] == 500 and statuses["unsubscribe unknown"] == 404
    assert statuses["new address"] == statuses["unsubscribe"] == 200
    assert statuses["old withdrawal link"] == statuses["unsubscribed"] == 200
    for name, response in pages.items():
        header = text_of(response.text.split("</header>")[0].split("<header")[1])
        footer = text_of(response.text.split("<footer")[1])
        assert "Regions for Recovery" in header, name
        assert "hello@regions-network.eu" in footer, name
        assert "Innovation Regions Network AISBL" in footer, name


@pytest.mark.parametrize(
    ("configured", "invitation", "reply_to"),
    [
        ({}, "If you think this is a mistake, reply to this email.", "team@regions-network.eu"),
        (
            {"reply_to": ""},
            "If you think this is a mistake, write to hello@regions-network.eu.",
            "hello@regions-network.eu",
        ),
        ({"reply_to": "", "contact_email": ""}, None, None),
    ],
    ids=["reply-to", "contact address", "neither"],
)
def test_the_rejection_email_invites_a_reply_only_where_one_arrives(
    app, client, seeded, smtp, configured, invitation, reply_to
):
    configure(app, **configured)
    assert submit_sign(client, seeded, email="anna@lodzkie.pl").status_code == 302
    signature_id = confirm(app, client, "anna@lodzkie.pl")
    result = app.test_cli_runner().invoke(
        args=["signatures", "reject", str(signature_id), "--reason", "Not an organisation."]
    )
    assert result.exit_code == 0, result.output
    rejection = smtp.wait_for(2)[-1]
    assert rejection["Reply-To"] == reply_to
    plain = rejection.get_body(("plain",)).get_content()
    html = unescape(re.sub(r"<[^>]+>", "", rejection.get_body(("html",)).get_content()))
    for part in (" ".join(plain.split()), " ".join(html.split())):
        assert "The endorsement's page:" in part
        if invitation:
            assert invitation in part
        else:
            assert "reply to" not in part and "write to" not in part


@pytest.mark.parametrize("from_environment", [False, True], ids=["console", "environment"])
def test_a_campaign_mailing_is_sent_as_the_campaign_with_its_reply_to(
    app, seeded, smtp, from_environment
):
    from tests.test_mailing import _compose, _contact, _send

    sender, reply_to, domain = (
        "Regions for Recovery team <statement@regions-network.eu>",
        "team@regions-network.eu",
        "regions-network.eu",
    )
    if from_environment:
        sender, reply_to, domain = (
            "Ops <ops@mail.example.net>",
            "desk@example.net",
            "mail.example.net",
        )
        app.config.update(MAIL_DEFAULT_SENDER=sender, MAIL_REPLY_TO=reply_to)
    admin = configure(app)
    _contact(app, seeded, "anna@lodzkie.pl")
    mailing_id = _compose(admin, app, seeded)
    url = f"/staff/mailings/{mailing_id}"
    assert post(admin, f"{url}/test", token_from=url).status_code == 303
    assert _send(admin, mailing_id).status_code == 303
    for message in smtp.wait_for(2):
        assert message["From"] == sender, message["To"]
        assert message["Reply-To"] == reply_to, message["To"]
        assert message["Message-ID"].endswith(f"@{domain}>"), message["To"]


def test_the_outage_page_names_the_campaign_last_read(app, client, seeded):
    from petition.core import errors

    configure(app)
    client.get("/privacy")  # this process reads the identity
    with app.test_request_context("/statements/x"):
        page = errors.render_unavailable().get_data(as_text=True)
    assert "Regions for Recovery" in page


# ---------------------------------------------------------------- privacy notice


def test_privacy_notice_names_the_configured_controller(app, client, seeded):
    configure(app)
    text = text_of(client.get("/privacy").text)
    assert (
        "The data controller is Innovation Regions Network AISBL, which runs Regions for Recovery,"
        " Rue de la Loi 1, 1000 Brussels, Belgium." in text
    )
    assert "write to privacy@regions-network.eu" in text
    assert "consent (Art. 6(1)(a) GDPR)" in text
    assert "legitimate interest (Art. 6(1)(f) GDPR)" in text
    assert "Example Mail GmbH (email delivery, Germany)" in text
    for right in ("access", "corrected", "erased", "object", "supervisory authority"):
        assert right in text, right
    # Rectification and withdrawal both go through the one link every email carries.
    assert (
        "The link to manage the endorsement, in every email we send you about it, shows the details"
        " we keep and lets you correct them (rectification) or withdraw the endorsement" in text
    )
    assert "withdraw it at any time with the link to manage the endorsement" in text
    assert "withdrawal link" not in text
    assert "Last changed on" in text
    assert "[" not in text and "TODO" not in text  # no placeholder left


def test_seeded_privacy_notice_has_no_placeholder(client, seeded):
    page = client.get("/privacy").text
    text = text_of(page)
    # The campaign's title is not passed off as a legal entity, nor as its own operator.
    assert (
        "The data controller is the organisation that runs"
        " Interregional Innovation Investments joint statement." in text
    )
    assert "The data controller is Interregional" not in text
    assert "which runs" not in text and "run by" not in text_of(page.split("<footer")[1])
    # Every deployment has a host and a mail service: the notice never says nobody else gets data.
    assert "No other organisation" not in text
    assert (
        "the provider that hosts this site and the service that delivers its emails" in text.lower()
    )
    for placeholder in ("[", "{{", "TODO", "example.org", "None"):
        assert placeholder not in text, placeholder


# ---------------------------------------------------------------- the logo


EVIL_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     viewBox="0 0 10 10" onload="alert(1)">
  <script>alert(2)</script>
  <style>@import url(https://evil.example/x.css);</style>
  <foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>
  <a href="javascript:alert(3)"><rect width="5" height="5" fill="red" onclick="alert(4)"/></a>
  <image xlink:href="https://evil.example/track.png" width="1" height="1"/>
  <set attributeName="href" to="javascript:alert(5)"/>
  <circle cx="5" cy="5" r="4" fill="url(#g)" style="fill:blue"/>
</svg>"""


def test_an_svg_logo_is_cleaned_of_everything_active(app, client, seeded):
    admin = configure(app)
    response = upload(admin, EVIL_SVG)
    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(CampaignFile, "logo").data.decode()
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "campaign_logo_changed")
        ).one()
    for active in ("alert", "script", "onload", "onclick", "foreignObject", "evil.example", "<set"):
        assert active not in stored, active
    assert "<circle" in stored and "<rect" in stored  # the drawing stays
    assert "<script>" in event.after["removed"]
    served = client.get("/campaign/logo")
    assert served.data.decode() == stored and served.mimetype == "image/svg+xml"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_an_svg_with_entities_and_files_that_are_no_image_are_refused(app, seeded):
    admin = configure(app)
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    for data, name, message in (
        (bomb, "logo.svg", "DOCTYPE"),
        (b"GIF89a....", "logo.gif", "SVG or a PNG"),
        (png(corrupt=True), "logo.png", "damaged"),
        (png(5000, 1), "logo.png", "4096"),
        (b"\x89PNG\r\n\x1a\n" + b"x" * (1024 * 1024), "logo.png", "1 MB"),
    ):
        response = upload(admin, data, name)
        assert response.status_code == 422, name
        assert message in response.text, message
    with app.app_context():
        assert db.session.get(CampaignFile, "logo") is None
        assert db.session.get(CampaignIdentity, 1).logo_sha256 is None


def test_a_png_logo_is_served_with_caching_and_is_the_favicon(app, client, seeded):
    admin = configure(app)
    assert upload(admin, png(), "logo.png").status_code == 303
    page = client.get(f"/statements/{seeded}").text
    logo_url = page.split('class="brand-logo" src="')[1].split('"')[0]
    assert f'<link rel="icon" href="{logo_url}" type="image/png">' in page
    served = client.get(logo_url)
    assert served.data == png() and served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    again = client.get(logo_url, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    favicon = client.get("/favicon.ico")
    assert favicon.data == png() and favicon.mimetype == "image/png"
    # A new logo is a new address: the old fingerprint no longer answers as immutable.
    assert upload(admin, png(3, 3), "logo.png").status_code == 303
    assert "immutable" not in client.get(logo_url).headers["Cache-Control"]


def test_without_a_logo_the_favicon_is_the_campaigns_letter_mark(app, client, seeded):
    page = client.get(f"/statements/{seeded}").text
    header = page.split("</header>")[0]
    assert '<span class="brand-mark" aria-hidden="true">I</span>' in header
    icons = re.findall(r'<link rel="icon" href="([^"]+)" type="([^"]+)">', page)
    assert len(icons) == 1 and icons[0][1] == "image/svg+xml", icons
    assert "favicon" not in page.split("</head>")[0]  # not the software's own icon
    mark = client.get(icons[0][0])
    assert mark.mimetype == "image/svg+xml" and ">I</text>" in mark.text
    assert "immutable" in mark.headers["Cache-Control"]
    assert client.get("/favicon.ico").data == mark.data
    # A new short name is a new initial, at a new address.
    configure(app)
    page = client.get(f"/statements/{seeded}").text
    [(href, _type)] = re.findall(r'<link rel="icon" href="([^"]+)" type="([^"]+)">', page)
    assert href != icons[0][0] and ">R</text>" in client.get(href).text
    assert '<span class="brand-mark" aria-hidden="true">R</span>' in page
    assert ">R</text>" in client.get("/favicon.ico").text


def test_the_logo_and_the_import_are_the_only_forms_that_take_a_file(app):
    marked = {
        endpoint: view.file_upload
        for endpoint, view in app.view_functions.items()
        if hasattr(view, "file_upload")
    }
    assert marked == {
        "identity_admin.logo_upload": ("logo", 1024 * 1024),
        "signatories_admin.import_upload": ("file", 5 * 1024 * 1024),
    }


def test_the_logo_form_takes_one_file_and_the_others_none(app, client, seeded):
    from io import BytesIO

    admin = configure(app)
    token = csrf_token(admin, "/staff/identity")
    # The identity's text form (same page) and the public sign-on form refuse a file part.
    refused = admin.post(
        "/staff/identity",
        data={**IDENTITY, "csrf_token": token, "logo": (BytesIO(png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "does not take files" in refused.text
    sign = f"/statements/{seeded}/sign"
    sign_token = CSRF_RE.search(client.get(sign).text).group(1)
    refused = client.post(
        sign,
        data={"csrf_token": sign_token, "comment": (BytesIO(b"x"), "x.txt")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    # The logo form takes one file, in its own field.
    two = admin.post(
        "/staff/identity/logo",
        data={
            "csrf_token": token,
            "logo": [(BytesIO(png()), "a.png"), (BytesIO(png()), "b.png")],
        },
        content_type="multipart/form-data",
    )
    assert two.status_code == 400
    # Anonymous: the larger body limit is not granted, nothing is stored.
    anonymous = app.test_client()
    response = anonymous.post(
        "/staff/identity/logo",
        data={"logo": (BytesIO(png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(CampaignFile, "logo") is None
