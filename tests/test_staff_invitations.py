"""Staff accounts by invitation and password resets by email (issue 13.5): single-use links that
expire, no account enumeration, and an admin who never handles a password."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from petition.core.audit import Actor
from petition.core.logging import redact
from petition.extensions import db
from petition.models import AuditEvent, OutboxMessage, StaffToken, StaffUser, utcnow
from petition.staff import accounts
from tests.staff_helpers import PASSWORD, login, make_staff, page_token, post, signed_in

LINK = re.compile(r"http://localhost(/staff/password/set/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a long and new passphrase"
NEUTRAL = "If this address belongs to an active staff account, we have emailed it a link"


def _link(message) -> str:
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match, "no set-password link in the mail"
    return match.group(1)


def _user(app, email: str) -> StaffUser:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        db.session.expunge(user)
        return user


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _set_password(client, path: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    token = page_token(client, path)
    data = {"new": new, "confirm": new if confirm is None else confirm, "csrf_token": token}
    return client.post(path, data=data)


def _post_with_any_token(client, path: str):
    """A set-password POST with a valid CSRF token of the session (the link's own page has
    none to give once the link is dead)."""
    token = page_token(client, "/staff/password/forgot")
    return client.post(
        path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    )


def _forgot(client, email: str):
    token = page_token(client, "/staff/password/forgot")
    return client.post("/staff/password/forgot", data={"email": email, "csrf_token": token})


def test_an_invited_moderator_chooses_a_password_once_and_is_signed_in(app, seeded, smtp):
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/users", {"email": "Eva.Mod@Example.org", "role": "moderator"})
    assert response.status_code == 303
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "eva.mod@example.org"
    assert "staff console" in mail["Subject"].lower() or "staff account" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "admin@example.org has invited you" in text and "a moderator" in text
    path = _link(mail)
    # The admin's page never shows a password; the account exists, waiting for its owner.
    assert "new-password" not in admin.get("/staff/users").get_data(as_text=True)
    assert login(app.test_client(), "eva.mod@example.org", "!invited").status_code == 401

    invitee = app.test_client()
    # A mail scanner (or the invitee) opening the link uses nothing up.
    for _ in range(2):
        page = invitee.get(path)
        assert page.status_code == 200
        assert "eva.mod@example.org" in page.get_data(as_text=True)
    refused = _set_password(invitee, path, "short")
    assert refused.status_code == 422
    assert "at least 12 characters" in refused.get_data(as_text=True)
    assert _set_password(invitee, path, confirm="different").status_code == 422

    done = _set_password(invitee, path)
    assert done.status_code == 302 and done.headers["Location"] == "/staff/"
    assert invitee.get("/staff/queue").status_code == 200  # signed in
    # Once only.
    assert app.test_client().get(path).status_code == 410
    assert _post_with_any_token(app.test_client(), path).status_code == 410
    assert login(app.test_client(), "eva.mod@example.org", NEW_PASSWORD).status_code == 302
    actions = _actions(app)
    assert actions.index("staff_invited") < actions.index("staff_password_set")
    assert smtp.messages == [mail]  # no second mail


def test_a_used_link_cannot_be_used_again_even_with_a_form_from_before(app, seeded):
    with app.app_context():
        from petition.staff import invitations

        invitations.invite("late@example.org", "moderator", Actor.cli())
    path = _queued_link(app, "late@example.org")
    first, second = app.test_client(), app.test_client()
    token_second = page_token(second, path)  # the form opened in a second tab
    assert _set_password(first, path).status_code == 302
    again = second.post(
        path,
        data={
            "new": "another passphrase!",
            "confirm": "another passphrase!",
            "csrf_token": token_second,
        },
    )
    assert again.status_code == 410
    assert login(app.test_client(), "late@example.org", NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), "late@example.org", "another passphrase!").status_code == 401


def _queued_link(app, email: str) -> str:
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == email)
            .order_by(OutboxMessage.id.desc())
        )
    assert body, f"no mail queued for {email}"
    return LINK.search(body).group(1)


@pytest.mark.config(STAFF_REQUIRE_TOTP=True)
def test_an_invited_admin_goes_on_to_two_factor_enrolment(app, seeded):
    admin = signed_in(app, "first@example.org", "admin")
    with app.app_context():
        user = accounts.get_by_email("first@example.org")
        secret = accounts.begin_totp_enrolment(user.id)
        accounts.confirm_totp_enrolment(user.id, pyotp.TOTP(secret).now(), Actor.cli())
    del admin
    with app.app_context():
        from petition.staff import invitations

        invitations.invite("second@example.org", "admin", Actor.cli())
    invitee = app.test_client()
    done = _set_password(invitee, _queued_link(app, "second@example.org"))
    assert done.status_code == 302
    assert done.headers["Location"] == "/staff/account/totp"
    assert invitee.get("/staff/queue").headers["Location"] == "/staff/account/totp"


def test_an_expired_invitation_is_refused_and_a_new_one_voids_the_old(app, seeded, smtp):
    admin = signed_in(app, "admin@example.org", "admin")
    post(admin, "/staff/users", {"email": "slow@example.org", "role": "moderator"})
    old = _link(smtp.wait_for(1)[0])
    with app.app_context():
        db.session.execute(update(StaffToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = app.test_client().get(old)
    assert page.status_code == 410
    assert "This link no longer works" in page.get_data(as_text=True)
    assert _post_with_any_token(app.test_client(), old).status_code == 410

    user = _user(app, "slow@example.org")
    assert post(admin, f"/staff/users/{user.id}/invite").status_code == 303
    new = _link(smtp.wait_for(2)[1])
    assert new != old
    assert _set_password(app.test_client(), new).status_code == 302
    assert "staff_invitation_resent" in _actions(app)


def test_forgot_password_mails_a_known_active_account_once_and_tells_nobody_anything(
    app, seeded, smtp
):
    make_staff(app, "mod@example.org")
    make_staff(app, "gone@example.org")
    with app.app_context():
        accounts.set_active(_user(app, "gone@example.org").id, False, Actor.cli())
    visitor = app.test_client()
    pages = [
        _forgot(visitor, email).get_data(as_text=True)
        for email in ("mod@example.org", "nobody@example.org", "gone@example.org", "a\x00b@x")
    ]
    assert all(NEUTRAL in page for page in pages)
    # The same page whatever the address (apart from the CSRF token, which is in no answer).
    assert len({re.sub(r'value="[^"]*"', "", page) for page in pages}) == 1
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "mod@example.org"
    # Asked again at once: no second mail (the first link still works).
    _forgot(visitor, "mod@example.org")
    assert len(smtp.messages) == 1
    assert _forgot(visitor, "").status_code == 422


def test_a_reset_link_sets_the_password_and_signs_out_every_other_session(app, seeded, smtp):
    elsewhere = signed_in(app, "mod@example.org")
    assert elsewhere.get("/staff/queue").status_code == 200
    _forgot(app.test_client(), "mod@example.org")
    path = _link(smtp.wait_for(1)[0])
    # The old password works until the new one is chosen.
    assert login(app.test_client(), "mod@example.org", PASSWORD).status_code == 302
    assert _set_password(app.test_client(), path).status_code == 302
    assert elsewhere.get("/staff/queue").status_code == 302  # signed out
    assert login(app.test_client(), "mod@example.org", PASSWORD).status_code == 401
    assert login(app.test_client(), "mod@example.org", NEW_PASSWORD).status_code == 302


def test_a_reset_link_never_stands_in_for_the_second_factor(app, seeded, smtp):
    make_staff(app, "mod@example.org")
    with app.app_context():
        user = accounts.get_by_email("mod@example.org")
        secret = accounts.begin_totp_enrolment(user.id)
        accounts.confirm_totp_enrolment(user.id, pyotp.TOTP(secret).now(), Actor.cli())
    _forgot(app.test_client(), "mod@example.org")
    visitor = app.test_client()
    done = _set_password(visitor, _link(smtp.wait_for(1)[0]))
    assert done.status_code == 303
    assert done.headers["Location"] == "/staff/login"
    assert visitor.get("/staff/queue").status_code == 302  # not signed in
    # Sign-in still asks for the code.
    response = login(app.test_client(), "mod@example.org", NEW_PASSWORD)
    assert response.headers["Location"] == "/staff/login/code"


def test_an_admin_emails_a_password_link_and_may_turn_off_two_factor(app, seeded, smtp):
    admin = signed_in(app, "admin@example.org", "admin")
    make_staff(app, "mod@example.org")
    user = _user(app, "mod@example.org")
    with app.app_context():
        secret = accounts.begin_totp_enrolment(user.id)
        accounts.confirm_totp_enrolment(user.id, pyotp.TOTP(secret).now(), Actor.cli())
    response = post(admin, f"/staff/users/{user.id}/reset-password", {"reset_totp": "y"})
    assert response.status_code == 303
    page = admin.get("/staff/users").get_data(as_text=True)
    assert "A link to choose a new password was sent to mod@example.org" in page
    assert "new-password" not in page
    assert _user(app, "mod@example.org").totp_enabled is False
    [mail] = smtp.wait_for(1)
    assert "admin@example.org sent you" in mail.get_body(("plain",)).get_content()
    assert _set_password(app.test_client(), _link(mail)).status_code == 302
    assert "staff_password_reset_sent" in _actions(app)


def test_hostile_requests_get_a_clear_answer(app, seeded):
    visitor = app.test_client()
    for junk in ("x", "%00", "a" * 300, "../../etc/passwd"):
        assert visitor.get(f"/staff/password/set/{junk}").status_code in (404, 410)
    with app.app_context():
        from petition.staff import invitations

        invitations.invite("csrf@example.org", "moderator", Actor.cli())
    path = _queued_link(app, "csrf@example.org")
    # Without the CSRF token nothing is set, and the link still works.
    refused = visitor.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code in (400, 422)
    assert visitor.get(path).status_code == 200
    assert visitor.post("/staff/password/forgot", data={"email": "x@example.org"}).status_code in (
        400,
        422,
    )


@pytest.mark.config(RATELIMIT_ENABLED=True, STAFF_LOGIN_RATE_LIMIT="3 per minute")
def test_forgot_password_is_rate_limited(app, seeded):
    visitor = app.test_client()
    answers = [_forgot(visitor, f"n{i}@example.org").status_code for i in range(5)]
    assert answers[:3] == [200, 200, 200] and 429 in answers[3:]


def test_the_link_is_masked_in_logs():
    line = 'GET /staff/password/set/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 HTTP/1.1" 200'
    assert "AbCdEf" not in redact(line)
    assert "/staff/password/set/[token]" in redact(line)


def test_a_staff_address_beyond_ascii_before_the_at_is_refused_without_smtputf8(
    app, seeded, runner
):
    # As on the sign-on form: without MAIL_SMTPUTF8 the invitation could never be sent.
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/users", {"email": "jöhn@example.org", "role": "moderator"})
    assert response.status_code == 422
    assert "SMTPUTF8" in response.get_data(as_text=True)
    result = runner.invoke(
        args=["staff", "create", "jöhn@example.org", "--role", "moderator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1 and "SMTPUTF8" in result.output
    with app.app_context():
        assert accounts.get_by_email("jöhn@example.org") is None
        with pytest.raises(accounts.StaffError):
            accounts.create_staff("jöhn@example.org", PASSWORD, "moderator", Actor.cli())


@pytest.mark.config(MAIL_SMTPUTF8=True)
def test_a_staff_address_beyond_ascii_before_the_at_is_taken_with_smtputf8(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/users", {"email": "jöhn@example.org", "role": "moderator"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert _queued_link(app, "jöhn@example.org")
    # Found by its address once the setting is off again (signing in, a reset request).
    app.config["MAIL_SMTPUTF8"] = False
    with app.app_context():
        assert accounts.get_by_email("Jöhn@example.org") is not None
