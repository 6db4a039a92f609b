"""Staff sign-in: access rules on every /staff route, session rotation, idle expiry, TOTP, CLI.

Failed sign-ins and their delays: tests/test_staff_signin_delays.py.
"""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.routing import AnyConverter, IntegerConverter

from petition.extensions import db
from petition.models import AuditEvent, StaffRole, StaffUser
from petition.staff.access import PUBLIC_ENDPOINTS
from tests.staff_helpers import PASSWORD, login, make_staff, page_token, post, signed_in

ADMIN_ENDPOINTS = {
    "staff.users",
    "staff.create_user",
    "staff.reset_user_password",
    "staff.resend_invitation",
    "staff.set_user_active",
    "staff.set_user_role",
    "statements_admin.statements",
    "statements_admin.statement_settings",
    "statements_admin.statement_open_close",
    "statements_admin.statement_new",
    "statements_admin.statement_text",
    "statements_admin.statement_translations",
    "signatories_admin.import_page",
    "signatories_admin.import_upload",
    "signatories_admin.import_preview",
    "signatories_admin.import_confirm",
    "signatories_admin.import_undo",
    "signatories_admin.import_discard",
    "signatories_admin.import_template_csv",
    "signatories_admin.import_template_xlsx",
    "statements_admin.statement_translation",
    "statements_admin.statement_translation_delete",
    "statements_admin.statement_initiators",
    "statements_admin.statement_pdf_letter",
    "statements_admin.statement_close_confirm",
    "statements_admin.updates",
    "statements_admin.update_edit",
    "statements_admin.update_action",
    "statements_admin.site_text",
    "statements_admin.update_preview",
    "identity_admin.identity_page",
    "identity_admin.logo_upload",
    "identity_admin.logo_remove",
    "pdf_admin.pdf_delivery",
    "pdf_admin.pdf_delivered",
    "mailings_admin.mailing_new",
    "mailings_admin.mailing_save",
    "mailings_admin.mailing_test",
    "mailings_admin.mailing_send",
}


def _staff_rules(app):
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                values[name] = 1
            else:
                values[name] = "interregional-innovation-investments"
        path = adapter.build(rule.endpoint, values)
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method, path


def _user(app, email: str) -> StaffUser:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        db.session.expunge(user)
        return user


# ---------------------------------------------------------------- access rules


def test_every_staff_route_refuses_anonymous_users(app, client, seeded):
    token = page_token(client)  # a valid CSRF token does not make anyone staff
    checked = set()
    for rule, method, path in _staff_rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(path, method=method, data=data)
        assert response.status_code in (302, 401, 403), (method, path, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/staff/login"), (method, path)
        checked.add(rule.endpoint)
    assert {
        "reports.dashboard",
        "moderation.queue",
        "moderation.act",
        "moderation.bulk",
        "moderation.edit",
        "reports.audit",
        "reports.export",
        "staff.logout",
    } <= checked
    assert PUBLIC_ENDPOINTS == {
        "staff.login",
        "staff.login_totp",
        "staff.password_forgot",
        "staff.password_set",
    }


def test_admin_routes_answer_403_to_moderators(app, seeded):
    marked = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "admin_only", False)
    }
    assert marked == ADMIN_ENDPOINTS
    moderator = signed_in(app, "mod@example.org", "moderator")
    token = page_token(moderator, "/staff/account")
    for rule, method, path in _staff_rules(app):
        if rule.endpoint not in ADMIN_ENDPOINTS:
            continue
        data = {"csrf_token": token} if method == "POST" else None
        response = moderator.open(path, method=method, data=data)
        assert response.status_code == 403, (method, path, response.status_code)


def test_moderators_and_admins_reach_their_pages(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    admin = signed_in(app, "admin@example.org", "admin")
    for rule, method, path in _staff_rules(app):
        if method != "GET" or rule.endpoint in PUBLIC_ENDPOINTS or rule.arguments - {"slug", "fmt"}:
            continue
        expected_mod = 403 if rule.endpoint in ADMIN_ENDPOINTS else 200
        assert moderator.get(path).status_code == expected_mod, path
        assert admin.get(path).status_code == 200, path
    assert admin.get("/staff/statements/1").status_code in (200, 404)


# ---------------------------------------------------------------- sign-in and sessions


def test_sign_in_rotates_the_session_and_sign_out_kills_it(app, client, seeded):
    make_staff(app, "mod@example.org")
    page_token(client)
    anonymous_cookie = client.get_cookie("session").value
    response = login(client, "mod@example.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    signed_cookie = client.get_cookie("session").value
    assert signed_cookie != anonymous_cookie
    with client.session_transaction() as sess:
        first_id = sess["_user_id"]
    assert first_id == _user(app, "mod@example.org").session_token
    assert client.get("/staff/").status_code == 200

    # A second sign-in gets a new Flask-Login id; the first one stops working.
    other = app.test_client()
    login(other, "mod@example.org")
    with other.session_transaction() as sess:
        assert sess["_user_id"] != first_id
    assert client.get("/staff/").status_code == 302

    before_logout = other.get_cookie("session").value
    out = post(other, "/staff/logout")
    assert out.status_code == 302
    assert out.headers["Location"] == "/staff/login"
    assert _user(app, "mod@example.org").session_token is None
    assert other.get("/staff/").status_code == 302
    # Replaying the cookie from before the sign-out does not bring the session back.
    replay = app.test_client()
    replay.set_cookie("session", before_logout, domain="localhost")
    response = replay.get("/staff/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")


def test_sign_out_is_post_only(app, seeded):
    client = signed_in(app, "mod@example.org")
    assert client.get("/staff/logout").status_code == 405
    assert client.get("/staff/").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, seeded):
    make_staff(app, "mod@example.org")
    wrong = login(client, "mod@example.org", "not the password at all")
    unknown = login(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = "Either the email address or the password is not right"
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert "nobody@example.org" in unknown.get_data(as_text=True)  # the form keeps what was typed
    assert "no such" not in unknown.get_data(as_text=True).lower()


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    STAFF_LOGIN_RATE_LIMIT="3 per minute",
    STAFF_LOGIN_GLOBAL_RATE_LIMIT="100 per minute",
)
def test_sign_in_is_rate_limited_per_address(app, client, seeded):
    statuses = [
        login(client, f"guess{i}@example.org", "wrong password").status_code for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_idle_session_expires_and_is_ended_server_side(app, seeded):
    client = signed_in(app, "mod@example.org")
    with client.session_transaction() as sess:
        sess["staff_seen"] = int(time.time()) - 61 * 60  # default idle limit: 60 minutes
    response = client.get("/staff/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")
    assert "without activity" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _user(app, "mod@example.org").session_token is None


@pytest.mark.config(STAFF_SESSION_IDLE_MINUTES=5)
def test_activity_keeps_the_session_alive(app, seeded):
    client = signed_in(app, "mod@example.org")
    with client.session_transaction() as sess:
        sess["staff_seen"] = int(time.time()) - 4 * 60
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as sess:
        assert sess["staff_seen"] >= int(time.time()) - 5


def test_next_parameter_stays_inside_the_console(app, client, seeded):
    make_staff(app, "mod@example.org")
    response = client.get("/staff/queue?country=PL")
    assert response.headers["Location"].startswith("/staff/login?next=")
    for target, expected in (
        ("/staff/queue?country=PL", "/staff/queue?country=PL"),
        ("https://evil.example/staff", "/staff/"),
        ("//evil.example/staff", "/staff/"),
        ("/public", "/staff/"),
    ):
        fresh = app.test_client()
        token = page_token(fresh)
        result = fresh.post(
            "/staff/login",
            data={
                "email": "mod@example.org",
                "password": PASSWORD,
                "next": target,
                "csrf_token": token,
            },
        )
        assert result.headers["Location"] == expected, target


def test_disabled_account_is_signed_out_at_once(app, seeded):
    client = signed_in(app, "mod@example.org")
    admin = signed_in(app, "admin@example.org", "admin")
    user = _user(app, "mod@example.org")
    post(admin, f"/staff/users/{user.id}/disable")
    assert client.get("/staff/").status_code == 302
    assert login(app.test_client(), "mod@example.org").status_code == 401


def test_passwords_are_argon2id_hashes(app, seeded):
    make_staff(app, "mod@example.org")
    user = _user(app, "mod@example.org")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    with app.app_context():
        audit_text = " ".join(
            f"{e.before} {e.after} {e.detail}" for e in db.session.scalars(select(AuditEvent))
        )
    assert PASSWORD not in audit_text


def test_short_passwords_are_refused(app, runner, seeded):
    result = runner.invoke(
        args=["staff", "create", "mod@example.org", "--role", "moderator", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    with app.app_context():
        assert db.session.scalar(select(StaffUser)) is None


# ---------------------------------------------------------------- TOTP


def test_totp_enrolment_and_sign_in_with_codes(app, seeded):
    client = signed_in(app, "mod@example.org")
    page = client.get("/staff/account/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    secret = _user(app, "mod@example.org").totp_secret
    assert secret and secret in page
    totp = pyotp.TOTP(secret)
    wrong = post(client, "/staff/account/totp", {"code": "000000"}, "/staff/account/totp")
    assert wrong.status_code == 422
    assert not _user(app, "mod@example.org").totp_enabled
    enrolment_code = totp.now()
    done = post(client, "/staff/account/totp", {"code": enrolment_code}, "/staff/account/totp")
    assert done.status_code == 302
    assert _user(app, "mod@example.org").totp_enabled

    fresh = app.test_client()
    step = login(fresh, "mod@example.org")
    assert step.headers["Location"] == "/staff/login/code"
    assert fresh.get("/staff/").status_code == 302  # the password alone is not a sign-in
    token = page_token(fresh, "/staff/login/code")
    bad = fresh.post("/staff/login/code", data={"code": "123456", "csrf_token": token})
    assert bad.status_code == 401
    # The enrolment code was used once already: it is a replay now. The very same code: a fresh
    # totp.now() belongs to the next step once the clock has crossed a 30-s boundary.
    replay = fresh.post("/staff/login/code", data={"code": enrolment_code, "csrf_token": token})
    assert replay.status_code == 401
    # The next step's code (within the clock-skew window) is fresh.
    next_code = totp.at(time.time() + totp.interval)
    good = fresh.post("/staff/login/code", data={"code": next_code, "csrf_token": token})
    assert good.status_code == 302
    assert good.headers["Location"] == "/staff/"
    assert fresh.get("/staff/").status_code == 200
    # Captured on the way, the same code cannot sign anyone in again.
    other = app.test_client()
    login(other, "mod@example.org")
    again = other.post(
        "/staff/login/code",
        data={"code": next_code, "csrf_token": page_token(other, "/staff/login/code")},
    )
    assert again.status_code == 401
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"staff_totp_enabled", "staff_signed_in"} <= actions


def test_totp_step_without_password_step_is_refused(app, client, seeded):
    response = client.get("/staff/login/code")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"


@pytest.mark.config(STAFF_REQUIRE_TOTP=True)
def test_admins_must_enrol_when_totp_is_required(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    for path in ("/staff/", "/staff/queue", "/staff/users"):
        response = admin.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/staff/account/totp"
    assert admin.get("/staff/account/totp").status_code == 200
    secret = _user(app, "admin@example.org").totp_secret
    post(admin, "/staff/account/totp", {"code": pyotp.TOTP(secret).now()}, "/staff/account/totp")
    assert admin.get("/staff/queue").status_code == 200
    # Moderators are not forced.
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert moderator.get("/staff/queue").status_code == 200


# ---------------------------------------------------------------- account pages and admin


def test_admin_invites_a_moderator_and_never_sees_a_password(app, seeded):
    """The full journey with mail is in test_staff_invitations.py."""
    admin = signed_in(app, "admin@example.org", "admin")
    response = post(admin, "/staff/users", {"email": "New.Mod@Example.org", "role": "moderator"})
    assert response.status_code == 303
    page = admin.get("/staff/users").get_data(as_text=True)
    assert "Invitation sent to new.mod@example.org" in page
    assert "Invited: no password chosen yet" in page
    assert "new-password" not in page
    user = _user(app, "new.mod@example.org")
    assert user.role == StaffRole.MODERATOR
    duplicate = post(admin, "/staff/users", {"email": "new.mod@example.org", "role": "admin"})
    assert duplicate.status_code == 422
    assert "already exists" in duplicate.get_data(as_text=True)


def test_the_last_admin_cannot_be_disabled_or_demoted(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    me = _user(app, "admin@example.org")
    post(admin, f"/staff/users/{me.id}/role", {"role": "moderator"})
    post(admin, f"/staff/users/{me.id}/disable")
    me = _user(app, "admin@example.org")
    assert me.role == StaffRole.ADMIN and me.is_active


def test_change_own_password_keeps_this_session(app, seeded):
    client = signed_in(app, "mod@example.org")
    response = post(
        client,
        "/staff/account/password",
        {"current": PASSWORD, "new": "a brand new passphrase", "confirm": "a brand new passphrase"},
    )
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200
    assert login(app.test_client(), "mod@example.org").status_code == 401
    assert login(app.test_client(), "mod@example.org", "a brand new passphrase").status_code == 302


def test_digest_preference(app, seeded):
    client = signed_in(app, "mod@example.org")
    post(client, "/staff/account/digest", {"wants_digest": "y"})
    assert _user(app, "mod@example.org").wants_digest
    post(client, "/staff/account/digest", {})
    assert not _user(app, "mod@example.org").wants_digest


# ---------------------------------------------------------------- CLI


def test_cli_create_list_reset_disable(app, runner, seeded):
    result = runner.invoke(
        args=["staff", "create", "Mod@Example.org", "--role", "moderator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created moderator mod@example.org" in result.output
    again = runner.invoke(
        args=["staff", "create", "mod@example.org", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 1
    assert "already exists" in again.output

    listing = runner.invoke(args=["staff", "list"])
    lines = listing.output.strip().splitlines()
    assert lines[0].split("\t")[:3] == ["email", "role", "active"]
    assert lines[1].split("\t")[:3] == ["mod@example.org", "moderator", "yes"]

    client = app.test_client()
    assert login(client, "mod@example.org").status_code == 302
    reset = runner.invoke(
        args=["staff", "reset-password", "mod@example.org", "--password-stdin"],
        input="another long passphrase\n",
    )
    assert reset.exit_code == 0, reset.output
    assert client.get("/staff/").status_code == 302  # sessions ended
    assert login(app.test_client(), "mod@example.org", "another long passphrase").status_code == 302

    generated = runner.invoke(args=["staff", "reset-password", "mod@example.org", "--generate"])
    password = generated.output.strip().splitlines()[-1].removeprefix("new password: ")
    assert login(app.test_client(), "mod@example.org", password).status_code == 302

    disabled = runner.invoke(args=["staff", "disable", "mod@example.org"])
    assert disabled.exit_code == 0
    assert login(app.test_client(), "mod@example.org", password).status_code == 401
    assert runner.invoke(args=["staff", "disable", "nobody@example.org"]).exit_code == 1


def test_ensure_admin_creates_one_admin_once(app, runner, seeded):
    first = runner.invoke(args=["staff", "ensure-admin"])
    assert first.exit_code == 0, first.output
    assert "admin@localhost" in first.output
    password = next(
        line.split("password:")[1].strip()
        for line in first.output.splitlines()
        if "password:" in line
    )
    second = runner.invoke(args=["staff", "ensure-admin"])
    assert second.exit_code == 0
    assert password not in second.output
    assert len(second.output.strip().splitlines()) == 1
    assert login(app.test_client(), "admin@localhost", password).status_code == 302
    assert _user(app, "admin@localhost").role == StaffRole.ADMIN


@pytest.mark.config(STAFF_ADMIN_EMAIL="boss@example.org")
def test_ensure_admin_uses_the_configured_email(app, runner, seeded):
    result = runner.invoke(args=["staff", "ensure-admin"])
    assert "boss@example.org" in result.output
    assert _user(app, "boss@example.org").role == StaffRole.ADMIN


def test_hash_is_upgraded_when_argon2_parameters_rise(app, client, seeded):
    make_staff(app, "mod@example.org")
    assert ",t=1," in _user(app, "mod@example.org").password_hash
    app.config["STAFF_ARGON2_TIME_COST"] = 2
    assert login(client, "mod@example.org").status_code == 302
    assert ",t=2," in _user(app, "mod@example.org").password_hash
