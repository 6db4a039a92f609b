"""The statement PDF: pure layout (ReportLab), no Flask and no database."""

from .fonts import register_fonts
from .render import (
    EARLIER_VERSION_NOTE,
    ORGANISATION_TYPES,
    SHORT_HASH_LENGTH,
    VERSION_MARKS,
    RenderResult,
    SignatoryListError,
    SignatoryRow,
    StatementDoc,
    render_statement_pdf,
)

__all__ = [
    "EARLIER_VERSION_NOTE",
    "ORGANISATION_TYPES",
    "SHORT_HASH_LENGTH",
    "VERSION_MARKS",
    "RenderResult",
    "SignatoryListError",
    "SignatoryRow",
    "StatementDoc",
    "register_fonts",
    "render_statement_pdf",
]
