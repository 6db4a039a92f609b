"""The sign-on page as a newcomer reads it: what is signed, by whose initiative, the likely
countries first, and which details are published and which never are."""

from __future__ import annotations

import pycountry
import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.models import Signature
from petition.statements.service import load_statement, summary_of
from tests.conftest import valid_form
from tests.flows import post_form, sign_url
from tests.htmltree import Element, parse

EU_27 = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip

FIRST_SENTENCE = (
    "European Regions, clusters, RTOs and other innovation stakeholders jointly call on the EU "
    "institutions to use the Interregional innovation Investment instrument to unleash the "
    "innovation potential available in Europe’s regions."
)


def sign_page(client, slug: str) -> Element:
    response = client.get(sign_url(slug))
    assert response.status_code == 200
    return parse(response.text)


# ---------------------------------------------------------------- what is signed


def test_the_page_names_the_statement_and_links_to_its_text_and_pdf(client, seeded):
    page = sign_page(client, seeded)
    box = page.find("section", class_="signed-statement")
    assert box is not None
    assert box.by_id("signed-title").normalised_text == (
        "Innovation investments in interregional value chains"
    )
    assert box.find("p", class_="signed-subtitle").normalised_text == (
        "Joint statement on EU Interregional Innovation Investments towards EU economic recovery"
    )
    # The opening paragraph, to its first full stop: the paragraph itself runs past the limit.
    assert box.find("p", class_="signed-summary").normalised_text == FIRST_SENTENCE
    # The initiators as the statement page and the PDF name them.
    assert box.find("p", class_="initiators").normalised_text == (
        "An initiative of Vanguard Initiative, European Clusters Alliance, "
        "EuroTech Universities Alliance, UAS4Europe."
    )
    links = {a.get("href"): a.normalised_text for a in box.find_all("a")}
    assert links[f"/statements/{seeded}"] == "Read the full text of the statement"
    assert links[f"/statements/{seeded}/statement.pdf"] == "Download it as a PDF"
    # Both links lead somewhere real.
    assert client.get(f"/statements/{seeded}").status_code == 200
    with client.get(f"/statements/{seeded}/statement.pdf") as pdf:
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_the_summary_follows_the_current_version_of_the_text(app, client, seeded):
    with app.app_context():
        load_statement(
            f"---\nslug: {seeded}\ntitle: Innovation investments in interregional value chains\n---\n\n"
            "## Why now\n\n> A quote first.\n\nRegions *ask* the [Union](https://europa.eu) to act. "
            "They offer their help.\n"
        )
    page = sign_page(client, seeded)
    summary = page.find("p", class_="signed-summary").normalised_text
    assert summary == "Regions ask the Union to act. They offer their help."
    assert FIRST_SENTENCE not in page.text


def test_without_a_pdf_yet_the_page_offers_no_pdf_link(client, no_pdf_rebuilds, seeded):
    page = sign_page(client, seeded)
    hrefs = [a.get("href") for a in page.find("section", class_="signed-statement").find_all("a")]
    assert hrefs == [f"/statements/{seeded}"]


def test_the_closing_date_is_announced_while_signing_is_open(app, client, seeded):
    from datetime import timedelta

    from petition.models import Statement, utcnow

    closes = (utcnow() + timedelta(days=40)).replace(hour=12)
    with app.app_context():
        statement = db.session.scalar(select(Statement).where(Statement.slug == seeded))
        statement.signing_closes_at = closes
        db.session.commit()
    box = sign_page(client, seeded).find("section", class_="signed-statement")
    assert f"Open for signatures until {closes.day} {closes:%B %Y}." in box.normalised_text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", ""),
        ("# Title only\n", ""),
        ("- a list\n- only\n", ""),
        ("Short and *plain* `code`.\nOn two lines.", "Short and plain code. On two lines."),
        (
            "> quoted\n\nThe [first](https://x.org) paragraph.\n\nThe second.",
            "The first paragraph.",
        ),
        # Whole sentences when they fit…
        ("A first sentence that says enough. " + "x" * 400, "A first sentence that says enough."),
        (
            "It is one. " + "Two " * 20 + "three. " + "y" * 400,
            "It is one. " + "Two " * 20 + "three.",
        ),
        # …otherwise whole words and an ellipsis (a too short sentence is no summary).
        ("Yes. " + "word " * 100, "Yes. " + ("word " * 63).strip() + "…"),
        ("word " * 100, ("word " * 64).strip() + "…"),
    ],
)
def test_summary_of_a_body(body, expected):
    assert summary_of(body) == expected
    assert len(summary_of(body)) <= 320


# ---------------------------------------------------------------- countries


def country_select(page: Element) -> Element:
    return page.by_id("country")


def test_the_eu_member_states_come_first_in_their_own_group(client, seeded):
    select_ = country_select(sign_page(client, seeded))
    children = [c for c in select_.children if isinstance(c, Element)]
    assert [(c.tag, c.get("label")) for c in children] == [
        ("option", None),
        ("optgroup", "EU member states"),
        ("optgroup", "Other countries"),
    ]
    placeholder, eu, others = children
    assert placeholder.get("value") == "" and placeholder.normalised_text == "Choose a country…"

    eu_options = eu.find_all("option")
    assert {o.get("value") for o in eu_options} == EU_27
    assert len(eu_options) == 27
    names = [o.normalised_text for o in eu_options]
    assert names == sorted(names)
    assert names[:3] == ["Austria", "Belgium", "Bulgaria"] and names[-1] == "Sweden"

    # Every other country follows, each once, with its ISO code as the value as before.
    all_values = [o.get("value") for o in select_.find_all("option")][1:]
    assert len(all_values) == len(set(all_values))
    assert set(all_values) == {c.alpha_2 for c in pycountry.countries}
    assert not EU_27 & {o.get("value") for o in others.find_all("option")}
    assert others.find_all("option")[0].normalised_text == "Afghanistan"


@pytest.mark.parametrize("country", ["GR", "UA"])
def test_a_country_of_either_group_is_stored_by_its_code(app, client, seeded, country):
    response = post_form(client, seeded, valid_form(country=country))
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalars(select(Signature.country).where(Signature.email != None))  # noqa: E711
        assert country in stored.all()


@pytest.mark.parametrize("country", ["ES", "NO"])
def test_the_chosen_country_stays_chosen_when_the_form_comes_back(client, seeded, country):
    response = post_form(client, seeded, valid_form(country=country, organisation_name=""))
    assert response.status_code == 422
    chosen = [o.get("value") for o in country_select(parse(response.text)).find_all("option")
              if "selected" in o.attrs]  # fmt: skip
    assert chosen == [country]


# ---------------------------------------------------------------- published or private


def test_the_form_says_what_is_published_and_what_never_is(client, seeded):
    page = sign_page(client, seeded)
    fieldsets = page.find("form", class_="sign-form").find_all("fieldset")
    assert len(fieldsets) == 2
    published, private = fieldsets

    def controls(fieldset: Element) -> list[str]:
        return [
            el.get("name")
            for el in fieldset.iter()
            if el.tag in ("input", "select", "textarea") and el.get("type") != "hidden"
        ]

    # The field names of the interface, each under the right heading.
    assert controls(published) == [
        "organisation_name", "organisation_type", "country", "city", "website", "comment",
    ]  # fmt: skip
    assert controls(private) == ["contact_name", "contact_role", "email"]
    note = published.by_id(published.get("aria-describedby"))
    assert note.normalised_text.startswith("Published:")
    note = private.by_id(private.get("aria-describedby"))
    assert note.normalised_text.startswith("Never published:")
    assert "your name, role and email address" in note.normalised_text
    consent = page.find("label", **{"for": "consent"}).normalised_text
    assert "published on the list of signatories, in the PDF and as open data" in consent


def test_what_to_fix_comes_before_the_statement_on_a_returned_form(client, seeded):
    """On a phone the form starts a screen or two down: the error summary must not."""
    response = post_form(client, seeded, valid_form(email=""))
    assert response.status_code == 422
    order = [
        el.get("id") or el.get("class")
        for el in parse(response.text).iter()
        if el.get("id") == "error-summary" or el.get("class") == "panel signed-statement"
    ]
    assert order == ["error-summary", "panel signed-statement"]
