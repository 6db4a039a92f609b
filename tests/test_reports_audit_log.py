"""The append-only audit log in the console: filters, pages, CSV, and hostile filter values."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from petition.extensions import db
from petition.models import AuditEvent, utcnow
from tests.staff_helpers import act, make_signature, signed_in


def test_audit_filters_with_nul_or_the_last_date_answer(app):
    admin = signed_in(app, "admin@example.org", "admin")
    for query in ("actor=%00&action=%00", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
        assert admin.get(f"/staff/audit?{query}").status_code == 200, query
        assert admin.get(f"/staff/audit.csv?{query}").status_code == 200, query
    # The last date is "no upper bound": today's sign-in is in it.
    body = admin.get("/staff/audit.csv?to=9999-12-31").get_data(as_text=True)
    assert "staff_signed_in" in body


# ---------------------------------------------------------------- audit log


def test_audit_log_filters_pages_and_csv(app, seeded, moderator):
    ids = [
        make_signature(app, seeded, name=f"Audit {i}", email=f"a{i}@audit.example")
        for i in range(3)
    ]
    act(moderator, ids[0], "approve")
    act(moderator, ids[1], "reject", reason="=cmd|' /C calc'!A0")
    page = moderator.get("/staff/audit?action=approve").get_data(as_text=True)
    assert f"#{ids[0]}" in page and f"#{ids[1]}" not in page
    by_sig = moderator.get(f"/staff/audit?signature={ids[1]}").get_data(as_text=True)
    assert "=cmd|" in by_sig and f"#{ids[0]}<" not in by_sig
    by_actor = moderator.get("/staff/audit?actor=MOD@").get_data(as_text=True)
    assert f"#{ids[0]}" in by_actor
    today = utcnow().date()
    future = moderator.get(f"/staff/audit?from={today + timedelta(days=1)}").get_data(as_text=True)
    assert "No event matches" in future
    window = moderator.get(f"/staff/audit?from={today}&to={today}&action=reject").get_data(
        as_text=True
    )
    assert f"#{ids[1]}" in window
    assert moderator.get("/staff/audit?from=not-a-date&page=abc").status_code == 200

    export = moderator.get("/staff/audit.csv?action=reject")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["action"] for r in rows] == ["reject"]
    assert rows[0]["detail"].startswith("'=cmd")
    assert rows[0]["actor"] == "mod@example.org"

    # Append-only: there is no route that edits or deletes audit events.
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule


def test_audit_log_paginates(app, seeded, moderator):
    with app.app_context():
        for i in range(130):
            db.session.add(
                AuditEvent(actor_type="system", actor_label="bot", action=f"noise{i % 3}")
            )
        db.session.commit()
    first = moderator.get("/staff/audit").get_data(as_text=True)
    assert "Page 1 of" in first and 'rel="next"' in first
    second = moderator.get("/staff/audit?page=2").get_data(as_text=True)
    assert "Page 2 of" in second
