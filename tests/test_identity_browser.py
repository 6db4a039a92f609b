"""In Chromium: an admin sets the campaign's identity and uploads its logo through the console's
own forms; the public pages then show them, and the identity page passes the accessibility audit."""

from __future__ import annotations

from tests.staff_helpers import PASSWORD, make_staff
from tests.test_accessibility import DESKTOP, audit
from tests.test_identity import png


def test_admin_sets_the_identity_and_logo_in_the_browser(browser, app, live_url, tmp_path):
    make_staff(app, "admin@example.org", "admin")
    base = live_url.rsplit("/statements/", 1)[0]
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(8, 8))
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/staff/login")
        page.fill("input[name=email]", "admin@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url(f"{base}/staff/")
        page.goto(f"{base}/staff/identity")
        assert audit(browser, page) == []
        page.fill("input[name=name]", "Regions for Recovery")
        page.fill("input[name=contact_email]", "hello@regions-network.eu")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{base}/staff/identity")
        page.set_input_files("input[name=logo]", str(logo))
        page.get_by_role("button", name="Upload the logo").click()
        page.wait_for_url(f"{base}/staff/identity")
        assert "Logo saved." in page.inner_text("main")

        page.goto(live_url)
        header = page.locator("header.site-header")
        assert "Regions for Recovery" in header.inner_text()
        # The logo is loaded and drawn (the browser decoded what the site served).
        width = page.eval_on_selector("img.brand-logo", "img => img.complete && img.naturalWidth")
        assert width == 8
        assert "hello@regions-network.eu" in page.locator("footer").inner_text()
    finally:
        context.close()
