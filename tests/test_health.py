"""The health check: database, queue and PDF age."""

from __future__ import annotations

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


def test_healthz(app, client, seeded):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["status"] == "ok"
    assert data["database"] == "ok"
    assert data["queue"] == "in-process"
    assert set(data["pdf_age_seconds"]) == {seeded}


def test_healthz_reports_an_unreachable_queue(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.get_json()
    assert data["status"] == "error"
    assert data["database"] == "ok"
    assert data["queue"].startswith("error: ")
