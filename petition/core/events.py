"""Internal events; listeners (the PDF rebuild) subscribe without the emitters knowing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent after a commit that changed what a statement's public list or PDF shows:
#: approval, unpublishing, edit, withdrawal, import, a new statement version, the end of an embargo.
list_changed = _signals.signal("signatory-list-changed")


def signatory_list_changed(statement_id: int, reason: str) -> None:
    list_changed.send(statement_id, reason=reason)
