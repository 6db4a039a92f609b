"""axe-core (the engine behind most accessibility audits) on the pages people use, in Chromium."""

from __future__ import annotations

import re

import pytest

from petition.core.i18n import available_languages
from tests.conftest import PHONE
from tests.staff_helpers import make_signature, make_staff

DESKTOP = {"width": 1280, "height": 900}


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


STATEMENT = "/statements/{slug}"
PUBLIC_PAGES = [
    STATEMENT,
    f"{STATEMENT}/sign",
    f"{STATEMENT}/signatories",
    f"{STATEMENT}/signatories?q=zzzz",
    f"{STATEMENT}/versions",
    f"{STATEMENT}/data",
    f"{STATEMENT}/changes",
    f"{STATEMENT}/withdraw-link",
    f"{STATEMENT}/withdraw-link/sent",
    "/privacy",
    "/no-such-page",
]


# One test per page, so that pytest-xdist spreads the tour over its workers.
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_have_no_accessibility_violations(browser, live_url, seeded, path):
    url = live_url.rsplit("/statements/", 1)[0] + path.format(slug=seeded)
    problems = {}
    for viewport in (DESKTOP, PHONE):
        found = audit(browser, url, viewport)
        if found:
            problems[f"{url} @ {viewport['width']}px"] = found
    assert problems == {}


@pytest.mark.parametrize("lang", [lang for lang in available_languages() if lang != "en"])
def test_pages_in_every_language_have_no_accessibility_violations(browser, live_url, lang):
    """The statement and sign-on pages in each of the other languages (issue 12.1), on a phone."""
    base, _, path = live_url.partition("/statements/")
    problems = {}
    for url in (f"{base}/{lang}/statements/{path}", f"{base}/{lang}/statements/{path}/sign"):
        found = audit(browser, url, PHONE)
        if found:
            problems[url] = found
    assert problems == {}


def test_form_errors_and_email_pages_are_accessible(browser, live_url, smtp):
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_url}/sign")
        page.get_by_role("button", name="Sign the statement").click()
        page.wait_for_selector("#error-summary")
        assert audit(browser, page) == []

        page.fill("#organisation_name", "Łódzkie Region")
        page.select_option("#organisation_type", "region")
        page.select_option("#country", "PL")
        page.fill("#contact_name", "Anna Nowak")
        page.fill("#email", "anna@lodzkie.pl")
        page.check("#consent")
        page.get_by_role("button", name="Sign the statement").click()
        page.wait_for_url("**/check-your-email")
        assert audit(browser, page) == []

        base = live_url.rsplit("/statements/", 1)[0]
        confirm = links_in_any(smtp.wait_for(1)[0])
        page.goto(base + confirm)
        assert audit(browser, page) == []
        page.get_by_role("button", name="Confirm the endorsement").click()
        page.wait_for_selector("text=Your endorsement is confirmed")
        assert audit(browser, page) == []
    finally:
        context.close()


def test_staff_console_is_accessible(browser, app, live_url):
    make_staff(app, "mod@example.org", "moderator")
    slug = live_url.rsplit("/", 1)[1]
    make_signature(app, slug, email="anna@gmail.com")
    base = live_url.rsplit("/statements/", 1)[0]
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/staff/login")
        assert audit(browser, page) == []
        page.fill("input[name=email]", "mod@example.org")
        page.fill("input[name=password]", "correct horse battery staple")
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url(f"{base}/staff/")
        problems = {}
        for path in ("/staff/", "/staff/queue", "/staff/signatures", "/staff/audit", "/staff/pdf"):
            page.goto(base + path)
            found = audit(browser, page)
            if found:
                problems[path] = found
        assert problems == {}
    finally:
        context.close()


def links_in_any(message) -> str:
    """The confirmation link's path, whatever host the live server has."""
    body = message.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/confirm/[A-Za-z0-9_-]+)", body).group(1)


def test_the_audit_does_catch_violations(browser):
    """The checker itself works: a page with known faults is reported."""
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content(
            '<html><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            '<input type="text"><p style="color:#eee;background:#fff">faint</p></body></html>'
        )
        found = " ".join(audit(browser, page))
    finally:
        context.close()
    for rule in ("html-has-lang", "image-alt", "label", "color-contrast"):
        assert rule in found
