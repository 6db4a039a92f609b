"""Staff exports with contact details: CSV and XLSX, both guarded against formula injection.

Three sets per statement — every signature with all fields, the approved ones with all fields, and
the signatory list for the delivery (organisation, type, country, city, in the PDF's order) — and
the console's current filter of the signatures list or queue. The XLSX files are made for work in
a spreadsheet: a frozen header row, an autofilter, column widths that fit the content, dates as
dates (UTC). Each export is audited.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Response
from sqlalchemy import select

from ..core.audit import Actor, record
from ..core.db import write_transaction
from ..extensions import db
from ..models import Signature, SignatureState, Statement
from ..signatories.service import (
    PUBLIC_ORDER,
    STAFF_FIELDS,
    csv_safe,
    every_signature,
    staff_row,
    write_csv,
)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Columns holding a timestamp (ISO 8601 in the CSV, a date-time cell in the XLSX).
DATE_FIELDS = frozenset({"created_at", "verified_at", "approved_at", "withdrawn_at"})
DELIVERY_FIELDS = ("organisation_name", "organisation_type_label", "country_name", "city")
#: Column widths in characters: wide enough for most values, never a screen wide.
_WIDTHS = {
    "id": 8,
    "state": 12,
    "source": 10,
    "statement_version_sha256": 14,
    "organisation_name": 44,
    "organisation_type": 14,
    "organisation_type_label": 30,
    "country": 8,
    "country_name": 20,
    "city": 20,
    "website": 32,
    "comment": 40,
    "contact_name": 24,
    "contact_role": 22,
    "email": 32,
    "note": 30,
    "rejection_reason": 30,
}
_DATE_WIDTH = 18


@dataclass(frozen=True)
class ExportSet:
    title: str  # in the console and the audit log
    fields: tuple[str, ...]
    rows: Callable[[Statement], Iterable[dict]]


def _approved(statement: Statement) -> Iterator[Signature]:
    return db.session.scalars(
        select(Signature)
        .where(Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
        .order_by(Signature.id)
        .execution_options(yield_per=1000)
    )


def _delivery(statement: Statement) -> Iterator[dict]:
    """Approved signatories in the PDF's order, embargo or not (the file is for the delivery)."""
    signatures = db.session.scalars(
        select(Signature)
        .where(Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
        .order_by(*PUBLIC_ORDER)
        .execution_options(yield_per=1000)
    )
    for signature in signatures:
        yield {
            "organisation_name": signature.organisation_name,
            "organisation_type_label": signature.organisation_type_label,
            "country_name": signature.country_name,
            "city": signature.city,
        }


EXPORT_SETS: dict[str, ExportSet] = {
    "all": ExportSet(
        "all fields", STAFF_FIELDS, lambda st: (staff_row(s) for s in every_signature(st))
    ),
    "approved": ExportSet(
        "approved, all fields", STAFF_FIELDS, lambda st: (staff_row(s) for s in _approved(st))
    ),
    "delivery": ExportSet("signatory list for the delivery", DELIVERY_FIELDS, _delivery),
}


# openpyxl's ILLEGAL_CHARACTERS_RE: the control characters XML 1.0 cannot hold. openpyxl itself is
# imported where a workbook is written (it costs every process 0.4 s to import at start).
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def xlsx_safe(value) -> str | int:
    """Like csv_safe, and without the control characters that make an XLSX file unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _ILLEGAL_CHARACTERS.sub("", csv_safe(value))


def _date_cell_value(value) -> datetime | str:
    """A spreadsheet date-time (UTC, which Excel cannot store: naive, and the header says so)."""
    if not value:
        return ""
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp.replace(microsecond=0)


def to_xlsx(rows: Iterable[dict], fields: Iterable[str], sheet_title: str) -> bytes:
    """An XLSX file, streamed row by row (write-only: a 100k-row export stays small in memory)."""
    from openpyxl import Workbook  # noqa: PLC0415 - see _ILLEGAL_CHARACTERS
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    fields = list(fields)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    for index, name in enumerate(fields, start=1):
        width = _DATE_WIDTH if name in DATE_FIELDS else _WIDTHS.get(name, 16)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in fields:
        cell = WriteOnlyCell(sheet, value=f"{name} (UTC)" if name in DATE_FIELDS else name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        cells = []
        for name in fields:
            if name in DATE_FIELDS:
                cell = WriteOnlyCell(sheet, value=_date_cell_value(row.get(name)))
                if isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
            else:
                cell = WriteOnlyCell(sheet, value=xlsx_safe(row.get(name)))
                if isinstance(cell.value, str):
                    # Belt and braces: openpyxl makes any string starting with "=" a formula.
                    cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(fields))}{count + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(rows: Iterable[dict], fields: Iterable[str]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel reads Łódź as Łódź."""
    return ("\ufeff" + "".join(write_csv(rows, fields))).encode("utf-8")


def render(rows: Iterable[dict], fields: Iterable[str], fmt: str, sheet_title: str) -> bytes:
    return to_xlsx(rows, fields, sheet_title) if fmt == "xlsx" else to_csv(rows, fields)


def response(body: bytes, fmt: str, filename: str) -> Response:
    """The file as a download that no browser or proxy cache keeps (contact details)."""
    sent = Response(body, mimetype=XLSX_MIMETYPE if fmt == "xlsx" else "text/csv")
    if fmt == "csv":
        sent.headers["Content-Type"] = "text/csv; charset=utf-8"
    sent.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    sent.headers["Cache-Control"] = "no-store"
    return sent


def staff_xlsx(statement: Statement) -> bytes:
    """Every signature, all fields (kept for callers of the first export)."""
    export = EXPORT_SETS["all"]
    return to_xlsx(export.rows(statement), export.fields, "signatures")


@write_transaction
def record_export(statement: Statement | None, what: str, fmt: str, actor: Actor) -> None:
    """Who took personal data out of the system, and when."""
    record(
        actor,
        "exported",
        statement_id=statement.id if statement is not None else None,
        detail=f"{what} as {fmt}",
    )
