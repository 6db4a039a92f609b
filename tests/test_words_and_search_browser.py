"""In Chromium: a visitor's folded search with its open-data links, and a moderator's audit log in
words, each page passing the accessibility audit."""

from __future__ import annotations

import re

from sqlalchemy import select

from petition.extensions import db
from petition.models import OutboxMessage, SignatureState
from tests.conftest import CSRF_RE, valid_form
from tests.flows import post_form
from tests.staff_helpers import make_signature, make_staff, sign_in_page
from tests.test_accessibility import DESKTOP, audit


def test_public_search_finds_across_hyphens_and_accents(browser, app, seeded, live_url):
    for name, city in (("Mairie de Saint-Ouen", "Saint-Ouen"), ("Région Île-de-France", "Paris")):
        make_signature(
            app, seeded, name=name, city=city, email=None, country="FR",
            state=SignatureState.APPROVED,
        )  # fmt: skip
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_url}/signatories")
        page.fill("#q", "saint ouen")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**q=saint+ouen**")
        names = page.locator(".signatory-list .org-name").all_inner_texts()
        assert names == ["Mairie de Saint-Ouen"]
        status = page.locator("p.result-count").inner_text()
        assert status.startswith("1 signatory matches.")
        json_link = page.get_by_role("link", name="JSON").evaluate("a => a.href")
        data = page.request.get(json_link).json()
        assert [s["organisation_name"] for s in data["signatories"]] == ["Mairie de Saint-Ouen"]
        assert audit(browser, page) == []

        page.fill("#q", "ile de france")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**q=ile+de+france**")
        assert page.locator(".signatory-list .org-name").all_inner_texts() == [
            "Région Île-de-France"
        ]
        page.fill("#q", "nowhere at all")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**q=nowhere**")
        assert page.locator("main").inner_text().count("No signatory matches") == 1
    finally:
        context.close()


def test_moderator_reads_the_audit_log_in_words(browser, app, client, seeded, live_url):
    make_staff(app, "mod@example.org", "moderator")
    email = "browser-audit@example.org"
    post_form(client, seeded, valid_form(email=email, organisation_name="Words Org"))
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.to_address == email)
        )
    link = re.search(r"/confirm/[A-Za-z0-9_-]+", body).group(0)
    token = CSRF_RE.search(client.get(link).text).group(1)
    assert "confirmed" in client.post(link, data={"csrf_token": token}).text
    base = live_url.rsplit("/statements/", 1)[0]
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, base, "mod@example.org")
        page.goto(f"{base}/staff/queue")
        page.get_by_role("button", name="Approve", exact=True).first.click()
        page.wait_for_load_state()
        assert "Approved: Words Org" in page.locator(".flashes").inner_text()

        page.goto(f"{base}/staff/audit")
        table = page.locator("table.audit-table").inner_text()
        for words in (
            "Awaiting a decision → Approved",
            "Waiting for email confirmation → Awaiting a decision",
            "New: Waiting for email confirmation",
            "The signatory",
            "Email confirmed",
        ):
            assert words in table, words
        for code in ("pending_email", "∅", "signatory signatory", "staff_signed_in"):
            assert code not in table, code
        assert audit(browser, page) == []

        page.select_option("#a-action", label="Approved")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**action=approve**")
        actions = page.locator("table.audit-table tbody tr td:nth-child(4)").all_inner_texts()
        assert actions == ["Approved"]
    finally:
        context.close()
