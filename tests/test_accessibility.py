"""axe-core (the engine behind most accessibility audits) on the pages people use, in Chromium."""

from __future__ import annotations

import re

import pytest

from tests.staff_helpers import make_signature, make_staff
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, live_url  # noqa: F401 - fixture

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def axe_browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def audit(browser, url_or_page, viewport=DESKTOP) -> list[str]:
    """Violations of WCAG 2.1 A/AA rules (and axe's best practices) on a page, as readable lines."""
    from axe_playwright_python.sync_playwright import Axe

    if isinstance(url_or_page, str):
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()
        page.goto(url_or_page)
    else:
        context, page = None, url_or_page
    try:
        results = Axe().run(page)
        return [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(node["target"][0] for node in v["nodes"][:3])
            for v in results.response["violations"]
        ]
    finally:
        if context is not None:
            context.close()


def test_public_pages_have_no_accessibility_violations(axe_browser, live_url):  # noqa: F811
    base = live_url.rsplit("/statements/", 1)[0]
    pages = [
        live_url,
        f"{live_url}/sign",
        f"{live_url}/signatories",
        f"{live_url}/signatories?q=zzzz",
        f"{live_url}/versions",
        f"{base}/privacy",
        f"{base}/no-such-page",
    ]
    problems = {}
    for url in pages:
        for viewport in (DESKTOP, PHONE):
            found = audit(axe_browser, url, viewport)
            if found:
                problems[f"{url} @ {viewport['width']}px"] = found
    assert problems == {}


def test_form_errors_and_email_pages_are_accessible(axe_browser, live_url, smtp):  # noqa: F811
    context = axe_browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_url}/sign")
        page.get_by_role("button", name="Sign the statement").click()
        page.wait_for_selector("#error-summary")
        assert audit(axe_browser, page) == []

        page.fill("#organisation_name", "Łódzkie Region")
        page.select_option("#organisation_type", "region")
        page.select_option("#country", "PL")
        page.fill("#contact_name", "Anna Nowak")
        page.fill("#email", "anna@lodzkie.pl")
        page.check("#consent")
        page.get_by_role("button", name="Sign the statement").click()
        page.wait_for_url("**/check-your-email")
        assert audit(axe_browser, page) == []

        base = live_url.rsplit("/statements/", 1)[0]
        confirm = links_in_any(smtp.wait_for(1)[0])
        page.goto(base + confirm)
        assert audit(axe_browser, page) == []
        page.get_by_role("button", name="Confirm the endorsement").click()
        page.wait_for_selector("text=Your endorsement is confirmed")
        assert audit(axe_browser, page) == []
    finally:
        context.close()


def test_staff_console_is_accessible(axe_browser, app, live_url):  # noqa: F811
    make_staff(app, "mod@example.org", "moderator")
    slug = live_url.rsplit("/", 1)[1]
    make_signature(app, slug, email="anna@gmail.com")
    base = live_url.rsplit("/statements/", 1)[0]
    context = axe_browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/staff/login")
        assert audit(axe_browser, page) == []
        page.fill("input[name=email]", "mod@example.org")
        page.fill("input[name=password]", "correct horse battery staple")
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url(f"{base}/staff/")
        problems = {}
        for path in ("/staff/", "/staff/queue", "/staff/signatures", "/staff/audit", "/staff/pdf"):
            page.goto(base + path)
            found = audit(axe_browser, page)
            if found:
                problems[path] = found
        assert problems == {}
    finally:
        context.close()


def links_in_any(message) -> str:
    """The confirmation link's path, whatever host the live server has."""
    body = message.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/confirm/[A-Za-z0-9_-]+)", body).group(1)


def test_the_audit_does_catch_violations(axe_browser):
    """The checker itself works: a page with known faults is reported."""
    context = axe_browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content(
            '<html><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            '<input type="text"><p style="color:#eee;background:#fff">faint</p></body></html>'
        )
        found = " ".join(audit(axe_browser, page))
    finally:
        context.close()
    for rule in ("html-has-lang", "image-alt", "label", "color-contrast"):
        assert rule in found
