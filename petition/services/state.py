"""The one way a signature changes state: a compare-and-set that only one concurrent caller wins."""

from __future__ import annotations

from sqlalchemy import update

from ..extensions import db
from ..models import Signature, SignatureState


def compare_and_set(signature_id: int, expected: SignatureState, **values) -> bool:
    """Apply `values` if the row is still in `expected`; bump row_version. True if this call won.

    Two clicks, two moderators or two processes acting at once: the database decides, and the
    loser is told instead of overwriting a decision it never saw.
    """
    result = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.state == expected)
        .values(row_version=Signature.row_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
