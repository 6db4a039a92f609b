"""The manage link's pages: the signatory's endorsement, its correction, withdrawal, a new address."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core.forms import ButtonForm
from ..extensions import limiter
from ..models import SignatureState
from . import bp
from . import manage as managing
from . import service as signing
from .manage_forms import ManageForm

#: Corrections and resends mail someone; a person needs a few, a script is slowed down.
MANAGE_POST_LIMIT = "20 per hour"


def _page(token: str, signature, form: ManageForm | None = None, status: int = 200):
    state = SignatureState(signature.state)
    if form is None and state in managing.CORRECTABLE:
        form = ManageForm.of(signature)
    change = managing.proposed_change(signature.id)
    return render_template(
        "signing/manage.html",
        signature=signature,
        state=state.value,
        token=token,
        form=form,
        button=ButtonForm(),
        change=change,
        change_rows=managing.change_rows(change) if change else [],
    ), status


def _invalid():
    return render_template("signing/token_invalid.html", manage=True), 404


@bp.get("/manage/<token>")
def manage(token: str):
    try:
        signature = managing.signature_for_manage(token)
    except signing.TokenInvalid:
        return _invalid()
    return _page(token, signature)


@bp.post("/manage/<token>")
@limiter.limit(MANAGE_POST_LIMIT)
def correct(token: str):
    try:
        signature = managing.signature_for_manage(token)
    except signing.TokenInvalid:
        return _invalid()
    form = ManageForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _page(token, signature, form, 422)
    try:
        done = managing.correct_signature(
            token, form.to_input(), row_version=form.row_version.data or 0
        )
    except managing.NotCorrectable as exc:
        return _page(token, exc.signature, status=409)
    except managing.StaleForm as exc:
        flash(
            _(
                "The endorsement changed after you opened this page. Nothing was saved: check "
                "the details below and correct them again."
            ),
            "warning",
        )
        return _page(token, exc.signature, status=409)
    for category, message in _messages(done):
        flash(message, category)
    return redirect(url_for("signing.manage", token=token), 303)


def _messages(done: managing.Correction) -> list[tuple[str, str]]:
    if done.nothing:
        return [("info", _("Nothing was changed: the details are as you gave them."))]
    messages = []
    if done.applied:
        messages.append(("success", _("Your corrections are saved.")))
    if done.proposed:
        messages.append(
            (
                "success",
                _(
                    "Your corrections are sent to the campaign team. The public list and the "
                    "PDF show them once the team accepts them."
                ),
            )
        )
    if done.keep_informed is not None:
        messages.append(
            (
                "success",
                _("You will be kept informed about this statement by email.")
                if done.keep_informed
                else _("You will no longer get emails about this statement from the campaign."),
            )
        )
    if done.new_email:
        messages.append(
            (
                "info",
                _(
                    "We have sent a link to %(email)s. The new address replaces the old one "
                    "once you open that link and confirm it.",
                    email=done.new_email,
                ),
            )
        )
    return messages


@bp.post("/manage/<token>/withdraw")
def manage_withdraw(token: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        signature = managing.withdraw_by_manage_link(token)
    except signing.TokenInvalid:
        return _invalid()
    except signing.NotWithdrawable as exc:
        return render_template("signing/not_withdrawable.html", signature=exc.signature)
    return render_template("signing/withdrawn.html", signature=signature)


@bp.post("/manage/<token>/resend")
@limiter.limit(MANAGE_POST_LIMIT)
def manage_resend(token: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        result = managing.resend_confirmation(token)
    except signing.TokenInvalid:
        return _invalid()
    except signing.AlreadyConfirmed:
        flash(_("Your email address is already confirmed: there is nothing to resend."), "info")
        return redirect(url_for("signing.manage", token=token), 303)
    if result is managing.Resend.SENT:
        flash(_("We have sent the confirmation email again."), "success")
    else:
        flash(
            _(
                "A confirmation email was sent to this address a few minutes ago: look for it, "
                "and in your spam folder. You can ask again in a few minutes."
            ),
            "info",
        )
    return redirect(url_for("signing.manage", token=token), 303)


@bp.route("/manage/email/<token>", methods=["GET", "POST"])
def confirm_address(token: str):
    """The link mailed to a new address: GET shows it and one button, only the POST changes it."""
    try:
        if request.method == "POST":
            if not ButtonForm().validate_on_submit():
                abort(400)
            signature = managing.confirm_address_change(token)
            return render_template("signing/address_changed.html", signature=signature)
        signature = managing.signature_for_address_change(token)
    except signing.TokenInvalid:
        return render_template("signing/token_invalid.html", address=True), 404
    except signing.TokenExpired:
        return render_template("signing/token_invalid.html", address=True, expired=True), 410
    except managing.AddressTaken as exc:
        return render_template("signing/address_taken.html", signature=exc.signature), 409
    return render_template("signing/confirm_address.html", signature=signature, form=ButtonForm())
