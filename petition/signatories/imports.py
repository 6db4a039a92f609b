"""Endorsements from a file (CSV or XLSX), collected on paper or at an event (issue 13.1).

One code path for the console and `flask signatories import`: read the file into rows, check
every row (line, column, what to write instead), flag the rows that look like signatures already
there with the queue's own signals, then store all rows or none as one import batch — approved
(source "import") or verified for review in the queue — with one PDF rebuild at the end. A batch
can be undone as a whole while staff have not decided on its rows since.

Countries are read as an ISO code, the English name, the country's own name or its name in any
of the site's languages ("GR", "Greece", "Ελλάδα", "Griechenland"); types as a code or a label in
any of the site's languages, plural or singular ("university", "Universities", "University").
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache

import pycountry
from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from flask_babel import force_locale, gettext
from sqlalchemy import select, update

from ..core import events, validation
from ..core.audit import Actor, record
from ..core.db import after_write, rowcount, write_transaction
from ..core.i18n import available_languages
from ..core.validation import InvalidValue, name_key
from ..extensions import db
from ..models import (
    ORGANISATION_TYPE_LABELS,
    ImportBatch,
    ImportBatchState,
    OrganisationType,
    Signature,
    SignatureSource,
    SignatureState,
    Statement,
    utcnow,
)
from ..statements.service import bump_list_version

#: The one file a console import takes, and how many rows it may hold.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
#: The columns, in the template's order; organisation_name, organisation_type and country are
#: required. Contact details are never published; the note is for staff.
COLUMNS = (
    "organisation_name",
    "organisation_type",
    "country",
    "city",
    "website",
    "comment",
    "email",
    "contact_name",
    "contact_role",
    "note",
)
REQUIRED = ("organisation_name", "organisation_type", "country")
#: Column headings people write instead of the codes above.
_HEADING_ALIASES = {
    "organisation": "organisation_name",
    "organization": "organisation_name",
    "organisation_name": "organisation_name",
    "organization_name": "organisation_name",
    "name": "organisation_name",
    "name_of_the_organisation": "organisation_name",
    "type": "organisation_type",
    "type_of_organisation": "organisation_type",
    "organization_type": "organisation_type",
    "country_code": "country",
    "town": "city",
    "city_or_town": "city",
    "web_site": "website",
    "url": "website",
    "public_comment": "comment",
    "email_address": "email",
    "e_mail": "email",
    "contact": "contact_name",
    "contact_person": "contact_name",
    "role": "contact_role",
}
#: Singular English names of each type, besides the plural labels.
_TYPE_SINGULAR = {
    OrganisationType.REGION: ("region",),
    OrganisationType.PUBLIC_AUTHORITY: ("public authority", "authority"),
    OrganisationType.CLUSTER: ("cluster", "cluster organisation", "cluster organization"),
    OrganisationType.RTO: ("rto", "research and technology organisation", "research organisation"),
    OrganisationType.UNIVERSITY: ("university", "higher education institution"),
    OrganisationType.COMPANY: ("company", "enterprise", "business"),
    OrganisationType.SME: ("sme",),
    OrganisationType.STARTUP: ("start-up", "startup", "start up"),
    OrganisationType.NETWORK: ("network", "association"),
    OrganisationType.NGO: ("ngo", "civil society organisation"),
    OrganisationType.OTHER: ("other",),
}


class FileRejected(ValueError):
    """The file cannot be read at all (format, size, encoding); the message says what to do."""


@dataclass
class RowProblem:
    line: int
    column: str
    message: str


@dataclass
class ImportRow:
    line: int
    values: dict[str, str]
    signature: Signature | None = None  # built when the row is valid
    problems: list[RowProblem] = field(default_factory=list)
    already_there: bool = False  # same organisation and country, or same email: skipped
    same_as_line: int | None = None  # ... as an earlier row of the file, not the list
    similar_lines: list[int] = field(default_factory=list)  # possible duplicates in the file
    duplicates: list = field(default_factory=list)  # the queue's possible-duplicate matches
    domain_match: bool | None = None
    free_mail: bool = False


@dataclass
class ImportCheck:
    rows: list[ImportRow]
    header_problems: list[RowProblem]

    @property
    def problems(self) -> list[RowProblem]:
        return self.header_problems + [p for row in self.rows for p in row.problems]

    @property
    def to_import(self) -> list[ImportRow]:
        return [row for row in self.rows if row.signature is not None and not row.already_there]

    @property
    def skipped(self) -> int:
        return sum(1 for row in self.rows if row.already_there)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


# ---------------------------------------------------------------- reading the file


def read_table(filename: str, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The file's heading cells and its data rows with their line numbers."""
    if not data:
        raise FileRejected("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise FileRejected("The file is larger than 5 MB: split it into smaller files.")
    shown = display_filename(filename) if filename else ""
    name = shown.lower()
    if name.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        table = _read_xlsx(data)
    elif name.endswith((".csv", ".txt")) or not name:
        table = _read_csv(data)
    else:
        raise FileRejected(f"Upload a CSV or XLSX file (the template is both), not {shown}.")
    rows = [(line, cells) for line, cells in table if any(c.strip() for c in cells)]
    if not rows:
        raise FileRejected("The file has no rows.")
    header, body = rows[0][1], rows[1:]
    if not any(column_of(cell) for cell in header):
        raise FileRejected(
            "The first row must name the columns: " + ", ".join(COLUMNS) + " (see the template)."
        )
    if not body:
        raise FileRejected("The file has a heading row but no endorsements under it.")
    if len(body) > MAX_ROWS:
        raise FileRejected(f"The file has {len(body)} rows; import at most {MAX_ROWS} at a time.")
    return header, body


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected(
            "The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”, "
            "or upload it as XLSX."
        ) from None
    first = text.split("\n", 1)[0]
    # Spreadsheets set to a European locale write semicolons.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, [cell.strip() for cell in row]) for row in reader]
    except csv.Error as exc:
        raise FileRejected(f"The CSV file cannot be read: {exc}") from None


def _read_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only imports read XLSX

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise FileRejected(
            "The XLSX file cannot be read: save it again from your spreadsheet."
        ) from None
    try:
        # read_only parses the sheet as it goes: a damaged one fails here, not in load_workbook.
        sheet = book.worksheets[0]
        rows = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if line > MAX_ROWS + 100:
                break
            rows.append((line, [_cell_text(v) for v in values]))
        return rows
    except Exception:  # noqa: BLE001 - as above: XML, zip and value errors alike
        raise FileRejected(
            "The XLSX file cannot be read: save it again from your spreadsheet."
        ) from None
    finally:
        book.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def column_of(heading: str) -> str | None:
    key = name_key(heading).replace(" ", "_").replace("-", "_").strip("_")
    if key in COLUMNS:
        return key
    return _HEADING_ALIASES.get(key)


# ---------------------------------------------------------------- countries and types


@cache
def _country_index() -> dict[str, str]:
    """Folded name or code -> ISO code: codes, English names (official, common and short), the
    country's own name in each of its official languages, its name in each site language."""
    index: dict[str, str] = {}

    def add(name: str | None, code: str) -> None:
        if name:
            index.setdefault(name_key(name), code)

    for country in pycountry.countries:
        code = country.alpha_2
        add(code, code)
        add(country.alpha_3, code)
        for attr in ("name", "common_name", "official_name"):
            add(getattr(country, attr, None), code)
        for lang in get_official_languages(code, de_facto=True):
            try:
                add(Locale.parse(f"{lang}_{code}").territories.get(code), code)
            except (ValueError, LookupError, UnknownLocaleError):
                continue
    for lang in available_languages():
        for code, name in Locale.parse(lang).territories.items():
            if len(code) == 2 and code.isalpha() and pycountry.countries.get(alpha_2=code):
                add(name, code)
    # Names people write that none of the above has: the EU's code for Greece, the older English
    # name of Türkiye (CLDR and ISO now use the new one), the United Kingdom's nations.
    for alias, code in (
        ("EL", "GR"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("Holland", "NL"),
        ("Turkey", "TR"),
        ("Česká republika", "CZ"),
        ("Slovenská republika", "SK"),
    ):
        add(alias, code)
    return index


def resolve_country(value: str) -> str:
    key = name_key(value)
    code = _country_index().get(key)
    if code is None and key.startswith("the "):  # "The Netherlands", "the Czech Republic"
        code = _country_index().get(key[4:])
    if code is None:
        raise InvalidValue(
            "Write the country as its two-letter ISO code (GR) or its name, in English, in its "
            "own language or in one of the site's languages (Greece, Ελλάδα, Griechenland)."
        )
    return code


@cache
def _type_index() -> dict[str, OrganisationType]:
    index: dict[str, OrganisationType] = {}
    for kind, label in ORGANISATION_TYPE_LABELS.items():
        index[_type_key(kind.value)] = kind
        for lang in available_languages():
            with force_locale(lang):
                index.setdefault(_type_key(gettext(label)), kind)
        for singular in _TYPE_SINGULAR.get(kind, ()):
            index.setdefault(_type_key(singular), kind)
    return index


def _type_key(text: str) -> str:
    # The catalogues write the typographic apostrophe (Dutch "Regio’s"); a keyboard the straight one.
    return name_key(text.replace("\u2019", "'"))


def resolve_type(value: str) -> OrganisationType:
    kind = _type_index().get(_type_key(value))
    if kind is None:
        raise InvalidValue(f"Write one of the types: {type_choices()}.")
    return kind


#: How many rows of one file get a "Did you mean …?" for their country.
_HINTS_PER_FILE = 50


@lru_cache(maxsize=512)
def close_country(value: str) -> str | None:
    """The country a misspelt name most likely means, as "France (FR)", or None."""
    key = name_key(value)
    if len(key) < 4 or len(key) > 60:
        return None
    found = difflib.get_close_matches(key, _country_index(), n=1, cutoff=0.75)
    if not found:
        return None
    code = _country_index()[found[0]]
    return f"{validation.country_display_name(code)} ({code})"


def type_with_hint(value: str) -> OrganisationType:
    """resolve_type, saying which type a misspelt one most likely is ("Universty")."""
    try:
        return resolve_type(value)
    except InvalidValue as exc:
        key = _type_key(value)
        found = difflib.get_close_matches(key, _type_index(), n=1, cutoff=0.8) if key else []
        if not found:
            raise
        kind = _type_index()[found[0]]
        label = ORGANISATION_TYPE_LABELS[kind]
        raise InvalidValue(f"{exc} Did you mean {kind.value} ({label})?") from None


def type_choices() -> str:
    return "; ".join(f"{t.value} ({label})" for t, label in ORGANISATION_TYPE_LABELS.items())


# ---------------------------------------------------------------- checking


def check_file(statement: Statement, filename: str, data: bytes) -> ImportCheck:
    """Every row checked, nothing stored. Raises FileRejected for a file that cannot be read."""
    header, body = read_table(filename, data)
    columns = [column_of(cell) for cell in header]
    header_problems = [
        RowProblem(1, cell, f"Unknown column; the columns are: {', '.join(COLUMNS)}.")
        for cell, column in zip(header, columns, strict=True)
        if cell and column is None
    ]
    header_problems += [
        RowProblem(1, column, "This column is missing; it is required.")
        for column in REQUIRED
        if column not in columns
    ]
    seen = {c for c in columns if c}
    header_problems += [
        RowProblem(1, column, "This column appears twice.")
        for column in seen
        if columns.count(column) > 1
    ]
    rows = []
    for line, cells in body:
        values = {
            column: (cells[i] if i < len(cells) else "")
            for i, column in enumerate(columns)
            if column
        }
        row = ImportRow(line, values)
        if len(cells) > len(header) and any(c for c in cells[len(header) :]):
            row.problems.append(RowProblem(line, "", "More cells than columns."))
        rows.append(row)
    if header_problems:
        return ImportCheck(rows, header_problems)
    now = utcnow()
    hints = [_HINTS_PER_FILE]
    for row in rows:
        _check_row(statement, row, now, hints)
    _flag(statement, rows)
    return ImportCheck(rows, [])


def _check_row(statement: Statement, row: ImportRow, now: datetime, hints: list[int]) -> None:
    def take(column: str, parse):
        try:
            return parse((row.values.get(column) or "").strip())
        except InvalidValue as exc:
            row.problems.append(RowProblem(row.line, column, str(exc)))
            return None

    name = take(
        "organisation_name",
        lambda v: validation.printed_line(v, field="organisation name", min_len=2, max_len=200),
    )

    def country_of(value: str) -> str:
        try:
            return resolve_country(value)
        except InvalidValue as exc:
            if hints[0] <= 0:
                raise
            hints[0] -= 1  # a look-up costs milliseconds: a file of nonsense gets a few
            hint = close_country(value)
            if hint is None:
                raise
            raise InvalidValue(f"{exc} Did you mean {hint}?") from None

    kind = take("organisation_type", type_with_hint)
    country = take("country", country_of)
    city = take("city", lambda v: validation.printed_line(v, field="city", max_len=100))
    website = take("website", validation.website)
    comment = take(
        "comment", lambda v: validation.clean_paragraphs(v, field="comment", max_len=1000)
    )
    email = take("email", lambda v: validation.email_address(v) if v else (None, None))
    contact_name = take("contact_name", lambda v: validation.clean_line(v, field="contact name"))
    contact_role = take("contact_role", lambda v: validation.clean_line(v, field="contact role"))
    note = take("note", lambda v: validation.clean_paragraphs(v, field="note", max_len=2000))
    if row.problems:
        return
    assert kind is not None and country is not None and email is not None
    row.signature = Signature(
        statement_id=statement.id,
        statement_version_id=statement.current_version_id,
        source=SignatureSource.IMPORT,
        organisation_name=name,
        organisation_type=kind,
        country=country,
        city=city or "",
        **validation.derived_columns(name or "", kind, country, city or ""),
        website=website or "",
        comment=comment or "",
        email=email[0],
        email_normalised=email[1],
        contact_name=contact_name or "",
        contact_role=contact_role or "",
        note=note or "",
        created_at=now,
    )


def _flag(statement: Statement, rows: list[ImportRow]) -> None:
    """Rows already there are skipped; the others get the queue's signals (possible
    duplicates, email domain against the website, free mail), also against each other."""
    # Here, not at the top: moderation's package imports signing, whose service imports the
    # statements package, which reaches this module through its embed (a cycle on the way in).
    from ..moderation.signals import organisation_key, signals_for  # noqa: PLC0415

    existing = set(
        db.session.execute(
            select(Signature.organisation_name_key, Signature.country).where(
                Signature.statement_id == statement.id
            )
        ).tuples()
    )
    emails = set(
        db.session.scalars(
            select(Signature.email_normalised).where(
                Signature.statement_id == statement.id, Signature.email_normalised.is_not(None)
            )
        )
    )
    valid = [row for row in rows if row.signature is not None]
    lines_by_key: dict[tuple[str, str], int] = {}
    lines_by_email: dict[str, int] = {}
    for row in valid:
        sig = row.signature
        assert sig is not None
        key = (sig.organisation_name_key, sig.country)
        if key in existing or (sig.email_normalised and sig.email_normalised in emails):
            row.already_there = True
            continue
        earlier = lines_by_key.get(key) or lines_by_email.get(sig.email_normalised or "")
        if earlier is not None:
            row.already_there = True
            row.same_as_line = earlier
            continue
        lines_by_key[key] = row.line
        if sig.email_normalised:
            lines_by_email[sig.email_normalised] = row.line
    fresh = [row for row in valid if not row.already_there]
    # The queue's duplicate test between the file's own rows ("Cluster Bayern e.V." in DE and
    # "Cluster Bayern" in AT), which signals_for cannot see: they are not stored yet.
    by_organisation: dict[str, list[ImportRow]] = {}
    for row in fresh:
        assert row.signature is not None
        org = organisation_key(row.signature.organisation_name)
        if org:
            by_organisation.setdefault(org, []).append(row)
    for group in by_organisation.values():
        for row in group:
            # A few are enough to look at; a file of one name repeated would list thousands.
            row.similar_lines = [other.line for other in group if other is not row][:5]
    for row in fresh:
        assert row.signature is not None
        row.signature.id = -row.line  # transient: never added to the session
    signals = signals_for([row.signature for row in fresh if row.signature is not None])
    for row in fresh:
        assert row.signature is not None
        found = signals.get(row.signature.id)
        row.signature.id = None  # type: ignore[assignment]
        if found is not None:
            row.duplicates = found.duplicates
            row.domain_match = found.domain_match
            row.free_mail = found.free_mail


# ---------------------------------------------------------------- storing


@dataclass(frozen=True)
class ImportOutcome:
    batch: ImportBatch | None
    created: int
    skipped: int


def display_filename(filename: str | None) -> str:
    """The name an uploaded file is listed and audited under: its last path part, without the
    control and formatting characters a browser or a hand-made request may send (PostgreSQL
    refuses NUL; a right-to-left override would disguise the extension), at most 255 characters."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = " ".join(name.split())
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 250 - len(ext)]}…{dot}{ext}" if dot and len(ext) <= 8 else name[:255]
    return name or "import"


@write_transaction
def store_upload(statement: Statement, filename: str, data: bytes, actor: Actor) -> ImportBatch:
    """Keep an uploaded file for its preview and the confirmation (no re-upload)."""
    batch = ImportBatch(
        statement_id=statement.id,
        filename=display_filename(filename),
        file_sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        state=ImportBatchState.PREVIEW,
        staff_id=actor.staff_id,
        actor_label=actor.label[:320],
    )
    db.session.add(batch)
    db.session.flush()
    return batch


class ImportRefused(ValueError):
    def __init__(self, check: ImportCheck | None, message: str) -> None:
        super().__init__(message)
        self.check = check


@write_transaction
def import_batch(batch_id: int, mode: SignatureState, actor: Actor) -> ImportOutcome:
    """Store every row of a previewed file, or none (the file is checked again, inside the
    transaction): approved, or verified for review in the queue; one PDF rebuild."""
    batch = db.session.get(ImportBatch, batch_id, with_for_update=True)
    if batch is None or batch.state != ImportBatchState.PREVIEW or batch.data is None:
        raise ImportRefused(None, "This file was imported or discarded already.")
    if mode not in (SignatureState.APPROVED, SignatureState.VERIFIED):
        raise ImportRefused(None, "Import as approved or as verified.")
    statement = db.session.get(Statement, batch.statement_id)
    assert statement is not None
    check = check_file(statement, batch.filename, batch.data)
    if not check.ok:
        raise ImportRefused(check, f"{len(check.problems)} problem(s): nothing was imported.")
    return store_checked(statement, check, mode, actor, batch=batch)


@write_transaction
def import_file(statement: Statement, filename: str, data: bytes, actor: Actor) -> ImportOutcome:
    """The command line's import: check, and store as approved in one batch (which the console
    lists and can undo), or raise ImportRefused with every problem."""
    check = check_file(statement, filename, data)
    if check.problems:
        raise ImportRefused(check, f"{len(check.problems)} problem(s): nothing was imported.")
    batch = store_upload(statement, filename, data, actor)
    return store_checked(statement, check, SignatureState.APPROVED, actor, batch=batch)


def store_checked(
    statement: Statement,
    check: ImportCheck,
    mode: SignatureState,
    actor: Actor,
    *,
    batch: ImportBatch | None = None,
    initiators: bool = False,
) -> ImportOutcome:
    """Store the valid rows of a check without problems (the caller's transaction)."""
    now = utcnow()
    prepared = []
    for row in check.to_import:
        sig = row.signature
        assert sig is not None
        sig.state = mode
        sig.is_initiator = initiators
        sig.created_at = now
        if mode == SignatureState.APPROVED:
            sig.approved_at = now
            sig.decided_at = now
        else:
            # The file stands for the email confirmation.
            sig.verified_at = now
        if batch is not None:
            sig.import_batch_id = batch.id
        prepared.append(sig)
    db.session.add_all(prepared)
    db.session.flush()
    detail = f"file {batch.filename}, batch {batch.id}" if batch is not None else ""
    for sig in prepared:
        record(actor, "imported", signature=sig, to_state=mode, detail=detail)
    if batch is not None:
        batch.state = ImportBatchState.IMPORTED
        batch.mode = mode.value
        batch.row_count = len(prepared)
        batch.skipped_count = check.skipped
        batch.imported_at = now
        batch.data = None  # the rows are stored; the file's name and SHA-256 stay
        record(
            actor,
            "import_batch",
            statement_id=statement.id,
            to_state=mode,
            after={
                "batch": batch.id,
                "file": batch.filename,
                "sha256": batch.file_sha256,
                "rows": len(prepared),
                "skipped": check.skipped,
            },
        )
    if prepared and mode == SignatureState.APPROVED:
        bump_list_version(statement.id)
        statement_id = statement.id
        after_write(lambda: events.signatory_list_changed(statement_id, reason="import"))
    return ImportOutcome(batch, len(prepared), check.skipped)


class UndoRefused(ValueError):
    pass


@write_transaction
def undo_batch(batch_id: int, actor: Actor) -> int:
    """Remove every signature of an import batch, as if the file had never been imported;
    refused while staff have since decided on or edited any of them. Returns how many."""
    batch = db.session.get(ImportBatch, batch_id, with_for_update=True)
    if batch is None or batch.state != ImportBatchState.IMPORTED:
        raise UndoRefused("Only an imported batch can be undone, once.")
    # Locked, so a moderator's decision made meanwhile is either seen here (and refuses the undo)
    # or waits and then finds the row gone; never a just-approved row deleted unseen.
    rows = db.session.scalars(
        select(Signature)
        .where(Signature.import_batch_id == batch.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    touched = [sig for sig in rows if sig.state.value != batch.mode or (sig.row_version or 1) > 1]
    if touched:
        names = ", ".join(f"#{s.id} {s.organisation_name}" for s in touched[:5])
        raise UndoRefused(
            f"{len(touched)} of its endorsements changed since the import ({names}"
            f"{'…' if len(touched) > 5 else ''}): decide on them one by one instead."
        )
    was_public = any(sig.state == SignatureState.APPROVED for sig in rows)
    ids = [sig.id for sig in rows]
    for sig in rows:
        record(
            actor,
            "import_undone",
            signature=sig,
            from_state=sig.state,
            detail=f"batch {batch.id}: {sig.organisation_name}",
        )
    db.session.flush()
    for sig in rows:
        db.session.delete(sig)
    batch.state = ImportBatchState.UNDONE
    batch.undone_at = utcnow()
    record(
        actor,
        "import_batch_undone",
        statement_id=batch.statement_id,
        after={"batch": batch.id, "file": batch.filename, "removed": len(ids)},
    )
    if was_public:
        bump_list_version(batch.statement_id)
        statement_id = batch.statement_id
        after_write(lambda: events.signatory_list_changed(statement_id, reason="import_undone"))
    return len(ids)


def batches(statement: Statement) -> list[ImportBatch]:
    return list(
        db.session.scalars(
            select(ImportBatch)
            .where(
                ImportBatch.statement_id == statement.id,
                ImportBatch.state != ImportBatchState.PREVIEW,
            )
            .order_by(ImportBatch.id.desc())
        )
    )


#: How long an uploaded file waits for its import.
PREVIEW_HOURS = 24


@write_transaction
def discard_stale_previews(older_than: datetime | None = None) -> int:
    """Housekeeping: uploaded files never imported are dropped after PREVIEW_HOURS."""
    older_than = older_than or utcnow() - timedelta(hours=PREVIEW_HOURS)
    return _discard(ImportBatch.created_at < older_than)


@write_transaction
def discard_preview(batch_id: int) -> None:
    _discard(ImportBatch.id == batch_id)


def _discard(*where) -> int:
    """Previews matching `where` lose their file and can no longer be imported."""
    result = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.state == ImportBatchState.PREVIEW, *where)
        .values(state=ImportBatchState.DISCARDED, data=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def template_xlsx(example: dict[str, str]) -> bytes:
    """The template as a workbook: the columns with an example row, a drop-down of the types and
    the countries in their columns, and a sheet listing the allowed values."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Endorsements"
    sheet.append(list(COLUMNS))
    sheet.append([example.get(c, "") for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 14 if column == "country" else 28
    values = book.create_sheet("Allowed values")
    values.append(["organisation_type", "label", "", "country", "name"])
    for cell in values[1]:
        cell.font = Font(bold=True)
    kinds = list(ORGANISATION_TYPE_LABELS.items())
    countries = sorted(
        ((c.alpha_2, validation.country_display_name(c.alpha_2)) for c in pycountry.countries),
        key=lambda pair: pair[1],
    )
    for i in range(max(len(kinds), len(countries))):
        kind = kinds[i] if i < len(kinds) else None
        country = countries[i] if i < len(countries) else None
        values.append(
            [
                kind[0].value if kind else "",
                kind[1] if kind else "",
                "",
                country[0] if country else "",
                country[1] if country else "",
            ]
        )
    values.column_dimensions["B"].width = 40
    values.column_dimensions["E"].width = 40
    type_col = COLUMNS.index("organisation_type") + 1
    country_col = COLUMNS.index("country") + 1
    for col, source, count in (
        (type_col, "A", len(kinds)),
        (country_col, "D", len(countries)),
    ):
        letter = get_column_letter(col)
        rule = DataValidation(
            type="list",
            formula1=f"='Allowed values'!${source}$2:${source}${count + 1}",
            allow_blank=True,
            showErrorMessage=False,  # a country's name or a label is accepted too
        )
        sheet.add_data_validation(rule)
        rule.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
