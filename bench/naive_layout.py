"""The obvious implementation of the PDF build, as a baseline: ORM objects into one platypus Table.

`naive_render_to_temp` has the signature of `builds._render_to_temp`, so patching it in keeps
everything else of the real job (lock, build log, checksum, publishing) identical: only the
database read and the layout differ. `bench/naive_cli.py` does that patch for the `flask` CLI.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import select

from petition.extensions import db
from petition.models import (
    ORGANISATION_TYPE_LABELS,
    OrganisationType,
    Signature,
    SignatureState,
    Statement,
    StatementVersion,
)


def naive_render_to_temp(statement_id: int, directory: Path, owner: str = "") -> tuple[Path, dict]:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    from petition.pdf import builds
    from petition.pdf.layout import register_fonts
    from petition.pdf.layout.markdown_story import markdown_flowables
    from petition.pdf.layout.styles import BODY, TITLE

    session = db.session()
    statement = session.get(Statement, statement_id)
    current = statement.current_version
    list_version = statement.list_version
    # Every approved signature as a full ORM object, all in memory at once.
    signatures = session.scalars(
        select(Signature)
        .where(Signature.statement_id == statement_id, Signature.state == SignatureState.APPROVED)
        .order_by(
            Signature.organisation_type_order,
            Signature.country_name,
            Signature.organisation_name_key,
            Signature.id,
        )
    ).all()
    # Marks for earlier versions, looked up once (not one lazy load per row).
    shas = dict(session.execute(select(StatementVersion.id, StatementVersion.sha256)).all())

    register_fonts(reference=True)
    data: list[list[str]] = [["Organisation", "City", "Country"]]
    style: list[tuple] = [("FONT", (0, 0), (-1, -1), "DejaVuSans", 8)]
    group = None
    for sig in signatures:
        if sig.organisation_type != group:
            group = sig.organisation_type
            style.append(("FONT", (0, len(data)), (-1, len(data)), "DejaVuSans-Bold", 9))
            data.append([ORGANISATION_TYPE_LABELS[OrganisationType(group)], "", ""])
        mark = "" if shas.get(sig.statement_version_id) == current.sha256 else " †"
        data.append([sig.organisation_name + mark, sig.city, sig.country_name])
    table = Table(data, repeatRows=1, colWidths=(260, 95, 95))
    table.setStyle(TableStyle(style))
    story = [
        Paragraph(statement.title, TITLE),
        *markdown_flowables(current.body),
        Paragraph(f"{len(signatures)} organisations have signed this statement.", BODY),
        table,
    ]
    pages: list[int] = []
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".build-{statement_id}-{owner}-", suffix=".pdf", dir=directory
    )
    os.close(fd)
    os.chmod(tmp_name, 0o644)
    template = SimpleDocTemplate(tmp_name, pagesize=A4, title=statement.title)
    template.build(story, onLaterPages=lambda canvas, _doc: pages.append(canvas.getPageNumber()))
    session.rollback()
    meta = {
        "list_version": list_version,
        "statement_version_id": current.id,
        "statement_sha256": current.sha256,
        "signatories": len(signatures),
        "pages": len(pages) + 1,
        "slug": statement.slug,
        "signature_ids": builds.pack_ids(sig.id for sig in signatures),
    }
    return Path(tmp_name), meta


def install() -> None:
    """Make `builds.build_statement_pdf` use the naive layout in this process."""
    from petition.pdf import builds

    builds._render_to_temp = naive_render_to_temp
