"""Text someone typed reaches every email that echoes it, plain and HTML part, in a form no mail
client links: anyone can make the site mail any address, so an organisation name must not arrive
as a link under the campaign's name."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from petition.core.audit import Actor
from petition.extensions import db
from petition.models import OutboxMessage, Signature, StaffUser
from petition.moderation import service as moderation
from petition.staff import digest
from tests.conftest import csrf_token, links_in, post_button, submit_sign, valid_form, wait_jobs
from tests.staff_helpers import make_signature, make_staff

# What autolinkers pick up: a scheme, www., a dotted name ending in a top-level domain, an address.
LINKABLE = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.|[\w-]+\.(?:com|example|org)\b)|\w@\w")
OURS = re.compile(r"http://localhost/\S*")  # the site's own links, which must stay links

ORGANISATION = "Prizes at evil.example.com or http://evil.example/win"
CONTACT = "See www.evil.example"
REASON = "Appeal at https://evil.example/appeal or appeal@evil.example"
EVERY_KIND = {
    "confirm",
    "already_signed",
    "manage_link",
    "new_email",
    "address_changed",
    "approved",
    "rejected",
    "staff_digest",
}


class _Text(HTMLParser):
    """The text of an HTML part as a reader sees it (entities decoded), without tags or attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(message: EmailMessage) -> str:
    parser = _Text()
    parser.feed(message.get_body(("html",)).get_content())
    return " ".join(parser.parts)


def without_our_links(text: str) -> str:
    return OURS.sub(" ", text)


def _collect_every_kind(app, client, seeded, smtp) -> dict[str, EmailMessage]:
    """Make the site send each email that echoes typed text, to the attacker's choice of text."""
    evil = {"organisation_name": ORGANISATION, "contact_name": CONTACT}
    assert submit_sign(client, seeded, email="victim@example.net", **evil).status_code == 302
    [first] = smtp.wait_for(1)
    assert post_button(client, links_in(first)["confirm"]).status_code == 200
    # A new address given on the manage page: the email that asks to confirm it.
    manage = links_in(first)["manage"]
    form = {**valid_form(email="victim.new@example.net", **evil), "row_version": "2"}
    form.pop("consent")
    form["csrf_token"] = csrf_token(client, manage)
    assert client.post(manage, data=form).status_code == 303
    # Signing again with a confirmed address: the "already endorsed" email.
    assert submit_sign(client, seeded, email="victim@example.net", **evil).status_code == 302
    # The lost-link form.
    url = f"/statements/{seeded}/withdraw-link"
    token = csrf_token(client, url)
    client.post(url, data={"email": "victim@example.net", "csrf_token": token})
    # Staff mail that lists what was typed (the helpers below write outside the transaction
    # helper: let the mail jobs finish first).
    wait_jobs(app)
    make_staff(app, "digest@example.org")
    rejected_id = make_signature(
        app, seeded, name=ORGANISATION, contact_name=CONTACT, email="other@example.net"
    )
    with app.app_context():
        db.session.execute(
            StaffUser.__table__.update()
            .where(StaffUser.email == "digest@example.org")
            .values(wants_digest=True)
        )
        db.session.commit()
        assert digest.send_digests(force=True).sent == 1
        victim_id = db.session.scalar(
            select(Signature.id).where(Signature.email == "victim@example.net")
        )
        moderation.decide(victim_id, "approve", Actor.cli("test"))
        moderation.decide(rejected_id, "reject", Actor.cli("test"), reason=REASON, notify=True)
    wait_jobs(app)
    # The new address confirmed: the old one is told.
    [new_email] = [m for m in smtp.wait_for(7) if m["To"] == "victim.new@example.net"]
    plain = new_email.get_body(("plain",)).get_content()
    address = re.search(r"http://localhost(/manage/email/\S+)", plain)[1]
    assert post_button(client, address).status_code == 200
    wait_jobs(app)
    messages = smtp.wait_for(8)
    with app.app_context():
        kinds = dict(
            db.session.execute(select(OutboxMessage.id, OutboxMessage.kind)).tuples().all()
        )
    return {kinds[int(m["X-Jointly-Outbox-Id"])]: m for m in messages}


@pytest.mark.config(MAIL_RESEND_INTERVAL_SECONDS=0)
def test_typed_text_is_not_link_like_in_either_part_of_any_email(app, client, seeded, smtp):
    by_kind = _collect_every_kind(app, client, seeded, smtp)
    assert set(by_kind) == EVERY_KIND
    for kind, message in by_kind.items():
        plain = without_our_links(message.get_body(("plain",)).get_content())
        html = without_our_links(html_text(message))
        for part, text in (("subject", message["Subject"]), ("plain", plain), ("html", html)):
            found = LINKABLE.search(text)
            assert not found, f"{kind} {part}: {found.group(0)!r} in {text!r}"
        for part, text in (("plain", plain), ("html", html)):
            # The text is still there for a reader, only not linkable.
            assert "evil[.]example[.]com" in text and "http[:]//evil[.]example/win" in text, (
                kind,
                part,
            )
            if kind != "staff_digest":
                assert "www[.]evil[.]example" in text, (kind, part)
        # No link in the HTML part points anywhere but the site.
        hrefs = re.findall(r'href="([^"]*)"', message.get_body(("html",)).get_content())
        assert all(href.startswith("http://localhost/") for href in hrefs), (kind, hrefs)
    rejected = by_kind["rejected"]
    for text in (
        rejected.get_body(("plain",)).get_content(),
        html_text(rejected),
    ):
        assert "https[:]//evil[.]example/appeal or appeal[at]evil[.]example" in text
    # The site's own links stay links.
    assert set(links_in(by_kind["confirm"])) == {"confirm", "manage"}
