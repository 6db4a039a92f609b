"""Staff exports with contact details: CSV and XLSX, both guarded against formula injection."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..core.audit import Actor, record
from ..core.db import write_transaction
from ..models import Statement
from ..signatories.service import STAFF_FIELDS, csv_safe, every_signature, staff_row


def xlsx_safe(value) -> str | int:
    """Like csv_safe, and without the control characters that make an XLSX file unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", csv_safe(value))


def staff_xlsx(statement: Statement) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="signatures")
    sheet.append(list(STAFF_FIELDS))
    for signature in every_signature(statement):
        row = staff_row(signature)
        cells = []
        for field in STAFF_FIELDS:
            cell = WriteOnlyCell(sheet, value=xlsx_safe(row.get(field)))
            if isinstance(cell.value, str):
                # Belt and braces: openpyxl makes any string starting with "=" a formula.
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@write_transaction
def record_export(statement: Statement, fmt: str, actor: Actor) -> None:
    """Who took personal data out of the system, and when."""
    record(actor, "exported", statement_id=statement.id, detail=f"all fields as {fmt}")
