"""Admin page for the public site's editable texts (the privacy notice)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from ..core.validation import InvalidValue
from ..staff.access import actor, admin_only
from . import admin_bp as bp
from . import site_texts
from .service import render_markdown


class SiteTextForm(FlaskForm):
    body = TextAreaField("Text (Markdown)", render_kw={"rows": 22, "maxlength": 20_000})


@bp.route("/texts/<any(privacy):key>", methods=["GET", "POST"])
@admin_only
def site_text(key: str):
    form = SiteTextForm(formdata=request.form if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            changed = site_texts.set_text(key, form.body.data or "", actor())
        except InvalidValue as exc:
            form.body.errors = [str(exc)]
            status = 422
        else:
            flash("Saved." if changed else "Nothing was changed.", "success" if changed else "info")
            return redirect(url_for("statements_admin.site_text", key=key), 303)
    else:
        form.body.data = site_texts.get_text(key) or ""
    return render_template(
        "staff/site_text.html",
        key=key,
        title=site_texts.EDITABLE[key],
        form=form,
        preview=render_markdown(form.body.data) if form.body.data else None,
        controller=site_texts.data_controller(),
    ), status
