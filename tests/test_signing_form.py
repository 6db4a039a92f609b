"""The sign-on form over HTTP: errors next to their fields, other scripts, closed statements, hostile input."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition.core import events
from petition.extensions import db
from petition.models import Signature, SignatureState, Statement, utcnow
from petition.signing import service as signing
from petition.statements.service import get_statement
from tests.conftest import csrf_token, valid_form
from tests.flows import counts, post_form, read_csv, sign_confirm_approve, sign_url
from tests.htmltree import parse

FOUNDING = 4  # the seeded initiators


@pytest.fixture(autouse=True)
def _no_pdf_rebuilds():
    """List changes here need no PDF; muting the rebuild signal keeps these tests fast."""
    with events.list_changed.muted():
        yield


# ---------------------------------------------------------------- field errors

FIELD_ERRORS = [
    ("organisation_name", "", "Enter the organisation name."),
    ("organisation_name", "A", "The organisation name must be at least 2 characters."),
    ("organisation_name", "x" * 201, "The organisation name must be at most 200 characters."),
    ("organisation_name", "Evil\u202eOrg", "must not contain control characters"),
    ("organisation_type", "", "Choose the type of organisation from the list."),
    ("organisation_type", "zzz", "Choose the type of organisation from the list."),
    ("country", "", "Choose a country from the list."),
    ("country", "XX", "Choose a country from the list."),
    ("city", "x" * 101, "The city must be at most 100 characters."),
    ("website", "lodzkie", "Enter a website address such as https://www.example.org."),
    ("website", "javascript:alert(1)", "Enter a website address such as https://www.example.org."),
    ("website", "ftp://lodzkie.pl", "must start with http:// or https://"),
    ("website", "https://user:pw@lodzkie.pl", "must not contain a user name or password"),
    ("contact_name", "", "Enter the contact person's name."),
    ("contact_role", "x" * 201, "The contact person's role must be at most 200 characters."),
    ("email", "", "Enter an email address."),
    ("email", "anna.nowak-at-lodzkie.pl", "Enter a valid email address"),
    ("comment", "x" * 1001, "The comment must be at most 1000 characters."),
]


@pytest.mark.parametrize(("name", "bad", "message"), FIELD_ERRORS)
def test_field_error_is_shown_next_to_the_field_and_input_is_kept(
    app, client, seeded, name, bad, message
):
    before = counts(app)
    data = valid_form(**{"comment": "Together for the regions", name: bad})
    response = post_form(client, seeded, data)
    assert response.status_code == 422
    page = parse(response.text)

    error = page.by_id(f"{name}-error")
    assert message in error.normalised_text
    control = page.by_id(name)
    assert control.get("aria-invalid") == "true"
    assert f"{name}-error" in control.get("aria-describedby").split()
    # The message sits with its field, not only in the summary.
    assert error.parent is control.parent
    summary = page.by_id("error-summary")
    assert summary.find("a", href=f"#{name}") is not None
    assert response.text.count('aria-invalid="true"') == 1
    assert "<title>Error: " in response.text

    # What the person typed in the other fields comes back in the form.
    for other, value in data.items():
        if other in (name, "consent", "csrf_token"):
            continue
        element = page.by_id(other)
        if element.tag == "select":
            selected = [o.get("value") for o in element.find_all("option") if "selected" in o.attrs]
            assert selected == [value], other
        elif element.tag == "textarea":
            assert element.text.strip("\r\n") == value, other
        else:
            assert element.get("value") == value, other
    assert "checked" in page.by_id("consent").attrs

    assert counts(app) == before


def test_missing_consent_is_an_error_on_the_checkbox(app, client, seeded):
    before = counts(app)
    response = post_form(client, seeded, valid_form(consent=None))
    assert response.status_code == 422
    page = parse(response.text)
    assert "Tick the box to agree" in page.by_id("consent-error").text
    checkbox = page.by_id("consent")
    assert checkbox.get("aria-invalid") == "true"
    assert checkbox.get("aria-describedby") == "consent-error"
    assert "checked" not in checkbox.attrs
    assert page.by_id("organisation_name").get("value") == "Łódzkie Region"
    assert counts(app) == before


def test_empty_form_lists_every_required_field(app, client, seeded):
    before = counts(app)
    response = post_form(client, seeded, {})
    assert response.status_code == 422
    page = parse(response.text)
    summary_links = {a.get("href") for a in page.by_id("error-summary").find_all("a")}
    assert summary_links == {
        "#organisation_name",
        "#organisation_type",
        "#country",
        "#contact_name",
        "#email",
        "#consent",
    }
    # Optional fields carry no error.
    for optional in ("city", "website", "contact_role", "comment"):
        assert page.find(id=f"{optional}-error") is None
    assert counts(app) == before


def test_values_are_normalised_before_storing(app, client, seeded):
    response = post_form(
        client,
        seeded,
        valid_form(
            organisation_name="  " + unicodedata.normalize("NFD", "Łódzkie   Region") + " ",
            country="pl",
            website="WWW.Lodzkie.PL/en",
            email="  Anna.Nowak@LODZKIE.pl ",
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        sig = db.session.scalar(select(Signature))
        sig = db.session.scalar(select(Signature).where(Signature.is_initiator.is_(False)))
        assert sig.organisation_name == "Łódzkie Region"
        assert sig.organisation_name_key == "lodzkie region"
        assert sig.country == "PL"
        assert sig.country_name == "Poland"
        assert sig.website == "https://www.lodzkie.pl/en"
        assert sig.email == "Anna.Nowak@lodzkie.pl"
        assert sig.email_normalised == "anna.nowak@lodzkie.pl"
        assert sig.state == SignatureState.PENDING_EMAIL
        assert sig.consent_at is not None


# ---------------------------------------------------------------- other scripts

NAMES = [
    ("Urząd Marszałkowski Województwa Łódzkiego", "Łódź", "PL", "urzad@lodzkie.pl"),
    ("Περιφέρεια Αττικής — Ελλάδα", "Αθήνα", "GR", "info@patt.gov.gr"),
    ("Київський політехнічний інститут", "Київ", "UA", "office@kpi.ua"),
]


def test_names_in_other_scripts_are_stored_and_shown_exactly(app, client, seeded):
    for name, city, country, email in NAMES:
        sign_confirm_approve(
            app,
            client,
            seeded,
            organisation_name=name,
            city=city,
            country=country,
            email=email,
            website="https://" + email.split("@")[1],
        )
    with app.app_context():
        stored = {
            s.email: (s.organisation_name, s.city)
            for s in db.session.scalars(select(Signature).where(Signature.email.is_not(None)))
        }
    assert stored == {email: (name, city) for name, city, _c, email in NAMES}

    statement_page = client.get(f"/statements/{seeded}").text
    listing = client.get(f"/statements/{seeded}/signatories").text
    data = client.get(f"/statements/{seeded}/signatories.json").get_json()
    csv_text = client.get(f"/statements/{seeded}/signatories.csv").get_data().decode("utf-8")
    for name, city, _country, _email in NAMES:
        assert name in statement_page
        assert name in listing and city in listing
        assert name in csv_text and city in csv_text
        assert {"organisation_name": name, "city": city}.items() <= next(
            s for s in data["signatories"] if s["organisation_name"] == name
        ).items()
    # The search folds accents but keeps the scripts: "киів" finds the Kyiv institute.
    found = client.get(f"/statements/{seeded}/signatories", query_string={"q": "Київ"}).text
    assert "Київський політехнічний інститут" in found
    assert "Urząd Marszałkowski" not in found


# ---------------------------------------------------------------- closed statements


def _close(app, slug: str, how: str) -> None:
    now = utcnow()
    values = {
        "is_open": {"is_open": False},
        "closed_date": {"signing_closes_at": now - timedelta(minutes=1)},
        "not_yet_open": {"signing_opens_at": now + timedelta(days=1)},
    }[how]
    with app.app_context():
        db.session.execute(update(Statement).where(Statement.slug == slug).values(**values))
        db.session.commit()


@pytest.mark.parametrize("how", ["is_open", "closed_date", "not_yet_open"])
def test_closed_statement_accepts_nothing(app, client, seeded, how):
    _close(app, seeded, how)
    before = counts(app)
    heading = {
        "is_open": "This statement is closed to new signatures",
        "closed_date": "This statement is closed to new signatures",
        "not_yet_open": "Signing has not opened yet",
    }[how]

    form_page = client.get(sign_url(seeded))
    assert form_page.status_code == 200
    assert parse(form_page.text).find("h1").text == heading
    assert 'name="organisation_name"' not in form_page.text

    statement_page = parse(client.get(f"/statements/{seeded}").text)
    assert statement_page.find("p", class_="notice") is not None
    assert statement_page.find("a", href=sign_url(seeded)) is None

    data = valid_form()
    data["csrf_token"] = csrf_token(client, f"/statements/{seeded}/withdraw-link")
    refused = client.post(sign_url(seeded), data=data)
    assert refused.status_code == 410
    assert parse(refused.text).find("h1").text == heading
    assert counts(app) == before


def test_open_statement_has_a_sign_link_and_form(client, seeded):
    # The counterpart of the closed cases above, so that they cannot pass vacuously.
    statement_page = parse(client.get(f"/statements/{seeded}").text)
    assert statement_page.find("a", href=sign_url(seeded)).text == "Sign the statement"
    assert statement_page.find("p", class_="notice") is None
    assert 'name="organisation_name"' in client.get(sign_url(seeded)).text


def test_closing_date_is_shown(app, client, seeded):
    with app.app_context():
        db.session.execute(
            update(Statement)
            .where(Statement.slug == seeded)
            .values(signing_closes_at=utcnow().replace(year=2024, month=3, day=31))
        )
        db.session.commit()
    assert "stopped accepting endorsements on 31 March 2024" in client.get(sign_url(seeded)).text


def test_service_refuses_a_statement_that_closed_meanwhile(app, seeded):
    with app.app_context():
        statement = get_statement(seeded)
        statement.is_open = False
        db.session.commit()
        data = signing.SignatureInput(
            organisation_name="Late Org",
            organisation_type="sme",
            country="DE",
            city="",
            website="https://late.example.org",
            contact_name="Lena",
            contact_role="",
            email="lena@late.example.org",
            email_normalised="lena@late.example.org",
        )
        with pytest.raises(signing.StatementClosed):
            signing.submit_signature(statement, data)
    assert counts(app) == (FOUNDING, 0)


@pytest.mark.config(PAGE_FRESH_SECONDS=60)
def test_sign_ons_read_the_statement_once_per_window_and_a_closed_one_refuses_at_once(
    app, client, seeded
):
    """Within PAGE_FRESH_SECONDS, sign-ons reuse the statement this process read (its title
    for the email); whether it takes signatures is read in each write transaction."""
    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "FROM statements" in statement and "statements.slug =" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    token = csrf_token(client, sign_url(seeded))
    event.listen(engine, "before_cursor_execute", count)
    try:
        for n in range(3):
            form = valid_form(email=f"person{n}@example.org", csrf_token=token)
            assert client.post(sign_url(seeded), data=form).status_code == 302
        assert counts(app)[0] == FOUNDING + 3
        assert len(reads) == 1  # the first sign-on's; the next two reuse it
        with app.app_context():
            db.session.execute(update(Statement).values(is_open=False))
            db.session.commit()
        form = valid_form(email="late@example.org", csrf_token=token)
        closed = client.post(sign_url(seeded), data=form)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert closed.status_code == 410
    assert counts(app)[0] == FOUNDING + 3


# ---------------------------------------------------------------- hostile and malformed input


def test_ten_megabyte_body_is_413(app, client, seeded):
    token = csrf_token(client, sign_url(seeded))
    body = f"csrf_token={token}&organisation_name=" + "x" * (10 * 1024 * 1024)
    response = client.post(
        sign_url(seeded), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert "larger than this site accepts" in response.text
    assert counts(app) == (FOUNDING, 0)


def _urlencoded(fields: dict, raw: dict[str, bytes]) -> bytes:
    from urllib.parse import quote

    parts = [f"{k}={quote(v)}".encode() for k, v in fields.items()]
    parts += [k.encode() + b"=" + v for k, v in raw.items()]
    return b"&".join(parts)


@pytest.mark.parametrize(
    "bad",
    [b"%FF%FE%FDOrg", b"%C3%28Org", b"\xff\xfeOrg", b"Org%ED%A0%80"],
    ids=["percent-latin1", "percent-truncated", "raw-bytes", "percent-surrogate"],
)
def test_invalid_utf8_in_a_urlencoded_field_is_400(app, client, seeded, bad):
    fields = valid_form()
    del fields["organisation_name"]
    fields["csrf_token"] = csrf_token(client, sign_url(seeded))
    response = client.post(
        sign_url(seeded),
        data=_urlencoded(fields, {"organisation_name": bad}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "not valid UTF-8" in response.text
    assert counts(app) == (FOUNDING, 0)


def test_invalid_utf8_in_a_multipart_field_is_a_form_error(app, client, seeded):
    boundary = "jointlyboundary"
    fields = valid_form()
    fields["csrf_token"] = csrf_token(client, sign_url(seeded))
    chunks = []
    for key, value in fields.items():
        payload = b"\xff\xfe Org" if key == "organisation_name" else value.encode()
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
            + payload
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    response = client.post(
        sign_url(seeded), data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 422
    error = parse(response.text).by_id("organisation_name-error")
    assert "could not be read" in error.text
    assert counts(app) == (FOUNDING, 0)


@pytest.mark.parametrize(
    "name",
    [
        "organisation_name",
        "organisation_type",
        "country",
        "city",
        "website",
        "contact_name",
        "contact_role",
        "email",
        "comment",
    ],
)
def test_nul_in_any_field_is_a_form_error(app, client, seeded, name):
    # PostgreSQL refuses NUL in text; it must be stopped by validation, never reach the database.
    response = post_form(client, seeded, valid_form(**{name: "Ab\x00cd"}))
    assert response.status_code == 422
    assert parse(response.text).find(id=f"{name}-error") is not None
    assert counts(app) == (FOUNDING, 0)


def test_json_body_is_400(app, client, seeded):
    token = csrf_token(client, sign_url(seeded))
    response = client.post(
        sign_url(seeded), json={**valid_form(), "csrf_token": token}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
    assert counts(app) == (FOUNDING, 0)


def test_unknown_statement_is_a_404_page(client, seeded):
    for method in ("get", "post"):
        response = getattr(client, method)("/statements/no-such-statement/sign")
        assert response.status_code in (404, 400), method  # POST without CSRF may stop earlier
    response = client.get("/statements/no-such-statement/sign")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no statement at this address." in response.text
    token = csrf_token(client, sign_url(seeded))
    posted = client.post(
        "/statements/no-such-statement/sign", data={**valid_form(), "csrf_token": token}
    )
    assert posted.status_code == 404


def test_markup_in_a_name_is_stored_literally_and_escaped_everywhere(app, client, seeded):
    name = '<script>alert("x")</script> Evil & Co'
    comment = "<img src=x onerror=alert(1)> We agree"
    sign_confirm_approve(
        app,
        client,
        seeded,
        organisation_name=name,
        comment=comment,
        city="<b>Łódź</b>",
        email="evil@example.org",
        website="example.org",
    )
    with app.app_context():
        stored = db.session.scalar(select(Signature).where(Signature.email == "evil@example.org"))
        assert (stored.organisation_name, stored.comment, stored.city) == (
            name,
            comment,
            "<b>Łódź</b>",
        )
    for path in (
        f"/statements/{seeded}",
        f"/statements/{seeded}/signatories",
        f"/statements/{seeded}/signatories?sort=name",
        f"/statements/{seeded}/signatories?q=evil",
    ):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<b>Łódź</b>" not in html, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Evil &amp; Co" in html, path
    html = client.get(f"/statements/{seeded}/signatories").text
    assert "&lt;img src=x onerror=alert(1)&gt; We agree" in html
    data = client.get(f"/statements/{seeded}/signatories.json").get_json()
    assert name in [s["organisation_name"] for s in data["signatories"]]
    rows = read_csv(client.get(f"/statements/{seeded}/signatories.csv").get_data())
    assert name in [row["organisation_name"] for row in rows]


@pytest.mark.parametrize(
    "query",
    [
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999"},
        {"page": "1e3"},
        {"page": "9" * 40},
        {"country": "<script>"},
        {"country": "pl"},
        {"type": "zzz"},
        {"sort": "'; DROP TABLE signatures;--"},
        {"q": "x" * 10_000},
        {"q": "%_\\"},
        {"q": "\x00"},
        {"q": "<script>alert(1)</script>"},
        {"page": "2", "country": "ZZ", "type": "sme", "sort": "recent", "q": "ł"},
    ],
)
def test_weird_query_strings_on_the_list_never_fail(client, seeded, query):
    response = client.get(f"/statements/{seeded}/signatories", query_string=query)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "Signatories" in response.text


def test_query_string_filters_are_sanitised_before_use(client, seeded):
    # An unknown country or type filter is ignored, not passed to the query.
    everyone = client.get(f"/statements/{seeded}/signatories").text
    assert "4 signatories." in everyone
    assert (
        "4 signatories"
        in client.get(
            f"/statements/{seeded}/signatories", query_string={"type": "zzz", "country": "<s"}
        ).text
    )
    assert (
        "No signatory matches."
        in client.get(f"/statements/{seeded}/signatories", query_string={"country": "PL"}).text
    )
    assert (
        "4 signatories match"
        in client.get(f"/statements/{seeded}/signatories", query_string={"country": "be"}).text
    )


def test_website_is_optional(app, client, seeded):
    response = post_form(client, seeded, valid_form(website=""))
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalar(
            select(Signature).where(Signature.email_normalised == "anna.nowak@lodzkie.pl")
        )
        assert stored is not None and stored.website == ""


def test_a_submission_that_races_a_deletion_asks_to_send_again(app, client, seeded, monkeypatch):
    def crossed(*args, **kwargs):
        raise signing.SigningError("conflict, please try again")

    monkeypatch.setattr(signing, "submit_signature", crossed)
    response = post_form(client, seeded, valid_form())
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Please send it again" in page
    assert 'value="Łódzkie Region"' in page  # nothing typed is lost


@pytest.mark.config(PROXY_FIX_HOPS=1, RATELIMIT_ENABLED=True, SIGN_RATE_LIMIT="2 per minute")
def test_behind_a_proxy_the_sign_limit_counts_each_client(app, seeded):
    from tests.conftest import csrf_token, valid_form

    def sign(client_ip: str, n: int):
        client = app.test_client()
        headers = {"X-Forwarded-For": client_ip}
        url = f"/statements/{seeded}/sign"
        token = csrf_token(client, url)
        data = valid_form(email=f"person{n}@example.org", csrf_token=token)
        return client.post(url, data=data, headers=headers).status_code

    assert [sign("198.51.100.1", i) for i in range(3)] == [302, 302, 429]
    assert sign("198.51.100.2", 9) == 302  # another client behind the same proxy


@pytest.mark.config(PROXY_FIX_HOPS=1, RATELIMIT_ENABLED=True, SIGN_RATE_LIMIT="2 per minute")
def test_the_sign_limit_counts_an_ipv6_client_by_its_64(app, seeded):
    """One subscriber's /64 holds 2^64 addresses: a fresh one per try must not reset the limit."""
    from tests.conftest import csrf_token, valid_form

    def sign(client_ip: str, n: int):
        client = app.test_client()
        url = f"/statements/{seeded}/sign"
        token = csrf_token(client, url)
        data = valid_form(email=f"person{n}@example.org", csrf_token=token)
        return client.post(url, data=data, headers={"X-Forwarded-For": client_ip}).status_code

    tries = [sign(f"2001:db8:1:2::{n:x}", n) for n in range(1, 4)]
    assert tries == [302, 302, 429]
    assert sign("2001:db8:1:3::1", 9) == 302  # the next /64 is another subscriber
