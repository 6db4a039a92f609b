"""Migrations: one head, the models in step, data migrations, down to nothing and back."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from sqlalchemy import inspect as sa_inspect

from petition.extensions import db
from tests.conftest import truncate_all

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_migrations_have_a_single_head():
    assert len(script_directory().get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    """What the migrations build is what the models describe: no forgotten migration."""
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], diff


def _insert_old_signature(conn, name: str, city: str) -> None:
    """A statement with one approved signature, in the columns every revision since has."""
    conn.execute(
        text(
            "INSERT INTO statements (id, slug, title, subtitle, language, campaign,"
            " initiators, is_open, list_version, pdf_built_list_version, created_at,"
            " updated_at) VALUES (1, 's', 'T', '', 'en', '', '', true, 0, -1,"
            " '2026-01-01', '2026-01-01')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO statement_versions (id, statement_id, number, body, sha256,"
            " note, created_at) VALUES (1, 1, 1, 'b', 'x', '', '2026-01-01')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO signatures (id, statement_id, statement_version_id, state,"
            " source, is_initiator, organisation_name, organisation_name_key,"
            " organisation_type, organisation_type_order, country, country_name, city,"
            " website, comment, contact_name, contact_role, note, rejection_reason,"
            " submitted_ip, created_at, updated_at, row_version) VALUES (1, 1, 1,"
            " 'approved', 'import', false, :name, 'x', 'university', 4, 'FR', 'France',"
            " :city, '', '', '', '', '', '', '', '2026-01-01', '2026-01-01', 1)"
        ),
        {"name": name, "city": city},
    )


def test_search_key_migration_fills_existing_rows(database_url, tmp_path):
    """Upgrade a database whose signatures predate the search key, on this run's backend: the
    rows are found by the folded search, on PostgreSQL through the trigram index."""
    from flask_migrate import downgrade, upgrade

    from petition import create_app
    from petition.models import Signature, Statement
    from petition.signatories.service import ListFilter, search

    postgres = database_url.startswith("postgres")
    url = database_url if postgres else f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
            truncate_all(db.engine)
            downgrade(directory=str(MIGRATIONS), revision="d1f3a5c7e9b2-1")
            with db.engine.begin() as conn:
                assert "search_key" not in {
                    c["name"] for c in sa_inspect(conn).get_columns("signatures")
                }
                _insert_old_signature(conn, "Conseil régional d’Île-de-France", "Saint-Ouen")
            upgrade(directory=str(MIGRATIONS))
            key = db.session.scalar(select(Signature.search_key))
            assert key == "conseil regional d ile de france|saint ouen"
            statement = db.session.get(Statement, 1)
            for query in ("ile de france", "d'ile", "SAINT OUEN", "saint-ouen"):
                assert search(statement, ListFilter(q=query)).total == 1, query
            assert search(statement, ListFilter(q="france saint")).total == 0
            if postgres:
                index = db.session.execute(
                    text(
                        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_signatures_search_key'"
                    )
                ).scalar()
                assert "gin_trgm_ops" in index
            db.session.remove()
            truncate_all(db.engine)
            db.engine.dispose()
    finally:
        app.extensions["jobs"].stop()


def test_city_key_migration_fills_existing_rows(tmp_path):
    """Upgrade a database that has signatures from before the city key, and find them by city."""
    from flask_migrate import upgrade

    from petition import create_app

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS), revision="b2c4e6f8a0d1")
            engine = create_engine(url)
            with engine.begin() as conn:
                _insert_old_signature(conn, "Uni", "Łódź")
            upgrade(directory=str(MIGRATIONS))
            with engine.connect() as conn:
                assert conn.execute(text("SELECT city_key FROM signatures")).scalar() == "lodz"
            engine.dispose()
            db.engine.dispose()
    finally:
        app.extensions["jobs"].stop()


def test_migrations_downgrade_to_nothing_and_back(database_url, tmp_path):
    """Every migration can be undone, and the schema rebuilt, on this run's database backend."""
    from flask_migrate import downgrade, upgrade

    from petition import create_app

    if database_url.startswith("postgres"):
        url = database_url  # the session's database: rebuilt at the end, as the other tests expect
    else:
        url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
            downgrade(directory=str(MIGRATIONS), revision="base")
            tables = set(sa_inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert tables == set()
            upgrade(directory=str(MIGRATIONS))
            assert "signatures" in sa_inspect(db.engine).get_table_names()
            db.engine.dispose()
    finally:
        app.extensions["jobs"].stop()
