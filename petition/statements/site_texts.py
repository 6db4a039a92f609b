"""Staff-editable texts of the public site (the privacy notice), kept as Markdown and audited."""

from __future__ import annotations

import re
from datetime import date

from ..core import identity
from ..core.audit import Actor, record
from ..core.db import write_transaction
from ..core.validation import InvalidValue
from ..extensions import db
from ..models import SiteText

EDITABLE = {"privacy": "Privacy notice"}
MAX_LENGTH = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


#: When the wording of the built-in privacy notice last changed (its configured parts aside).
BUILT_IN_PRIVACY_REVISED = date(2026, 12, 4)


def data_controller() -> str:
    """Who the built-in privacy notice names as data controller (the campaign's identity page)."""
    return identity.current().controller


def privacy_changed_on(custom: SiteText | None) -> date:
    """The date the notice shows: the staff's own text's, else the later of the built-in
    wording's revision and the last change of the identity it is built from. The retention
    periods are read from the configuration on every request and do not move it: the notice
    says they are always the ones in force."""
    if custom is not None:
        return custom.updated_at.date()
    updated = identity.current().updated_at
    return max(BUILT_IN_PRIVACY_REVISED, updated.date()) if updated else BUILT_IN_PRIVACY_REVISED


def get_text(key: str) -> str | None:
    row = db.session.get(SiteText, key)
    return row.body if row is not None else None


@write_transaction
def set_text(key: str, body: str, actor: Actor) -> bool:
    """Save a text; an empty one returns the page to its built-in default. True if it changed."""
    if key not in EDITABLE:
        raise InvalidValue(f"There is no editable text called {key!r}.")
    body = body.replace("\r\n", "\n").strip()
    if _CONTROL.search(body):
        # NUL would be refused by PostgreSQL (a 500); the others are invisible junk in a page.
        raise InvalidValue("The text must not contain control characters.")
    if len(body) > MAX_LENGTH:
        raise InvalidValue(f"The text must be at most {MAX_LENGTH:,} characters.")
    row = db.session.get(SiteText, key)
    before = row.body if row is not None else None
    if (body or None) == before:
        return False
    if body:
        if row is None:
            db.session.add(SiteText(key=key, body=body))
        else:
            row.body = body
    elif row is not None:
        db.session.delete(row)
    record(
        actor,
        "site_text_changed",
        before={"key": key, "body": before},
        after={"key": key, "body": body or None},
    )
    return True
