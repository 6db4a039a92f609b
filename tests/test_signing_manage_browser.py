"""In Chromium: the signatory corrects the endorsement through the emailed manage link, before and
after approval (the public list and the PDF change only when staff accept), and signing again
with the same address shows the neutral page and mails the link (issue 11.2)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import Signature, SignatureChange
from tests.pdf_helpers import latest_pdf, pdf_text
from tests.staff_helpers import post, signed_in
from tests.test_accessibility import audit

EMAIL = "olena@kpi.ua"
LINK = r"http://127\.0\.0\.1:\d+/{}/[A-Za-z0-9_-]+"


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB", bypass_csp=True)  # bypass: axe is injected
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _link(message, kind: str) -> str:
    return re.search(LINK.format(kind), message.get_body(("plain",)).get_content()).group(0)


def _sign(page, live_url: str, name: str) -> None:
    page.goto(f"{live_url}/sign")
    page.locator("#organisation_name").fill(name)
    page.locator("#organisation_type").select_option("university")
    page.locator("#country").select_option("UA")
    page.locator("#city").fill("Kyiv")
    page.locator("#contact_name").fill("Olena Shevchenko")
    page.locator("#email").fill(EMAIL)
    page.locator("#consent").check()
    page.get_by_role("button", name="Sign the statement").click()
    page.wait_for_url(f"{live_url}/sign/check-your-email")


def _public_names(client, slug: str) -> list[str]:
    """The public list as its open data gives it (a browser may keep the page a minute)."""
    listing = client.get(f"/statements/{slug}/signatories.json").get_json()
    return [s["organisation_name"] for s in listing["signatories"]]


def _rebuilt_pdf_text(app, client, slug: str, tmp_path) -> str:
    """The PDF as a rebuild now makes it (the live server mutes automatic rebuilds)."""
    result = app.test_cli_runner().invoke(args=["pdf", "rebuild", slug])
    assert result.exit_code == 0, result.output
    return pdf_text(latest_pdf(client), tmp_path)


def test_correct_before_and_after_approval_and_sign_again(page, live_url, smtp, app, tmp_path):
    slug = live_url.rsplit("/", 1)[1]
    client = app.test_client()
    _sign(page, live_url, "Kyiv Polytechnic")
    main = page.locator("main").inner_text()
    assert EMAIL in main and "Wrong address?" in main
    neutral = main

    # Before approval: the correction replaces the details.
    [confirmation] = smtp.wait_for(1)
    manage = _link(confirmation, "manage")
    page.goto(manage)
    assert "Not confirmed yet" in page.locator("main").inner_text()
    assert audit(page.context.browser, page) == []
    assert page.locator("#organisation_name").input_value() == "Kyiv Polytechnic"
    page.locator("#organisation_name").fill("Igor Sikorsky Kyiv Polytechnic Institute")
    page.get_by_role("button", name="Save the corrections").click()
    page.get_by_text("Your corrections are saved.").wait_for()
    page.goto(_link(confirmation, "confirm"))
    assert "Igor Sikorsky Kyiv Polytechnic Institute" in page.locator("main").inner_text()
    page.get_by_role("button", name="Confirm the endorsement").click()
    page.get_by_role("heading", name="Your endorsement is confirmed").wait_for()
    with app.app_context():
        signature_id = db.session.scalar(select(Signature.id).where(Signature.email == EMAIL))
    result = app.test_cli_runner().invoke(args=["signatures", "approve", str(signature_id)])
    assert result.exit_code == 0, result.output
    assert "Igor Sikorsky Kyiv Polytechnic Institute" in _public_names(client, slug)

    # After approval: the correction waits for staff; the list and the PDF keep the approved name.
    approval = smtp.wait_for(2)[1]
    page.goto(_link(approval, "manage"))
    assert "Published" in page.locator("main").inner_text()
    page.locator("#organisation_name").fill("KPI")
    page.get_by_role("button", name="Save the corrections").click()
    page.get_by_text("sent to the campaign team").wait_for()
    assert "Waiting for the campaign team" in page.locator("main").inner_text()
    assert audit(page.context.browser, page) == []
    listed = _public_names(client, slug)
    assert "Igor Sikorsky Kyiv Polytechnic Institute" in listed and "KPI" not in listed
    text = _rebuilt_pdf_text(app, client, slug, tmp_path)
    assert "Igor Sikorsky" in text and "KPI" not in text

    staff = signed_in(app, "mod@example.org")
    with app.app_context():
        change_id = db.session.scalar(select(SignatureChange.id))
    assert post(staff, f"/staff/changes/{change_id}/accept", {}).status_code == 303
    listed = _public_names(client, slug)
    assert "KPI" in listed and "Igor Sikorsky Kyiv Polytechnic Institute" not in listed
    text = _rebuilt_pdf_text(app, client, slug, tmp_path)
    assert "KPI" in text and "Igor Sikorsky" not in text

    # Signing again with the same address: the same neutral page, the manage link by email,
    # and nothing stored from the new form.
    _sign(page, live_url, "Someone Else Entirely")
    assert page.locator("main").inner_text() == neutral
    again = smtp.wait_for(3)[2]
    assert again["To"] == EMAIL
    page.goto(_link(again, "manage"))
    assert page.locator("#organisation_name").input_value() == "KPI"
    assert "Someone Else Entirely" not in page.locator("main").inner_text()
