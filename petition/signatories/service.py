"""The public list: queries, open data (JSON/CSV), and the staff import and export of signatories."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, false, func, select, true

from ..core import validation
from ..core.audit import Actor
from ..core.caching import etag_for
from ..core.db import paginate, write_transaction
from ..extensions import db
from ..models import (
    OPEN_DATA_LICENCES,
    ORGANISATION_TYPE_LABELS,
    OrganisationType,
    Signature,
    SignatureState,
    Statement,
)

OPEN_DATA_FIELDS = (
    "organisation_name",
    "organisation_type",
    "organisation_type_label",
    "country",
    "country_name",
    "city",
    "website",
    "comment",
    "approved_at",
)
STAFF_FIELDS = (
    "id",
    "state",
    "source",
    "statement_version_sha256",
    *OPEN_DATA_FIELDS[:-1],
    "contact_name",
    "contact_role",
    "email",
    "note",
    "rejection_reason",
    "created_at",
    "verified_at",
    "approved_at",
    "withdrawn_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Spreadsheets run cells that start like a formula; a leading apostrophe makes them text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


#: The public order of signatories (the list, the open data, the PDF): type, country, name.
PUBLIC_ORDER = (
    Signature.organisation_type_order,
    Signature.country_name,
    Signature.organisation_name_key,
    Signature.id,
)


def public_query(statement: Statement) -> Select:
    """Approved signatories in the public order: type order, country name, organisation name."""
    return (
        select(Signature)
        .where(Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
        .order_by(*PUBLIC_ORDER)
    )


def public_count(statement: Statement) -> int:
    if not statement.is_list_public():
        return 0
    return db.session.execute(
        select(func.count(Signature.id)).where(
            Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED
        )
    ).scalar_one()


def latest_public(
    statement: Statement, limit: int = 8, *, with_initiators: bool = False
) -> list[Signature]:
    """The newest approved signatories; without the initiators, who have their own box on the
    statement page (the feed of new signatories has everyone)."""
    if not statement.is_list_public():
        return []
    initiators_too = true() if with_initiators else Signature.is_initiator.is_(False)
    return list(
        db.session.scalars(
            select(Signature)
            .where(
                Signature.statement_id == statement.id,
                Signature.state == SignatureState.APPROVED,
                initiators_too,
            )
            .order_by(Signature.approved_at.desc(), Signature.id.desc())
            .limit(limit)
        )
    )


def initiators(statement: Statement) -> list[Signature]:
    return list(
        db.session.scalars(
            select(Signature)
            .where(
                Signature.statement_id == statement.id,
                Signature.is_initiator.is_(True),
                Signature.state == SignatureState.APPROVED,
            )
            .order_by(Signature.id)
        )
    )


@dataclass
class ListFilter:
    q: str = ""
    country: str = ""
    type: str = ""
    sort: str = "type"  # type | country | name | recent
    page: int = 1
    per_page: int = 50


@dataclass
class ListPage:
    """One page of the public list (a Flask-SQLAlchemy Pagination) with the filters' facets."""

    pagination: Pagination | None
    countries: list[tuple[str, str, int]] = field(default_factory=list)
    types: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def items(self) -> list[Signature]:
        return list(self.pagination.items) if self.pagination else []

    @property
    def total(self) -> int:
        return (self.pagination.total or 0) if self.pagination else 0

    @property
    def page(self) -> int:
        return self.pagination.page if self.pagination else 1

    @property
    def pages(self) -> int:
        return self.pagination.pages if self.pagination else 0


def matching(query: str):
    """The condition "name or city contains the query", both folded (accents, case, hyphens,
    apostrophes): "saint ouen" finds Saint-Ouen, "ile de france" Île-de-France."""
    key = validation.search_fold(query)[:100]
    # A query of nothing but punctuation ("%", "-") names nothing.
    return Signature.search_key.contains(key, autoescape=True) if key else false()


def filtered(query: Select, flt: ListFilter) -> Select:
    """The public list's filters (search, country, type), shared by the page and the open data."""
    if flt.q:
        query = query.where(matching(flt.q))
    if flt.country:
        query = query.where(Signature.country == flt.country)
    if flt.type:
        query = query.where(Signature.organisation_type == flt.type)
    return query


def search(statement: Statement, flt: ListFilter) -> ListPage:
    """One page of the public list with facets; empty while the list is under embargo."""
    if not statement.is_list_public():
        return ListPage(None)
    base = filtered(public_query(statement), flt)
    if flt.sort == "country":
        base = base.order_by(None).order_by(
            Signature.country_name, Signature.organisation_name_key, Signature.id
        )
    elif flt.sort == "name":
        base = base.order_by(None).order_by(Signature.organisation_name_key, Signature.id)
    elif flt.sort == "recent":
        base = base.order_by(None).order_by(Signature.approved_at.desc(), Signature.id.desc())
    pagination = paginate(base, page=flt.page, per_page=flt.per_page)
    approved = (Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
    countries = [
        (code, name, n)
        for code, name, n in db.session.execute(
            select(Signature.country, Signature.country_name, func.count())
            .where(*approved)
            .group_by(Signature.country, Signature.country_name)
            .order_by(Signature.country_name)
        )
    ]
    type_counts = dict(
        db.session.execute(
            select(Signature.organisation_type, func.count())
            .where(*approved)
            .group_by(Signature.organisation_type)
        )
        .tuples()
        .all()
    )
    types = [
        (t.value, ORGANISATION_TYPE_LABELS[t], type_counts.get(t, 0))
        for t in OrganisationType
        if type_counts.get(t)
    ]
    return ListPage(pagination, countries, types)


def open_data_row(signature: Signature) -> dict:
    return {
        "organisation_name": signature.organisation_name,
        "organisation_type": OrganisationType(signature.organisation_type).value,
        "organisation_type_label": signature.organisation_type_label,
        "country": signature.country,
        "country_name": signature.country_name,
        "city": signature.city,
        "website": signature.website,
        "comment": signature.comment,
        "approved_at": signature.approved_at.isoformat() if signature.approved_at else None,
    }


def iter_public(statement: Statement, flt: ListFilter | None = None) -> Iterator[Signature]:
    """Approved signatories in the public order; only those `flt` keeps when one is given."""
    if not statement.is_list_public():
        return iter(())
    query = public_query(statement)
    if flt is not None:
        query = filtered(query, flt)
    return db.session.scalars(query.execution_options(yield_per=1000))


def open_data_etag(statement: Statement, flt: ListFilter | None = None) -> str:
    """Changes exactly when the open data can: the list (its version, the embargo), the
    statement's current version, slug or title, the filter. Not with a PDF build."""
    return etag_for(
        "open-data",
        statement.id,
        statement.slug,
        statement.title,
        statement.list_version,
        statement.current_version_id,
        statement.is_list_public(),
        statement.data_licence,
        *((flt.q, flt.country, flt.type) if flt is not None else ()),
    )


def open_data(statement: Statement, flt: ListFilter | None = None) -> dict:
    rows = [open_data_row(s) for s in iter_public(statement, flt)]
    updated = max((r["approved_at"] for r in rows if r["approved_at"]), default=None)
    return {
        "statement": {
            "slug": statement.slug,
            "title": statement.title,
            "version_sha256": statement.current_version.sha256
            if statement.current_version
            else None,
        },
        "count": len(rows),
        "updated_at": updated,
        "signatories": rows,
    }


def open_data_licence(statement: Statement) -> dict[str, str]:
    """The licence staff chose for the open data: SPDX identifier, name and URL."""
    code = statement.data_licence if statement.data_licence in OPEN_DATA_LICENCES else "CC0-1.0"
    name, url = OPEN_DATA_LICENCES[code]
    return {"id": code, "name": name, "url": url}


def write_csv(rows: Iterable[dict], fields: Iterable[str]) -> Iterator[str]:
    """CSV lines, header first, every cell guarded against formula injection."""
    fields = list(fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(row.get(f)) for f in fields])
        yield buffer.getvalue()


def open_data_csv(statement: Statement, flt: ListFilter | None = None) -> Iterator[str]:
    return write_csv((open_data_row(s) for s in iter_public(statement, flt)), OPEN_DATA_FIELDS)


def staff_row(signature: Signature) -> dict:
    def stamp(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    row = open_data_row(signature)
    row.update(
        id=signature.id,
        state=signature.state.value if hasattr(signature.state, "value") else signature.state,
        source=getattr(signature.source, "value", signature.source),
        statement_version_sha256=signature.statement_version.sha256,
        contact_name=signature.contact_name,
        contact_role=signature.contact_role,
        email=signature.email or "",
        note=signature.note,
        rejection_reason=signature.rejection_reason,
        created_at=stamp(signature.created_at),
        verified_at=stamp(signature.verified_at),
        approved_at=stamp(signature.approved_at),
        withdrawn_at=stamp(signature.withdrawn_at),
    )
    return row


def every_signature(statement: Statement) -> Iterator[Signature]:
    """Every signature of the statement, whatever its state, in id order, streamed (staff exports)."""
    return db.session.scalars(
        select(Signature)
        .where(Signature.statement_id == statement.id)
        .order_by(Signature.id)
        .execution_options(yield_per=1000)
    )


def staff_csv(statement: Statement) -> Iterator[str]:
    return write_csv((staff_row(s) for s in every_signature(statement)), STAFF_FIELDS)


class ImportRejected(ValueError):
    """The whole file was refused; `errors` lists (line number, message)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int  # already on the list (same organisation name key and country)


@write_transaction
def import_signatories(
    statement: Statement,
    text: str,
    actor: Actor | None = None,
    *,
    initiators: bool = False,
) -> ImportResult:
    """Import approved signatories from CSV text: every row valid, or nothing written.

    Rows already present (same organisation and country, or same email) are skipped, so
    running an import twice changes nothing. The rules are the console's (signatories/imports).
    """
    from . import imports  # noqa: PLC0415 - imports builds on this module

    actor = actor or Actor.cli()
    try:
        check = imports.check_file(statement, "import.csv", text.encode("utf-8"))
    except imports.FileRejected as exc:
        raise ImportRejected([(1, str(exc))]) from None
    if check.problems:
        raise ImportRejected(
            [
                (p.line, f"{p.column}: {p.message}" if p.column else p.message)
                for p in check.problems
            ]
        )
    outcome = imports.store_checked(
        statement, check, SignatureState.APPROVED, actor, initiators=initiators
    )
    return ImportResult(created=outcome.created, skipped=outcome.skipped)
