"""Staff view of the statement PDFs: every version, the build log, and a rebuild button."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..core.forms import ButtonForm
from ..extensions import db
from ..models import Statement, utcnow
from ..staff.access import actor, admin_only
from ..statements.service import all_statements
from . import admin_bp as bp
from . import builds
from .forms import DeliveryForm

SID = "<id:statement_id>"


@bp.get("/pdf")
def pdf_overview():
    panels = [
        {
            "statement": statement,
            "versions": builds.versions(statement),
            "logs": builds.build_logs(statement.id, limit=50),
            "pending": statement.list_version != statement.pdf_built_list_version,
            # A build whose lease ran out: its process died; the periodic sweep takes it over.
            "stalled": statement.pdf_build_lease_until is not None
            and statement.pdf_build_lease_until < utcnow(),
        }
        for statement in all_statements()
    ]
    return render_template(
        "staff/pdf.html",
        panels=panels,
        button=ButtonForm(formdata=None),
        keep_days=builds.keep_days(),
    )


@bp.post(f"/pdf/{SID}/rebuild")
def pdf_rebuild(statement_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        abort(404, description="There is no such statement.")
    # Never built in the request: the background job does it, under the build lock.
    reason = f"staff asked for a rebuild ({current_user.email})"
    builds.request_rebuild(statement.id, reason, delay=0, force=True)
    flash("A rebuild of the PDF has been queued; it appears here within a minute.", "info")
    return redirect(url_for("pdf_admin.pdf_overview"))


def _version_or_404(statement_id: int, number: int):
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        abort(404, description="There is no such statement.")
    version = builds.version_by_number(statement, number)
    if version is None:
        abort(404, description="There is no such version of the PDF.")
    return statement, version


@bp.get(f"/pdf/{SID}/versions/<id:number>.pdf")
def pdf_version_file(statement_id: int, number: int):
    """Any version that still has its file; a withdrawn one only if it was delivered."""
    from .views import send_version

    statement, version = _version_or_404(statement_id, number)
    if version.withdrawn_at is not None and not version.delivered:
        abort(410, description="This version was withdrawn from publication and not delivered.")
    return send_version(statement, version, private=True)


@bp.route(f"/pdf/{SID}/versions/<id:number>/delivery", methods=["GET"])
@admin_only
def pdf_delivery(statement_id: int, number: int):
    """The form that records to whom and when a version was handed over."""
    statement, version = _version_or_404(statement_id, number)
    form = DeliveryForm(formdata=None, obj=version)
    if version.delivered_on is None:
        form.delivered_on.data = utcnow().date()
    form.note.data = version.delivery_note or ""
    return _delivery_page(statement, version, form)


def _delivery_page(statement, version, form: DeliveryForm, status: int = 200):
    return render_template(
        "staff/pdf_delivery.html",
        statement=statement,
        version=version,
        form=form,
        button=ButtonForm(formdata=None),
    ), status


@bp.post(f"/pdf/{SID}/versions/<id:number>/delivered")
@admin_only
def pdf_delivered(statement_id: int, number: int):
    """delivered=1 with the date and recipient records (or corrects) the delivery; 0 undoes it."""
    flag = request.form.get("delivered")
    if flag not in ("0", "1"):
        abort(400, description="Say whether the version was delivered.")
    statement, version = _version_or_404(statement_id, number)
    if flag == "0":
        if not ButtonForm().validate_on_submit():
            abort(400)
        builds.clear_delivery(version.id, actor())
        flash(f"Version {number} is no longer marked delivered.", "info")
        return redirect(url_for("pdf_admin.pdf_overview"), 303)
    form = DeliveryForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _delivery_page(statement, version, form, 422)
    delivered_on = form.delivered_on.data
    assert delivered_on is not None  # InputRequired
    builds.record_delivery(
        version.id,
        actor(),
        delivered_on=delivered_on,
        delivered_to=form.delivered_to.clean,
        note=form.note.clean,
    )
    flash(
        f"Version {number} is recorded as delivered to {form.delivered_to.clean}: its file is kept"
        " for good, and the statement page says so.",
        "success",
    )
    return redirect(url_for("pdf_admin.pdf_overview"), 303)
