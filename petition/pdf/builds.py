"""Building and publishing the statement PDF: debounced, one build per statement at a time, versioned.

Each version's bytes live in the database (`pdf_files`), the source of truth shared by every host;
`PDF_DIR` is only this host's cache of them, by SHA-256. The build lock is a lease renewed while
the build runs, so a build whose process died is taken over by the periodic sweep.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
import zlib
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import overload

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import case, delete, func, or_, select, update

from ..core import events, jobs
from ..core.audit import Actor, record
from ..core.db import after_write, rowcount, write_transaction
from ..core.i18n import SOURCE_LANGUAGE, available_languages, country_name
from ..core.validation import printed_line
from ..extensions import db
from ..models import (
    OrganisationType,
    PdfBuildLog,
    PdfFile,
    PdfFileState,
    PdfVersion,
    Signature,
    SignatureState,
    Statement,
    StatementVersion,
    split_initiators,
    utcnow,
)
from ..signatories.service import PUBLIC_ORDER
from .layout.letterhead import Logo, LogoError, load_logo

log = logging.getLogger(__name__)

# A lock taken before leases existed (no lease_until) is expired after this long.
STALE_LOCK = timedelta(minutes=10)
# Trailing debounce, but never postpone a rebuild for longer than this many debounce periods.
MAX_POSTPONE_FACTOR = 10
# Temporary files of a build: .build-<statement id>-<lease owner>-<random>.pdf
TEMP_PREFIX = ".build-"


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildOutcome:
    built: bool
    reason: str
    version: PdfVersion | None = None


def _lease() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("PDF_BUILD_LEASE_SECONDS", 60)))


def keep_days() -> int:
    """Bytes of every version younger than this are kept (see prune_versions)."""
    return int(current_app.config.get("PDF_KEEP_DAYS", 30))


def _retry_after_failure() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("PDF_BUILD_RETRY_SECONDS", 300)))


def _rows(query) -> list:
    """A read on a connection of its own, returned at once: no snapshot is left open."""
    with db.engine.connect() as conn:
        return list(conn.execute(query))


# ------------------------------------------------------------------ queries


def _public():
    """Versions the public may download: not withdrawn because a signatory left."""
    return PdfVersion.withdrawn_at.is_(None)


def latest_version(statement: Statement) -> PdfVersion | None:
    """The newest build, whether or not it may still be served; None until the first one exists."""
    return db.session.scalar(
        select(PdfVersion)
        .where(PdfVersion.statement_id == statement.id)
        .order_by(PdfVersion.number.desc())
        .limit(1)
    )


def served_version(statement: Statement) -> PdfVersion | None:
    """The newest build that statement.pdf may serve."""
    return db.session.scalar(
        select(PdfVersion)
        .where(
            PdfVersion.statement_id == statement.id,
            _public(),
            PdfVersion.file_state == PdfFileState.STORED,
        )
        .order_by(PdfVersion.number.desc())
        .limit(1)
    )


def latest_version_by_slug(slug: str) -> tuple[Statement, PdfVersion] | None:
    """The statement and its newest servable build in one query (serving the PDF)."""
    from ..statements.service import is_slug

    if not is_slug(slug):
        return None
    row = db.session.execute(
        select(Statement, PdfVersion)
        .join(PdfVersion, PdfVersion.statement_id == Statement.id)
        .where(
            Statement.slug == slug,
            _public(),
            PdfVersion.file_state == PdfFileState.STORED,
        )
        .order_by(PdfVersion.number.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def versions_state(statement_id: int) -> tuple:
    """Changes whenever the statement's versions change as the public sees them: a new build,
    a version withdrawn from publication, a file pruned or found missing, a delivery recorded
    or corrected. Part of the ETag of
    the statement page (its PDF box) and of /versions."""
    stored = func.sum(case((PdfVersion.file_state == PdfFileState.STORED, 1), else_=0))
    row = db.session.execute(
        select(
            func.count(PdfVersion.id),
            func.max(PdfVersion.id),
            func.count(PdfVersion.withdrawn_at),
            func.count(PdfVersion.pruned_at),
            stored,
            func.max(PdfVersion.delivery_recorded_at),
        ).where(PdfVersion.statement_id == statement_id)
    ).one()
    return tuple(row)


def versions(statement: Statement) -> list[PdfVersion]:
    return list(
        db.session.scalars(
            select(PdfVersion)
            .where(PdfVersion.statement_id == statement.id)
            .order_by(PdfVersion.number.desc())
        )
    )


def version_by_number(statement: Statement, number: int) -> PdfVersion | None:
    return db.session.scalar(
        select(PdfVersion).where(
            PdfVersion.statement_id == statement.id, PdfVersion.number == number
        )
    )


def build_logs(statement_id: int | None = None, limit: int = 100) -> list[PdfBuildLog]:
    query = select(PdfBuildLog).order_by(PdfBuildLog.id.desc()).limit(limit)
    if statement_id is not None:
        query = query.where(PdfBuildLog.statement_id == statement_id)
    return list(db.session.scalars(query))


def download_name(statement: Statement, version: PdfVersion) -> str:
    return f"Joint-Statement-{statement.slug}-{version.created_at:%Y-%m-%d}.pdf"


# ------------------------------------------------------------------ this host's cache


def pdf_dir() -> Path:
    path = Path(current_app.config["PDF_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(sha256: str) -> Path:
    return Path(current_app.config["PDF_DIR"]) / f"{sha256}.pdf"


def file_path(version: PdfVersion) -> Path:
    """Where this host keeps (or will keep) the version's bytes."""
    return cache_path(version.file_sha256)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees no file or the whole file."""
    fd, tmp_name = tempfile.mkstemp(prefix=".cache-", suffix=".pdf", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def stored_bytes(version: PdfVersion) -> bytes | None:
    """The version's bytes from the database, checked against its SHA-256."""
    data = db.session.scalar(select(PdfFile.data).where(PdfFile.pdf_version_id == version.id))
    if data is None:
        return None
    data = bytes(data)
    if hashlib.sha256(data).hexdigest() != version.file_sha256:
        log.error("PDF version %s: stored bytes do not match their SHA-256", version.id)
        return None
    return data


def cached_file(version: PdfVersion) -> Path | bytes | None:
    """This host's cached file of the version, filled from the database on first request.

    Returns the path, or the bytes themselves when the cache cannot be written (a full disk),
    or None when the database holds no bytes for it (pruned, missing).
    """
    if version.file_state != PdfFileState.STORED:
        return None
    path = cache_path(version.file_sha256)
    if path.is_file():
        return path
    data = stored_bytes(version)
    if data is None:
        return None
    try:
        pdf_dir()
        _write_atomically(path, data)
    except OSError as exc:
        log.warning("PDF cache %s not written (%s); serving from the database", path, exc)
        return data
    return path


# ------------------------------------------------------------------ scheduling


def _on_list_changed(statement_id: int, reason: str = "") -> None:
    # First out of public view (an organisation may have left the list), then the rebuild.
    withdraw_departed_versions(statement_id)
    request_rebuild(statement_id, reason)


# Blinker keeps one receiver per function, so repeated app creation (tests) never duplicates it.
events.list_changed.connect(_on_list_changed, weak=False)


def request_rebuild(
    statement_id: int, reason: str = "", delay: float | None = None, *, force: bool = False
) -> None:
    """Schedule a debounced rebuild; several requests in one process share one pending job.

    `force` (a staff request) builds even when the list has not changed since the last build.
    """
    delay = current_app.config["PDF_DEBOUNCE_SECONDS"] if delay is None else delay
    key = f"pdf:{statement_id}:{'force' if force else 'due'}"
    jobs.enqueue(build_when_due, statement_id, reason, force, delay=delay, key=key)


def build_when_due(statement_id: int, reason: str = "", force: bool = False) -> None:
    """The background job: build once the list has been quiet for the debounce period."""
    if force:
        build_statement_pdf(statement_id, trigger=reason or "forced")
        return
    found = _rows(
        select(
            Statement.list_version, Statement.pdf_built_list_version, Statement.list_changed_at
        ).where(Statement.id == statement_id)
    )
    if not found:
        return
    list_version, built_list_version, list_changed_at = found[0]
    debounce = current_app.config["PDF_DEBOUNCE_SECONDS"]
    has_pdf = built_list_version >= 0
    if has_pdf and list_version == built_list_version:
        return
    now = utcnow()
    list_changed_at = _aware(list_changed_at)
    quiet_for = (now - list_changed_at).total_seconds() if list_changed_at else 1e9
    waited = _seconds_since_last_build(statement_id)
    inline = isinstance(jobs.runner(), jobs.SyncRunner)  # no delays there: build now
    if not inline and has_pdf and quiet_for < debounce and waited < debounce * MAX_POSTPONE_FACTOR:
        request_rebuild(statement_id, reason, delay=max(debounce - quiet_for, 0.05))
        return
    build_statement_pdf(statement_id, trigger=reason or "list changed")


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: datetime | None) -> datetime | None: ...
def _aware(value: datetime | None) -> datetime | None:
    """A datetime read on a plain connection (SQLite drops the zone) as UTC."""
    from datetime import UTC

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _seconds_since_last_build(statement_id: int) -> float:
    found = _rows(
        select(func.max(PdfVersion.created_at)).where(PdfVersion.statement_id == statement_id)
    )
    last = _aware(found[0][0]) if found else None
    return (utcnow() - last).total_seconds() if last else 1e9


# ------------------------------------------------------------------ the build lock (a lease)


def _lock_free(now: datetime):
    return or_(
        Statement.pdf_building_since.is_(None),
        Statement.pdf_build_lease_until < now,
        Statement.pdf_build_lease_until.is_(None)
        & (Statement.pdf_building_since < now - STALE_LOCK),
    )


@write_transaction
def _acquire_lock(statement_id: int, owner: str) -> bool:
    """Take the statement's build lock, or an expired one whose holder died."""
    now = utcnow()
    result = db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id, _lock_free(now))
        .values(pdf_building_since=now, pdf_build_lease_until=now + _lease(), pdf_build_owner=owner)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    # Whatever build log rows are still open belong to builds that died: we hold the lock now.
    _fail_open_logs(statement_id, now)
    return True


def _fail_open_logs(statement_id: int, now: datetime) -> int:
    result = db.session.execute(
        update(PdfBuildLog)
        .where(PdfBuildLog.statement_id == statement_id, PdfBuildLog.finished_at.is_(None))
        .values(
            finished_at=now,
            ok=False,
            message="The build stopped without finishing (its process died or lost the lock); "
            "it was taken over.",
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


@write_transaction
def _renew_lease(statement_id: int, owner: str) -> bool:
    result = db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id, Statement.pdf_build_owner == owner)
        .values(pdf_build_lease_until=utcnow() + _lease())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


@write_transaction
def _release_lock(statement_id: int, owner: str) -> None:
    db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id, Statement.pdf_build_owner == owner)
        .values(pdf_building_since=None, pdf_build_lease_until=None, pdf_build_owner=None)
        .execution_options(synchronize_session=False)
    )


class _Heartbeat:
    """Renews the build's lease from a thread (with its own session) while the build runs."""

    def __init__(self, statement_id: int, owner: str) -> None:
        self._app = current_app._get_current_object()  # type: ignore[attr-defined]
        self._statement_id = statement_id
        self._owner = owner
        self._stop = threading.Event()
        self.lost = False
        self._interval = max(_lease().total_seconds() / 4, 0.05)
        self._thread = threading.Thread(target=self._run, name="pdf-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with self._app.app_context():
            try:
                while not self._stop.wait(self._interval):
                    try:
                        if not _renew_lease(self._statement_id, self._owner):
                            self.lost = True
                            return
                    except Exception:  # noqa: BLE001 - a blip; the next beat tries again
                        log.warning("PDF build lease not renewed", exc_info=True)
            finally:
                db.session.remove()


def _clean_temp_files(directory: Path) -> int:
    """Remove this host's temporary build files whose build no longer holds a lock."""
    try:
        candidates = [p for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except FileNotFoundError:
        return 0
    if not candidates:
        return 0
    live = {
        owner
        for (owner,) in _rows(
            select(Statement.pdf_build_owner).where(Statement.pdf_build_owner.is_not(None))
        )
    }
    removed = 0
    for path in candidates:
        parts = path.name.split("-")
        owner = parts[2] if len(parts) > 3 else ""
        if owner not in live:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# ------------------------------------------------------------------ the build


def build_statement_pdf(statement_id: int, trigger: str = "manual") -> BuildOutcome:
    """Build now, unless another live build holds the statement's lock.

    The list version read with the rows decides, when the build ends, whether changes arrived
    meanwhile: if so exactly one more build is scheduled. A failure leaves the previous
    version published and is recorded in the build log.
    """
    owner = secrets.token_hex(8)
    if not _acquire_lock(statement_id, owner):
        return BuildOutcome(False, "another build of this statement is running")
    started = time.perf_counter()
    log_id = _open_log(statement_id, trigger)
    try:
        with _Heartbeat(statement_id, owner) as heartbeat:
            version, built_list_version = _build_and_publish(
                statement_id, log_id, started, owner, heartbeat
            )
    except Exception as exc:  # noqa: BLE001 - recorded, and the previous version stays served
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            log.error(
                "PDF build of statement %s failed: no space left on device; the periodic "
                "sweep retries it",
                statement_id,
            )
        log.exception("PDF build of statement %s failed", statement_id)
        _close_log(log_id, ok=False, message=f"{type(exc).__name__}: {exc}")
        return BuildOutcome(False, f"build failed: {exc}")
    finally:
        _release_lock(statement_id, owner)
    current = _rows(select(Statement.list_version).where(Statement.id == statement_id))
    if current and current[0][0] != built_list_version:
        # Changes arrived during the build; their own jobs found the lock taken.
        request_rebuild(statement_id, "changed during build")
    return BuildOutcome(True, "built", version)


@write_transaction
def _open_log(statement_id: int, trigger: str) -> int:
    entry = PdfBuildLog(statement_id=statement_id, trigger=trigger[:100], started_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    return entry.id


@write_transaction
def _close_log(log_id: int, *, ok: bool, message: str, pdf_version_id: int | None = None) -> None:
    entry = db.session.get(PdfBuildLog, log_id)
    if entry is None:
        return
    entry.finished_at = utcnow()
    entry.ok = ok
    entry.message = message[:5000]
    entry.pdf_version_id = pdf_version_id


def pack_ids(ids) -> bytes:
    values = array("I", sorted(ids))
    if sys.byteorder == "little":
        values.byteswap()
    return zlib.compress(values.tobytes())


def unpack_ids(blob: bytes) -> array:
    """The ids pack_ids stored, sorted, as a compact array (4 bytes an id, not a set's ~70)."""
    values = array("I")
    values.frombytes(zlib.decompress(bytes(blob)))
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _campaign_identity() -> tuple[str, Logo | None]:
    """The campaign's name and logo for the letterhead, from the identity the console keeps."""
    from ..identity.service import current_row, logo_file

    row = current_row()
    if row is None:
        return "", None
    logo = None
    if row.logo_sha256:
        stored = logo_file()
        if stored is not None and stored.sha256 == row.logo_sha256:
            try:
                logo = load_logo(bytes(stored.data))
            except LogoError:
                log.warning("the campaign logo cannot be drawn in the PDF; built without it")
    return row.name, logo


@write_transaction
def set_letter_lines(
    statement_id: int, addressee: str | None, place: str | None, when: date | None, actor: Actor
) -> bool:
    """The PDF's addressee, place and date lines; None or empty text: the default.

    A change is audited and rebuilds the PDF (debounced, like a list change). True when
    something changed; InvalidValue for text the PDF cannot print or that is too long.
    """
    from ..statements.service import bump_list_version

    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise BuildError("no such statement")
    after = {
        "addressee": printed_line(addressee, field="addressee", max_len=300) or None,
        "place": printed_line(place, field="place", max_len=120) or None,
        "date": when.isoformat() if when else None,
    }
    before = {
        "addressee": statement.pdf_addressee,
        "place": statement.pdf_place,
        "date": statement.pdf_date.isoformat() if statement.pdf_date else None,
    }
    if before == after:
        return False
    statement.pdf_addressee, statement.pdf_place = after["addressee"], after["place"]
    statement.pdf_date = when
    changed = [key for key in after if before[key] != after[key]]
    bump_list_version(statement_id)
    after_write(lambda: events.signatory_list_changed(statement_id, reason="letter lines"))
    record(
        actor,
        "statement_letter_changed",
        statement_id=statement_id,
        before={key: before[key] for key in changed},
        after={key: after[key] for key in changed},
    )
    return True


def pdf_language(statement_language: str | None) -> str:
    """The language of the PDF's fixed wording: the statement's where the site has its
    catalogue, else English (never a mixture)."""
    lang = (statement_language or "").split("-")[0].lower()
    return lang if lang in available_languages() else SOURCE_LANGUAGE


def _country_names(conn, approved, lang: str) -> dict[str, str]:
    """The listed countries' stored English names, in `lang` (none to change in English)."""
    if lang == SOURCE_LANGUAGE:
        return {}
    pairs = conn.execute(
        select(Signature.country, Signature.country_name).where(*approved).distinct()
    )
    return {name: country_name(code, lang) for code, name in pairs}


def _listed_rows():
    """What the list prints of a signatory (the initiators and the groups alike): type, name,
    city, country, the version of the text it endorsed, and its id (recorded as listed)."""
    return select(
        Signature.organisation_type,
        Signature.organisation_name,
        Signature.city,
        Signature.country_name,
        StatementVersion.sha256.label("version_sha256"),
        Signature.id,
    ).join(StatementVersion, StatementVersion.id == Signature.statement_version_id)


def _render_to_temp(statement_id: int, directory: Path, owner: str) -> tuple[Path, dict]:
    """Read the list in one snapshot and stream it into a temporary file in `directory`."""
    from .layout import StatementDoc, render_statement_pdf

    campaign_name, logo = _campaign_identity()
    # A connection of its own, read only: the snapshot ends when it is returned to the pool.
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Counts, rows and list version from one snapshot.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        found = conn.execute(
            select(
                Statement.slug,
                Statement.title,
                Statement.subtitle,
                Statement.published_on,
                Statement.campaign,
                Statement.initiators,
                Statement.language,
                Statement.pdf_addressee,
                Statement.pdf_place,
                Statement.pdf_date,
                Statement.list_version,
                Statement.list_public_from,
                Statement.current_version_id,
            ).where(Statement.id == statement_id)
        ).first()
        if found is None or found.current_version_id is None:
            raise BuildError("the statement has no text")
        current = conn.execute(
            select(
                StatementVersion.id,
                StatementVersion.body,
                StatementVersion.sha256,
                StatementVersion.created_at,
            ).where(StatementVersion.id == found.current_version_id)
        ).one()
        list_public_from = _aware(found.list_public_from)
        public = list_public_from is None or utcnow() >= list_public_from
        approved = (
            Signature.statement_id == statement_id,
            Signature.state == SignatureState.APPROVED,
        )
        # The initiators are set apart under "An initiative of" (as the statement page has
        # them in a box of their own), so the type groups list everyone else.
        grouped = (*approved, Signature.is_initiator.is_(False))
        type_counts: dict[str, int] = {}
        earlier: dict[str, date] = {}
        initiator_rows: list = []
        if public:
            type_counts = {
                OrganisationType(t).value: n
                for t, n in conn.execute(
                    select(Signature.organisation_type, func.count())
                    .where(*grouped)
                    .group_by(Signature.organisation_type)
                )
            }
            initiator_rows = list(
                conn.execute(
                    _listed_rows()
                    .where(*approved, Signature.is_initiator.is_(True))
                    .order_by(Signature.id)
                )
            )
            earlier = {
                sha: _aware(created).date()
                for sha, created in conn.execute(
                    select(StatementVersion.sha256, StatementVersion.created_at)
                    .where(
                        StatementVersion.id.in_(
                            select(Signature.statement_version_id).where(*approved).distinct()
                        ),
                        StatementVersion.id != current.id,
                    )
                    .order_by(StatementVersion.number.desc())
                )
            }
        initiators = split_initiators(found.initiators)
        lang = pdf_language(found.language)
        doc = StatementDoc(
            title=found.title,
            subtitle=found.subtitle,
            published_on=found.published_on or _aware(current.created_at).date(),
            body_markdown=current.body,
            campaign=campaign_name or found.campaign or found.title,
            version_sha256=current.sha256,
            generated_at=utcnow(),
            keywords=("joint statement", found.slug, *initiators),
            earlier_versions=earlier,
            language=found.language,
            initiators=tuple(initiators),
            initiator_rows=tuple(initiator_rows),
            addressee=found.pdf_addressee or "",
            place=found.pdf_place or "",
            letter_date=found.pdf_date,
            logo=logo,
            country_names=_country_names(conn, approved, lang) if public else {},
        )
        # The ids listed: 4 bytes each (a list of ints takes ten times that).
        listed = array("I", (row.id for row in initiator_rows))
        rows = ()
        result = None
        if public:
            # Plain column tuples (the ORM result layer adds several microseconds per row and
            # nothing here needs it). stream_results makes it a server-side cursor on
            # PostgreSQL; SQLite steps its cursor lazily anyway; yield_per bounds the buffer.
            result = conn.execute(
                _listed_rows()
                .where(*grouped)
                .order_by(*PUBLIC_ORDER)
                .execution_options(stream_results=True, yield_per=2000)
            )

            def recorded(result=result):
                for row in result:
                    listed.append(row.id)
                    yield row

            rows = recorded()
        fd, tmp_name = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{statement_id}-{owner}-", suffix=".pdf", dir=directory
        )
        tmp = Path(tmp_name)
        try:
            os.chmod(tmp_name, 0o644)  # published files are public; mkstemp makes them owner-only
            with os.fdopen(fd, "wb") as fh:
                with force_locale(lang):  # one document, in the statement's language
                    rendered = render_statement_pdf(fh, doc, type_counts, rows)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            if result is not None:
                result.close()  # a failed render may leave the server-side cursor unread
    meta = {
        "list_version": found.list_version,
        "statement_version_id": current.id,
        "statement_sha256": current.sha256,
        "signatories": rendered.signatories,
        "pages": rendered.pages,
        "slug": found.slug,
        "signature_ids": pack_ids(listed),
    }
    return tmp, meta


def _build_and_publish(
    statement_id: int, log_id: int, started: float, owner: str, heartbeat: _Heartbeat
) -> tuple[PdfVersion, int]:
    directory = pdf_dir()
    _clean_temp_files(directory)
    tmp, meta = _render_to_temp(statement_id, directory, owner)
    try:
        data = tmp.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if heartbeat.lost:
            raise BuildError("the build lock expired during the build; another build took over")
        version = _publish(statement_id, owner, data, meta, sha, time.perf_counter() - started)
        # The database holds the bytes now; the temp file becomes this host's cached copy.
        try:
            os.replace(tmp, cache_path(sha))
        except OSError:
            log.warning("PDF cache not filled after the build", exc_info=True)
    finally:
        tmp.unlink(missing_ok=True)
    _close_log(
        log_id,
        ok=True,
        message=f"version {version.number}: {version.signatory_count} signatories, "
        f"{version.pages} pages, {version.size} bytes in {version.build_seconds:.2f} s",
        pdf_version_id=version.id,
    )
    log.info(
        "PDF %s v%s built: %s signatories, %s pages, %.2f s",
        meta["slug"],
        version.number,
        version.signatory_count,
        version.pages,
        version.build_seconds,
    )
    # An organisation that left while this build read the list: its row is out of view at once.
    withdraw_departed_versions(statement_id)
    return version, meta["list_version"]


@write_transaction
def _publish(
    statement_id: int, owner: str, data: bytes, meta: dict, sha: str, seconds: float
) -> PdfVersion:
    # Only the holder of the lease publishes: a build taken over while paused must not.
    held = db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id, Statement.pdf_build_owner == owner)
        .values(pdf_built_list_version=meta["list_version"])
        .execution_options(synchronize_session=False)
    )
    if rowcount(held) != 1:
        raise BuildError("the build lock was taken over during the build; not published")
    number = (
        db.session.scalar(
            select(func.max(PdfVersion.number)).where(PdfVersion.statement_id == statement_id)
        )
        or 0
    ) + 1
    version = PdfVersion(
        statement_id=statement_id,
        number=number,
        statement_version_id=meta["statement_version_id"],
        statement_sha256=meta["statement_sha256"],
        list_version=meta["list_version"],
        signatory_count=meta["signatories"],
        pages=meta["pages"],
        file_sha256=sha,
        size=len(data),
        filename=f"{sha}.pdf",
        build_seconds=round(seconds, 3),
        created_at=utcnow(),
        file_state=PdfFileState.STORED,
        signature_ids=meta["signature_ids"],
    )
    db.session.add(version)
    db.session.flush()
    db.session.add(PdfFile(pdf_version_id=version.id, sha256=sha, data=data))
    db.session.flush()
    return version


def ensure_built(statement: Statement) -> None:
    """Seed and start-up: a statement without any PDF gets its first one."""
    if latest_version(statement) is None:
        request_rebuild(statement.id, "first build", delay=0)


# ------------------------------------------------------------------ periodic work


def rebuild_stale(now: datetime | None = None) -> int:
    """Periodic: take over build locks whose lease expired, and rebuild every list whose
    rebuild was lost (a process died) or failed (a full disk) a while ago."""
    now = now or utcnow()
    taken_over = set(_take_over_expired(now))
    quiet = timedelta(seconds=2 * current_app.config["PDF_DEBOUNCE_SECONDS"] + 5)
    stale = _rows(
        select(Statement.id, Statement.list_changed_at).where(
            Statement.list_version != Statement.pdf_built_list_version,
            Statement.pdf_building_since.is_(None),
        )
    )
    # A build that died is retried at once (its list was quiet enough for it to start); a list
    # still changing is left to its debounced build; a build that failed (a full disk) is
    # retried after a pause.
    due = [
        sid
        for sid, changed_at in stale
        if sid in taken_over
        or (
            (changed_at is None or _aware(changed_at) < now - quiet)
            and not _failed_recently(sid, now)
        )
    ]
    for statement_id in due:
        request_rebuild(statement_id, "periodic: rebuild was due", delay=0)
    return len(due)


def take_over_expired_builds(now: datetime | None = None) -> int:
    """Free the locks of builds whose process died (lease expired): log rows marked failed,
    this host's temporary files removed. Returns how many were taken over."""
    return len(_take_over_expired(now or utcnow()))


def _take_over_expired(now: datetime) -> list[int]:
    expired = [
        sid
        for (sid,) in _rows(
            select(Statement.id).where(Statement.pdf_building_since.is_not(None), _lock_free(now))
        )
    ]
    taken = [sid for sid in expired if _take_over(sid, now)]
    if taken:
        log.warning("PDF builds taken over after their lease expired: statements %s", taken)
    if expired:
        _clean_temp_files(pdf_dir())
    return taken


@write_transaction
def _take_over(statement_id: int, now: datetime) -> bool:
    result = db.session.execute(
        update(Statement)
        .where(
            Statement.id == statement_id, Statement.pdf_building_since.is_not(None), _lock_free(now)
        )
        .values(pdf_building_since=None, pdf_build_lease_until=None, pdf_build_owner=None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    _fail_open_logs(statement_id, now)
    return True


def _failed_recently(statement_id: int, now: datetime) -> bool:
    """A build that just failed is retried every few minutes, not every tick."""
    found = _rows(
        select(PdfBuildLog.ok, PdfBuildLog.finished_at)
        .where(PdfBuildLog.statement_id == statement_id, PdfBuildLog.finished_at.is_not(None))
        .order_by(PdfBuildLog.id.desc())
        .limit(1)
    )
    if not found:
        return False
    ok, finished_at = found[0]
    assert finished_at is not None  # the query asks for finished builds
    return ok is False and _aware(finished_at) > now - _retry_after_failure()


def check_embargoes(now: datetime | None = None) -> int:
    """Periodic: a list whose embargo has ended since its last build is rebuilt (and counted)."""
    from ..statements.service import bump_list_version

    now = now or utcnow()
    last_build = (
        select(func.max(PdfVersion.created_at))
        .where(PdfVersion.statement_id == Statement.id)
        .scalar_subquery()
    )
    due = []
    for sid, list_version, built, public_from, last in _rows(
        select(
            Statement.id,
            Statement.list_version,
            Statement.pdf_built_list_version,
            Statement.list_public_from,
            last_build,
        ).where(Statement.list_public_from.is_not(None), Statement.list_public_from <= now)
    ):
        if list_version != built:
            continue  # a rebuild is already due; it will show the list
        if last is not None and public_from is not None and _aware(last) < _aware(public_from):
            due.append(sid)
    for statement_id in due:
        _mark_embargo_ended(statement_id, bump_list_version)
        events.signatory_list_changed(statement_id, reason="embargo ended")
    return len(due)


@write_transaction
def _mark_embargo_ended(statement_id: int, bump) -> None:
    bump(statement_id)


# ------------------------------------------------------------------ withdrawn from publication


@write_transaction
def withdraw_departed_versions(statement_id: int) -> int:
    """Every version that lists an organisation no longer on the public list (withdrawn,
    unpublished, erased) leaves public view; its row stays. Returns how many were withdrawn."""
    # Streamed into the set (not buffered as rows first), and each version's ids checked against
    # it straight from their array: with 100,000 signatories, a buffered result and a second set
    # per version would add some 20 MB to the build's peak memory.
    approved = set(
        db.session.execute(
            select(Signature.id)
            .where(
                Signature.statement_id == statement_id,
                Signature.state == SignatureState.APPROVED,
            )
            .execution_options(yield_per=5000)
        ).scalars()
    )
    candidates = db.session.execute(
        select(PdfVersion.id, PdfVersion.signature_ids, PdfVersion.created_at).where(
            PdfVersion.statement_id == statement_id,
            PdfVersion.withdrawn_at.is_(None),
            PdfVersion.signatory_count > 0,
        )
    ).all()
    if not candidates:
        return 0
    # Versions built before the ids were recorded: out of view if anyone approved before them
    # has since left the list.
    departed_since = db.session.scalar(
        select(func.min(Signature.approved_at)).where(
            Signature.statement_id == statement_id,
            Signature.approved_at.is_not(None),
            Signature.state != SignatureState.APPROVED,
        )
    )
    withdrawn = []
    for version_id, packed, created_at in candidates:
        if packed is not None:
            if not all(map(approved.__contains__, unpack_ids(packed))):
                withdrawn.append(version_id)
        elif departed_since is not None and _aware(departed_since) <= _aware(created_at):
            withdrawn.append(version_id)
    if withdrawn:
        db.session.execute(
            update(PdfVersion)
            .where(PdfVersion.id.in_(withdrawn))
            .values(withdrawn_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        log.info("PDF versions withdrawn from publication: %s", len(withdrawn))
    return len(withdrawn)


def _delivery_snapshot(version: PdfVersion) -> dict:
    return {
        "version": version.number,
        "delivered": version.delivered,
        "delivered_on": version.delivered_on.isoformat() if version.delivered_on else None,
        "delivered_to": version.delivered_to,
        "note": version.delivery_note,
    }


@write_transaction
def record_delivery(
    version_id: int, actor: Actor, *, delivered_on: date, delivered_to: str, note: str = ""
) -> PdfVersion | None:
    """Mark a version handed over to its addressee (or correct the record): its file is then
    kept for good, and the statement page and /versions say to whom and when. Audited."""
    version = db.session.get(PdfVersion, version_id, with_for_update=True)
    if version is None:
        return None
    before = _delivery_snapshot(version)
    version.delivered = True
    version.delivered_on = delivered_on
    version.delivered_to = delivered_to.strip()
    version.delivery_note = note.strip() or None
    version.delivery_recorded_at = utcnow()
    record(
        actor,
        "pdf_version_delivered",
        statement_id=version.statement_id,
        before=before,
        after=_delivery_snapshot(version),
        detail=f"version {version.number} delivered to {version.delivered_to}",
    )
    return version


@write_transaction
def clear_delivery(version_id: int, actor: Actor) -> PdfVersion | None:
    """Undo a delivery marked by mistake (audited; the retention rule applies to it again)."""
    version = db.session.get(PdfVersion, version_id, with_for_update=True)
    if version is None:
        return None
    if not version.delivered:
        return version
    before = _delivery_snapshot(version)
    version.delivered = False
    version.delivered_on = version.delivered_to = version.delivery_note = None
    version.delivery_recorded_at = utcnow()
    record(
        actor,
        "pdf_version_delivery_cleared",
        statement_id=version.statement_id,
        before=before,
        after=_delivery_snapshot(version),
        detail=f"version {version.number}",
    )
    return version


def deliveries(statement: Statement) -> list[PdfVersion]:
    """The versions handed over, latest delivery first: the statement page names them."""
    return list(
        db.session.scalars(
            select(PdfVersion)
            .where(PdfVersion.statement_id == statement.id, PdfVersion.delivered.is_(True))
            .order_by(PdfVersion.delivered_on.desc(), PdfVersion.number.desc())
        )
    )


# ------------------------------------------------------------------ retention of the bytes


def prune_versions(now: datetime | None = None) -> int:
    """Periodic: drop the bytes of versions nobody needs; their rows stay and say so.

    Kept: every version built in the last PDF_KEEP_DAYS days, the last version of each day
    before that, every version marked delivered, and the version statement.pdf serves. Versions
    withdrawn from publication (and not delivered) can never be served again: their bytes go.
    Returns how many versions lost their bytes.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=keep_days())
    rows = _rows(
        select(
            PdfVersion.id,
            PdfVersion.statement_id,
            PdfVersion.created_at,
            PdfVersion.delivered,
            PdfVersion.withdrawn_at,
            PdfVersion.file_sha256,
            PdfVersion.file_state,
        ).order_by(PdfVersion.statement_id, PdfVersion.created_at, PdfVersion.number)
    )
    last_of_day: dict[tuple[int, date], int] = {}
    served: dict[int, int] = {}
    for vid, sid, created, _delivered, withdrawn_at, _sha, _state in rows:
        last_of_day[(sid, _aware(created).date())] = vid
        if withdrawn_at is None:
            served[sid] = vid
    day_lasts = set(last_of_day.values())
    doomed: list[tuple[int, str]] = []
    for vid, sid, created, delivered, withdrawn_at, sha, state in rows:
        if state != PdfFileState.STORED.value or delivered:
            continue
        if withdrawn_at is not None:
            doomed.append((vid, sha))
        elif served.get(sid) == vid or _aware(created) >= cutoff or vid in day_lasts:
            continue
        else:
            doomed.append((vid, sha))
    if doomed:
        _prune([vid for vid, _ in doomed], now)
        for _vid, sha in doomed:  # this host's cache; other hosts never serve a pruned row
            cache_path(sha).unlink(missing_ok=True)
        log.info("PDF versions pruned: %s", len(doomed))
    return len(doomed)


@write_transaction
def _prune(version_ids: list[int], now: datetime) -> None:
    db.session.execute(delete(PdfFile).where(PdfFile.pdf_version_id.in_(version_ids)))
    db.session.execute(
        update(PdfVersion)
        .where(PdfVersion.id.in_(version_ids), PdfVersion.delivered.is_(False))
        .values(file_state=PdfFileState.PRUNED, pruned_at=now)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ health


def stale_pdfs(now: datetime | None = None) -> dict[str, str]:
    """Statements whose served PDF is older than their list, by slug, with the reason.

    A rebuild is overdue when the list changed more than a grace period ago (the debounce, a
    lease, a failed build waiting for its retry all count) and no build has caught up, or when
    the newest version left public view and nothing has replaced it yet. Closed statements too:
    their PDF stays public, and an organisation may still withdraw from it.
    """
    now = now or utcnow()
    grace = timedelta(seconds=max(60.0, 3 * current_app.config["PDF_DEBOUNCE_SECONDS"]))
    newest_withdrawn = (
        select(PdfVersion.withdrawn_at)
        .where(PdfVersion.statement_id == Statement.id)
        .order_by(PdfVersion.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    found: dict[str, str] = {}
    for slug, list_version, built, changed_at, withdrawn_at in _rows(
        select(
            Statement.slug,
            Statement.list_version,
            Statement.pdf_built_list_version,
            Statement.list_changed_at,
            newest_withdrawn,
        )
    ):
        changed_at = _aware(changed_at)
        if list_version != built and (changed_at is None or changed_at < now - grace):
            found[slug] = "the list changed and the PDF has not been rebuilt"
        elif withdrawn_at is not None:
            found[slug] = "the newest PDF lists an organisation that left; a rebuild is due"
    return found
