"""Corrections proposed by signatories of published endorsements: the list, accept, reject."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from ..signing.manage import change_rows
from ..staff.access import actor, safe_next
from . import bp
from . import changes as proposals
from .forms import ActionForm


@bp.get("/changes")
def changes():
    waiting = proposals.proposed_changes()
    return render_template(
        "staff/changes.html",
        changes=[(change, change_rows(change)) for change in waiting],
        here=url_for("moderation.changes"),
    )


@bp.post("/changes/<id:change_id>/<any(accept, reject):decision>")
def decide_change(change_id: int, decision: str):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The reason must be at most 1000 characters.")
    if decision == "accept":
        outcome = proposals.accept(change_id, actor())
    else:
        outcome = proposals.reject_change(change_id, actor(), form.reason.data or "")
    if outcome.result is proposals.ChangeResult.NOT_FOUND:
        abort(404, description=outcome.message)
    category = "success" if outcome.result is proposals.ChangeResult.DONE else "warning"
    flash(outcome.message, category)
    return redirect(safe_next(form.next.data, url_for("moderation.changes")), 303)
