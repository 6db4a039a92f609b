"""PDF bytes live in the database; each host's PDF_DIR is only a cache by SHA-256 (issue 9.2)."""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update

from petition import create_app, housekeeping
from petition.core.audit import Actor
from petition.extensions import db
from petition.models import PdfFile, PdfFileState, PdfVersion, utcnow
from petition.pdf import builds
from tests.conftest import wait_jobs
from tests.pdf_helpers import SLUG, add_verified, approve, fetch, versions

SHA_RE = r"[0-9a-f]{64}"


def _version_hashes(client) -> list[str]:
    import re

    page = client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)
    return re.findall(rf'<code class="sha">({SHA_RE})</code>', page)


@pytest.fixture
def second_host(app, app_config, tmp_path):
    """Another app instance on the same database, with its own folders (PDF_DIR, mail)."""
    config = dict(app_config)
    config["PDF_DIR"] = str(tmp_path / "host-b" / "pdf")
    config["MAIL_DIR"] = str(tmp_path / "host-b" / "mail")
    other = create_app(config)
    yield other
    other.extensions["jobs"].stop()
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_build_made_on_one_host_is_served_byte_identical_by_another(
    app, client, seeded, second_host
):
    approve(app, add_verified(app, "Second Host University"))
    wait_jobs(app)
    latest = versions(app)[-1]
    dir_a = Path(app.config["PDF_DIR"])
    dir_b = Path(second_host.config["PDF_DIR"])
    assert dir_a != dir_b and not (dir_b / f"{latest.file_sha256}.pdf").exists()
    # The database holds the bytes, checked by their SHA-256.
    with app.app_context():
        stored = db.session.scalar(select(PdfFile).where(PdfFile.pdf_version_id == latest.id))
        assert hashlib.sha256(stored.data).hexdigest() == latest.file_sha256 == stored.sha256

    client_b = second_host.test_client()
    served_a = fetch(client, f"/statements/{SLUG}/statement.pdf")
    served_b = fetch(client_b, f"/statements/{SLUG}/statement.pdf")
    assert served_b.status_code == 200
    assert served_b.data == served_a.data
    assert hashlib.sha256(served_b.data).hexdigest() == latest.file_sha256
    assert served_b.headers["ETag"] == served_a.headers["ETag"] == f'"{latest.file_sha256}"'
    assert served_b.headers["Last-Modified"] == served_a.headers["Last-Modified"]
    # Host B filled its own cache, by hash, on that first request; nothing half-written stays.
    assert (dir_b / f"{latest.file_sha256}.pdf").read_bytes() == served_a.data
    assert [p.name for p in dir_b.iterdir() if p.name.startswith(".")] == []
    # Earlier versions too, and ranges and conditional requests from the cache.
    for version in versions(app):
        url = f"/statements/{SLUG}/versions/{version.number}.pdf"
        assert fetch(client_b, url).data == fetch(client, url).data
    part = fetch(client_b, f"/statements/{SLUG}/statement.pdf", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == served_a.data[:10]
    again = fetch(
        client_b,
        f"/statements/{SLUG}/statement.pdf",
        headers={"If-None-Match": f'"{latest.file_sha256}"'},
    )
    assert again.status_code == 304
    assert _version_hashes(client_b) == _version_hashes(client) != []


def test_deleting_a_cache_folder_changes_nothing_visible(app, client, seeded, second_host):
    client_b = second_host.test_client()
    before = fetch(client, f"/statements/{SLUG}/statement.pdf")
    before_b = fetch(client_b, f"/statements/{SLUG}/statement.pdf")
    hashes = _version_hashes(client)
    shutil.rmtree(app.config["PDF_DIR"])
    shutil.rmtree(second_host.config["PDF_DIR"])
    after = fetch(client, f"/statements/{SLUG}/statement.pdf")
    after_b = fetch(client_b, f"/statements/{SLUG}/statement.pdf")
    assert after.status_code == after_b.status_code == 200
    assert after.data == before.data == after_b.data == before_b.data
    assert after.headers["ETag"] == before.headers["ETag"]
    assert _version_hashes(client) == _version_hashes(client_b) == hashes
    # A tampered cache file is a host problem, but a missing one is simply fetched again.
    assert (Path(app.config["PDF_DIR"]) / f"{versions(app)[-1].file_sha256}.pdf").is_file()


def test_a_version_whose_bytes_are_gone_is_410_with_its_record_kept(app, client, seeded):
    approve(app, add_verified(app, "Pruned Partners"))
    wait_jobs(app)
    first, second = versions(app)
    with app.app_context():
        builds._prune([first.id], utcnow())
    shutil.rmtree(app.config["PDF_DIR"])  # this host's cache held it too
    response = fetch(client, f"/statements/{SLUG}/versions/1.pdf")
    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert "pruned" in body and first.file_sha256 in body
    page = client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)
    assert first.file_sha256 in page and "File pruned" in page
    assert f"/statements/{SLUG}/versions/1.pdf" not in page
    assert fetch(client, f"/statements/{SLUG}/versions/2.pdf").status_code == 200


def _age(app, number: int, days: float) -> None:
    """Date version `number` back `days` days from today's noon (UTC), so that versions a
    fraction of a day apart fall on the same calendar day whatever the hour the test runs."""
    noon = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            update(PdfVersion)
            .where(PdfVersion.number == number)
            .values(created_at=noon - timedelta(days=days))
        )


def test_retention_keeps_recent_last_of_day_delivered_and_served_bytes(app, client, seeded):
    for name in ("Alpha Org", "Beta Org", "Gamma Org", "Delta Org", "Epsilon Org"):
        approve(app, add_verified(app, name))
        wait_jobs(app)
    assert [v.number for v in versions(app)] == [1, 2, 3, 4, 5, 6]
    # 1, 2, 3 were built on one day 40 days ago (3 the last of it), 4 on another old day,
    # 5 ten days ago, 6 now (served).
    _age(app, 1, 40.3)
    _age(app, 2, 40.2)
    _age(app, 3, 40.1)
    _age(app, 4, 35)
    _age(app, 5, 10)
    with app.app_context():
        builds.record_delivery(  # version 1 was handed over
            versions(app)[0].id,
            Actor.cli(),
            delivered_on=date.today(),
            delivered_to="European Commission",
        )
        assert builds.prune_versions() == 1
        assert builds.prune_versions() == 0  # idempotent
        states = {
            v.number: v.file_state
            for v in db.session.scalars(select(PdfVersion).order_by(PdfVersion.number))
        }
        kept_bytes = set(db.session.scalars(select(PdfFile.pdf_version_id)))
    assert states == {
        1: PdfFileState.STORED,  # delivered
        2: PdfFileState.PRUNED,  # old, not the last of its day
        3: PdfFileState.STORED,  # last of its day
        4: PdfFileState.STORED,  # last (only) of its day
        5: PdfFileState.STORED,  # within 30 days
        6: PdfFileState.STORED,  # within 30 days, and served
    }
    assert len(kept_bytes) == 5
    assert fetch(client, f"/statements/{SLUG}/versions/2.pdf").status_code in (404, 410)
    assert fetch(client, f"/statements/{SLUG}/versions/1.pdf").status_code == 200
    page = client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)
    assert "last 30 days" in page and "File pruned" in page


def test_the_periodic_housekeeping_prunes_version_bytes(app, client, seeded):
    approve(app, add_verified(app, "Theta Org"))
    wait_jobs(app)
    approve(app, add_verified(app, "Iota Org"))
    wait_jobs(app)
    _age(app, 1, 40.2)
    _age(app, 2, 40.1)
    with app.app_context():
        assert housekeeping.run_if_due(time.time()) is True
        states = {v.number: v.file_state for v in db.session.scalars(select(PdfVersion))}
    assert states[1] == PdfFileState.PRUNED  # old, not the last of its day
    assert states[2] == PdfFileState.STORED and states[3] == PdfFileState.STORED


@pytest.mark.config(PDF_KEEP_DAYS=5)
def test_retention_period_is_configurable(app, client, seeded):
    approve(app, add_verified(app, "Zeta Org"))
    wait_jobs(app)
    approve(app, add_verified(app, "Eta Org"))
    wait_jobs(app)
    _age(app, 1, 6.2)
    _age(app, 2, 6.1)
    with app.app_context():
        assert builds.prune_versions() == 1  # version 1: older than 5 days, not last of its day
    assert "last 5 days" in client.get(f"/statements/{SLUG}/versions").get_data(as_text=True)


def test_multi_range_request_gets_the_whole_file_not_a_bare_416(app, client, seeded):
    whole = fetch(client, f"/statements/{SLUG}/statement.pdf").data
    response = fetch(
        client, f"/statements/{SLUG}/statement.pdf", headers={"Range": "bytes=0-1,5-9"}
    )
    assert response.status_code == 200
    assert response.data == whole
    single = fetch(client, f"/statements/{SLUG}/statement.pdf", headers={"Range": "bytes=0-1"})
    assert single.status_code == 206 and single.data == whole[:2]
    beyond = fetch(
        client, f"/statements/{SLUG}/statement.pdf", headers={"Range": f"bytes={len(whole)}-"}
    )
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"


@pytest.mark.parametrize("number", ["１", "١", "²", "1１", "𝟏"])
def test_version_numbers_take_ascii_digits_only(client, seeded, number):
    assert fetch(client, f"/statements/{SLUG}/versions/1.pdf").status_code == 200
    assert fetch(client, f"/statements/{SLUG}/versions/{number}.pdf").status_code == 404


def test_migration_moves_files_into_the_database_and_marks_missing_ones(tmp_path):
    """A database from before the move, with two versions on disk and one file gone."""
    from flask_migrate import upgrade

    from tests.test_migrations import MIGRATIONS

    pdf_dir = tmp_path / "pdf"
    pdf_dir.mkdir()
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": "x",
            "PDF_DIR": str(pdf_dir),
        }
    )
    present = b"%PDF-1.4 present version\n%%EOF\n"
    corrupt = b"%PDF-1.4 not what was published\n"
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS), revision="e5f7a9c1d3b4")
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO statements (id, slug, title, subtitle, language, campaign,"
                        " initiators, is_open, list_version, pdf_built_list_version, created_at,"
                        " updated_at) VALUES (1, 's', 'T', '', 'en', '', '', 1, 0, -1,"
                        " '2026-01-01', '2026-01-01')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO statement_versions (id, statement_id, number, body, sha256,"
                        " note, created_at) VALUES (1, 1, 1, 'b', 'x', '', '2026-01-01')"
                    )
                )
                rows = [
                    (1, "s-v00001.pdf", hashlib.sha256(present).hexdigest()),
                    (2, "s-v00002.pdf", hashlib.sha256(b"gone").hexdigest()),
                    (3, "s-v00003.pdf", hashlib.sha256(b"original").hexdigest()),
                ]
                for number, filename, sha in rows:
                    conn.execute(
                        text(
                            "INSERT INTO pdf_versions (id, statement_id, number,"
                            " statement_version_id, statement_sha256, list_version,"
                            " signatory_count, pages, file_sha256, size, filename,"
                            " build_seconds, created_at) VALUES (:n, 1, :n, 1, 'x', 0, 0, 1,"
                            " :sha, 10, :f, 0.1, '2026-01-01')"
                        ),
                        {"n": number, "sha": sha, "f": filename},
                    )
            (pdf_dir / "s-v00001.pdf").write_bytes(present)
            (pdf_dir / "s-v00003.pdf").write_bytes(corrupt)
            upgrade(directory=str(MIGRATIONS))
            with engine.connect() as conn:
                states = dict(
                    conn.execute(text("SELECT number, file_state FROM pdf_versions")).all()
                )
                stored = dict(
                    conn.execute(text("SELECT pdf_version_id, data FROM pdf_files")).all()
                )
            engine.dispose()
            db.engine.dispose()
    finally:
        app.extensions["jobs"].stop()
    assert states == {1: "stored", 2: "missing", 3: "missing"}
    assert stored == {1: present}
