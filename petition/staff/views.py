"""Staff views: sign-in (password, then a code if enrolled), sign-out, account, staff accounts."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from ..core.forms import ButtonForm
from ..core.http import client_block
from ..extensions import db, limiter
from ..models import StaffRole, StaffUser
from . import accounts, bp, invitations
from .access import actor, admin_only, mark_seen, safe_next
from .auth import StaffIdentity
from .forms import (
    CodeForm,
    DigestForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    ResetPasswordForm,
    RoleForm,
    SetPasswordForm,
    UserCreateForm,
)

REFUSED_MESSAGE = (
    "Sign-in failed. Either the email address or the password is not right, or there were "
    "too many attempts and signing in has to wait a while. Check and try again in a few "
    "minutes, or ask for a link to choose a new password."
)
CODE_REFUSED_MESSAGE = (
    "That code was not accepted, or there were too many attempts and signing in has to wait "
    "a while."
)
BUSY_MESSAGE = (
    "Too many sign-in attempts are being checked right now. Wait a few seconds, then try again."
)
#: Set when a sign-in succeeds: this browser is known to that account (see accounts.py).
DEVICE_COOKIE = "jointly_staff_device"
PENDING_KEY = "staff_pending"
PENDING_SECONDS = 300

NO_ACCOUNT = "There is no such staff account."


def _login_limit() -> str:
    return current_app.config["STAFF_LOGIN_RATE_LIMIT"]


def _login_limit_all() -> str:
    return current_app.config["STAFF_LOGIN_GLOBAL_RATE_LIMIT"]


def _client_block() -> str:
    """The rate limits' key: the client's address, an IPv6 client's /64 (as the pairs)."""
    return client_block(request.remote_addr or "")


def _client() -> accounts.Client:
    # remote_addr is the client's address once ProxyFix (PROXY_FIX_HOPS) has read X-Forwarded-For.
    return accounts.Client(request.remote_addr or "", request.cookies.get(DEVICE_COOKIE))


def _from_known_browser() -> bool:
    """A browser that signed in to this account before is not held up by anyone else's tries."""
    return accounts.is_known_device_for(
        request.form.get("email", ""), request.cookies.get(DEVICE_COOKIE)
    )


def _remember_browser(response, user_id: int):
    days = accounts.signin_rules().device_days
    response.set_cookie(
        DEVICE_COOKIE,
        accounts.device_token(user_id),
        max_age=days * 86400,
        path="/staff",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
    return response


def _busy(busy: accounts.PasswordChecksBusy, page: Callable[[], str]) -> Response:
    """429 at once, with the form as it was: the try was not counted and can be sent again."""
    flash(BUSY_MESSAGE, "error")
    response = make_response(page(), 429)
    response.headers["Retry-After"] = str(math.ceil(busy.retry_after))
    return response


def _dashboard() -> str:
    return url_for("reports.dashboard")


def _begin_session(user_id: int, next_url: str | None):
    """Rotate: a fresh cookie session whose Flask-Login id is the token just stored."""
    user = db.session.get_one(StaffUser, user_id)
    session.clear()
    login_user(StaffIdentity(user), remember=False)
    mark_seen()
    if accounts.totp_required_for(user) and not user.totp_enabled:
        flash("Admins must turn on two-factor sign-in. Set it up now.", "warning")
        return _remember_browser(redirect(url_for("staff.totp_enrol")), user_id)
    return _remember_browser(redirect(safe_next(next_url, _dashboard())), user_id)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_client_block, methods=["POST"])
# Every address together: argon2 work for failed sign-ins cannot take the CPU the public pages
# need, however many addresses send them. Browsers known to the account are exempt, so that a
# flood of tries from elsewhere does not keep staff out.
@limiter.limit(
    _login_limit_all,
    key_func=lambda: "all",
    scope="staff-sign-in-all",
    methods=["POST"],
    exempt_when=_from_known_browser,
)
def login():
    if current_user.is_authenticated:
        return redirect(_dashboard())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        try:
            with accounts.password_check_admitted(known_browser=_from_known_browser()):
                result = accounts.authenticate(form.email.data, form.password.data, _client())
        except accounts.PasswordChecksBusy as busy:
            return _busy(busy, lambda: render_template("staff/login.html", form=form))
        if result.outcome is accounts.LoginOutcome.OK:
            assert result.user_id is not None
            return _begin_session(result.user_id, form.next.data)
        if result.outcome is accounts.LoginOutcome.NEED_TOTP:
            session.clear()
            session[PENDING_KEY] = {
                "uid": result.user_id,
                "at": int(time.time()),
                "next": safe_next(form.next.data, ""),
            }
            return redirect(url_for("staff.login_totp"))
        flash(REFUSED_MESSAGE, "error")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("staff/login.html", form=form), status


def _pending() -> dict | None:
    pending = session.get(PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("uid"), int)
        or int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS
    ):
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_client_block, methods=["POST"])
def login_totp():
    if current_user.is_authenticated:
        return redirect(_dashboard())
    pending = _pending()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash("Sign in with your email address and password first.", "info")
        return redirect(url_for("staff.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        result = accounts.authenticate_totp(pending["uid"], form.code.data, _client())
        if result.outcome is accounts.LoginOutcome.OK:
            assert result.user_id is not None
            return _begin_session(result.user_id, pending.get("next"))
        flash(CODE_REFUSED_MESSAGE, "error")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("staff/login_totp.html", form=form), status


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the token before this runs; the token in the database goes.
    accounts.end_session(current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("staff.login"))


# ---------------------------------------------------------------- own account


def _account_page(status: int = 200, **forms):
    user = current_user.user
    digest_form = forms.get("digest_form") or DigestForm(wants_digest=user.wants_digest)
    return render_template(
        "staff/account.html",
        user=user,
        digest_form=digest_form,
        password_form=forms.get("password_form") or PasswordChangeForm(formdata=None),
        code_form=forms.get("code_form") or CodeForm(formdata=None),
        totp_required=accounts.totp_required_for(user),
    ), status


@bp.get("/account")
def account():
    return _account_page()


@bp.post("/account/digest")
def account_digest():
    form = DigestForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.set_wants_digest(current_user.id, bool(form.wants_digest.data))
    flash(
        "You will get a digest of new endorsements."
        if form.wants_digest.data
        else "You will not get digests any more.",
        "success",
    )
    return redirect(url_for("staff.account"))


@bp.post("/account/password")
@limiter.limit(_login_limit, key_func=_client_block)
def account_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            with accounts.password_check_admitted():
                token = accounts.change_own_password(
                    current_user.id, form.current.data, form.new.data, actor(), _client()
                )
        except accounts.PasswordChecksBusy as busy:
            return _busy(busy, lambda: _account_page(password_form=form)[0])
        except accounts.WrongCurrentPassword as exc:
            form.current.errors = [*form.current.errors, str(exc)]
        except accounts.StaffError as exc:
            form.new.errors = [*form.new.errors, str(exc)]
        else:
            # The token rotated: keep this browser signed in with the new one.
            session["_user_id"] = token
            flash("Your password is changed. Other sessions are signed out.", "success")
            # The device cookie is bound to the password: this browser stays known.
            return _remember_browser(redirect(url_for("staff.account")), current_user.id)
    return _account_page(422, password_form=form)


@bp.route("/account/totp", methods=["GET", "POST"])
def totp_enrol():
    user = current_user.user
    if user.totp_enabled:
        flash("Two-factor sign-in is on.", "info")
        return redirect(url_for("staff.account"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.confirm_totp_enrolment(current_user.id, form.code.data, actor())
        except accounts.StaffError as exc:
            form.code.errors = [*form.code.errors, str(exc)]
            status = 422
        else:
            flash(
                "Two-factor sign-in is on. You will be asked for a code when you sign in.",
                "success",
            )
            return redirect(url_for("staff.account"))
    elif request.method == "POST":
        status = 422
    secret = accounts.begin_totp_enrolment(current_user.id)
    uri = accounts.totp_uri(current_user.user, secret)
    return render_template(
        "staff/totp_enrol.html", form=form, secret=secret, qr=accounts.qr_data_uri(uri)
    ), status


@bp.post("/account/totp/disable")
def totp_disable():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            accounts.disable_totp(current_user.id, form.code.data, actor())
        except accounts.StaffError as exc:
            form.code.errors = [*form.code.errors, str(exc)]
        else:
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for("staff.account"))
    return _account_page(422, code_form=form)


# ---------------------------------------------------------------- staff accounts (admins)


def _users_page(status: int = 200, *, form=None):
    return render_template(
        "staff/users.html",
        users=accounts.list_staff(),
        form=form or UserCreateForm(formdata=None),
        button=ButtonForm(formdata=None),
        reset_form=ResetPasswordForm(formdata=None),
        role_form=RoleForm(formdata=None),
        roles=[r.value for r in StaffRole],
        is_invited=invitations.is_invited,
        invite_hours=current_app.config["STAFF_INVITE_HOURS"],
    ), status


@bp.get("/users")
@admin_only
def users():
    return _users_page()


@bp.post("/users")
@admin_only
def create_user():
    """Invite: the account exists at once, its owner chooses the password from the email."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = invitations.invite(form.email.data, form.role.data, actor())
        except accounts.StaffError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            flash(
                f"Invitation sent to {user.email}. The link in it works for "
                f"{current_app.config['STAFF_INVITE_HOURS']} hours; you can send a new one here.",
                "success",
            )
            return redirect(url_for("staff.users"), 303)
    return _users_page(422, form=form)


@bp.post("/users/<id:user_id>/invite")
@admin_only
def resend_invitation(user_id: int):
    db.get_or_404(StaffUser, user_id, description=NO_ACCOUNT)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        user = invitations.resend_invitation(user_id, actor())
    except accounts.StaffError as exc:
        flash(str(exc), "error")
    else:
        flash(
            f"A new invitation was sent to {user.email}; earlier links no longer work.", "success"
        )
    return redirect(url_for("staff.users"), 303)


@bp.post("/users/<id:user_id>/reset-password")
@admin_only
def reset_user_password(user_id: int):
    db.get_or_404(StaffUser, user_id, description=NO_ACCOUNT)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        user = invitations.send_reset(user_id, actor(), reset_totp=bool(form.reset_totp.data))
    except accounts.StaffError as exc:
        flash(str(exc), "error")
    else:
        flash(
            f"A link to choose a new password was sent to {user.email}"
            + (" and two-factor sign-in is off" if form.reset_totp.data else "")
            + ". Their current password works until they choose the new one.",
            "success",
        )
    return redirect(url_for("staff.users"), 303)


# ---------------------------------------------------------------- set-password links (public)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_client_block, methods=["POST"])
def password_forgot():
    if current_user.is_authenticated:
        return redirect(url_for("staff.account"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        invitations.request_reset(form.email.data)
        # The same answer for every address: nobody learns who has an account.
        return render_template("staff/password_forgot.html", form=None, sent=True)
    status = 422 if request.method == "POST" else 200
    return render_template("staff/password_forgot.html", form=form, sent=False), status


@bp.route("/password/set/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_client_block, methods=["POST"])
def password_set(token: str):
    # GET only shows the form (a mail scanner that opens the link uses nothing up).
    found = invitations.valid_link(token)
    if found is None:
        return render_template("staff/password_set.html", form=None, expired=True), 410
    link, user = found
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user, signed_in = invitations.set_password_with_link(token, form.new.data)
        except accounts.StaffError as exc:
            form.new.errors = [*form.new.errors, str(exc)]
        else:
            if signed_in:
                response = _begin_session(user.id, None)  # a fresh session: flash after it
                flash("Your password is set. Welcome to the staff console.", "success")
                return response
            flash("Your password is set. Sign in with it and your two-factor code.", "success")
            return redirect(url_for("staff.login"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "staff/password_set.html",
        form=form,
        expired=False,
        email=user.email,
        invited=link.purpose == invitations.INVITE,
    ), status


@bp.post("/users/<id:user_id>/<any(enable, disable):action>")
@admin_only
def set_user_active(user_id: int, action: str):
    user = db.get_or_404(StaffUser, user_id, description=NO_ACCOUNT)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        accounts.set_active(user.id, action == "enable", actor())
    except accounts.StaffError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.email} is {'enabled' if action == 'enable' else 'disabled'}.", "success")
    return redirect(url_for("staff.users"))


@bp.post("/users/<id:user_id>/role")
@admin_only
def set_user_role(user_id: int):
    user = db.get_or_404(StaffUser, user_id, description=NO_ACCOUNT)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400, description="Choose a role from the list.")
    try:
        accounts.set_role(user.id, form.role.data, actor())
    except accounts.StaffError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.email} is now {form.role.data}.", "success")
    return redirect(url_for("staff.users"))
