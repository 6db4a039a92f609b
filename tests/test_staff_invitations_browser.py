"""In Chromium: an admin invites a moderator through the console; the moderator follows the
emailed link, chooses a password and is signed in; the pages pass the accessibility audit."""

from __future__ import annotations

import re

from tests.conftest import PHONE
from tests.staff_helpers import PASSWORD, make_staff, sign_in_page
from tests.test_accessibility import DESKTOP, audit

NEW_PASSWORD = "a long and new passphrase"


def test_an_invited_moderator_sets_a_password_and_signs_in(browser, app, live_url, smtp):
    make_staff(app, "admin@example.org", "admin")
    base = live_url.rsplit("/statements/", 1)[0]
    admin = browser.new_context(viewport=DESKTOP)
    invitee = browser.new_context(viewport=PHONE)
    try:
        page = admin.new_page()
        sign_in_page(page, base, "admin@example.org", PASSWORD)
        page.goto(f"{base}/staff/users")
        page.fill("input[name=email]", "eva@example.org")
        page.select_option("select[name=role]", "moderator")
        page.get_by_role("button", name="Send the invitation").click()
        page.wait_for_url(f"{base}/staff/users")
        assert "Invitation sent to eva@example.org" in page.inner_text("main")
        assert "Invited: no password chosen yet" in page.inner_text("main")

        [mail] = smtp.wait_for(1)
        body = mail.get_body(("plain",)).get_content()
        link = re.search(r"http://127\.0\.0\.1:\d+/staff/password/set/\S+", body).group(0)
        phone = invitee.new_page()
        phone.goto(link)
        assert "eva@example.org" in phone.inner_text("main")
        assert audit(browser, phone) == []
        phone.fill("input[name=new]", NEW_PASSWORD)
        phone.fill("input[name=confirm]", NEW_PASSWORD)
        phone.get_by_role("button", name="Set the password").click()
        phone.wait_for_url(f"{base}/staff/")
        assert "Your password is set" in phone.inner_text("main")

        # Signed out, the moderator signs in with the password they chose.
        phone.get_by_role("button", name="Sign out").click()
        sign_in_page(phone, base, "eva@example.org", NEW_PASSWORD)
        page.goto(f"{base}/staff/users")
        assert "Invited: no password chosen yet" not in page.inner_text("main")
    finally:
        admin.close()
        invitee.close()
