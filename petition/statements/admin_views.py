"""Admin pages: a statement's signing window and embargo, its PDF letter lines, and its campaign updates."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..core.forms import ButtonForm
from ..core.i18n import available_languages, language_name
from ..extensions import db
from ..models import CampaignUpdate, Statement, UpdateKind
from ..pdf import builds
from ..staff.access import actor, admin_only
from . import admin_bp as bp
from . import campaign, editor, translations
from .embed import embed_snippet
from .forms import (
    InitiatorsForm,
    PdfLetterForm,
    StatementCreateForm,
    StatementSettingsForm,
    StatementTextForm,
    TranslationForm,
    UpdateForm,
)
from .service import (
    StatementError,
    StatementFile,
    all_statements,
    clean_language,
    clean_slug,
    render_markdown,
)

SID = "<id:statement_id>"
UID = "<id:update_id>"
NO_STATEMENT = "There is no such statement."
NO_UPDATE = "There is no such campaign update."


@bp.get("/statements")
@admin_only
def statements():
    return render_template(
        "staff/statements.html", statements=all_statements(), button=ButtonForm(formdata=None)
    )


@bp.route(f"/statements/{SID}", methods=["GET", "POST"])
@admin_only
def statement_settings(statement_id: int):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    form = StatementSettingsForm.for_statement(
        statement, None if request.method == "GET" else request.form
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                changed = campaign.update_statement_settings(
                    statement.id, form.to_settings(), actor()
                )
            except campaign.CampaignError as exc:
                form.signing_closes_at.errors = [*form.signing_closes_at.errors, str(exc)]
                status = 422
            else:
                flash(
                    "Saved." if changed else "Nothing was changed.",
                    "success" if changed else "info",
                )
                return redirect(
                    url_for("statements_admin.statement_settings", statement_id=statement.id), 303
                )
        else:
            if "csrf_token" in form.errors:
                abort(400)
            status = 422
    return _settings_page(statement, form, status=status)


def _settings_page(
    statement: Statement,
    form: StatementSettingsForm | None = None,
    letter_form: PdfLetterForm | None = None,
    status: int = 200,
):
    return (
        render_template(
            "staff/statement_settings.html",
            statement=statement,
            form=form or StatementSettingsForm.for_statement(statement),
            letter_form=letter_form or PdfLetterForm.for_statement(statement),
            embed_snippet=embed_snippet(statement),
        ),
        status,
    )


@bp.post(f"/statements/{SID}/pdf-letter")
@admin_only
def statement_pdf_letter(statement_id: int):
    """The PDF's addressee, place and date lines (also `flask pdf letter`)."""
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    form = PdfLetterForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _settings_page(statement, letter_form=form, status=422)
    changed = builds.set_letter_lines(
        statement.id, form.addressee.clean, form.place.clean, form.letter_date.data, actor()
    )
    flash(
        "The letter lines are saved; the PDF is rebuilt." if changed else "Nothing was changed.",
        "success" if changed else "info",
    )
    return redirect(
        url_for("statements_admin.statement_settings", statement_id=statement.id) + "#pdf-letter",
        303,
    )


@bp.post(f"/statements/{SID}/<any(open, close):action>")
@admin_only
def statement_open_close(statement_id: int, action: str):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if action == "close" and request.form.get("confirm") != "yes":
        # Closing turns signers away: it is confirmed on its own page first.
        return redirect(
            url_for("statements_admin.statement_close_confirm", statement_id=statement.id), 303
        )
    changed = campaign.set_open(statement.id, action == "open", actor())
    state = "open for signing" if action == "open" else "closed to new signatures"
    flash(f"{statement.title} is {state}." if changed else f"Already {state}.", "success")
    return redirect(
        request.referrer
        if _same_site(request.referrer)
        else url_for("statements_admin.statements"),
        303,
    )


def _same_site(url: str | None) -> bool:
    return url is not None and url.startswith(request.host_url.rstrip("/") + "/staff")


# ---------------------------------------------------------------- campaign updates


@bp.route(f"/statements/{SID}/updates", methods=["GET", "POST"])
@admin_only
def updates(statement_id: int):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    form = UpdateForm(formdata=None if request.method == "GET" else request.form)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            update = campaign.create_update(statement.id, form.to_input(), actor())
            flash(f"Draft “{update.title}” created. Publish it when it is ready.", "success")
            return redirect(url_for("statements_admin.updates", statement_id=statement.id), 303)
        if "csrf_token" in form.errors:
            abort(400)
        status = 422
    return render_template(
        "staff/updates.html",
        statement=statement,
        updates=campaign.updates_for(statement.id),
        needs_link=campaign.needs_link,
        form=form,
        button=ButtonForm(formdata=None),
    ), status


@bp.route(f"/updates/{UID}", methods=["GET", "POST"])
@admin_only
def update_edit(update_id: int):
    update = db.get_or_404(CampaignUpdate, update_id, description=NO_UPDATE)
    if request.method == "GET":
        form = UpdateForm(formdata=None, obj=update)
        form.kind.data = UpdateKind(update.kind).value
    else:
        form = UpdateForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            changed = campaign.edit_update(update.id, form.to_input(), actor())
            flash("Saved." if changed else "Nothing was changed.", "success" if changed else "info")
            return redirect(
                url_for("statements_admin.updates", statement_id=update.statement_id), 303
            )
        if "csrf_token" in form.errors:
            abort(400)
        status = 422
    return render_template("staff/update_edit.html", update=update, form=form), status


@bp.post(f"/updates/{UID}/<any(publish, unpublish, delete):action>")
@admin_only
def update_action(update_id: int, action: str):
    update = db.get_or_404(CampaignUpdate, update_id, description=NO_UPDATE)
    statement_id = update.statement_id
    try:
        message = campaign.change_update(update.id, campaign.UpdateAction(action), actor())
    except campaign.CampaignError as exc:
        flash(str(exc), "error")
    else:
        flash(message, "success")
    return redirect(url_for("statements_admin.updates", statement_id=statement_id), 303)


@bp.get(f"/updates/{UID}/preview")
@admin_only
def update_preview(update_id: int):
    """A draft (or a published update) as the public will see it on the statement page."""
    update = db.get_or_404(CampaignUpdate, update_id, description=NO_UPDATE)
    return render_template(
        "public/update_preview.html",
        update=update,
        statement=db.session.get_one(Statement, update.statement_id),
        needs_link=campaign.needs_link(update),
    )


# ---------------------------------------------------------------- statements and their text


@bp.route("/statements/new", methods=["GET", "POST"])
@admin_only
def statement_new():
    form = StatementCreateForm(formdata=None if request.method == "GET" else request.form)
    if request.method == "GET" or not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        status = 200 if request.method == "GET" else 422
        return render_template("staff/statement_new.html", form=form), status
    try:
        slug = clean_slug(form.slug.data)
    except StatementError:
        form.slug.errors = ["Use lower-case letters, digits and hyphens, e.g. eu-recovery-2027."]
    try:
        language = clean_language(form.language.data)
    except StatementError:
        form.language.errors = ["Use a language code such as en, de or pt-BR."]
    if form.slug.errors or form.language.errors:
        return render_template("staff/statement_new.html", form=form), 422
    fields = StatementFile(
        slug=slug,
        title=form.title.clean,
        subtitle=form.subtitle.clean,
        language=language,
        campaign=form.campaign.clean,
        initiators=(form.initiators.data or "").splitlines(),
        body=form.body.data,
    )
    try:
        statement = editor.create_statement(fields, actor())
    except StatementError as exc:
        target = form.slug if "address" in str(exc) else form.body
        target.errors = [str(exc)]
        return render_template("staff/statement_new.html", form=form), 422
    flash(
        f"“{statement.title}” is created, closed for signing: set its dates and embargo, "
        "then open it.",
        "success",
    )
    return redirect(url_for("statements_admin.statement_settings", statement_id=statement.id), 303)


def _text_page(statement: Statement, form: StatementTextForm, status: int = 200, **extra):
    return render_template(
        "staff/statement_text.html",
        statement=statement,
        form=form,
        initiators_form=InitiatorsForm(formdata=None, names="\n".join(statement.initiator_list)),
        by_version=editor.signatures_by_version(statement),
        **extra,
    ), status


@bp.route(f"/statements/{SID}/text", methods=["GET", "POST"])
@admin_only
def statement_text(statement_id: int):
    """Edit the text: preview it with the changes marked, then publish it as a new version."""
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    current = statement.current_version
    if request.method == "GET":
        form = StatementTextForm(formdata=None)
        form.body.data = current.body if current else ""
        form.based_on.data = current.sha256 if current else ""
        return _text_page(statement, form)
    form = StatementTextForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _text_page(statement, form, 422)
    try:
        body = editor.clean_body(form.body.data)
    except StatementError as exc:
        form.body.errors = [str(exc)]
        return _text_page(statement, form, 422)
    if request.form.get("action") == "publish":
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to publish a new version."]
        else:
            try:
                result = editor.publish_text(statement.id, body, form.based_on.data or "", actor())
            except StatementError as exc:
                form.body.errors = [str(exc)]
            else:
                published = result.statement.current_version
                number = published.number if published else "?"
                flash(
                    f"Version {number} is published. Earlier signatures stay, marked as "
                    "endorsing the version they signed; the PDF is rebuilt.",
                    "success",
                )
                return redirect(
                    url_for("statements_admin.statement_text", statement_id=statement.id), 303
                )
    preview = render_markdown(body)
    diff = editor.diff_lines(current.body if current else "", body)
    status = 422 if form.confirm.errors or form.body.errors else 200
    return _text_page(statement, form, status, preview=preview, diff=diff)


@bp.post(f"/statements/{SID}/initiators")
@admin_only
def statement_initiators(statement_id: int):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    form = InitiatorsForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = editor.set_initiators(statement.id, (form.names.data or "").splitlines(), actor())
    except StatementError as exc:
        flash(str(exc), "error")
    else:
        flash(
            "The initiators are saved; the PDF is rebuilt." if changed else "Nothing was changed.",
            "success" if changed else "info",
        )
    return redirect(url_for("statements_admin.statement_text", statement_id=statement.id), 303)


@bp.get(f"/statements/{SID}/close")
@admin_only
def statement_close_confirm(statement_id: int):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    return render_template(
        "staff/statement_close.html",
        statement=statement,
        button=ButtonForm(formdata=None),
        by_version=editor.signatures_by_version(statement),
    )


# ---------------------------------------------------------------- translations


@bp.get(f"/statements/{SID}/translations")
@admin_only
def statement_translations(statement_id: int):
    """Every language the site has but the statement's: its translation's state, to add or edit."""
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    found = {t.lang: t for t in translations.translations(statement)}
    rows = [
        (lang, language_name(lang), found.get(lang))
        for lang in available_languages()
        if lang != statement.language
    ]
    return render_template("staff/translations.html", statement=statement, rows=rows)


@bp.route(f"/statements/{SID}/translations/<lang>", methods=["GET", "POST"])
@admin_only
def statement_translation(statement_id: int, lang: str):
    """Add or edit one language's translation: preview it, then save it (audited)."""
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    try:
        lang = translations.check_language(statement, lang)
    except StatementError as exc:
        abort(404, description=str(exc))
    existing = translations.translation(statement, lang)
    if request.method == "GET":
        form = TranslationForm(formdata=None, obj=existing)
        return _translation_page(statement, lang, form, existing)
    form = TranslationForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _translation_page(statement, lang, form, existing, 422)
    try:
        text = translations.clean_text(
            form.title.data or "", form.subtitle.data or "", form.body.data or ""
        )
    except StatementError as exc:
        form.body.errors = [str(exc)]
        return _translation_page(statement, lang, form, existing, 422)
    if request.form.get("action") != "save":
        return _translation_page(
            statement, lang, form, existing, preview=render_markdown(text.body)
        )
    _saved, changed = translations.save_translation(statement, lang, text, actor())
    name = language_name(lang)
    flash(
        f"The {name} translation is saved." if changed else f"The {name} translation is unchanged.",
        "success" if changed else "info",
    )
    return redirect(
        url_for("statements_admin.statement_translations", statement_id=statement.id), 303
    )


@bp.post(f"/statements/{SID}/translations/<lang>/delete")
@admin_only
def statement_translation_delete(statement_id: int, lang: str):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if translations.delete_translation(statement, lang, actor()):
        flash(f"The {language_name(lang)} translation is removed.", "success")
    return redirect(
        url_for("statements_admin.statement_translations", statement_id=statement.id), 303
    )


def _translation_page(statement, lang, form, existing, status: int = 200, **extra):
    return render_template(
        "staff/translation_edit.html",
        statement=statement,
        lang=lang,
        language=language_name(lang),
        form=form,
        existing=existing,
        button=ButtonForm(formdata=None),
        **extra,
    ), status
