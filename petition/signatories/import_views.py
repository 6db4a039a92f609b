"""The console's import (admins): template, upload, preview with every row's problems and
signals, import as approved or verified, the batches with their undo (signatories/imports.py)."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, SelectChoice

from ..core.forms import ButtonForm
from ..core.http import takes_file
from ..extensions import db
from ..models import ImportBatch, ImportBatchState, SignatureState, Statement
from ..staff.access import actor, admin_only
from . import admin_bp as bp
from . import imports

SID = "<id:statement_id>"
BID = "<id:batch_id>"
NO_STATEMENT = "There is no such statement."
#: The template's example row.
EXAMPLE = {
    "organisation_name": "Łódzkie Region",
    "organisation_type": "region",
    "country": "PL",
    "city": "Łódź",
    "website": "https://www.lodzkie.pl",
    "comment": "",
    "email": "biuro@lodzkie.pl",
    "contact_name": "Anna Nowak",
    "contact_role": "Head of EU affairs",
    "note": "Signed at the Brussels event, 3 March",
}


class UploadForm(FlaskForm):
    file = FileField("File (CSV or XLSX, at most 5 MB)")


class ConfirmForm(FlaskForm):
    mode = RadioField(
        "Import as",
        choices=[
            SelectChoice(
                SignatureState.APPROVED.value,
                "Approved: published at once (the file stands for the email confirmation and "
                "the review)",
            ),
            SelectChoice(
                SignatureState.VERIFIED.value,
                "Verified: waiting for review in the queue (the file stands for the email "
                "confirmation)",
            ),
        ],
        default=SignatureState.VERIFIED.value,
    )
    confirm = BooleanField("I have checked the rows: import them all")


def _statement(statement_id: int) -> Statement:
    return db.get_or_404(Statement, statement_id, description=NO_STATEMENT)


@bp.get(f"/statements/{SID}/import")
@admin_only
def import_page(statement_id: int):
    statement = _statement(statement_id)
    return _upload_page(statement, UploadForm(formdata=None))


def _upload_page(statement: Statement, form: UploadForm, status: int = 200, error: str = ""):
    return render_template(
        "staff/import.html",
        statement=statement,
        form=form,
        error=error,
        batches=imports.batches(statement),
        button=ButtonForm(formdata=None),
        columns=imports.COLUMNS,
        required=imports.REQUIRED,
        types=imports.ORGANISATION_TYPE_LABELS,
        max_rows=imports.MAX_ROWS,
    ), status


@bp.post(f"/statements/{SID}/import")
@admin_only
@takes_file("file", imports.MAX_FILE_BYTES)
def import_upload(statement_id: int):
    statement = _statement(statement_id)
    form = UploadForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    if upload is None or not upload.filename:
        return _upload_page(statement, form, 422, "Choose a CSV or XLSX file.")
    try:
        data = upload.read(imports.MAX_FILE_BYTES + 1)
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    try:
        imports.read_table(upload.filename, data)  # unreadable files are refused at once
    except imports.FileRejected as exc:
        return _upload_page(statement, form, 422, str(exc))
    batch = imports.store_upload(statement, upload.filename, data, actor())
    return redirect(url_for("signatories_admin.import_preview", batch_id=batch.id), 303)


def _batch(batch_id: int) -> ImportBatch:
    batch = db.get_or_404(ImportBatch, batch_id, description="There is no such import.")
    return batch


def _own_upload(batch_id: int) -> ImportBatch:
    """An uploaded file's preview, import and discard are for the admin who uploaded it: its
    rows hold contacts' details, and another admin confirming it would import unseen rows."""
    batch = _batch(batch_id)
    if batch.staff_id is None or batch.staff_id != actor().staff_id:
        abort(404, description="There is no such import.")
    return batch


@bp.get(f"/imports/{BID}")
@admin_only
def import_preview(batch_id: int):
    batch = _own_upload(batch_id)
    return _preview(batch, ConfirmForm(formdata=None))


def _preview(batch: ImportBatch, form: ConfirmForm, status: int = 200, error: str = ""):
    statement = db.session.get(Statement, batch.statement_id)
    assert statement is not None, "a batch's statement exists (the batch goes with it)"
    check = None
    file_error = ""
    if batch.state == ImportBatchState.PREVIEW and batch.data is not None:
        try:
            check = imports.check_file(statement, batch.filename, batch.data)
        except imports.FileRejected as exc:
            file_error = str(exc)
    return render_template(
        "staff/import_preview.html",
        statement=statement,
        batch=batch,
        check=check,
        file_error=file_error,
        form=form,
        error=error,
        button=ButtonForm(formdata=None),
    ), status


@bp.post(f"/imports/{BID}")
@admin_only
def import_confirm(batch_id: int):
    batch = _own_upload(batch_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _preview(batch, form, 422)
    if not form.confirm.data:
        form.confirm.errors = ["Tick the box to import the rows."]
        return _preview(batch, form, 422)
    try:
        outcome = imports.import_batch(batch.id, SignatureState(form.mode.data), actor())
    except imports.ImportRefused as exc:
        return _preview(batch, form, 409, str(exc))
    where = "on the public list" if form.mode.data == "approved" else "in the queue for review"
    flash(
        f"{outcome.created} endorsements imported from {batch.filename}, {where}"
        + (f"; {outcome.skipped} already there were skipped." if outcome.skipped else "."),
        "success",
    )
    return redirect(url_for("signatories_admin.import_page", statement_id=batch.statement_id), 303)


@bp.post(f"/imports/{BID}/undo")
@admin_only
def import_undo(batch_id: int):
    batch = _batch(batch_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        removed = imports.undo_batch(batch.id, actor())
    except imports.UndoRefused as exc:
        flash(f"The import of {batch.filename} was not undone: {exc}", "error")
    else:
        flash(
            f"The import of {batch.filename} is undone: {removed} endorsements removed.", "success"
        )
    return redirect(url_for("signatories_admin.import_page", statement_id=batch.statement_id), 303)


@bp.post(f"/imports/{BID}/discard")
@admin_only
def import_discard(batch_id: int):
    batch = _own_upload(batch_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    imports.discard_preview(batch.id)
    return redirect(url_for("signatories_admin.import_page", statement_id=batch.statement_id), 303)


@bp.get(f"/statements/{SID}/import/template.csv")
@admin_only
def import_template_csv(statement_id: int):
    _statement(statement_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.COLUMNS)
    writer.writerow([EXAMPLE[c] for c in imports.COLUMNS])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="endorsements-template.csv"'
    return response


@bp.get(f"/statements/{SID}/import/template.xlsx")
@admin_only
def import_template_xlsx(statement_id: int):
    _statement(statement_id)
    data = imports.template_xlsx(EXAMPLE)
    response = Response(
        data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="endorsements-template.xlsx"'
    return response
