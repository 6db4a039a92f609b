"""The identity page of the console, and the logo (and favicon) every page and email shows."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for

from ..core import identity
from ..core.forms import ButtonForm
from ..core.http import takes_file
from ..core.security import CSP
from ..core.validation import InvalidValue
from ..staff.access import actor, admin_only
from . import admin_bp, bp, service
from .forms import IdentityForm, LogoForm
from .logos import MAX_BYTES

# An uploaded SVG is an image, never a document: opened on its own, it runs sandboxed.
_SVG_CSP = CSP + "; sandbox"


def _logo_response():
    campaign = identity.current()
    stored = service.logo_file() if campaign.logo_sha256 else None
    if stored is not None:
        response = Response(stored.data, mimetype=stored.content_type)
        response.set_etag(stored.sha256)
    else:
        response = Response(campaign.mark_svg, mimetype="image/svg+xml")
        response.add_etag()
    response.headers["Content-Security-Policy"] = _SVG_CSP
    if request.args.get("v") == campaign.logo_version:
        # A fingerprinted address: a new logo gets a new one, so this one never changes.
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "public, max-age=300"
    return response.make_conditional(request)


@bp.get("/campaign/logo")
def logo():
    return _logo_response()


@bp.get("/favicon.ico")
def favicon():
    """The campaign's logo, else its letter mark (browsers take a PNG or an SVG here), never the
    software's icon. Browsers ask for it whatever the page says; short-cached (no fingerprint)."""
    return _logo_response()


# ---------------------------------------------------------------- the console page


def _page(form: IdentityForm, status: int = 200, logo_error: str | None = None):
    return render_template(
        "staff/identity.html",
        form=form,
        logo_form=LogoForm(formdata=None),
        logo_error=logo_error,
        button=ButtonForm(formdata=None),
        gaps=service.launch_gaps(identity.current()),
        max_mb=MAX_BYTES // (1024 * 1024),
    ), status


@admin_bp.route("/identity", methods=["GET", "POST"])
@admin_only
def identity_page():
    if request.method == "GET":
        row = service.current_row()
        form = IdentityForm(formdata=None, obj=row)
        if row is None:
            campaign = identity.current()
            form.name.data = form.short_name.data = campaign.name
        return _page(form)
    form = IdentityForm()
    if not form.validate_on_submit():
        abort(400)  # the CSRF token: the fields themselves are checked by the service
    try:
        changed = service.save_identity(service.clean_input(form.raw()), actor())
    except service.InvalidIdentity as exc:
        for name, message in exc.errors.items():
            form[name].errors = [message]
        return _page(form, 422)
    flash("Saved." if changed else "Nothing was changed.", "success" if changed else "info")
    return redirect(url_for("identity_admin.identity_page"), 303)


@admin_bp.post("/identity/logo")
@admin_only
@takes_file("logo", MAX_BYTES)
def logo_upload():
    form = LogoForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.logo.data
    try:
        if upload is None:
            raise InvalidValue("Choose a logo file (SVG or PNG).")
        removed = service.set_logo(upload.filename or "", upload.read(MAX_BYTES + 1), actor())
    except InvalidValue as exc:
        row = service.current_row()
        return _page(IdentityForm(formdata=None, obj=row), 422, logo_error=str(exc))
    if removed:
        flash("Logo saved. Removed from the SVG: " + ", ".join(sorted(set(removed))) + ".", "info")
    else:
        flash("Logo saved.", "success")
    return redirect(url_for("identity_admin.identity_page"), 303)


@admin_bp.post("/identity/logo/remove")
@admin_only
def logo_remove():
    if not ButtonForm().validate_on_submit():
        abort(400)
    removed = service.remove_logo(actor())
    flash("Logo removed." if removed else "There was no logo.", "success" if removed else "info")
    return redirect(url_for("identity_admin.identity_page"), 303)
