"""Console pages of the mailings: the list, compose and preview, test, confirm and send, the
delivery status of every message. Admins compose and send; moderators may look."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..core.forms import ButtonForm
from ..core.http import whole_number
from ..core.validation import InvalidValue
from ..extensions import db
from ..models import Mailing, MailingStatus, Statement
from ..staff.access import actor, admin_only
from ..statements.service import all_statements
from . import admin_bp as bp
from . import service as mailings
from .forms import MailingForm, SendForm

MID = "<id:mailing_id>"


def _mailing_or_404(mailing_id: int) -> Mailing:
    return db.get_or_404(Mailing, mailing_id, description=_("There is no such mailing."))


@bp.get("/mailings")
def mailing_list():
    statements = all_statements()
    return render_template(
        "staff/mailings.html",
        mailings=mailings.all_mailings(),
        statements=statements,
        reach={s.id: sum(mailings.language_counts(s).values()) for s in statements},
    )


@bp.route("/mailings/new/<id:statement_id>", methods=["GET", "POST"])
@admin_only
def mailing_new(statement_id: int):
    statement = db.get_or_404(Statement, statement_id, description=_("There is no such statement."))
    default = mailings.default_language(statement)
    form = MailingForm.for_languages(default, None if request.method == "GET" else request.form)
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        texts = form.texts()
        if texts is not None:
            mailing = mailings.create_mailing(statement.id, texts, actor())
            flash(
                _("Draft saved. Check the preview, send yourself a test, then send it."), "success"
            )
            return redirect(url_for("mailings_admin.mailing", mailing_id=mailing.id), 303)
    return render_template(
        "staff/mailing_compose.html",
        statement=statement,
        form=form,
        mailing=None,
        counts=mailings.language_counts(statement),
    ), (422 if request.method == "POST" else 200)


@bp.get(f"/mailings/{MID}")
def mailing(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    if MailingStatus(mailing.status) is MailingStatus.SENT:
        return _status_page(mailing)
    default = mailings.default_language(mailing.statement)
    form = MailingForm.for_languages(default, texts=mailings.texts_of(mailing))
    return _draft_page(mailing, form)


@bp.post(f"/mailings/{MID}")
@admin_only
def mailing_save(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    default = mailings.default_language(mailing.statement)
    form = MailingForm.for_languages(default, request.form)
    if not form.validate_on_submit():
        abort(400)
    texts = form.texts()
    if texts is None:
        return _draft_page(mailing, form, 422)
    try:
        changed = mailings.update_mailing(mailing.id, texts, actor())
    except mailings.MailingError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Draft saved.") if changed else _("Nothing was changed."), "success")
    return redirect(url_for("mailings_admin.mailing", mailing_id=mailing.id), 303)


def _draft_page(mailing: Mailing, form: MailingForm, status: int = 200):
    statement = mailing.statement
    previews = {lang: mailings.render(mailing, lang) for lang in sorted(mailings.texts_of(mailing))}
    return render_template(
        "staff/mailing_compose.html",
        statement=statement,
        form=form,
        mailing=mailing,
        previews=previews,
        counts=mailings.language_counts(statement),
        button=ButtonForm(formdata=None),
    ), status


def _status_page(mailing: Mailing):
    page = request.args.get("page", 1, type=whole_number)
    return render_template(
        "staff/mailing_status.html",
        mailing=mailing,
        counts=mailings.delivery_counts(mailing.id),
        rows=mailings.deliveries(mailing.id, page, current_app.config["STAFF_PAGE_SIZE"]),
    )


@bp.get(f"/mailings/{MID}/preview/<lang>")
def mailing_preview(mailing_id: int, lang: str):
    """The HTML part as the recipient sees it, for the console's frame: the email's own
    inline styles are allowed here, and only this console may frame it."""
    mailing = _mailing_or_404(mailing_id)
    if lang not in mailings.texts_of(mailing):
        abort(404, description=_("This mailing has no text in that language."))
    response = current_app.make_response(mailings.render(mailing, lang).html)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post(f"/mailings/{MID}/test")
@admin_only
def mailing_test(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    count = mailings.send_test(mailing.id, actor(), current_user.email)
    flash(
        _("%(count)d test email(s) sent to %(email)s.", count=count, email=current_user.email),
        "success",
    )
    return redirect(url_for("mailings_admin.mailing", mailing_id=mailing.id), 303)


@bp.route(f"/mailings/{MID}/send", methods=["GET", "POST"])
@admin_only
def mailing_send(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    if MailingStatus(mailing.status) is MailingStatus.SENT:
        flash(_("This mailing was sent already; nothing was sent again."), "info")
        return redirect(url_for("mailings_admin.mailing", mailing_id=mailing.id), 303)
    form = SendForm(formdata=None if request.method == "GET" else request.form)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if form.confirm.data:
            try:
                count = mailings.send_mailing(mailing.id, actor())
            except mailings.AlreadySent as exc:
                flash(str(exc), "info")
            except InvalidValue as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _(
                        "The mailing is on its way to %(count)d contact(s), %(rate)d a minute.",
                        count=count,
                        rate=current_app.config["MAILING_RATE_PER_MINUTE"],
                    ),
                    "success",
                )
            return redirect(url_for("mailings_admin.mailing", mailing_id=mailing.id), 303)
        form.confirm.errors = [_("Tick the box to send the mailing.")]
        status = 422
    counts = mailings.language_counts(mailing.statement)
    return render_template(
        "staff/mailing_send.html",
        mailing=mailing,
        form=form,
        counts=counts,
        total=sum(counts.values()),
        fallback={lang: mailings.text_for(mailing, lang)[0] for lang in counts},
        rate=current_app.config["MAILING_RATE_PER_MINUTE"],
    ), status


@bp.app_template_filter("language_name")
def language_name(code: str) -> str:
    """ "de" → "German" (in the console's language); an unknown code stays as it is."""
    from babel import Locale, UnknownLocaleError
    from flask_babel import get_locale

    try:
        name = Locale.parse(code).get_display_name(get_locale() or "en")
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:] if name else code
