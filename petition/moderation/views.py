"""Moderation views: the queue, signatures by state, one signature, and the actions on them."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms.validators import ValidationError

from ..core.http import MAX_ID, int_arg, is_id_text
from ..core.validation import country_display_name
from ..extensions import db
from ..models import (
    AuditEvent,
    OrganisationType,
    OutboxMessage,
    Signature,
    SignatureState,
)
from ..staff.access import actor, safe_next
from ..statements.service import open_statements
from . import bp, signals
from . import service as moderation
from .forms import REJECTION_REASONS, ActionForm, BulkForm, EditForm
from .service import DecisionResult, EditResult

ID = "<int(max=2147483647):signature_id>"
#: What can be done from each state, in the order the buttons appear.
ACTIONS_BY_STATE = {
    SignatureState.VERIFIED: ("approve", "reject"),
    SignatureState.APPROVED: ("unpublish",),
    SignatureState.REJECTED: ("reopen",),
    SignatureState.PENDING_EMAIL: (),
    SignatureState.WITHDRAWN: (),
}
DONE_MESSAGES = {
    "approve": "Approved: {name}. It is on the public list, and the contact is told.",
    "reject": "Rejected: {name}.",
    "unpublish": "Unpublished: {name} is off the public list.",
    "reopen": "Reopened: {name} is back in the queue.",
    "withdraw": "Withdrawn: {name}.",
}


def _console_filter(state: SignatureState | None) -> moderation.ConsoleFilter:
    args = request.args
    country = (args.get("country") or "").strip().upper()
    org_type = (args.get("type") or "").strip()
    age = (args.get("age") or "").strip()
    per_page = int_arg("per_page", current_app.config["STAFF_PAGE_SIZE"], 200) or 50
    return moderation.ConsoleFilter(
        state=state,
        statement_id=int_arg("statement") or None,
        country=country if len(country) == 2 and country.isalpha() else "",
        type=org_type if org_type in {t.value for t in OrganisationType} else "",
        age=age if age in moderation.AGE_FILTERS else "",
        q=(args.get("q") or "").strip()[:100],
        page=max(int_arg("page", 1, 100_000), 1),
        per_page=per_page,
    )


def _list_page(template_state: SignatureState | None, *, is_queue: bool):
    flt = _console_filter(template_state)
    page = moderation.console_page(flt)
    countries, types = moderation.facet_counts(flt)
    return render_template(
        "staff/signatures.html",
        is_queue=is_queue,
        flt=flt,
        page=page,
        signals=signals.signals_for(page.items),
        statements=open_statements(),
        countries=[(code, country_display_name(code), n) for code, n in countries],
        types=[(code, OrganisationType(code).label, n) for code, n in types],
        ages=moderation.AGE_FILTERS,
        states=[s.value for s in SignatureState],
        actions_by_state=ACTIONS_BY_STATE,
        reasons=REJECTION_REASONS,
        here=request.full_path.rstrip("?"),
    )


@bp.get("/queue")
def queue():
    return _list_page(SignatureState.VERIFIED, is_queue=True)


@bp.get("/signatures")
def signatures():
    value = (request.args.get("state") or "").strip()
    state = None
    if value:
        try:
            state = SignatureState(value)
        except ValueError:
            abort(400, description="Unknown state.")
    return _list_page(state, is_queue=False)


def _signature_or_404(signature_id: int) -> Signature:
    signature = db.session.get(Signature, signature_id)
    if signature is None:
        abort(404, description=f"There is no signature {signature_id}.")
    return signature


def _detail(signature: Signature, *, form: EditForm | None = None, status: int = 200):
    if form is None:
        form = EditForm(formdata=None, obj=signature)
        form.organisation_type.data = OrganisationType(signature.organisation_type).value
        form.row_version.data = signature.row_version
    history = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.signature_id == signature.id)
        .order_by(AuditEvent.id.desc())
    ).all()
    mails = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.signature_id == signature.id)
        .order_by(OutboxMessage.id.desc())
    ).all()
    return render_template(
        "staff/signature.html",
        s=signature,
        form=form,
        signal=signals.signals_for([signature])[signature.id],
        history=history,
        mails=mails,
        actions=ACTIONS_BY_STATE[SignatureState(signature.state)],
        reasons=REJECTION_REASONS,
        here=url_for("moderation.signature", signature_id=signature.id),
    ), status


@bp.get(f"/signatures/{ID}")
def signature(signature_id: int):
    return _detail(_signature_or_404(signature_id))


def _back(form, signature_id: int | None = None) -> str:
    default = (
        url_for("moderation.signature", signature_id=signature_id)
        if signature_id
        else url_for("moderation.queue")
    )
    return safe_next(form.next.data, default)


def _flash_decision(decision: moderation.Decision, action: str, name: str) -> None:
    if decision.result is DecisionResult.DONE:
        flash(DONE_MESSAGES[action].format(name=name), "success")
    elif decision.result is DecisionResult.NO_CHANGE:
        flash(f"Nothing to do: {name} — {decision.message}", "info")
    else:
        flash(f"Not done: {decision.message}", "warning")


def _routing_or_400(form) -> tuple[SignatureState | None, int | None]:
    try:
        return form.expected(), form.statement()
    except ValidationError:
        abort(400, description="The form carried values this console does not send.")


@bp.post(f"/signatures/{ID}/<any(approve, reject, reopen, unpublish):action>")
def act(signature_id: int, action: str):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The reason must be at most 1000 characters.")
    expected, statement_id = _routing_or_400(form)
    reason = (form.reason.data or "").strip()
    if action == "reject" and not reason:
        flash("Give a reason to reject (it is kept in the audit log).", "error")
        return redirect(_back(form, signature_id), 303)
    name_row = db.session.get(Signature, signature_id)
    decision = moderation.decide(
        signature_id,
        action,
        actor(),
        reason=reason,
        notify=action == "approve" or bool(form.notify.data),
        expected_state=expected,
        statement_id=statement_id,
    )
    if decision.result is DecisionResult.NOT_FOUND:
        abort(404, description=decision.message)
    _flash_decision(decision, action, name_row.organisation_name if name_row else "")
    return redirect(_back(form, signature_id), 303)


@bp.post(f"/signatures/{ID}/withdraw")
def withdraw(signature_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The reason must be at most 1000 characters.")
    _expected, statement_id = _routing_or_400(form)
    signature = _signature_or_404(signature_id)
    name = signature.organisation_name
    decision = moderation.withdraw_on_request(
        signature_id,
        actor(),
        reason=(form.reason.data or "").strip() or "withdrawn by staff on request",
        statement_id=statement_id,
    )
    if decision.result is DecisionResult.NOT_FOUND:
        abort(404, description=decision.message)
    _flash_decision(decision, "withdraw", name)
    return redirect(_back(form, signature_id), 303)


@bp.post(f"/signatures/{ID}/edit")
def edit(signature_id: int):
    signature = _signature_or_404(signature_id)
    form = EditForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _detail(signature, form=form, status=422)
    outcome = moderation.edit_signature(
        signature_id, form.to_edit(), row_version=form.row_version.data, actor=actor()
    )
    if outcome.result is EditResult.NOT_FOUND:
        abort(404, description=outcome.message)
    if outcome.result in (EditResult.STALE, EditResult.NOT_EDITABLE):
        flash(outcome.message, "warning")
        return _detail(_signature_or_404(signature_id), status=409)
    if outcome.result is EditResult.NO_CHANGE:
        flash("Nothing was changed.", "info")
    else:
        flash(f"Saved: {', '.join(f.replace('_', ' ') for f in outcome.changed)}.", "success")
    return redirect(url_for("moderation.signature", signature_id=signature_id), 303)


@bp.post("/signatures/bulk")
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        abort(
            400, description="Choose an action from the list; a reason is at most 1000 characters."
        )
    expected, statement_id = _routing_or_400(form)
    raw_ids = request.form.getlist("ids")
    if any(not is_id_text(raw) or len(raw) > 10 or int(raw) > MAX_ID for raw in raw_ids):
        abort(400, description="The selection carried something that is not a signature id.")
    ids = list(dict.fromkeys(int(raw) for raw in raw_ids))
    back = safe_next(form.next.data, url_for("moderation.queue"))
    action = form.action.data
    reason = (form.reason.data or "").strip()
    if not ids:
        flash("Select at least one endorsement first.", "error")
        return redirect(back, 303)
    if len(ids) > current_app.config["STAFF_BULK_LIMIT"]:
        abort(413, description="Too many endorsements selected at once.")
    if action == "reject" and not reason:
        flash("Give a reason to reject (it is kept in the audit log).", "error")
        return redirect(back, 303)
    unknown = moderation.unknown_ids(ids, statement_id)
    if unknown:
        flash(
            "Nothing was changed: no signature "
            + ", ".join(map(str, unknown[:20]))
            + (" in this statement." if statement_id else "."),
            "error",
        )
        return redirect(back, 303)
    decisions = moderation.decide_many(
        ids,
        action,
        actor(),
        reason=reason,
        notify=action == "approve" or bool(form.notify.data),
        expected_state=expected,
        statement_id=statement_id,
    )
    done = [d for d in decisions if d.result is DecisionResult.DONE]
    same = [d for d in decisions if d.result is DecisionResult.NO_CHANGE]
    refused = [
        d for d in decisions if d.result not in (DecisionResult.DONE, DecisionResult.NO_CHANGE)
    ]
    past = {"approve": "approved", "reject": "rejected", "unpublish": "unpublished"}.get(
        action, "reopened"
    )
    if done:
        flash(f"{len(done)} {past}.", "success")
    if same:
        flash(f"{len(same)} already {past}: nothing to do.", "info")
    if refused:
        details = "; ".join(d.message for d in refused[:10])
        flash(f"{len(refused)} not {past}: {details}", "warning")
    return redirect(back, 303)
