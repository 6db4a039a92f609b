"""Moderation views: the queue, signatures by state, one signature, and the actions on them."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms.validators import ValidationError

from ..core.http import whole_number
from ..core.validation import country_display_name, name_key
from ..extensions import db
from ..models import (
    AuditEvent,
    OrganisationType,
    OutboxMessage,
    Signature,
    SignatureState,
    Statement,
)
from ..reports import exports
from ..signatories.service import STAFF_FIELDS, staff_row
from ..signing.manage import change_rows, proposed_change
from ..staff.access import actor, safe_next
from ..statements.service import all_statements
from . import bp, changes, signals
from . import service as moderation
from .forms import REJECTION_REASONS, ActionForm, BulkForm, EditForm, parse_state
from .service import DecisionResult, EditResult

ID = "<id:signature_id>"
NO_SIGNATURE = "There is no signature {}."
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
    per_page = args.get("per_page", current_app.config["STAFF_PAGE_SIZE"], type=whole_number)
    return moderation.ConsoleFilter(
        state=state,
        statement_id=args.get("statement", type=whole_number) or None,
        country=country if len(country) == 2 and country.isalpha() else "",
        type=org_type if org_type in {t.value for t in OrganisationType} else "",
        age=age if age in moderation.AGE_FILTERS else "",
        q=(args.get("q") or "").strip()[:100],
        page=min(args.get("page", 1, type=whole_number), 100_000),
        per_page=min(per_page, 200) or 50,
    )


def _by_name(countries: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The country filter in the order a reader looks for a name (Åland Islands under A)."""
    return sorted(countries, key=lambda c: (name_key(c[1]), c[0]))


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
        statements=all_statements(),
        countries=_by_name([(code, country_display_name(code), n) for code, n in countries]),
        types=[(code, OrganisationType(code).label, n) for code, n in types],
        ages=moderation.AGE_FILTERS,
        states=[s.value for s in SignatureState],
        actions_by_state=ACTIONS_BY_STATE,
        reasons=REJECTION_REASONS,
        here=request.full_path.rstrip("?"),
        # The export links carry the filter (not the page: an export has every page).
        export_args={k: v for k, v in request.args.items() if k not in ("page", "per_page")},
        proposed=changes.proposed_count() if is_queue else 0,
    )


@bp.get("/queue")
def queue():
    return _list_page(SignatureState.VERIFIED, is_queue=True)


@bp.get("/signatures")
def signatures():
    return _list_page(_state_arg(), is_queue=False)


def _state_arg() -> SignatureState | None:
    try:
        return parse_state(request.args.get("state"))
    except ValueError:
        abort(400, description="Unknown state.")


def _export(state: SignatureState | None, fmt: str, name: str):
    """What the list shows, every page of it, with all fields (CSV or XLSX); audited."""
    flt = _console_filter(state)
    rows = (staff_row(s) for s in moderation.console_rows(flt))
    body = exports.render(rows, STAFF_FIELDS, fmt, name)
    statement = db.session.get(Statement, flt.statement_id) if flt.statement_id else None
    exports.record_export(statement, moderation.describe_filter(flt), fmt, actor())
    return exports.response(body, fmt, name)


@bp.get("/queue.<any(csv, xlsx):fmt>")
def queue_export(fmt: str):
    return _export(SignatureState.VERIFIED, fmt, "queue")


@bp.get("/signatures.<any(csv, xlsx):fmt>")
def signatures_export(fmt: str):
    state = _state_arg()
    return _export(state, fmt, f"signatures-{state.value}" if state else "signatures")


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
    change = proposed_change(signature.id)
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
        change=change,
        change_rows=change_rows(change) if change else [],
    ), status


@bp.get(f"/signatures/{ID}")
def signature(signature_id: int):
    return _detail(
        db.get_or_404(Signature, signature_id, description=NO_SIGNATURE.format(signature_id))
    )


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
    name_row = db.session.get(Signature, signature_id)
    try:
        decision = moderation.decide(
            signature_id,
            action,
            actor(),
            reason=form.reason.data or "",
            notify=bool(form.notify.data),
            expected_state=expected,
            statement_id=statement_id,
        )
    except moderation.ReasonRequired as exc:
        flash(str(exc), "error")
        return redirect(_back(form, signature_id), 303)
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
    signature = db.get_or_404(
        Signature, signature_id, description=NO_SIGNATURE.format(signature_id)
    )
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
    signature = db.get_or_404(
        Signature, signature_id, description=NO_SIGNATURE.format(signature_id)
    )
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
        return _detail(
            db.get_or_404(Signature, signature_id, description=NO_SIGNATURE.format(signature_id)),
            status=409,
        )
    if outcome.result is EditResult.NO_CHANGE:
        flash("Nothing was changed.", "info")
    else:
        flash(f"Saved: {', '.join(f.replace('_', ' ') for f in outcome.changed)}.", "success")
    return redirect(url_for("moderation.signature", signature_id=signature_id), 303)


@bp.post("/signatures/bulk")
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        if "ids" in form.errors:
            abort(400, description=form.errors["ids"][0])
        abort(
            400, description="Choose an action from the list; a reason is at most 1000 characters."
        )
    expected, statement_id = _routing_or_400(form)
    back = safe_next(form.next.data, url_for("moderation.queue"))
    if not form.ids.data:
        flash("Select at least one endorsement first.", "error")
        return redirect(back, 303)
    try:
        outcome = moderation.decide_bulk(
            form.ids.data,
            form.action.data,
            actor(),
            limit=current_app.config["STAFF_BULK_LIMIT"],
            reason=form.reason.data or "",
            notify=bool(form.notify.data),
            expected_state=expected,
            statement_id=statement_id,
        )
    except moderation.TooManySelected as exc:
        abort(413, description=str(exc))
    except moderation.ReasonRequired as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    for category, message in outcome.summary():
        flash(message, category)
    return redirect(back, 303)
