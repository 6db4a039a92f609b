"""Moderation decisions: approve, reject, reopen, unpublish — compare-and-set on the state, audited."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select, update

from ..core import events, outbox
from ..core.audit import Actor, record
from ..core.db import after_write, compare_and_set, paginate, rowcount, write_transaction
from ..core.validation import OrganisationFields, derived_columns, name_key, search_fold
from ..core.wording import state_label
from ..extensions import db
from ..models import OrganisationType, Signature, SignatureState, utcnow
from ..signing.service import (
    NotWithdrawable,
    close_proposed_changes,
    manage_url,
    public_url,
    withdraw,
)
from ..statements.service import bump_list_version


class DecisionResult(enum.Enum):
    DONE = "done"
    NO_CHANGE = "no_change"  # already in the target state: idempotent
    CONFLICT = "conflict"  # decided otherwise (by someone else) meanwhile
    NOT_FOUND = "not_found"


class ModerationError(Exception):
    """A request the rules refuse before anything is looked up or changed."""


class ReasonRequired(ModerationError):
    def __init__(self) -> None:
        super().__init__("Give a reason to reject (it is kept in the audit log).")


class TooManySelected(ModerationError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Too many endorsements selected at once (at most {limit}).")
        self.limit = limit


@dataclass(frozen=True)
class Decision:
    signature_id: int
    result: DecisionResult
    state: SignatureState | None = None
    message: str = ""


# target action -> (states it may start from, state it leads to)
_TRANSITIONS: dict[str, tuple[tuple[SignatureState, ...], SignatureState]] = {
    "approve": ((SignatureState.VERIFIED,), SignatureState.APPROVED),
    "reject": ((SignatureState.VERIFIED,), SignatureState.REJECTED),
    "unpublish": ((SignatureState.APPROVED,), SignatureState.REJECTED),
    "reopen": ((SignatureState.REJECTED,), SignatureState.VERIFIED),
}


@write_transaction
def decide(
    signature_id: int,
    action: str,
    actor: Actor,
    *,
    reason: str = "",
    notify: bool = True,
    expected_state: SignatureState | None = None,
    statement_id: int | None = None,
) -> Decision:
    """Apply one moderation action in its own transaction.

    A rejection needs a reason (ReasonRequired otherwise). An approval always tells the
    contact; `notify` decides whether a rejection's reason is emailed to them.

    `expected_state` is the state the moderator saw: if the row moved on since, the action
    is refused with CONFLICT rather than applied to something they did not look at.
    `statement_id`, when given, is the statement the moderator was working on: a row of
    another statement is NOT_FOUND, as if the id were forged.
    """
    sources, target = _TRANSITIONS[action]
    reason = reason.strip()
    if action == "reject" and not reason:
        raise ReasonRequired
    signature = db.session.get(Signature, signature_id)
    if signature is None or (statement_id is not None and signature.statement_id != statement_id):
        return Decision(
            signature_id, DecisionResult.NOT_FOUND, message=f"No signature {signature_id}."
        )
    current = SignatureState(signature.state)
    if current is target:
        return Decision(
            signature_id, DecisionResult.NO_CHANGE, current, f"Already {state_phrase(current)}."
        )
    if current not in sources or (expected_state is not None and current is not expected_state):
        return Decision(
            signature_id,
            DecisionResult.CONFLICT,
            current,
            f"Signature {signature_id} is {state_phrase(current)}; it cannot be {past_tense(action)}.",
        )
    now = utcnow()
    values: dict = {"state": target, "decided_at": now}
    if target is SignatureState.APPROVED:
        values["approved_at"] = now
    if target is SignatureState.REJECTED:
        values["rejection_reason"] = reason[:1000]
    if action == "reopen":
        values["rejection_reason"] = ""
    if not compare_and_set(signature_id, current, **values):
        db.session.refresh(signature)
        return Decision(
            signature_id,
            DecisionResult.CONFLICT,
            SignatureState(signature.state),
            f"Signature {signature_id} was decided by someone else meanwhile.",
        )
    list_changed = SignatureState.APPROVED in (current, target)
    if list_changed:
        bump_list_version(signature.statement_id)
    if current is SignatureState.APPROVED:
        close_proposed_changes(signature_id)  # off the list: nothing left to correct there
    record(
        actor,
        action,
        signature=signature,
        from_state=current,
        to_state=target,
        detail=reason,
    )
    db.session.refresh(signature)
    if signature.email:
        if action == "approve":
            outbox.queue_email(
                "approved",
                signature.email,
                "approved",
                signature_id=signature.id,
                signature=signature,
                statement=signature.statement,
                list_url=public_url(
                    f"/statements/{signature.statement.slug}/signatories", signature.lang
                ),
                pdf_url=public_url(f"/statements/{signature.statement.slug}/statement.pdf"),
                manage_url=manage_url(signature),
            )
        elif action == "reject" and notify:
            outbox.queue_email(
                "rejected",
                signature.email,
                "rejected",
                signature_id=signature.id,
                signature=signature,
                statement=signature.statement,
                reason=reason,
                manage_url=manage_url(signature),
            )
    if list_changed:
        changed_id = signature.statement_id
        after_write(lambda: events.signatory_list_changed(changed_id, reason=action))
    return Decision(signature_id, DecisionResult.DONE, target)


def state_phrase(state: SignatureState) -> str:
    """A state inside a sentence: "Signature 5 is waiting for email confirmation; …"."""
    return state_label(state).lower()


def past_tense(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "unpublish": "unpublished"}.get(
        action, "reopened"
    )


def decide_many(
    ids: Iterable[int],
    action: str,
    actor: Actor,
    *,
    reason: str = "",
    notify: bool = True,
    expected_state: SignatureState | None = None,
    statement_id: int | None = None,
) -> list[Decision]:
    """Each row is its own decision, so one conflict does not undo the others."""
    return [
        decide(
            i,
            action,
            actor,
            reason=reason,
            notify=notify,
            expected_state=expected_state,
            statement_id=statement_id,
        )
        for i in ids
    ]


def unknown_ids(ids: Iterable[int], statement_id: int | None = None) -> list[int]:
    """The ids that name no signature (of that statement): a bulk form refers to rows that exist."""
    wanted = set(ids)
    if not wanted:
        return []
    query = select(Signature.id).where(Signature.id.in_(wanted))
    if statement_id is not None:
        query = query.where(Signature.statement_id == statement_id)
    found = set(db.session.scalars(query))
    return sorted(wanted - found)


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk action did; `unknown` non-empty means nothing was changed."""

    action: str
    decisions: tuple[Decision, ...] = ()
    unknown: tuple[int, ...] = ()
    in_statement: bool = False

    def summary(self) -> list[tuple[str, str]]:
        """(category, message) pairs for the moderator, most important first."""
        if self.unknown:
            where = " in this statement." if self.in_statement else "."
            ids = ", ".join(map(str, self.unknown[:20]))
            return [("error", f"Nothing was changed: no signature {ids}{where}")]
        past = past_tense(self.action)
        done = [d for d in self.decisions if d.result is DecisionResult.DONE]
        same = [d for d in self.decisions if d.result is DecisionResult.NO_CHANGE]
        refused = [
            d
            for d in self.decisions
            if d.result not in (DecisionResult.DONE, DecisionResult.NO_CHANGE)
        ]
        messages = []
        if done:
            messages.append(("success", f"{len(done)} {past}."))
        if same:
            messages.append(("info", f"{len(same)} already {past}: nothing to do."))
        if refused:
            details = "; ".join(d.message for d in refused[:10])
            messages.append(("warning", f"{len(refused)} not {past}: {details}"))
        return messages


def decide_bulk(
    ids: Iterable[int],
    action: str,
    actor: Actor,
    *,
    limit: int,
    reason: str = "",
    notify: bool = True,
    expected_state: SignatureState | None = None,
    statement_id: int | None = None,
) -> BulkOutcome:
    """The console's bulk action: all ids must exist (in that statement), or nothing changes.

    Raises ReasonRequired for a rejection without a reason, TooManySelected over `limit`.
    """
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > limit:
        raise TooManySelected(limit)
    unknown = unknown_ids(wanted, statement_id)
    if unknown:
        return BulkOutcome(action, unknown=tuple(unknown), in_statement=statement_id is not None)
    decisions = decide_many(
        wanted,
        action,
        actor,
        reason=reason,
        notify=notify,
        expected_state=expected_state,
        statement_id=statement_id,
    )
    return BulkOutcome(action, tuple(decisions))


# ---------------------------------------------------------------- edits

#: The fields staff may correct; the contact person and email stay as the signatory gave them.
EDITABLE_STATES = (SignatureState.VERIFIED, SignatureState.APPROVED, SignatureState.REJECTED)


@dataclass(frozen=True)
class SignatureEdit(OrganisationFields):
    """Validated values from the console's edit form (see moderation.forms.EditForm)."""

    comment: str
    note: str


class EditResult(enum.Enum):
    DONE = "done"
    NO_CHANGE = "no_change"
    STALE = "stale"  # the form was made from an older row_version
    NOT_EDITABLE = "not_editable"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class EditOutcome:
    result: EditResult
    message: str = ""
    changed: tuple[str, ...] = ()


def _edit_snapshot(signature: Signature) -> dict:
    return {
        f.name: str(getattr(getattr(signature, f.name), "value", getattr(signature, f.name)) or "")
        for f in fields(SignatureEdit)
    }


@write_transaction
def edit_signature(
    signature_id: int,
    edit: SignatureEdit,
    *,
    row_version: int,
    actor: Actor,
    statement_id: int | None = None,
) -> EditOutcome:
    """Correct the public fields; the audit row keeps before and after. A stale form changes nothing."""
    signature = db.session.get(Signature, signature_id)
    if signature is None or (statement_id is not None and signature.statement_id != statement_id):
        return EditOutcome(EditResult.NOT_FOUND, f"No signature {signature_id}.")
    state = SignatureState(signature.state)
    if state not in EDITABLE_STATES:
        return EditOutcome(
            EditResult.NOT_EDITABLE,
            f"Signature {signature_id} is {state_phrase(state)}; it cannot be edited.",
        )
    if signature.row_version != row_version:
        return EditOutcome(
            EditResult.STALE,
            f"Signature {signature_id} was changed by someone else after you opened the form. "
            "Nothing was saved: check the current values and edit again.",
        )
    before_all = _edit_snapshot(signature)
    after_all = {f.name: getattr(edit, f.name) for f in fields(SignatureEdit)}
    changed = tuple(k for k in after_all if after_all[k] != before_all[k])
    if not changed:
        return EditOutcome(EditResult.NO_CHANGE, "Nothing to change.")
    org_type = OrganisationType(edit.organisation_type)
    result = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.row_version == row_version)
        .values(
            organisation_name=edit.organisation_name,
            organisation_type=org_type,
            country=edit.country,
            city=edit.city,
            **derived_columns(edit.organisation_name, org_type, edit.country, edit.city),
            website=edit.website,
            comment=edit.comment,
            note=edit.note,
            row_version=Signature.row_version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return EditOutcome(
            EditResult.STALE,
            f"Signature {signature_id} was changed by someone else meanwhile. Nothing was saved.",
        )
    public = state is SignatureState.APPROVED and any(k != "note" for k in changed)
    if public:
        bump_list_version(signature.statement_id)
    record(
        actor,
        "edited",
        signature=signature,
        before={k: before_all[k] for k in changed},
        after={k: after_all[k] for k in changed},
    )
    if public:
        changed_id = signature.statement_id
        after_write(lambda: events.signatory_list_changed(changed_id, reason="edit"))
    return EditOutcome(EditResult.DONE, "Saved.", changed)


@write_transaction
def withdraw_on_request(
    signature_id: int, actor: Actor, *, reason: str = "", statement_id: int | None = None
) -> Decision:
    """Staff withdraw an endorsement because the organisation asked them to."""
    signature = db.session.get(Signature, signature_id)
    if signature is None or (statement_id is not None and signature.statement_id != statement_id):
        return Decision(
            signature_id, DecisionResult.NOT_FOUND, message=f"No signature {signature_id}."
        )
    if SignatureState(signature.state) is SignatureState.WITHDRAWN:
        return Decision(
            signature_id, DecisionResult.NO_CHANGE, SignatureState.WITHDRAWN, "Already withdrawn."
        )
    try:
        withdraw(signature, actor, reason)
    except NotWithdrawable as exc:
        state = SignatureState(exc.signature.state)
        return Decision(
            signature_id,
            DecisionResult.CONFLICT,
            state,
            f"Signature {signature_id} is {state_phrase(state)}; it cannot be withdrawn.",
        )
    return Decision(signature_id, DecisionResult.DONE, SignatureState.WITHDRAWN)


# ---------------------------------------------------------------- console lists


AGE_FILTERS = {
    "": "Any age",
    "day": "Submitted in the last 24 h",
    "week": "1 to 7 days old",
    "older": "Older than 7 days",
}


@dataclass
class ConsoleFilter:
    state: SignatureState | None = SignatureState.VERIFIED
    statement_id: int | None = None
    country: str = ""
    type: str = ""
    age: str = ""
    q: str = ""
    page: int = 1
    per_page: int = 50


def _console_query(flt: ConsoleFilter) -> Select:
    query = select(Signature)
    if flt.state is not None:
        query = query.where(Signature.state == flt.state)
    if flt.statement_id is not None:
        query = query.where(Signature.statement_id == flt.statement_id)
    if flt.country:
        query = query.where(Signature.country == flt.country)
    if flt.type:
        query = query.where(Signature.organisation_type == OrganisationType(flt.type))
    now = utcnow()
    if flt.age == "day":
        query = query.where(Signature.created_at >= now - timedelta(days=1))
    elif flt.age == "week":
        query = query.where(
            Signature.created_at < now - timedelta(days=1),
            Signature.created_at >= now - timedelta(days=7),
        )
    elif flt.age == "older":
        query = query.where(Signature.created_at < now - timedelta(days=7))
    if flt.q:
        query = query.where(_search_condition(flt.q))
    return query


_BY_ID = re.compile(r"#\s*(\d{1,9})")


def _search_condition(q: str):
    """ "#5" is signature 5 and nothing else; other text is looked for in the name and city
    (folded: accents, case, hyphens, apostrophes), the email, and as a bare number the id."""
    text = q.strip()
    by_id = _BY_ID.fullmatch(text)
    if by_id:
        return Signature.id == int(by_id.group(1))
    conditions = [Signature.email_normalised.contains(name_key(text)[:100], autoescape=True)]
    key = search_fold(text)[:100]
    if key:
        conditions.append(Signature.search_key.contains(key, autoescape=True))
    if text.isascii() and text.isdigit() and len(text) < 10:
        conditions.append(Signature.id == int(text))
    return or_(*conditions)


def _ordered(flt: ConsoleFilter) -> Select:
    """The queue (verified, oldest first) or any state's list (most recently changed first)."""
    query = _console_query(flt)
    if flt.state is SignatureState.VERIFIED:
        return query.order_by(Signature.verified_at, Signature.id)
    return query.order_by(Signature.updated_at.desc(), Signature.id.desc())


def console_page(flt: ConsoleFilter) -> Pagination:
    return paginate(_ordered(flt), page=flt.page, per_page=flt.per_page)


def console_rows(flt: ConsoleFilter) -> Iterator[Signature]:
    """Every signature the filter selects, all pages, in the list's order, streamed (exports)."""
    return db.session.scalars(_ordered(flt).execution_options(yield_per=1000))


def describe_filter(flt: ConsoleFilter) -> str:
    """The filter in words for the audit log: what an export contained."""
    parts = [
        f"{name} {value}"
        for name, value in (
            ("state", flt.state.value if flt.state else ""),
            ("statement", flt.statement_id or ""),
            ("country", flt.country),
            ("type", flt.type),
            ("age", flt.age),
            ("search", repr(flt.q) if flt.q else ""),
        )
        if value
    ]
    return "the console's list: " + (", ".join(parts) if parts else "every signature")


def facet_counts(flt: ConsoleFilter) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Countries and types present under the current state/statement, with counts, for the filters."""
    base = ConsoleFilter(state=flt.state, statement_id=flt.statement_id)
    sub = _console_query(base).subquery()
    countries = [
        (code, n)
        for code, n in db.session.execute(
            select(sub.c.country, func.count()).group_by(sub.c.country).order_by(sub.c.country)
        )
    ]
    types = [
        (OrganisationType(code).value, n)
        for code, n in db.session.execute(
            select(sub.c.organisation_type, func.count()).group_by(sub.c.organisation_type)
        )
    ]
    return countries, types
