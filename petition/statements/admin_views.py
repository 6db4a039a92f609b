"""Admin pages: a statement's signing window and embargo, and its campaign updates."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..core.forms import ButtonForm
from ..extensions import db
from ..models import CampaignUpdate, Statement, UpdateKind
from ..staff.access import actor, admin_only
from . import admin_bp as bp
from . import campaign
from .forms import StatementSettingsForm, UpdateForm
from .service import all_statements

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
    return render_template("staff/statement_settings.html", statement=statement, form=form), status


@bp.post(f"/statements/{SID}/<any(open, close):action>")
@admin_only
def statement_open_close(statement_id: int, action: str):
    statement = db.get_or_404(Statement, statement_id, description=NO_STATEMENT)
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
