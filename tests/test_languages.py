"""Languages (issue 12.1): the language of a page, its links and caches, the signer's emails, the
statement's translations and the PDF's wording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

import petition
from petition.core.i18n import available_languages, negotiate
from petition.extensions import db
from petition.models import AuditEvent, Signature, Statement, StatementTranslation
from tests.conftest import CSRF_RE, csrf_token, links_in, valid_form, wait_jobs
from tests.htmltree import parse
from tests.pdf_helpers import add_verified, approve, fetch, pdf_text
from tests.staff_helpers import post

SLUG = "interregional-innovation-investments"
STATEMENT = f"/statements/{SLUG}"
#: One phrase of the sign-on form in each language, from its catalogue.
SIGN_HEADING = {
    "en": "Sign the statement for your organisation",
    "de": "Unterzeichnen",
    "fr": "Signer",
    "nl": "Onderteken",
    "es": "Firm",
    "it": "Firm",
    "pl": "Podpisz",
}


def test_accept_language_picks_the_best_of_the_site_languages():
    languages = available_languages()
    assert negotiate("de-AT,de;q=0.9,en;q=0.5", languages) == "de"
    assert negotiate("pt-BR,fr;q=0.8", languages) == "fr"
    assert negotiate("pt-BR", languages) == "en"
    assert negotiate("", languages) == "en"
    assert negotiate("*", languages) == "en"


def test_an_unprefixed_page_follows_the_browser_and_says_it_varies(client, seeded):
    english = client.get(STATEMENT)
    assert english.status_code == 200
    assert "Accept-Language" in english.headers["Vary"]
    assert parse(english.text).find("html").get("lang") == "en"
    # Another language the site has: a redirect to that language's own URL, which caches keep.
    german = client.get(STATEMENT, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.status_code == 302
    assert german.headers["Location"].endswith(f"/de{STATEMENT}")
    assert "Accept-Language" in german.headers["Vary"]
    assert "public" not in german.headers.get("Cache-Control", "")
    # A language the site lacks falls back to English, without a redirect.
    assert client.get(STATEMENT, headers={"Accept-Language": "pt-BR"}).status_code == 200


def test_a_prefixed_page_is_in_its_language_whatever_the_browser_says(client, seeded):
    page = client.get(f"/de{STATEMENT}", headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert "Accept-Language" not in page.headers.get("Vary", "")
    tree = parse(page.text)
    assert tree.find("html").get("lang") == "de"
    # The statement's own text is marked as English inside the German page.
    assert tree.find(id="statement-title").get("lang") == "en"
    # Links to pages keep the prefix; files and the staff console do not have one.
    hrefs = [a.get("href") for a in tree.find_all("a")] + [
        link.get("href") for link in tree.find_all("link")
    ]
    assert f"/de{STATEMENT}/sign" in hrefs
    assert f"/de{STATEMENT}/signatories" in hrefs
    assert f"{STATEMENT}/signatories.json" in hrefs
    assert not [h for h in hrefs if h and re.match(r"^/de/(static|staff)/", h)]
    assert not [h for h in hrefs if h and re.search(r"/de/statements/[^/]+/statement\.pdf", h)]


def test_switcher_and_hreflang_name_every_language(client, seeded):
    tree = parse(client.get(f"/fr{STATEMENT}/signatories").text)
    switcher = tree.find("nav", class_="language-switcher")
    links = {a.get("hreflang"): a for a in switcher.find_all("a")}
    assert set(links) == set(available_languages())
    assert links["fr"].get("aria-current") == "true"
    assert links["pl"].get("href") == f"/pl{STATEMENT}/signatories"
    assert links["de"].text.strip() == "Deutsch" and links["pl"].text.strip() == "Polski"
    alternates = {
        link.get("hreflang"): link.get("href")
        for link in tree.find_all("link", rel="alternate")
        if link.get("hreflang")
    }
    assert alternates["x-default"] == f"http://localhost{STATEMENT}/signatories"
    assert alternates["nl"] == f"http://localhost/nl{STATEMENT}/signatories"
    assert set(alternates) == {*available_languages(), "x-default"}
    # The canonical URL is the page's own, in its language.
    assert tree.find("link", rel="canonical").get("href") == (
        f"http://localhost/fr{STATEMENT}/signatories"
    )


def test_the_query_string_is_kept_across_languages(client, seeded):
    tree = parse(client.get(f"/it{STATEMENT}/signatories?country=PL&q=lodz").text)
    switcher = tree.find("nav", class_="language-switcher")
    hrefs = {a.get("hreflang"): a.get("href") for a in switcher.find_all("a")}
    assert hrefs["es"] == f"/es{STATEMENT}/signatories?country=PL&q=lodz"


def test_the_staff_console_and_files_have_no_language(client, seeded):
    assert client.get("/staff/login", headers={"Accept-Language": "de"}).status_code == 200
    page = client.get("/de/staff/login")
    assert parse(page.text).find("html").get("lang") == "en"
    json = client.get(f"{STATEMENT}/signatories.json", headers={"Accept-Language": "de"})
    assert json.status_code == 200 and "Accept-Language" not in json.headers.get("Vary", "")


def test_an_unknown_prefix_is_not_a_language(client, seeded):
    assert client.get(f"/xx{STATEMENT}").status_code == 404
    assert client.get(f"/DE{STATEMENT}").status_code == 404


@pytest.mark.parametrize("lang", sorted(SIGN_HEADING))
def test_each_language_renders_the_sign_form_in_that_language(client, seeded, lang):
    prefix = "" if lang == "en" else f"/{lang}"
    page = client.get(f"{prefix}{STATEMENT}/sign")
    assert page.status_code == 200
    tree = parse(page.text)
    assert tree.find("html").get("lang") == lang
    heading = tree.find("h1").text
    assert SIGN_HEADING[lang] in heading, heading
    if lang != "en":
        # The labels and the country list are translated too.
        assert "Name of the organisation" not in page.text
        assert "Choose a country…" not in page.text
        assert "Germany" not in page.text


def test_country_names_follow_the_page_and_sort_in_it(client, seeded):
    options = [
        o.text
        for o in parse(client.get(f"/de{STATEMENT}/sign").text)
        .find("select", name="country")
        .find_all("option")
    ]
    assert "Deutschland" in options and "Griechenland" in options and "Österreich" in options
    eu = options[1:28]
    assert eu[0] == "Belgien"  # Österreich sorts with the O's in German
    assert eu.index("Österreich") > eu.index("Niederlande")


def test_a_form_error_is_in_the_forms_language(client, seeded):
    url = f"/fr{STATEMENT}/sign"
    data = valid_form(organisation_name="", email="not-an-address")
    data["csrf_token"] = csrf_token(client, url)
    page = client.post(url, data=data)
    assert page.status_code == 422 or page.status_code == 200
    summary = parse(page.text).find(id="error-summary").text
    assert "Enter the" not in summary and "organisation name" not in summary


def test_a_german_signer_gets_german_emails_with_german_links(app, client, seeded, smtp):
    url = f"/de{STATEMENT}/sign"
    data = valid_form(email="lena.schmidt@example.de", contact_name="Lena Schmidt")
    data["csrf_token"] = csrf_token(client, url)
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/de{STATEMENT}/sign/check-your-email")
    [message] = smtp.wait_for(1)
    body = message.get_body(("plain",)).get_content()
    assert message["Subject"].startswith("Bestätigen") or "Unterstützung" in message["Subject"]
    assert "Hallo Lena Schmidt" in body
    assert "Confirm" not in body and "Thank you" not in body
    html = message.get_body(("html",)).get_content()
    assert '<html lang="de">' in html
    confirm_path = re.search(r"http://localhost(/de/confirm/[A-Za-z0-9_-]+)", body).group(1)
    with app.app_context():
        signature = db.session.scalar(
            select(Signature).where(Signature.email == "lena.schmidt@example.de")
        )
        assert signature.lang == "de"
    # The link lands on the German confirmation page; confirming there keeps the language.
    page = client.get(confirm_path)
    assert parse(page.text).find("html").get("lang") == "de"
    token = CSRF_RE.search(page.text).group(1)
    confirmed = client.post(confirm_path, data={"csrf_token": token})
    assert parse(confirmed.text).find("html").get("lang") == "de"
    # The staff's approval, made in the English console, mails the signer in German.
    approve(app, signature.id)
    wait_jobs(app)
    approved = smtp.wait_for(2)[1]
    assert "Hallo Lena Schmidt" in approved.get_body(("plain",)).get_content()
    assert (
        f"http://localhost/de{STATEMENT}/signatories" in approved.get_body(("plain",)).get_content()
    )


def test_an_english_signer_gets_english_emails_with_plain_links(app, client, seeded, smtp):
    response = client.post(
        f"{STATEMENT}/sign",
        data={**valid_form(), "csrf_token": csrf_token(client, f"{STATEMENT}/sign")},
    )
    assert response.status_code == 302
    [message] = smtp.wait_for(1)
    assert message["Subject"].startswith("Confirm your endorsement")
    assert set(links_in(message)) == {"confirm", "manage"}


def test_the_page_cache_keeps_languages_apart(client, seeded):
    english = client.get(STATEMENT).text
    german = client.get(f"/de{STATEMENT}").text
    assert english != german
    again = client.get(STATEMENT)
    assert again.text == english
    etag_en = client.get(STATEMENT).headers["ETag"]
    etag_de = client.get(f"/de{STATEMENT}").headers["ETag"]
    assert etag_en != etag_de


def test_dates_and_numbers_are_written_the_pages_way(app, client, seeded):
    with app.app_context():
        statement = db.session.scalar(select(Statement))
        published = statement.published_on
    months = {"de": "Mai", "fr": "mai", "pl": "maja", "nl": "mei", "es": "mayo", "it": "maggio"}
    for lang, month in months.items():
        page = client.get(f"/{lang}{STATEMENT}").text
        assert f"{published.day}" in page and month in page, lang


# ---------------------------------------------------------------- statement translations


def _translation_file(tmp_path, title="Innovationsinvestitionen", body="Übersetzter Text.\n"):
    path = tmp_path / f"de-{len(list(tmp_path.glob('de-*.md')))}.md"
    path.write_text(f"---\ntitle: {title}\nsubtitle: Gemeinsame Erklärung\n---\n\n{body}")
    return path


def test_staff_add_a_translation_shown_with_the_original_authoritative(
    app, client, runner, seeded, tmp_path
):
    result = runner.invoke(
        args=["statements", "translate", SLUG, "de", str(_translation_file(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "translation de of" in result.output
    tree = parse(client.get(f"/de{STATEMENT}").text)
    assert tree.find(id="statement-title").text == "Innovationsinvestitionen"
    assert "Übersetzter Text." in tree.find("div", class_="prose").text
    note = tree.find("div", class_="translation-note")
    assert note is not None and "translation-outdated" not in note.classes
    assert note.find("a").get("href") == f"/en{STATEMENT}"
    # The SHA-256 shown is the original's; the English page shows the original.
    with app.app_context():
        statement = db.session.scalar(select(Statement))
        sha = statement.current_version.sha256
        assert db.session.scalar(
            select(AuditEvent.action).where(AuditEvent.action == "translation_added")
        )
    assert sha[:12] in tree.find("p", class_="version-note").text
    english = parse(client.get(STATEMENT).text)
    assert english.find(id="statement-title").text != "Innovationsinvestitionen"
    assert english.find("div", class_="translation-note") is None
    # French has no translation: the original, marked with its language.
    french = parse(client.get(f"/fr{STATEMENT}").text)
    assert french.find("div", class_="translation-note") is None
    assert french.find(id="statement-title").get("lang") == "en"


def test_a_new_version_marks_the_translation_out_of_date(app, client, runner, seeded, tmp_path):
    runner.invoke(args=["statements", "translate", SLUG, "de", str(_translation_file(tmp_path))])
    source = Path(petition.__file__).parent / "content" / f"{SLUG}.md"
    amended = tmp_path / "amended.md"
    amended.write_text(source.read_text(encoding="utf-8") + "\nAmended.\n", encoding="utf-8")
    loaded = runner.invoke(args=["statements", "load", str(amended)])
    assert "new version 2" in loaded.output, loaded.output
    note = parse(client.get(f"/de{STATEMENT}").text).find("div", class_="translation-note")
    assert "translation-outdated" in note.classes
    assert "earlier version" not in note.text  # in German
    # Translating again brings it up to date.
    again = runner.invoke(
        args=["statements", "translate", SLUG, "de", str(_translation_file(tmp_path))]
    )
    assert "saved" in again.output
    note = parse(client.get(f"/de{STATEMENT}").text).find("div", class_="translation-note")
    assert "translation-outdated" not in note.classes


def test_translate_refuses_bad_input_and_changes_nothing(app, runner, seeded, tmp_path):
    cases = [
        (["statements", "translate", SLUG, "en", str(_translation_file(tmp_path))], "original"),
        (["statements", "translate", SLUG, "pt", str(_translation_file(tmp_path))], "choose one"),
        (
            ["statements", "translate", "nope", "de", str(_translation_file(tmp_path))],
            "no statement",
        ),
        (
            ["statements", "translate", SLUG, "de", str(_translation_file(tmp_path, title=""))],
            "title",
        ),
        (
            ["statements", "translate", SLUG, "de", str(_translation_file(tmp_path, body=""))],
            "empty",
        ),
    ]
    for args, words in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and words in result.output, (args, result.output)
    bad = tmp_path / "latin1.md"
    bad.write_bytes("---\ntitle: Überschrift\n---\nText\n".encode("latin-1"))
    assert (
        "not UTF-8" in runner.invoke(args=["statements", "translate", SLUG, "de", str(bad)]).output
    )
    with app.app_context():
        assert db.session.scalar(select(StatementTranslation)) is None


def test_untranslate_removes_it(app, client, runner, seeded, tmp_path):
    runner.invoke(args=["statements", "translate", SLUG, "de", str(_translation_file(tmp_path))])
    assert runner.invoke(args=["statements", "untranslate", SLUG, "de"]).exit_code == 0
    assert "Innovationsinvestitionen" not in client.get(f"/de{STATEMENT}").text
    assert runner.invoke(args=["statements", "untranslate", SLUG, "de"]).exit_code != 0


# ---------------------------------------------------------------- the PDF


def test_the_pdf_is_in_the_statements_language(app, client, seeded, tmp_path):
    with app.app_context():
        statement = db.session.scalar(select(Statement))
        statement.language = "pl"
        db.session.commit()
    approve(app, add_verified(app, "Politechnika Łódzka", country="DE"))
    approve(app, add_verified(app, "Uniwersytet Warszawski"))
    wait_jobs(app)
    text = pdf_text(fetch(client, f"{STATEMENT}/statement.pdf").data, tmp_path)
    # Four founding signatories and these two: the count in Polish words and plural form.
    assert "Sygnatariusze" in text
    assert "sześć (6) organizacji" in text
    assert "Niemcy" in text and "Germany" not in text  # the country's name in Polish
    assert "Signatories" not in text and "About this document" not in text


def test_the_pdf_stays_english_for_an_english_statement(app, client, seeded, tmp_path):
    approve(app, add_verified(app, "Politechnika Łódzka"))
    wait_jobs(app)
    text = pdf_text(fetch(client, f"{STATEMENT}/statement.pdf").data, tmp_path)
    assert "Signatories" in text and "five (5) organisations have signed" in text


# ---------------------------------------------------------------- translations in the console


def _console_post(admin, url: str, **data):
    return post(admin, url, data)


def test_an_admin_adds_previews_and_edits_a_translation_in_the_console(app, admin, client):
    with app.app_context():
        statement_id = db.session.scalar(select(Statement.id))
    listing = admin.get(f"/staff/statements/{statement_id}/translations")
    assert listing.status_code == 200
    rows = {
        row.find("th").normalised_text for row in parse(listing.text).find("tbody").find_all("tr")
    }
    assert "Deutsch de" in rows and not any(r.startswith("English") for r in rows)
    url = f"/staff/statements/{statement_id}/translations/de"
    # A preview stores nothing.
    preview = _console_post(
        admin,
        url,
        title="Innovationsinvestitionen",
        subtitle="",
        body="## Teil\n\nText.",
        action="preview",
    )
    assert preview.status_code == 200 and "<h2>Teil</h2>" in preview.text
    with app.app_context():
        assert db.session.scalar(select(StatementTranslation)) is None
    # Errors: a missing title, an empty text.
    refused = _console_post(admin, url, title="", subtitle="", body="", action="save")
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(StatementTranslation)) is None
    saved = _console_post(
        admin, url, title="Innovationsinvestitionen", subtitle="", body="Text.", action="save"
    )
    assert saved.status_code == 303
    assert "Innovationsinvestitionen" in client.get(f"/de{STATEMENT}").text
    edited = _console_post(
        admin, url, title="Investitionen", subtitle="", body="Text.", action="save"
    )
    assert edited.status_code == 303
    assert "Investitionen</h1>" in client.get(f"/de{STATEMENT}").text
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("translation_%"))
        ).all()
        assert actions == ["translation_added", "translation_updated"]
    # Removed with its button.
    gone = _console_post(admin, url + "/delete")
    assert gone.status_code == 303
    assert "Investitionen</h1>" not in client.get(f"/de{STATEMENT}").text


def test_the_console_refuses_the_statements_own_language_and_unknown_ones(app, admin):
    with app.app_context():
        statement_id = db.session.scalar(select(Statement.id))
    assert admin.get(f"/staff/statements/{statement_id}/translations/en").status_code == 404
    assert admin.get(f"/staff/statements/{statement_id}/translations/xx").status_code == 404
    assert admin.get("/staff/statements/999999/translations/de").status_code == 404
