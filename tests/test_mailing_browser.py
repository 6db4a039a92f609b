"""In Chromium (issue 13.4): an admin composes a mailing, previews it, sends a test to
themself and sends it to two opted-in contacts through the real SMTP test server; one
contact unsubscribes from the emailed link; the pages pass the accessibility audit."""

from __future__ import annotations

import re

from tests.conftest import PHONE, wait_jobs
from tests.staff_helpers import PASSWORD, get_signature, make_staff, sign_in_page
from tests.test_accessibility import DESKTOP, audit
from tests.test_mailing import _contact


def test_an_admin_sends_a_mailing_and_a_contact_unsubscribes(browser, app, seeded, live_url, smtp):
    make_staff(app, "admin@example.org", "admin")
    anna = _contact(app, seeded, "anna@lodzkie.pl")
    _contact(app, seeded, "ben@brabant.nl")
    _contact(app, seeded, "carl@tirol.at", keep_informed=False)
    base = live_url.rsplit("/statements/", 1)[0]
    staff = browser.new_context(viewport=DESKTOP)
    reader = browser.new_context(viewport=PHONE)
    try:
        page = staff.new_page()
        sign_in_page(page, base, "admin@example.org", PASSWORD)
        page.get_by_role("link", name="Mailings").click()
        page.wait_for_url(f"{base}/staff/mailings")
        assert audit(browser, page) == []
        page.get_by_role("link", name="New mailing").click()
        assert "It goes to 2 contact(s) now" in page.inner_text("main")
        page.fill("input[name=subject_en]", "The statement is delivered")
        page.fill(
            "textarea[name=body_en]",
            "We handed it over on **30 November**.\n\n- Next: the answer in spring.",
        )
        page.get_by_role("button", name="Save and preview").click()
        page.wait_for_url(re.compile(rf"{base}/staff/mailings/\d+$"))
        assert "Draft saved" in page.inner_text("main")
        # The preview frame shows the HTML email as sent (Markdown rendered).
        frame = page.frame_locator("iframe.mail-preview").first
        assert "30 November" in frame.locator("strong").inner_text()
        assert "Unsubscribe" in frame.locator("body").inner_text()
        assert audit(browser, page) == []

        page.get_by_role("button", name="Send me a test").click()
        page.wait_for_url(re.compile(rf"{base}/staff/mailings/\d+$"))
        assert "1 test email(s) sent to admin@example.org" in page.inner_text("main")
        [test_mail] = smtp.wait_for(1)
        assert test_mail["To"] == "admin@example.org"

        page.get_by_role("link", name="Continue to sending…").click()
        assert "Send the mailing to 2 contact(s)?" in page.inner_text("main")
        assert audit(browser, page) == []
        page.get_by_label("I have checked the preview and the test email").check()
        page.get_by_role("button", name="Send to 2 contact(s)").click()
        page.wait_for_url(re.compile(rf"{base}/staff/mailings/\d+$"))
        assert "on its way to 2 contact(s)" in page.inner_text("main")
        mails = smtp.wait_for(3)[1:]
        wait_jobs(app)
        assert sorted(m["To"] for m in mails) == ["anna@lodzkie.pl", "ben@brabant.nl"]
        page.reload()
        assert "Sent: 2" in page.inner_text("main")
        assert audit(browser, page) == []

        # Anna follows the link in her email and unsubscribes with the button.
        mail = next(m for m in mails if m["To"] == "anna@lodzkie.pl")
        body = mail.get_body(("plain",)).get_content()
        link = re.search(r"http://127\.0\.0\.1:\d+/unsubscribe/\S+", body).group(0)
        phone = reader.new_page()
        phone.goto(link)
        assert audit(browser, phone) == []
        phone.get_by_role("button", name="Unsubscribe").click()
        assert "You are unsubscribed" in phone.inner_text("main")
        assert audit(browser, phone) == []
        assert get_signature(app, anna).keep_informed is False
    finally:
        staff.close()
        reader.close()
