"""Building and publishing the statement PDF: debounced, one build per statement at a time, versioned."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select, update

from ..core import events, jobs
from ..core.db import write_transaction
from ..extensions import db
from ..models import (
    OrganisationType,
    PdfBuildLog,
    PdfVersion,
    Signature,
    SignatureState,
    Statement,
    StatementVersion,
    utcnow,
)

log = logging.getLogger(__name__)

# A build lock older than this belongs to a process that died mid-build.
STALE_LOCK = timedelta(minutes=10)
# After a failed build, the periodic sweep waits this long before trying again.
FAILED_BUILD_RETRY = timedelta(minutes=5)
# Trailing debounce, but never postpone a rebuild for longer than this many debounce periods.
MAX_POSTPONE_FACTOR = 10


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildOutcome:
    built: bool
    reason: str
    version: PdfVersion | None = None


# ------------------------------------------------------------------ queries


def latest_version(statement: Statement) -> PdfVersion | None:
    """The newest published build; None until the first one exists."""
    return db.session.scalar(
        select(PdfVersion)
        .where(PdfVersion.statement_id == statement.id)
        .order_by(PdfVersion.number.desc())
        .limit(1)
    )


def latest_version_by_slug(slug: str) -> tuple[Statement, PdfVersion] | None:
    """The statement and its newest build in one query (serving the PDF)."""
    from ..statements.service import is_slug

    if not is_slug(slug):
        return None
    row = db.session.execute(
        select(Statement, PdfVersion)
        .join(PdfVersion, PdfVersion.statement_id == Statement.id)
        .where(Statement.slug == slug)
        .order_by(PdfVersion.number.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


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


def pdf_dir() -> Path:
    path = Path(current_app.config["PDF_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path(version: PdfVersion) -> Path:
    return Path(current_app.config["PDF_DIR"]) / version.filename


def download_name(statement: Statement, version: PdfVersion) -> str:
    return f"Joint-Statement-{statement.slug}-{version.created_at:%Y-%m-%d}.pdf"


# ------------------------------------------------------------------ scheduling


def _on_list_changed(statement_id: int, reason: str = "") -> None:
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
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        return
    debounce = current_app.config["PDF_DEBOUNCE_SECONDS"]
    has_pdf = statement.pdf_built_list_version >= 0
    if has_pdf and statement.list_version == statement.pdf_built_list_version:
        db.session.rollback()
        return
    now = utcnow()
    quiet_for = (
        (now - statement.list_changed_at).total_seconds() if statement.list_changed_at else 1e9
    )
    waited = _seconds_since_last_build(statement)
    inline = isinstance(jobs.runner(), jobs.SyncRunner)  # no delays there: build now
    if not inline and has_pdf and quiet_for < debounce and waited < debounce * MAX_POSTPONE_FACTOR:
        db.session.rollback()
        request_rebuild(statement_id, reason, delay=max(debounce - quiet_for, 0.05))
        return
    db.session.rollback()
    build_statement_pdf(statement_id, trigger=reason or "list changed")


def _seconds_since_last_build(statement: Statement) -> float:
    last = latest_version(statement)
    return (utcnow() - last.created_at).total_seconds() if last else 1e9


# ------------------------------------------------------------------ the build


@write_transaction
def _acquire_lock(statement_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(Statement)
        .where(
            Statement.id == statement_id,
            or_(
                Statement.pdf_building_since.is_(None),
                Statement.pdf_building_since < now - STALE_LOCK,
            ),
        )
        .values(pdf_building_since=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


@write_transaction
def _release_lock(statement_id: int) -> None:
    db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id)
        .values(pdf_building_since=None)
        .execution_options(synchronize_session=False)
    )


def build_statement_pdf(statement_id: int, trigger: str = "manual") -> BuildOutcome:
    """Build now, unless another process holds the statement's build lock.

    The list version read with the rows decides, when the build ends, whether changes arrived
    meanwhile: if so exactly one more build is scheduled. A failure leaves the previous
    version published and is recorded in the build log.
    """
    if not _acquire_lock(statement_id):
        return BuildOutcome(False, "another build of this statement is running")
    started = time.perf_counter()
    log_id = _open_log(statement_id, trigger)
    built_list_version = None
    try:
        version, built_list_version = _build_and_publish(statement_id, log_id, started)
    except Exception as exc:  # noqa: BLE001 - recorded, and the previous version stays served
        db.session.rollback()
        log.exception("PDF build of statement %s failed", statement_id)
        _close_log(log_id, ok=False, message=f"{type(exc).__name__}: {exc}")
        return BuildOutcome(False, f"build failed: {exc}")
    finally:
        _release_lock(statement_id)
    statement = db.session.get(Statement, statement_id)
    if statement is not None and statement.list_version != built_list_version:
        # Changes arrived during the build; their own jobs found the lock taken.
        request_rebuild(statement_id, "changed during build")
    db.session.rollback()
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
    entry.finished_at = utcnow()
    entry.ok = ok
    entry.message = message[:5000]
    entry.pdf_version_id = pdf_version_id


def _render_to_temp(statement_id: int, directory: Path) -> tuple[Path, dict]:
    """Read the list in one snapshot and stream it into a temporary file in `directory`."""
    from .layout import StatementDoc, render_statement_pdf

    session = db.session()
    if db.engine.dialect.name == "postgresql":
        # Counts, rows and list version from one snapshot.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    statement = session.get(Statement, statement_id)
    if statement is None or statement.current_version is None:
        raise BuildError("the statement has no text")
    current = statement.current_version
    list_version = statement.list_version
    public = statement.is_list_public()
    approved = (Signature.statement_id == statement.id, Signature.state == SignatureState.APPROVED)
    type_counts: dict[str, int] = {}
    earlier: dict[str, date] = {}
    if public:
        type_counts = {
            OrganisationType(t).value: n
            for t, n in session.execute(
                select(Signature.organisation_type, func.count())
                .where(*approved)
                .group_by(Signature.organisation_type)
            )
        }
        earlier = {
            sha: created.date()
            for sha, created in session.execute(
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
    doc = StatementDoc(
        title=statement.title,
        subtitle=statement.subtitle,
        published_on=statement.published_on or current.created_at.date(),
        body_markdown=current.body,
        campaign=statement.campaign or statement.title,
        version_sha256=current.sha256,
        generated_at=utcnow(),
        keywords=("joint statement", statement.slug, *statement.initiator_list),
        earlier_versions=earlier,
        language=statement.language,
    )
    rows = ()
    if public:
        # Plain column tuples straight from the session's connection (same transaction, so the
        # same snapshot): the ORM result layer adds several microseconds per row and nothing
        # here needs it. stream_results makes it a server-side cursor on PostgreSQL; SQLite
        # steps its cursor lazily anyway; yield_per bounds the rows buffered at a time.
        rows = session.connection().execute(
            select(
                Signature.organisation_type,
                Signature.organisation_name,
                Signature.city,
                Signature.country_name,
                StatementVersion.sha256.label("version_sha256"),
            )
            .join(StatementVersion, StatementVersion.id == Signature.statement_version_id)
            .where(*approved)
            .order_by(
                Signature.organisation_type_order,
                Signature.country_name,
                Signature.organisation_name_key,
                Signature.id,
            )
            .execution_options(stream_results=True, yield_per=2000)
        )
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=".pdf", dir=directory)
    tmp = Path(tmp_name)
    os.chmod(tmp_name, 0o644)  # published files are public; mkstemp makes them owner-only
    try:
        with os.fdopen(fd, "wb") as fh:
            result = render_statement_pdf(fh, doc, type_counts, rows)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if public:
            rows.close()  # a failed render may leave the server-side cursor unread
        session.rollback()  # ends the snapshot
    meta = {
        "list_version": list_version,
        "statement_version_id": current.id,
        "statement_sha256": current.sha256,
        "signatories": result.signatories,
        "pages": result.pages,
        "slug": statement.slug,
    }
    return tmp, meta


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _build_and_publish(statement_id: int, log_id: int, started: float) -> tuple[PdfVersion, int]:
    directory = pdf_dir()
    tmp, meta = _render_to_temp(statement_id, directory)
    try:
        sha = _sha256_file(tmp)
        size = tmp.stat().st_size
        version = _publish(statement_id, tmp, meta, sha, size, time.perf_counter() - started)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
    return version, meta["list_version"]


@write_transaction
def _publish(
    statement_id: int, tmp: Path, meta: dict, sha: str, size: int, seconds: float
) -> PdfVersion:
    number = (
        db.session.scalar(
            select(func.max(PdfVersion.number)).where(PdfVersion.statement_id == statement_id)
        )
        or 0
    ) + 1
    filename = f"{meta['slug']}-v{number:05d}-{sha[:12]}.pdf"
    # The rename is atomic: a reader sees the old file list or the new one, never half a PDF.
    os.replace(tmp, pdf_dir() / filename)
    version = PdfVersion(
        statement_id=statement_id,
        number=number,
        statement_version_id=meta["statement_version_id"],
        statement_sha256=meta["statement_sha256"],
        list_version=meta["list_version"],
        signatory_count=meta["signatories"],
        pages=meta["pages"],
        file_sha256=sha,
        size=size,
        filename=filename,
        build_seconds=round(seconds, 3),
        created_at=utcnow(),
    )
    db.session.add(version)
    db.session.execute(
        update(Statement)
        .where(Statement.id == statement_id)
        .values(pdf_built_list_version=meta["list_version"])
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return version


def ensure_built(statement: Statement) -> None:
    """Seed and start-up: a statement without any PDF gets its first one."""
    if latest_version(statement) is None:
        request_rebuild(statement.id, "first build", delay=0)


def rebuild_stale(now: datetime | None = None) -> int:
    """Periodic: a list that changed but whose rebuild was lost (a process died) gets one."""
    now = now or utcnow()
    quiet = timedelta(seconds=2 * current_app.config["PDF_DEBOUNCE_SECONDS"] + 5)
    stale = db.session.scalars(
        select(Statement.id).where(
            Statement.list_version != Statement.pdf_built_list_version,
            Statement.pdf_building_since.is_(None),
            or_(Statement.list_changed_at.is_(None), Statement.list_changed_at < now - quiet),
        )
    ).all()
    due = [sid for sid in stale if not _failed_recently(sid, now)]
    db.session.rollback()
    for statement_id in due:
        request_rebuild(statement_id, "periodic: rebuild was due", delay=0)
    return len(due)


def _failed_recently(statement_id: int, now: datetime) -> bool:
    """A build that just failed is retried every few minutes, not every tick."""
    last = db.session.scalar(
        select(PdfBuildLog)
        .where(PdfBuildLog.statement_id == statement_id, PdfBuildLog.finished_at.is_not(None))
        .order_by(PdfBuildLog.id.desc())
        .limit(1)
    )
    return bool(last and last.ok is False and last.finished_at > now - FAILED_BUILD_RETRY)


def check_embargoes(now: datetime | None = None) -> int:
    """Periodic: a list whose embargo has ended since its last build is rebuilt (and counted)."""
    from ..statements.service import bump_list_version

    now = now or utcnow()
    due = []
    for statement in db.session.scalars(
        select(Statement).where(
            Statement.list_public_from.is_not(None), Statement.list_public_from <= now
        )
    ):
        if statement.list_version != statement.pdf_built_list_version:
            continue  # a rebuild is already due; it will show the list
        last = latest_version(statement)
        if last is not None and last.created_at < statement.list_public_from:
            due.append(statement.id)
    db.session.rollback()
    for statement_id in due:
        _mark_embargo_ended(statement_id, bump_list_version)
        events.signatory_list_changed(statement_id, reason="embargo ended")
    return len(due)


@write_transaction
def _mark_embargo_ended(statement_id: int, bump) -> None:
    bump(statement_id)
