"""In a real browser (Chromium via Playwright) on a phone screen: sign with the keyboard, confirm."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PHONE


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def active_id(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def test_sign_and_confirm_with_the_keyboard_on_a_phone(page, live_url, smtp):
    page.goto(live_url)
    assert page.locator("html").get_attribute("lang") == "en"
    # On a phone the first one is the call to action right under the title.
    page.get_by_role("link", name="Sign the statement").first.click()
    page.wait_for_url(f"{live_url}/sign")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Sign the statement for your organisation"
    )

    # Submitting the empty form: a visible, focusable summary of what to fix.
    page.get_by_role("button", name="Sign the statement").click()
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    assert summary.get_attribute("role") == "alert"
    assert "There is a problem" in summary.inner_text()
    assert "Enter the organisation name." in summary.inner_text()
    summary.focus()
    assert active_id(page) == "error-summary"
    assert page.locator("#organisation_name").get_attribute("aria-invalid") == "true"
    assert page.title().startswith("Error: ")

    # From the first field, Tab walks the form in reading order (the honeypot is skipped).
    page.locator("#organisation_name").focus()
    order = [active_id(page)]
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(active_id(page) or page.evaluate("document.activeElement.textContent.trim()"))
    assert order == [
        "organisation_name",
        "organisation_type",
        "country",
        "city",
        "website",
        "comment",
        "contact_name",
        "contact_role",
        "email",
        "keep_informed",
        "consent",
        "privacy notice",  # the link inside the consent label
        "Sign the statement",
    ]

    # Fill it in with the keyboard only.
    page.locator("#organisation_name").focus()
    keys = page.keyboard
    keys.type("Київський політехнічний інститут")
    keys.press("Tab")
    keys.type("Universities")  # type-ahead in the select
    keys.press("Tab")
    keys.type("Ukraine")
    keys.press("Tab")
    keys.type("Київ")
    keys.press("Tab")
    keys.type("kpi.ua")
    keys.press("Tab")
    keys.type("Разом сильніші.")
    keys.press("Tab")
    keys.type("Olena Shevchenko")
    keys.press("Tab")
    keys.press("Tab")  # role is optional
    keys.type("olena@kpi.ua")
    keys.press("Tab")
    keys.press("Tab")  # "keep me informed" stays unticked
    keys.press("Space")
    assert page.locator("#organisation_type").input_value() == "university"
    assert page.locator("#country").input_value() == "UA"
    assert page.locator("#consent").is_checked()
    keys.press("Tab")
    keys.press("Tab")
    assert active_id(page) == "" and "Sign the statement" in page.evaluate(
        "document.activeElement.textContent"
    )
    keys.press("Enter")

    page.wait_for_url(f"{live_url}/sign/check-your-email")
    assert page.get_by_role("heading", name="Check your email").is_visible()

    [message] = smtp.wait_for(1)
    assert message["To"] == "olena@kpi.ua"
    body = message.get_body(("plain",)).get_content()
    confirm = re.search(r"http://127\.0\.0\.1:\d+/confirm/[A-Za-z0-9_-]+", body).group(0)
    assert confirm.startswith(live_url.split("/statements")[0])

    page.goto(confirm)
    assert "Київський політехнічний інститут" in page.locator("main").inner_text()
    page.get_by_role("button", name="Confirm the endorsement").press("Enter")
    page.get_by_role("heading", name="Your endorsement is confirmed").wait_for()
    assert "What happens next" in page.locator("main").inner_text()


LABEL_CHECK = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => el.type !== 'hidden')
    .filter(el => el.labels.length === 0 || !Array.from(el.labels).some(l => l.textContent.trim()))
    .map(el => el.name || el.id || el.outerHTML)"""


def test_every_sign_form_control_has_a_label_and_fits_a_phone(page, live_url):
    page.goto(f"{live_url}/sign")
    controls = page.locator(
        "form.sign-form input:not([type=hidden]), form.sign-form select, form.sign-form textarea"
    )
    assert controls.count() == 12  # eleven fields and the honeypot
    assert page.evaluate(LABEL_CHECK) == []
    assert (
        page.get_by_label("Name of the organisation").get_attribute("name") == "organisation_name"
    )
    assert page.get_by_label("Your work email address").get_attribute("type") == "email"
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The same holds on the page that shows errors, and on the statement page.
    page.get_by_role("button", name="Sign the statement").click()
    page.locator("#error-summary").wait_for()
    assert page.evaluate(LABEL_CHECK) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(live_url)
    assert page.evaluate(LABEL_CHECK) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_lost_link_is_asked_for_from_the_statement_page(page, live_url, smtp, app):
    from tests.staff_helpers import make_signature

    make_signature(app, live_url.rsplit("/", 1)[1], email="olena@kpi.ua")
    page.goto(live_url)
    # The statement page carries no form and sets no cookie: it links to the form's own page.
    assert page.context.cookies() == []
    assert page.locator("#withdraw form").count() == 0
    page.get_by_role("link", name="Get a new link").click()
    page.wait_for_url(f"{live_url}/withdraw-link")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Get a new link to your endorsement"
    )

    page.get_by_label("Email address used to sign").fill("Olena@KPI.ua")
    page.get_by_role("button", name="Send me a link").press("Enter")
    page.wait_for_url(f"{live_url}/withdraw-link/sent")
    assert "a link to manage the endorsement is on its way" in page.locator("main").inner_text()

    [message] = smtp.wait_for(1)
    assert message["To"] == "olena@kpi.ua"
    manage = re.search(
        r"http://127\.0\.0\.1:\d+/manage/[A-Za-z0-9_-]+",
        message.get_body(("plain",)).get_content(),
    ).group(0)
    page.goto(manage)
    page.get_by_role("button", name="Withdraw the endorsement").press("Enter")
    page.get_by_role("heading", name=re.compile("withdrawn", re.IGNORECASE)).wait_for()
