"""In Chromium: an admin sets the campaign's identity and uploads its logo through the console's
own forms; the public pages then show them, and the identity page passes the accessibility audit.
Then a signer follows the links of a real email to the campaign's pages and privacy notice."""

from __future__ import annotations

import re

from tests.staff_helpers import make_staff, sign_in_page
from tests.test_accessibility import DESKTOP, audit
from tests.test_identity import IDENTITY, png


def test_admin_sets_the_identity_and_logo_in_the_browser(browser, app, live_url, tmp_path):
    make_staff(app, "admin@example.org", "admin")
    base = live_url.rsplit("/statements/", 1)[0]
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(8, 8))
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, base, "admin@example.org")
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


def test_links_from_real_emails_land_on_the_campaigns_pages(browser, app, live_url, smtp):
    """The identity set in the console's form; then, as a signer: the confirmation email's
    links, followed in Chromium, show the campaign's header and footer, and the footer's link
    leads to a privacy notice that names the configured controller."""
    make_staff(app, "admin@example.org", "admin")
    base = live_url.rsplit("/statements/", 1)[0]
    staff = browser.new_context(viewport=DESKTOP)
    try:
        page = staff.new_page()
        sign_in_page(page, base, "admin@example.org")
        page.goto(f"{base}/staff/identity")
        for name, value in IDENTITY.items():
            page.fill(f"[name={name}]", value)
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{base}/staff/identity")
        assert "Before launch" not in page.inner_text("main")
    finally:
        staff.close()

    signer = browser.new_context(viewport=DESKTOP, locale="en-GB")
    signer.set_default_timeout(10_000)
    try:
        page = signer.new_page()
        page.goto(f"{live_url}/sign")
        page.locator("#organisation_name").fill("Łódzkie Region")
        page.locator("#organisation_type").select_option("region")
        page.locator("#country").select_option("PL")
        page.locator("#city").fill("Łódź")
        page.locator("#contact_name").fill("Anna Nowak")
        page.locator("#email").fill("anna@lodzkie.pl")
        page.locator("#consent").check()
        page.get_by_role("button", name="Sign the statement").click()
        page.wait_for_url(f"{live_url}/sign/check-your-email")
        [mail] = smtp.wait_for(1)
        assert mail["From"] == "Regions for Recovery team <statement@regions-network.eu>"
        assert mail["Reply-To"] == "team@regions-network.eu"
        assert mail["Message-ID"].endswith("@regions-network.eu>")
        text = mail.get_body(("plain",)).get_content()
        links = {
            kind: re.search(rf"http://127\.0\.0\.1:\d+/{kind}/[A-Za-z0-9_-]+", text).group(0)
            for kind in ("confirm", "manage")
        }

        def carries_the_campaign(where: str) -> None:
            assert "Regions for Recovery" in page.locator("header.site-header").inner_text(), where
            footer = page.locator("footer").inner_text()
            assert "hello@regions-network.eu" in footer, where
            assert "Innovation Regions Network AISBL" in footer, where

        page.goto(links["confirm"])
        carries_the_campaign("confirm")
        page.get_by_role("button", name="Confirm the endorsement").click()
        page.get_by_text("Your endorsement is confirmed").wait_for()
        carries_the_campaign("confirmed")
        page.goto(links["manage"])
        carries_the_campaign("manage")
        page.locator("footer").get_by_role("link", name="Privacy notice").click()
        page.wait_for_url(f"{base}/privacy")
        carries_the_campaign("privacy")
        notice = " ".join(page.locator("main").inner_text().split())
        assert (
            "The data controller is Innovation Regions Network AISBL, which runs Regions for"
            " Recovery, Rue de la Loi 1, 1000 Brussels, Belgium." in notice
        )
        assert "write to privacy@regions-network.eu" in notice
        assert "Example Mail GmbH (email delivery, Germany)" in notice
    finally:
        signer.close()
