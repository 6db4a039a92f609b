"""The manage link (issue 11.2): the signatory sees, corrects and withdraws the endorsement;
after approval a correction waits for staff; signing again only mails the link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from petition.extensions import db
from petition.models import (
    AuditEvent,
    ChangeState,
    OutboxMessage,
    Signature,
    SignatureChange,
    SignatureState,
    SignatureToken,
    TokenPurpose,
    utcnow,
)
from tests.conftest import CSRF_RE, csrf_token, submit_sign, valid_form, wait_jobs
from tests.flows import confirm, manage_link, sign_confirm_approve, text_of
from tests.pdf_helpers import latest_pdf, pdf_text
from tests.staff_helpers import post, signed_in
from tests.test_identity import configure

EMAIL = "anna.nowak@lodzkie.pl"
NAME = "Łódzkie Region"


def _row(app, email: str = EMAIL) -> Signature:
    with app.app_context():
        sig = db.session.scalar(select(Signature).where(Signature.email_normalised == email))
        assert sig is not None, email
        db.session.expunge(sig)
        return sig


def _mails(app, kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        if to:
            query = query.where(OutboxMessage.to_address == to)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _actions(app, signature_id: int) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.signature_id == signature_id)
            .order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _form(client, path: str, base: dict | None = None, **changes) -> dict:
    """The manage form as a browser sends it: the page's CSRF token and row version."""
    page = client.get(path).get_data(as_text=True)
    data = {**(base or valid_form()), **changes}
    data.pop("consent", None)
    data["csrf_token"] = CSRF_RE.search(page).group(1)
    data["row_version"] = re.search(r'name="row_version" type="hidden" value="(\d+)"', page)[1]
    return data


def _correct(client, path: str, **changes):
    return client.post(path, data=_form(client, path, **changes))


def _names(client, slug: str) -> list[str]:
    listing = client.get(f"/statements/{slug}/signatories.json").get_json()
    return [s["organisation_name"] for s in listing["signatories"]]


def _signed(app, client, slug: str, **fields) -> str:
    """Sign (pending_email); returns the manage link of the confirmation email."""
    assert submit_sign(client, slug, **fields).status_code == 302
    return manage_link(app, fields.get("email", EMAIL))


# ---------------------------------------------------------------- the page in each state


def test_unconfirmed_page_shows_details_and_resends_the_confirmation_once(app, client, seeded):
    link = _signed(app, client, seeded, comment="We support it")
    page = client.get(link)
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    for shown in (NAME, "Łódź", "Poland", "https://www.lodzkie.pl", "We support it"):
        assert shown in text
    assert "Anna Nowak, Communications officer" in text and EMAIL in text
    assert "Not confirmed yet" in text
    assert page.headers["Cache-Control"] == "private, no-store"
    form = client.get(link).get_data(as_text=True)
    assert re.search(rf'name="organisation_name"[^>]* value="{NAME}"', form)
    assert 'name="consent"' not in form  # given when signing

    token = csrf_token(client, link)
    with app.app_context():  # the first email went out long enough ago
        db.session.execute(
            update(Signature).values(last_confirmation_sent_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    sent = client.post(f"{link}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "We have sent the confirmation email again." in sent.get_data(as_text=True)
    again = client.post(f"{link}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "a few minutes ago" in again.get_data(as_text=True)  # said, not silently dropped
    assert len(_mails(app, "confirm")) == 2  # the first and one resend
    assert client.post(f"{link}/resend", data={}).status_code == 400  # no CSRF token


def test_unknown_and_malformed_manage_tokens_are_404(client, seeded):
    for path in ("/manage/" + "x" * 43, "/manage/short", "/manage/%00" + "x" * 30):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not valid" in response.get_data(as_text=True)
    token = csrf_token(client, f"/statements/{seeded}/withdraw-link")
    assert client.post("/manage/" + "x" * 43, data={"csrf_token": token}).status_code == 404
    bad = {"csrf_token": token}
    assert client.post("/manage/" + "x" * 43 + "/withdraw", data=bad).status_code == 404


def test_rejected_shows_its_state_and_the_campaign_contact_and_takes_no_correction(
    app, client, seeded
):
    configure(app, contact_email="hello@campaign.example")
    link = _signed(app, client, seeded)
    signature_id = confirm(app, client, EMAIL)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["signatures", "reject", str(signature_id), "--reason", "spam"])
    assert result.exit_code == 0, result.output
    contact = "hello@campaign.example"
    page = client.get(link).get_data(as_text=True)
    assert "Not published" in page and f'href="mailto:{contact}"' in page
    assert 'name="organisation_name"' not in page and 'id="withdraw"' not in page
    # A form made earlier (or forged) changes nothing.
    token = csrf_token(client, f"/statements/{seeded}/withdraw-link")
    version = str(_row(app).row_version)
    form = {**valid_form(organisation_name="Changed"), "csrf_token": token, "row_version": version}
    assert client.post(link, data=form).status_code == 409
    assert _row(app).organisation_name == NAME


# ---------------------------------------------------------------- corrections before approval


@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed"])
def test_a_correction_before_approval_replaces_the_details(app, client, seeded, confirmed):
    link = _signed(app, client, seeded)
    if confirmed:
        confirm(app, client, EMAIL)
    before = _row(app)
    done = _correct(
        client,
        link,
        organisation_name="Województwo Łódzkie",
        organisation_type="public_authority",
        country="DE",
        city="Berlin",
        website="lodzkie.eu",
        comment="Better now",
        contact_name="Anna Nowak-Kowalska",
        contact_role="Director",
    )
    assert done.status_code == 303
    assert "Your corrections are saved." in client.get(done.headers["Location"]).text
    after = _row(app)
    assert (
        after.organisation_name,
        after.organisation_type,
        after.country,
        after.city,
        after.website,
        after.comment,
        after.contact_name,
        after.contact_role,
    ) == (
        "Województwo Łódzkie",
        "public_authority",
        "DE",
        "Berlin",
        "https://lodzkie.eu",
        "Better now",
        "Anna Nowak-Kowalska",
        "Director",
    )
    assert (after.organisation_name_key, after.country_name) == ("wojewodztwo lodzkie", "Germany")
    assert after.state == before.state and after.row_version == before.row_version + 1
    [event] = [e for e in _actions(app, after.id) if e.action == "corrected"]
    assert event.before["organisation_name"] == NAME
    assert event.after["organisation_name"] == "Województwo Łódzkie"
    # The contact person's name is personal data: the audit names the field, not the values.
    assert event.after["contact_name"] == "…" and "Kowalska" not in str(event.after)
    with app.app_context():
        assert db.session.scalar(select(func.count(SignatureChange.id))) == 0
    if not confirmed:  # the confirmation link now confirms the corrected details
        confirm(app, client, EMAIL)
    assert _row(app).organisation_name == "Województwo Łódzkie"


def test_the_same_details_again_change_nothing(app, client, seeded):
    link = _signed(app, client, seeded)
    before = _row(app)
    done = _correct(client, link)
    assert "Nothing was changed" in client.get(done.headers["Location"]).text
    assert _row(app).row_version == before.row_version
    assert [e.action for e in _actions(app, before.id)] == ["submitted"]


def test_hostile_input_is_a_form_error_and_changes_nothing(app, client, seeded):
    link = _signed(app, client, seeded)
    before = _row(app)
    for changes in (
        {"organisation_name": ""},
        {"organisation_name": "x" * 201},
        {"organisation_name": "Evil\x00Name"},
        {"organisation_type": "government"},
        {"country": "XX"},
        {"website": "javascript:alert(1)"},
        {"email": "not an address"},
        {"comment": "y" * 1001},
        {"row_version": "not a number"},
    ):
        response = client.post(link, data={**_form(client, link), **changes})
        assert response.status_code == 422, changes
        assert "There is a problem" in response.get_data(as_text=True), changes
    markup = _correct(client, link, organisation_name="<script>alert(1)</script> Org")
    assert markup.status_code == 303
    page = client.get(link).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Org" in page
    assert client.post(link, data={**valid_form(), "row_version": "1"}).status_code == 400
    assert _row(app).row_version == before.row_version + 1  # only the markup one, stored inert


def test_a_stale_form_is_refused_not_applied(app, client, seeded):
    link = _signed(app, client, seeded)
    old_form = _form(client, link, organisation_name="From the old tab")
    assert _correct(client, link, city="Kraków").status_code == 303
    response = client.post(link, data=old_form)
    assert response.status_code == 409
    assert "Nothing was saved" in response.get_data(as_text=True)
    row = _row(app)
    assert (row.organisation_name, row.city) == (NAME, "Kraków")


# ---------------------------------------------------------------- corrections after approval


def test_after_approval_a_correction_waits_for_staff_who_accept_it(
    app, client, seeded, moderator, tmp_path
):
    signature_id = sign_confirm_approve(app, client, seeded)
    link = manage_link(app, EMAIL)
    approval = _mails(app, "approved")[-1]
    assert link in approval.body_text and link in approval.body_html  # the approval email's
    assert NAME in pdf_text(latest_pdf(client), tmp_path)
    builds_before = latest_pdf(client)

    done = _correct(client, link, organisation_name="Lodz Region Corrected", contact_role="CEO")
    assert done.status_code == 303
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "sent to the campaign team" in shown
    assert "Waiting for the campaign team" in shown and "Lodz Region Corrected" in shown
    wait_jobs(app)
    row = _row(app)
    # The contact's role (never public) changed at once; the public name did not.
    assert (row.organisation_name, row.contact_role) == (NAME, "CEO")
    assert NAME in _names(client, seeded) and "Lodz Region Corrected" not in _names(client, seeded)
    assert latest_pdf(client) == builds_before  # no rebuild for a change not yet accepted

    queue = moderator.get("/staff/queue").get_data(as_text=True)
    assert "1</strong> correction of published endorsements" in queue
    changes = moderator.get("/staff/changes").get_data(as_text=True)
    assert NAME in changes and "Lodz Region Corrected" in changes
    with app.app_context():
        change_id = db.session.scalar(select(SignatureChange.id))
    accepted = post(moderator, f"/staff/changes/{change_id}/accept", {})
    assert accepted.status_code == 303
    wait_jobs(app)

    assert "Lodz Region Corrected" in _names(client, seeded) and NAME not in _names(client, seeded)
    text = pdf_text(latest_pdf(client), tmp_path)
    assert "Lodz Region Corrected" in text and NAME not in text
    actions = {e.action: e for e in _actions(app, signature_id)}
    assert actions["change_proposed"].after == {"organisation_name": "Lodz Region Corrected"}
    assert actions["change_proposed"].actor_type == "signatory"
    assert actions["change_accepted"].actor_label == "mod@example.org"
    assert actions["change_accepted"].before == {"organisation_name": NAME}
    with app.app_context():
        change = db.session.get(SignatureChange, change_id)
        assert (change.state, change.decided_by) == (ChangeState.ACCEPTED, "mod@example.org")
    # Deciding again changes nothing.
    again = post(moderator, f"/staff/changes/{change_id}/reject", {"reason": "late"})
    assert "already decided" in moderator.get(again.headers["Location"]).text
    assert "Lodz Region Corrected" in _names(client, seeded)


def test_staff_reject_a_proposed_change_and_the_list_keeps_the_approved_details(
    app, client, seeded, moderator
):
    signature_id = sign_confirm_approve(app, client, seeded)
    link = manage_link(app, EMAIL)
    _correct(client, link, organisation_name="First Try", city="Kraków")
    _correct(client, link, organisation_name="Second Try")  # replaces the first proposal
    with app.app_context():
        states = dict(db.session.execute(select(SignatureChange.id, SignatureChange.state)).all())
    assert sorted(states.values()) == [ChangeState.PROPOSED, ChangeState.SUPERSEDED]
    [change_id] = [i for i, s in states.items() if s is ChangeState.PROPOSED]
    detail = moderator.get(f"/staff/signatures/{signature_id}").get_data(as_text=True)
    assert "Correction proposed by the signatory" in detail and "Second Try" in detail

    rejected = post(moderator, f"/staff/changes/{change_id}/reject", {"reason": "not the name"})
    assert rejected.status_code == 303
    wait_jobs(app)
    assert NAME in _names(client, seeded)
    assert _row(app).organisation_name == NAME
    [event] = [e for e in _actions(app, signature_id) if e.action == "change_rejected"]
    assert event.after == {"organisation_name": "Second Try"} and event.detail == "not the name"
    assert "Waiting for the campaign team" not in client.get(link).get_data(as_text=True)
    assert post(moderator, "/staff/changes/999999/accept", {}).status_code == 404
    assert moderator.post(f"/staff/changes/{change_id}/accept").status_code == 400  # no CSRF


def test_a_proposed_change_lapses_when_the_endorsement_is_withdrawn(app, client, seeded):
    sign_confirm_approve(app, client, seeded)
    link = manage_link(app, EMAIL)
    _correct(client, link, organisation_name="Never Mind")
    token = csrf_token(client, link)
    done = client.post(f"{link}/withdraw", data={"csrf_token": token})
    assert "The endorsement is withdrawn" in done.get_data(as_text=True)
    wait_jobs(app)
    assert _row(app).state == SignatureState.WITHDRAWN
    assert NAME not in _names(client, seeded)
    with app.app_context():
        assert db.session.scalar(select(SignatureChange.state)) == ChangeState.SUPERSEDED
    page = client.get(link).get_data(as_text=True)
    assert "Withdrawn" in page and 'name="organisation_name"' not in page


# ---------------------------------------------------------------- a new email address


def test_a_new_address_is_confirmed_at_that_address_before_it_replaces_the_old_one(
    app, client, seeded
):
    link = _signed(app, client, seeded)
    confirm(app, client, EMAIL)
    done = _correct(client, link, email="Anna@Lodzkie.EU")
    assert "We have sent a link to Anna@lodzkie.eu" in client.get(done.headers["Location"]).text
    assert _row(app).email == EMAIL  # not yet
    staff = signed_in(app, "mod@example.org")
    detail = staff.get(f"/staff/signatures/{_row(app).id}").get_data(as_text=True)
    assert "new address Anna@lodzkie.eu given by the signatory, not yet confirmed" in detail
    [mail] = _mails(app, "new_email")
    assert mail.to_address == "Anna@lodzkie.eu" and _mails(app, to=EMAIL)[-1].kind == "confirm"
    path = re.search(r"http://localhost(/manage/email/\S+)", mail.body_text)[1]

    for _ in range(2):  # a mail scanner opening the link changes nothing
        assert "Use this address" in client.get(path).get_data(as_text=True)
    assert _row(app).email == EMAIL
    token = csrf_token(client, path)
    assert client.post(path, data={}).status_code == 400
    changed = client.post(path, data={"csrf_token": token})
    assert "The email address is changed" in changed.get_data(as_text=True)
    row = _row(app, "anna@lodzkie.eu")
    assert (row.email, row.new_email, row.state) == ("Anna@lodzkie.eu", None, "verified")
    assert client.get(path).status_code == 404  # used
    # The old address is told, once.
    [notice] = _mails(app, "address_changed")
    assert notice.to_address == EMAIL and "has been changed" in notice.body_text
    assert "address_changed" in [e.action for e in _actions(app, row.id)]
    # The manage link keeps working, and signing with the old address is a new endorsement.
    assert "Anna@lodzkie.eu" in client.get(link).get_data(as_text=True)


def test_a_new_address_already_used_for_the_statement_is_refused(app, client, seeded):
    link = _signed(app, client, seeded)
    _signed(app, client, seeded, email="other@lodzkie.pl", organisation_name="Other")
    _correct(client, link, email="other@lodzkie.pl")
    [mail] = _mails(app, "new_email")
    path = re.search(r"http://localhost(/manage/email/\S+)", mail.body_text)[1]
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 409
    assert "already endorsed" in response.get_data(as_text=True)
    assert _row(app).email == EMAIL and _row(app, "other@lodzkie.pl").organisation_name == "Other"


def test_an_expired_address_link_changes_nothing(app, client, seeded):
    link = _signed(app, client, seeded)
    _correct(client, link, email="late@lodzkie.pl")
    [mail] = _mails(app, "new_email")
    path = re.search(r"http://localhost(/manage/email/\S+)", mail.body_text)[1]
    with app.app_context():
        db.session.execute(
            update(SignatureToken)
            .where(SignatureToken.purpose == TokenPurpose.NEW_EMAIL)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
    assert client.get(path).status_code == 410
    token = csrf_token(client, f"/statements/{seeded}/withdraw-link")
    assert client.post(path, data={"csrf_token": token}).status_code == 410
    assert _row(app).email == EMAIL


# ---------------------------------------------------------------- signing again


def _check_page(client, response) -> str:
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sign/check-your-email")
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("state", ["verified", "approved", "rejected"])
def test_signing_again_shows_the_neutral_page_and_mails_the_manage_link(app, client, seeded, state):
    first_page = _check_page(client, submit_sign(client, seeded))
    signature_id = confirm(app, client, EMAIL)
    runner = app.test_cli_runner()
    if state == "approved":
        assert runner.invoke(args=["signatures", "approve", str(signature_id)]).exit_code == 0
    if state == "rejected":
        args = ["signatures", "reject", str(signature_id), "--reason", "x"]
        assert runner.invoke(args=args).exit_code == 0
    wait_jobs(app)
    before = _row(app)
    mails_before = len(_mails(app))

    again = _check_page(client, submit_sign(client, seeded, organisation_name="Other Name"))
    assert again == first_page  # nothing tells whether the address had signed
    assert "we have emailed it a link to manage the endorsement" in again
    [mail] = _mails(app)[mails_before:]
    assert (mail.kind, mail.to_address) == ("already_signed", EMAIL)
    assert "/manage/" in mail.body_text and "Other Name" not in mail.body_text
    after = _row(app)
    assert (after.organisation_name, after.row_version) == (NAME, before.row_version)

    # At once again: nothing is mailed twice, and the page is the same.
    third = _check_page(client, submit_sign(client, seeded, organisation_name="Third Name"))
    assert third == first_page
    assert len(_mails(app)) == mails_before + 1
    # The link in the mail opens the endorsement, where the correction is made.
    link = re.search(r"http://localhost(/manage/\S+)", mail.body_text)[1]
    assert NAME in client.get(link).get_data(as_text=True)


def test_signing_again_unconfirmed_resends_the_confirmation_with_the_manage_link(
    app, client, seeded
):
    submit_sign(client, seeded)
    with app.app_context():
        db.session.execute(
            update(Signature).values(last_confirmation_sent_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    submit_sign(client, seeded, organisation_name="Other Name")
    first, second = _mails(app, "confirm")
    assert "submitted again" not in first.body_text
    assert "submitted again with this address" in second.body_text
    assert "/manage/" in second.body_text and NAME in second.body_text
    assert "Other Name" not in second.body_text
    assert _row(app).organisation_name == NAME


def test_check_your_email_shows_the_address_from_the_session_never_from_the_url(
    app, client, seeded
):
    response = submit_sign(client, seeded, email="Typo@Lodzkie.pl")
    location = response.headers["Location"]
    assert "lodzkie" not in location.lower()
    page = client.get(location).get_data(as_text=True)
    assert "Typo@lodzkie.pl" in page
    assert "Wrong address?" in page and f'href="/statements/{seeded}/sign"' in page
    forged = client.get(location + "?email=evil%40example.org").get_data(as_text=True)
    assert "evil@example.org" not in forged
    stranger = app.test_client().get(location + "?email=evil%40example.org")
    text = stranger.get_data(as_text=True)
    assert "Typo@lodzkie.pl" not in text and "evil@example.org" not in text
    assert "the address you gave" in text
