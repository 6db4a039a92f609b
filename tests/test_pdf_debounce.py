"""The PDF rebuild debounce itself: one pending job per statement, a delay, postponed while the list changes.

The build lock alone already limits a burst to one or two builds, so these tests look at the
debounce directly: how many jobs wait, when the build starts, what a due job does while the list
is still changing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from petition.core import jobs
from petition.core.db import write_transaction
from petition.extensions import db
from petition.models import PdfBuildLog, PdfVersion, Statement
from petition.pdf import builds
from petition.statements.service import load_statement
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve
from tests.staff_helpers import make_signature

STATEMENT_MD = (
    Path(__file__).parent.parent / "petition/content/interregional-innovation-investments.md"
)


def _statement(app) -> Statement:
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == SLUG))
        db.session.expunge(statement)
        return statement


def _build_logs(app) -> list[PdfBuildLog]:
    with app.app_context():
        rows = db.session.scalars(select(PdfBuildLog).order_by(PdfBuildLog.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _version_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(PdfVersion.id)))


def test_fifty_list_changes_in_the_window_start_exactly_one_build_once_the_list_is_quiet(
    app, seeded
):
    debounce = 1.5
    app.config["PDF_DEBOUNCE_SECONDS"] = debounce
    ids = [
        make_signature(
            app, seeded, name=f"Burst Organisation {i:02d}", email=f"burst{i}@example.org"
        )
        for i in range(50)
    ]
    statement_id = _statement(app).id
    with app.app_context():
        # A build right before the burst: the postponing cap (MAX_POSTPONE_FACTOR) stays far away.
        builds.build_statement_pdf(statement_id, trigger="test")
    wait_jobs(app)
    logs_before = len(_build_logs(app))

    approve(app, *ids)  # 50 list changes, each requesting a rebuild
    runner = jobs.runner(app)
    # The 50 requests share one keyed job (the approval emails wait beside it).
    assert runner.queued(builds.build_when_due) == 1

    wait_jobs(app, timeout=60)
    new_logs = _build_logs(app)[logs_before:]
    assert len(new_logs) == 1, [(log.trigger, log.started_at) for log in new_logs]
    quiet_since = _statement(app).list_changed_at
    # It started only after the list had been quiet for the whole debounce period.
    assert new_logs[0].started_at - quiet_since >= timedelta(seconds=debounce - 0.01)
    with app.app_context():
        latest = builds.latest_version(db.session.get(Statement, statement_id))
        assert latest.signatory_count == 54


def test_the_first_build_also_waits_out_the_debounce(app):
    # Without any PDF yet, a due job builds at once: only the delay keeps the first change from
    # being built alone.
    app.config["PDF_DEBOUNCE_SECONDS"] = 3.0
    with app.app_context():
        load_statement(STATEMENT_MD.read_text(encoding="utf-8"))
    ids = [add_verified(app, f"Early Organisation {i}") for i in range(5)]
    wait_jobs(app)  # their confirmation emails: the only job left is the rebuild

    approve(app, ids[0])
    runner = jobs.runner(app)
    # Whatever is due has run: nothing is, the rebuild waits for its delay.
    assert runner.wait_idle(timeout=10, include_delayed=False)
    assert runner.queued(builds.build_when_due) == 1
    assert _build_logs(app) == []

    approve(app, *ids[1:])
    wait_jobs(app, timeout=60)
    assert len(_build_logs(app)) == 1
    with app.app_context():
        [version] = db.session.scalars(select(PdfVersion)).all()
        assert version.signatory_count == 5


@write_transaction
def _changed_ago(statement_id: int, seconds: float) -> None:
    statement = db.session.get(Statement, statement_id)
    statement.list_changed_at = statement.list_changed_at - timedelta(seconds=seconds)


def test_a_due_rebuild_while_the_list_still_changes_is_postponed_not_built(app, seeded):
    app.config["PDF_DEBOUNCE_SECONDS"] = 60.0
    sig_id = add_verified(app, "Just Approved Organisation")
    wait_jobs(app)  # its confirmation email: the only job left is the rebuild
    approve(app, sig_id)  # the list changed a moment ago; its rebuild job is due in a minute
    statement_id = _statement(app).id
    versions_before = _version_count(app)
    logs_before = len(_build_logs(app))

    # The job comes due early (as after a restart's sweep): the list is not quiet yet.
    with app.app_context():
        builds.build_when_due(statement_id, "test")
    assert len(_build_logs(app)) == logs_before
    assert jobs.runner(app).queued(builds.build_when_due) == 1  # still waiting, once

    # A minute later, without another change, the same job builds.
    with app.app_context():
        _changed_ago(statement_id, 61)
        builds.build_when_due(statement_id, "test")
    assert len(_build_logs(app)) == logs_before + 1
    assert _version_count(app) == versions_before + 1
