"""In Chromium: an admin imports a file with errors, sees each one by line and column, fixes the
file, imports it, and finds the endorsements in the queue; every page passes axe (issue 13.1)."""

from __future__ import annotations

from tests.staff_helpers import make_staff, sign_in_page
from tests.test_accessibility import DESKTOP, audit

HEADER = "organisation_name,organisation_type,country,city,email\n"
WITH_ERRORS = (
    HEADER + "Région Test,Regions,Frankreich-Süd,Lyon,\nTallinna Ülikool,charity,EE,Tallinn,\n"
)
FIXED = HEADER + "Région Test,Regions,France,Lyon,\nTallinna Ülikool,university,EE,Tallinn,\n"


def test_admin_imports_a_file_after_fixing_it(browser, app, live_url, tmp_path):
    make_staff(app, "admin@example.org", "admin")
    base = live_url.rsplit("/statements/", 1)[0]
    bad, good = tmp_path / "event.csv", tmp_path / "event-fixed.csv"
    bad.write_text(WITH_ERRORS, encoding="utf-8")
    good.write_text(FIXED, encoding="utf-8")
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, base, "admin@example.org")
        page.goto(f"{base}/staff/statements")
        page.get_by_role("link", name="Import").first.click()
        assert audit(browser, page) == []

        page.set_input_files("input[name=file]", str(bad))
        page.get_by_role("button", name="Check the file").click()
        page.wait_for_selector("#error-summary")
        summary = page.inner_text("#error-summary")
        # No country is guessed from a name it does not have.
        assert "Line 2, country:" in summary and "Did you mean France (FR)?" in summary
        assert "Line 3, organisation_type: Write one of the types" in summary
        assert page.get_by_role("button", name="Import all").count() == 0
        assert audit(browser, page) == []

        page.get_by_role("link", name="Upload a corrected file").click()
        page.set_input_files("input[name=file]", str(good))
        page.get_by_role("button", name="Check the file").click()
        page.wait_for_selector("table.import-rows")
        assert "France" in page.inner_text("table.import-rows")
        assert audit(browser, page) == []
        page.get_by_label("Verified: waiting for review").check()
        page.get_by_label("I have checked the rows").check()
        page.get_by_role("button", name="Import all 2 rows").click()
        page.wait_for_selector(".flash-success")
        assert "2 endorsements imported from event-fixed.csv" in page.inner_text(".flashes")
        assert "event-fixed.csv" in page.inner_text("#import-batches")
        assert audit(browser, page) == []

        page.goto(f"{base}/staff/queue")
        queue = page.inner_text("main")
        assert "Région Test" in queue and "Tallinna Ülikool" in queue
    finally:
        context.close()
