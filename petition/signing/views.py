"""Signing views: thin wrappers that parse a form, call one service function and render."""

from __future__ import annotations

import logging

from flask import abort, current_app, redirect, render_template, request, session, url_for

from ..core.caching import etag_for, form_page
from ..core.forms import ButtonForm
from ..core.i18n import N_
from ..extensions import limiter
from ..models import SignatureState
from ..statements.service import StatementNotFound, public_state, statement_or_404, summary_of
from . import bp
from . import service as signing
from .forms import LostLinkForm, SignForm

log = logging.getLogger(__name__)
#: The address just submitted, for the "check your email" page (never in its URL).
SUBMITTED_EMAIL = "submitted_email"


def _sign_limit() -> str:
    return current_app.config["SIGN_RATE_LIMIT"]


@bp.route("/statements/<slug>/sign", methods=["GET", "POST"])
@limiter.limit(_sign_limit, methods=["POST"])
def sign(slug: str):
    if request.method == "POST":
        return _submit(slug)
    statement = statement_or_404(slug)
    if not statement.is_accepting_signatures():
        return render_template("signing/closed.html", statement=statement)
    from ..pdf import builds

    # Alike for every visitor but the CSRF token: rendered once per version of the statement
    # and its PDF (core/caching.py), the country list included.
    etag = etag_for("sign", public_state(statement), builds.versions_state(statement.id))
    return form_page(etag, lambda: _sign_page(statement, SignForm()))


def _submit(slug: str):
    """A valid form is stored with the statement read once, in the write transaction; an
    invalid one, or one for a closed statement, gets the page with its errors."""
    form = SignForm()
    if form.validate_on_submit():
        # The page after it shows the address typed, whatever happens to the submission.
        session[SUBMITTED_EMAIL] = form.email.clean[0]
        if form.is_bot:
            log.info("honeypot filled on %s; dropped", slug)
            if not statement_or_404(slug).is_accepting_signatures():
                return _closed(slug)
            return redirect(url_for("signing.check_email", slug=slug))
        try:
            outcome = signing.sign_statement(slug, form.to_input(), request.remote_addr or "")
        except StatementNotFound:
            abort(404, description=N_("There is no statement at this address."))
        except signing.StatementClosed:
            return _closed(slug)
        except signing.SigningError:
            # A race with a deletion of the same row: nothing was stored; trying again works.
            form.form_errors.append("Your submission crossed another change. Please send it again.")
            return _sign_page(statement_or_404(slug), form), 409
        # The audit trail records each submission; a log line each would be noise at 300/s.
        log.debug("signature submission on %s: %s", slug, outcome.value)
        return redirect(url_for("signing.check_email", slug=slug))
    statement = statement_or_404(slug)
    if not statement.is_accepting_signatures():
        return _closed(slug)
    return _sign_page(statement, form), 422


def _sign_page(statement, form: SignForm) -> str:
    """The form under what is being signed: the title, a summary, the initiators, the PDF."""
    from ..pdf import builds

    version = statement.current_version
    return render_template(
        "signing/sign.html",
        statement=statement,
        form=form,
        summary=summary_of(version.body) if version else "",
        pdf=builds.latest_version(statement),
    )


def _closed(slug: str):
    return render_template("signing/closed.html", statement=statement_or_404(slug)), 410


@bp.get("/statements/<slug>/sign/check-your-email")
def check_email(slug: str):
    statement = statement_or_404(slug)
    return render_template(
        "signing/check_email.html", statement=statement, email=session.get(SUBMITTED_EMAIL)
    )


# The button forms are made only where a page shows one: a form's CSRF token is kept in the
# session, and a page without a form must not set a cookie.


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    try:
        if request.method == "POST":
            if not ButtonForm().validate_on_submit():
                abort(400)
            signature = signing.confirm_signature(token)
            return render_template("signing/confirmed.html", signature=signature)
        signature = signing.signature_for_confirmation(token)
    except signing.TokenInvalid:
        return render_template("signing/token_invalid.html"), 404
    except signing.TokenExpired as exc:
        return render_template(
            "signing/token_expired.html", signature=exc.signature, token=token, form=ButtonForm()
        ), 410
    except signing.AlreadyConfirmed as exc:
        return render_template("signing/already_confirmed.html", signature=exc.signature)
    return render_template("signing/confirm.html", signature=signature, form=ButtonForm())


@bp.post("/confirm/<token>/resend")
@limiter.limit("10 per hour")
def resend_confirmation(token: str):
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        signature = signing.resend_confirmation(token)
    except signing.TokenInvalid:
        return render_template("signing/token_invalid.html"), 404
    except signing.AlreadyConfirmed as exc:
        return render_template("signing/already_confirmed.html", signature=exc.signature)
    return render_template("signing/check_email.html", statement=signature.statement, resent=True)


@bp.route("/withdraw/<token>", methods=["GET", "POST"])
def withdraw(token: str):
    try:
        signature = signing.signature_for_withdrawal(token)
        if request.method == "POST":
            if not ButtonForm().validate_on_submit():
                abort(400)
            signature = signing.withdraw_signature(token)
            return render_template("signing/withdrawn.html", signature=signature)
    except signing.TokenInvalid:
        return render_template("signing/token_invalid.html", withdrawal=True), 404
    except signing.NotWithdrawable as exc:
        return render_template("signing/not_withdrawable.html", signature=exc.signature)
    if SignatureState(signature.state) in (SignatureState.WITHDRAWN, SignatureState.REJECTED):
        return render_template("signing/not_withdrawable.html", signature=signature)
    return render_template("signing/withdraw.html", signature=signature, form=ButtonForm())


@bp.post("/statements/<slug>/withdraw-link")
@limiter.limit("10 per hour")
def lost_link(slug: str):
    statement = statement_or_404(slug)
    form = LostLinkForm()
    if form.validate_on_submit():
        signing.request_manage_link(statement, form.email.clean[0])
        return redirect(url_for("signing.lost_link_sent", slug=slug))
    return render_template("signing/lost_link.html", statement=statement, form=form), 422


@bp.get("/statements/<slug>/withdraw-link")
def lost_link_form(slug: str):
    """Its own page (the statement page links here): the form's CSRF token needs a session
    cookie, which the statement page, cached for every visitor, must not set."""
    statement = statement_or_404(slug)
    return render_template("signing/lost_link.html", statement=statement, form=LostLinkForm())


@bp.get("/statements/<slug>/withdraw-link/sent")
def lost_link_sent(slug: str):
    """The same neutral answer whatever address was entered."""
    statement = statement_or_404(slug)
    return render_template("signing/lost_link_sent.html", statement=statement)
