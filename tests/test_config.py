"""Configuration: what production refuses to start without."""

from __future__ import annotations

import pytest


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
