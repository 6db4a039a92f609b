"""Migrations (one head, models in step, data migration), city search, the staff-editable privacy notice."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from sqlalchemy import inspect as sa_inspect

from petition.extensions import db
from petition.models import AuditEvent, SiteText
from tests.staff_helpers import post, signed_in

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
                conn.execute(
                    text(
                        "INSERT INTO signatures (id, statement_id, statement_version_id, state,"
                        " source, is_initiator, organisation_name, organisation_name_key,"
                        " organisation_type, organisation_type_order, country, country_name, city,"
                        " website, comment, contact_name, contact_role, note, rejection_reason,"
                        " submitted_ip, created_at, updated_at, row_version) VALUES (1, 1, 1,"
                        " 'approved', 'import', 0, 'Uni', 'uni', 'university', 4, 'PL', 'Poland',"
                        " 'Łódź', '', '', '', '', '', '', '', '2026-01-01', '2026-01-01', 1)"
                    )
                )
            upgrade(directory=str(MIGRATIONS))
            with engine.connect() as conn:
                assert conn.execute(text("SELECT city_key FROM signatures")).scalar() == "lodz"
            engine.dispose()
            db.engine.dispose()
    finally:
        app.extensions["jobs"].stop()


def test_city_search_folds_accents_and_case_in_every_script(app, client, seeded):
    from tests.staff_helpers import make_signature

    make_signature(app, seeded, name="Uniwersytet Łódzki", email=None, city="Łódź")
    make_signature(app, seeded, name="Πανεπιστήμιο", email=None, city="ΘΕΣΣΑΛΟΝΊΚΗ", country="GR")
    make_signature(app, seeded, name="Політехніка", email=None, city="Київ", country="UA")
    from petition.core.db import write_transaction
    from petition.models import Signature, SignatureState

    @write_transaction
    def approve_all():
        for sig in db.session.scalars(select(Signature)):
            sig.state = SignatureState.APPROVED

    with app.app_context():
        approve_all()
    url = f"/statements/{seeded}/signatories"
    for query, expected in (
        ("lodz", "Uniwersytet Łódzki"),
        ("ŁÓDŹ", "Uniwersytet Łódzki"),
        ("θεσσαλονικη", "Πανεπιστήμιο"),
        ("київ", "Політехніка"),
        ("КИЇВ", "Політехніка"),
    ):
        page = client.get(url, query_string={"q": query}).get_data(as_text=True)
        assert expected in page, query
        assert "1 signatory" in page, query


def test_admin_edits_the_privacy_notice_with_an_audit_trail(app, client, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    assert admin.get("/staff/texts/privacy").status_code == 200
    saved = post(
        admin,
        "/staff/texts/privacy",
        {"body": "## Who we are\n\nThe campaign <script>alert(1)</script> **controls** your data."},
        token_from="/staff/texts/privacy",
    )
    assert saved.status_code == 303
    page = client.get("/privacy").get_data(as_text=True)
    assert "<h2>Who we are</h2>" in page
    assert "<strong>controls</strong>" in page
    assert "<script>alert(1)</script>" not in page
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "site_text_changed")
        )
        assert event.before["body"] is None
        assert "Who we are" in event.after["body"]
        assert event.actor_label == "admin@example.org"

    # Emptying it returns to the built-in notice.
    post(admin, "/staff/texts/privacy", {"body": "  "}, token_from="/staff/texts/privacy")
    with app.app_context():
        assert db.session.get(SiteText, "privacy") is None
    assert "What is published" in client.get("/privacy").get_data(as_text=True)

    too_long = post(
        admin, "/staff/texts/privacy", {"body": "x" * 20_001}, token_from="/staff/texts/privacy"
    )
    assert too_long.status_code == 422
    assert "at most 20,000 characters" in too_long.get_data(as_text=True)


def test_moderators_cannot_edit_site_texts(app, seeded):
    moderator = signed_in(app, "mod@example.org", "moderator")
    assert moderator.get("/staff/texts/privacy").status_code == 403
    refused = post(moderator, "/staff/texts/privacy", {"body": "mine now"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.get(SiteText, "privacy") is None
    assert app.test_client().get("/staff/texts/privacy").status_code == 302


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


@pytest.mark.config(PROXY_FIX_HOPS=1, RATELIMIT_ENABLED=True, SIGN_RATE_LIMIT="2 per minute")
def test_behind_a_proxy_the_sign_limit_counts_each_client(app, seeded):
    from tests.conftest import csrf_token, valid_form

    def sign(client_ip: str, n: int):
        client = app.test_client()
        headers = {"X-Forwarded-For": client_ip}
        url = f"/statements/{seeded}/sign"
        token = csrf_token(client, url)
        data = valid_form(email=f"person{n}@example.org", csrf_token=token)
        return client.post(url, data=data, headers=headers).status_code

    assert [sign("198.51.100.1", i) for i in range(3)] == [302, 302, 429]
    assert sign("198.51.100.2", 9) == 302  # another client behind the same proxy


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    from petition import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://statement.example.org")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == "from-the-environment"
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["jobs"].stop()
