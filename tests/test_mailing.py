"""Emailing signatories (issue 13.4): the keep_informed opt-in on the sign-on form and the
manage page; mailings composed, previewed, tested and sent through the outbox at
MAILING_RATE_PER_MINUTE to approved contacts who opted in; the unsubscribe link and its
one-click POST (RFC 8058, the one form without a CSRF token); delivery status and audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition.core import outbox
from petition.extensions import db
from petition.mailings import service as mailings
from petition.models import (
    AuditEvent,
    Mailing,
    MailingRecipient,
    OutboxMessage,
    Signature,
    SignatureState,
)
from tests.conftest import CSRF_RE, submit_sign, valid_form, wait_jobs
from tests.flows import text_of
from tests.staff_helpers import make_signature, post, statement_id
from tests.test_identity import configure
from tests.test_identity_mail import SPAMASSASSIN, spam_scores

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")

UNSUBSCRIBE = re.compile(r"http://localhost(/unsubscribe/[A-Za-z0-9_-]+)")


def _signature(app, email: str) -> Signature:
    with app.app_context():
        sig = db.session.scalar(select(Signature).where(Signature.email_normalised == email))
        assert sig is not None, email
        db.session.expunge(sig)
        return sig


def _contact(app, slug, email, *, state=SignatureState.APPROVED, keep_informed=True) -> int:
    name = email.split("@")[0].title() + " Region"
    signature_id = make_signature(app, slug, name=name, email=email, state=state)
    with app.app_context():
        db.session.execute(
            update(Signature)
            .where(Signature.id == signature_id)
            .values(keep_informed=keep_informed)
        )
        db.session.commit()
    return signature_id


def _contacts(app, slug) -> dict[str, int]:
    """Two opted-in approved contacts, one approved who did not opt in, a withdrawn one and
    one still awaiting a decision who did."""
    return {
        "anna": _contact(app, slug, "anna@lodzkie.pl"),
        "ben": _contact(app, slug, "ben@brabant.nl"),
        "carl": _contact(app, slug, "carl@tirol.at", keep_informed=False),
        "dora": _contact(app, slug, "dora@kent.uk", state=SignatureState.WITHDRAWN),
        "eva": _contact(app, slug, "eva@lazio.it", state=SignatureState.VERIFIED),
    }


def _compose(admin, app, slug, subject="News from the campaign", body=None, **extra) -> int:
    sid = statement_id(app, slug)
    url = f"/staff/mailings/new/{sid}"
    data = {
        "subject_en": subject,
        "body_en": body
        or "We handed the statement over.\n\n**Thank you** — read [the report](https://example.org/report).",
        **extra,
    }
    response = post(admin, url, data, token_from=url)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _send(admin, mailing_id: int):
    url = f"/staff/mailings/{mailing_id}/send"
    return post(admin, url, {"confirm": "y"}, token_from=url)


def _rows(app, model, *where, order=None):
    with app.app_context():
        rows = db.session.scalars(select(model).where(*where).order_by(order or model.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _unsubscribe_path(message) -> str:
    return UNSUBSCRIBE.search(message.get_body(("plain",)).get_content()).group(1)


# ---------------------------------------------------------------- the opt-in


def test_keep_informed_is_unticked_by_default_and_stored_from_the_sign_on_form(app, client, seeded):
    page = client.get(f"/statements/{seeded}/sign").get_data(as_text=True)
    box = re.search(r"<input[^>]*name=\"keep_informed\"[^>]*>", page).group(0)
    assert 'type="checkbox"' in box and "checked" not in box
    assert "Keep me informed about this statement" in page
    assert "can stop them at any time" in page

    assert submit_sign(client, seeded).status_code == 302
    assert _signature(app, "anna.nowak@lodzkie.pl").keep_informed is False
    response = submit_sign(app.test_client(), seeded, email="jan@brabant.nl", keep_informed="y")
    assert response.status_code == 302
    assert _signature(app, "jan@brabant.nl").keep_informed is True


def test_the_manage_page_shows_and_changes_keep_informed(app, client, seeded):
    from tests.flows import manage_link

    assert submit_sign(client, seeded).status_code == 302
    link = manage_link(app, "anna.nowak@lodzkie.pl")

    def form(**changes):
        page = client.get(link).get_data(as_text=True)
        data = {**valid_form(), **changes}
        data.pop("consent")
        data["csrf_token"] = CSRF_RE.search(page).group(1)
        data["row_version"] = re.search(r'name="row_version" type="hidden" value="(\d+)"', page)[1]
        return page, data

    page, data = form(keep_informed="y")
    box = re.search(r"<input[^>]*name=\"keep_informed\"[^>]*>", page).group(0)
    assert "checked" not in box
    response = client.post(link, data=data, follow_redirects=True)
    assert "You will be kept informed about this statement by email." in response.text
    sig = _signature(app, "anna.nowak@lodzkie.pl")
    assert sig.keep_informed is True and sig.unsubscribed_at is None
    page, data = form()
    assert "checked" in re.search(r"<input[^>]*name=\"keep_informed\"[^>]*>", page).group(0)
    response = client.post(link, data=data, follow_redirects=True)
    assert "You will no longer get emails about this statement" in response.text
    sig = _signature(app, "anna.nowak@lodzkie.pl")
    assert sig.keep_informed is False and sig.unsubscribed_at is not None
    actions = [e.action for e in _rows(app, AuditEvent, AuditEvent.signature_id == sig.id)]
    assert actions[-2:] == ["keep_informed_on", "keep_informed_off"]


def test_the_privacy_notice_says_who_gets_updates_and_how_to_stop_them(client, seeded):
    text = " ".join(text_of(client.get("/privacy").get_data(as_text=True)).split())
    assert "Keep me informed about this statement" in text
    assert "updates about the campaign" in text and "unsubscribe with one click" in text


# ---------------------------------------------------------------- a mailing, end to end


def test_a_mailing_reaches_the_opted_in_contacts_once_and_one_click_unsubscribes(
    app, admin, seeded, smtp
):
    ids = _contacts(app, seeded)
    mailing_id = _compose(admin, app, seeded)

    # Preview as the recipient sees it: HTML (Markdown rendered, sanitised) and text.
    page = admin.get(f"/staff/mailings/{mailing_id}").get_data(as_text=True)
    assert "It goes to 2 contact(s) now" in page
    assert f"/staff/mailings/{mailing_id}/preview/en" in page
    assert "**Thank you**" in page  # the plain-text version
    preview = admin.get(f"/staff/mailings/{mailing_id}/preview/en")
    assert preview.status_code == 200
    assert "<strong>Thank you</strong>" in preview.text
    assert '<a href="https://example.org/report"' in preview.text
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]

    # The test goes to the staff member only.
    test_url = f"/staff/mailings/{mailing_id}"
    assert post(admin, f"{test_url}/test", token_from=test_url).status_code == 303
    [test_mail] = smtp.wait_for(1)
    assert test_mail["To"] == "admin@example.org"
    assert test_mail["Subject"] == "[Test] News from the campaign"
    assert _rows(app, OutboxMessage, OutboxMessage.kind == "mailing") == []

    # The confirmation names the number of recipients; nothing is sent without the box.
    confirm_page = admin.get(f"/staff/mailings/{mailing_id}/send").get_data(as_text=True)
    assert "Send the mailing to 2 contact(s)?" in confirm_page
    url = f"/staff/mailings/{mailing_id}/send"
    assert post(admin, url, {}, token_from=url).status_code == 422
    assert _rows(app, OutboxMessage, OutboxMessage.kind == "mailing") == []
    assert _send(admin, mailing_id).status_code == 303
    # A double click (the page posted twice) sends nothing more.
    token = CSRF_RE.search(admin.get(test_url).get_data(as_text=True)).group(1)
    again = admin.post(url, data={"confirm": "y", "csrf_token": token}, follow_redirects=True)
    assert "sent already" in again.text
    with app.app_context():
        with pytest.raises(mailings.AlreadySent):
            mailings.send_mailing(mailing_id, mailings.Actor.cli("test"))

    messages = smtp.wait_for(3)[1:]
    wait_jobs(app)
    assert sorted(m["To"] for m in smtp.messages[1:]) == ["anna@lodzkie.pl", "ben@brabant.nl"]
    for message in messages:
        assert message["Subject"] == "News from the campaign"
        path = _unsubscribe_path(message)
        # A long header is folded (RFC 2369 allows it); unfolded, it is the link alone.
        assert message["List-Unsubscribe"].strip() == f"<http://localhost{path}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = message.get_body(("html",)).get_content()
        assert "<strong>Thank you</strong>" in html and f"http://localhost{path}" in html
    outbox_rows = _rows(app, OutboxMessage, OutboxMessage.kind == "mailing")
    assert [r.signature_id for r in outbox_rows] == [ids["anna"], ids["ben"]]
    assert {r.status for r in outbox_rows} == {"sent"}

    # Delivery status in the console, moderators included.
    status = admin.get(f"/staff/mailings/{mailing_id}").get_data(as_text=True)
    assert "Sent: 2" in text_of(status) and "Queued: 0" in text_of(status)
    assert "Anna Region" in status and "Carl Region" not in status

    # One click from the mail client: a POST without a session or CSRF token.
    anna_mail = next(m for m in messages if m["To"] == "anna@lodzkie.pl")
    ben_mail = next(m for m in messages if m["To"] == "ben@brabant.nl")
    stranger = app.test_client()
    done = stranger.post(_unsubscribe_path(anna_mail), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert _signature(app, "anna@lodzkie.pl").keep_informed is False
    again = stranger.post(_unsubscribe_path(anna_mail), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # twice: harmless
    # The GET page (a person following the link) shows a button and changes nothing.
    ben_page = stranger.get(_unsubscribe_path(ben_mail))
    assert ben_page.status_code == 200
    assert re.search(
        r"<form method=\"post\"[^>]*>\s*<button[^>]*>Unsubscribe</button>", ben_page.text
    )
    assert _signature(app, "ben@brabant.nl").keep_informed is True

    # The next mailing reaches only the other contact.
    second = _compose(admin, app, seeded, subject="A second update")
    assert _send(admin, second).status_code == 303
    smtp.wait_for(4)
    wait_jobs(app)
    assert [m["To"] for m in smtp.messages[3:]] == ["ben@brabant.nl"]

    # Audited: who composed, who sent, how many; the unsubscription.
    events = _rows(app, AuditEvent, AuditEvent.action.like("mailing_%"))
    assert [(e.action, e.actor_label) for e in events] == [
        ("mailing_composed", "admin@example.org"),
        ("mailing_test_sent", "admin@example.org"),
        ("mailing_sent", "admin@example.org"),
        ("mailing_composed", "admin@example.org"),
        ("mailing_sent", "admin@example.org"),
    ]
    assert events[2].after == {"mailing": mailing_id, "recipients": 2}
    assert events[4].after == {"mailing": second, "recipients": 1}
    [unsubscribed] = _rows(app, AuditEvent, AuditEvent.action == "unsubscribed")
    assert unsubscribed.signature_id == ids["anna"]
    audit_page = admin.get("/staff/audit").get_data(as_text=True)
    assert "Mailing sent" in audit_page and "Unsubscribed from the campaign" in audit_page


@pytest.mark.config(MAILING_RATE_PER_MINUTE=2)
def test_the_rate_spreads_the_messages_over_minutes(app, admin, seeded, smtp):
    for n in range(5):
        _contact(app, seeded, f"contact{n}@example.org")
    mailing_id = _compose(admin, app, seeded)
    assert _send(admin, mailing_id).status_code == 303
    rows = _rows(app, OutboxMessage, OutboxMessage.kind == "mailing")
    start = rows[0].next_attempt_at
    assert [r.next_attempt_at - start for r in rows] == [
        timedelta(0),
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]
    # The first batch leaves at once; the rest wait for their minute (the periodic sweep).
    smtp.wait_for(2)
    wait_jobs(app)
    assert len(smtp.messages) == 2
    with app.app_context():
        assert outbox.send_due(now=start + timedelta(seconds=61))["sent"] == 2
        assert outbox.send_due(now=start + timedelta(seconds=119))["sent"] == 0
        assert outbox.send_due(now=start + timedelta(seconds=121))["sent"] == 1
    assert len(smtp.messages) == 5
    # A mailing sent meanwhile waits behind the first one's last batch.
    second = _compose(admin, app, seeded, subject="Another")
    with app.app_context():
        db.session.execute(
            update(OutboxMessage).values(
                status="queued", next_attempt_at=start + timedelta(minutes=2)
            )
        )
        db.session.commit()
    assert _send(admin, second).status_code == 303
    with app.app_context():
        firsts = db.session.scalars(
            select(OutboxMessage.next_attempt_at)
            .join(MailingRecipient, MailingRecipient.outbox_message_id == OutboxMessage.id)
            .where(MailingRecipient.mailing_id == second)
            .order_by(OutboxMessage.id)
        ).all()
    assert firsts[0] == start + timedelta(minutes=3)


@pytest.mark.config(MAILING_UNSUBSCRIBE_MAILTO="unsubscribe@regions-network.eu")
def test_list_unsubscribe_names_the_mailto_when_one_is_configured(app, admin, seeded):
    _contact(app, seeded, "anna@lodzkie.pl")
    assert _send(admin, _compose(admin, app, seeded)).status_code == 303
    [row] = _rows(app, OutboxMessage, OutboxMessage.kind == "mailing")
    assert re.fullmatch(
        r"<http://localhost/unsubscribe/[A-Za-z0-9_-]+>,"
        r" <mailto:unsubscribe@regions-network\.eu\?subject=unsubscribe>",
        row.list_unsubscribe,
    )


def test_a_text_per_language_with_the_statements_as_fallback(app, admin, seeded, monkeypatch):
    _contact(app, seeded, "anna@lodzkie.pl")
    _contact(app, seeded, "max@bayern.de")
    _contact(app, seeded, "zofia@lodzkie.pl")
    languages = {"max@bayern.de": "de", "zofia@lodzkie.pl": "pl"}
    monkeypatch.setattr(
        mailings,
        "recipient_language",
        lambda signature, statement: languages.get(signature.email, "en"),
    )
    mailing_id = _compose(
        admin, app, seeded, subject_de="Neues von der Kampagne", body_de="Vielen **Dank**."
    )
    page = admin.get(f"/staff/mailings/{mailing_id}/send").get_data(as_text=True)
    assert "Send the mailing to 3 contact(s)?" in page
    assert "German" in page and "Polish" in page
    assert _send(admin, mailing_id).status_code == 303
    rows = {r.to_address: r for r in _rows(app, OutboxMessage, OutboxMessage.kind == "mailing")}
    assert rows["max@bayern.de"].subject == "Neues von der Kampagne"
    assert "<strong>Dank</strong>" in rows["max@bayern.de"].body_html
    assert rows["anna@lodzkie.pl"].subject == "News from the campaign"
    assert rows["zofia@lodzkie.pl"].subject == "News from the campaign"  # no Polish text
    langs = {r.lang for r in _rows(app, MailingRecipient)}
    assert langs == {"en", "de", "pl"}


def test_compose_checks_the_texts(app, admin, seeded):
    sid = statement_id(app, seeded)
    url = f"/staff/mailings/new/{sid}"
    missing = post(admin, url, {"subject_en": "", "body_en": ""}, token_from=url)
    assert (
        missing.status_code == 422 and "Write the subject and text in the statement" in missing.text
    )
    half = post(
        admin, url, {"subject_en": "S", "body_en": "B", "subject_de": "Nur"}, token_from=url
    )
    assert half.status_code == 422 and "Write the text of the email" in half.text
    junk = post(
        admin, url, {"subject_en": "S", "body_en": "<script>alert(1)</script>"}, token_from=url
    )
    mailing_id = int(junk.headers["Location"].rsplit("/", 1)[1])
    preview = admin.get(f"/staff/mailings/{mailing_id}/preview/en").text
    assert "<script>" not in preview
    assert admin.get("/staff/mailings/new/99999").status_code == 404
    assert admin.get("/staff/mailings/new/x").status_code == 404
    assert admin.get("/staff/mailings/99999").status_code == 404
    assert admin.get(f"/staff/mailings/{mailing_id}/preview/de").status_code == 404
    assert _rows(app, Mailing) and len(_rows(app, Mailing)) == 1


def test_a_bad_unsubscribe_token_is_a_404(app, client, seeded):
    for path in ("/unsubscribe/" + "A" * 43, "/unsubscribe/short", "/unsubscribe/%00%01"):
        assert client.get(path).status_code == 404, path
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_only_the_unsubscribe_post_is_exempt_from_csrf(app, admin, seeded):
    _contact(app, seeded, "anna@lodzkie.pl")
    mailing_id = _compose(admin, app, seeded)
    # A console form without its token is refused.
    assert (
        admin.post(f"/staff/mailings/{mailing_id}/send", data={"confirm": "y"}).status_code == 400
    )
    assert admin.post(f"/staff/mailings/{mailing_id}/test").status_code == 400
    assert _rows(app, OutboxMessage) == []
    from petition.extensions import csrf

    assert csrf._exempt_views == {"petition.mailings.views.unsubscribe"}


def test_moderators_may_look_but_not_compose_or_send(app, admin, moderator, seeded):
    _contact(app, seeded, "anna@lodzkie.pl")
    mailing_id = _compose(admin, app, seeded)
    assert moderator.get("/staff/mailings").status_code == 200
    assert moderator.get(f"/staff/mailings/{mailing_id}").status_code == 200
    sid = statement_id(app, seeded)
    url = f"/staff/mailings/new/{sid}"
    assert moderator.get(url).status_code == 403
    assert (
        post(moderator, f"/staff/mailings/{mailing_id}/send", {"confirm": "y"}).status_code == 403
    )
    assert post(moderator, f"/staff/mailings/{mailing_id}/test").status_code == 403
    assert post(moderator, f"/staff/mailings/{mailing_id}", {"subject_en": "x"}).status_code == 403
    assert _rows(app, OutboxMessage) == []


def test_the_console_lists_what_a_mailing_reaches(app, admin, seeded):
    _contacts(app, seeded)
    page = text_of(admin.get("/staff/mailings").get_data(as_text=True))
    assert "No mailing yet." in page
    assert re.search(r"Interregional.*? 2 New mailing", page)


CAMPAIGN_UPDATE = """Dear partners,

On 30 November we handed the joint statement over to the European Commission, with the
names of every organisation that endorsed it. Thank you for making this possible.

## What happens next

- The Commission answers in the spring.
- We meet in Brussels on 12 March: [the programme](https://regions-network.eu/events/march).

With best regards from the campaign team."""


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (apt spamassassin)")
def test_the_mailing_and_its_test_read_as_the_campaigns_and_score_below_one(app, seeded, smtp):
    admin = configure(app)
    _contact(app, seeded, "anna@lodzkie.pl")
    mailing_id = _compose(
        admin, app, seeded, subject="The statement is delivered", body=CAMPAIGN_UPDATE
    )
    url = f"/staff/mailings/{mailing_id}"
    assert post(admin, f"{url}/test", token_from=url).status_code == 303
    assert _send(admin, mailing_id).status_code == 303
    test_mail, mail = smtp.wait_for(2)
    for message in (test_mail, mail):
        assert message["From"] == "Regions for Recovery team <statement@regions-network.eu>"
        plain = message.get_body(("plain",)).get_content()
        assert "Regions for Recovery" in plain and "/unsubscribe/" in plain
        assert "<img" not in message.get_body(("html",)).get_content()
    scores = spam_scores({"test": test_mail.as_bytes(), "mail": mail.as_bytes()})
    too_high = {kind: report for kind, (score, report) in scores.items() if score >= 1.0}
    assert not too_high, "\n".join(f"{k}: {r}" for k, r in too_high.items())


@pytest.mark.config(MAILING_RATE_PER_MINUTE=2)
def test_the_console_shows_each_messages_delivery_status(app, admin, moderator, seeded, smtp):
    for name in ("anna", "ben", "carl"):
        _contact(app, seeded, f"{name}@example.org")
    smtp.fail_next.append("550 5.1.1 No such user here")
    mailing_id = _compose(admin, app, seeded)
    assert _send(admin, mailing_id).status_code == 303
    smtp.wait_for(1)
    wait_jobs(app)
    for client in (admin, moderator):
        page = text_of(client.get(f"/staff/mailings/{mailing_id}").get_data(as_text=True))
        assert "Queued: 1" in page and "Sent: 1" in page and "Failed: 1" in page, page
        assert "No such user here" in page
        assert "to 3 contact(s)" in page and "Composed by admin@example.org" in page
