"""Normalisation and validation rules shared by the sign-on form, the CSV import and the console."""

from __future__ import annotations

import socket
import unicodedata

import pytest

from petition.core import validation
from petition.core.validation import InvalidValue
from petition.models import OrganisationType
from petition.signatories.service import csv_safe


def org_name(value):
    return validation.clean_line(value, field="organisation name", min_len=2)


# ---------------------------------------------------------------- organisation name


def test_organisation_name_is_trimmed_and_inner_whitespace_folded():
    assert org_name("  Łódzkie   Region \u00a0 Office  ") == "Łódzkie Region Office"


def test_organisation_name_length_bounds():
    assert org_name("AB") == "AB"
    assert org_name("x" * 200) == "x" * 200
    with pytest.raises(InvalidValue, match="at least 2 characters"):
        org_name("A")
    with pytest.raises(InvalidValue, match="at most 200 characters"):
        org_name("x" * 201)
    # Length is counted after trimming and folding.
    assert org_name("  " + "x" * 200 + "  ") == "x" * 200
    with pytest.raises(InvalidValue, match="at least 2 characters"):
        org_name("   A   ")


@pytest.mark.parametrize("value", ["", "   ", None])
def test_organisation_name_is_required(value):
    with pytest.raises(InvalidValue, match="Enter the organisation name"):
        org_name(value)


@pytest.mark.parametrize(
    "value",
    [
        "Evil\x00Org",
        "Evil\x07Org",
        "Two\nLines",
        "Two\rLines",
        "Tab\tInside",
        "Del\x7fete",
        "C1\x85control",
        "Right\u202eto left override",
        "Left\u202dto right override",
        "Isolate\u2066inside\u2069",
        "Zero\u200bwidth",
        "Line\u2028separator",
    ],
)
def test_organisation_name_refuses_control_and_bidi_characters(value):
    with pytest.raises(InvalidValue, match="control characters"):
        org_name(value)


def test_organisation_name_is_nfc_normalised():
    composed = "Łódź"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert len(decomposed) > len(composed)
    assert org_name(decomposed) == composed
    assert org_name(decomposed + " Region") == org_name("Łódź Region")


@pytest.mark.parametrize("name", ["Łódź", "Ελλάδα", "Київ", "Київський політехнічний інститут"])
def test_organisation_name_keeps_other_scripts_exactly(name):
    assert org_name(name) == name


# ---------------------------------------------------------------- website


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.org", "https://example.org"),
        ("www.example.org", "https://www.example.org"),
        ("  https://www.example.org/  ", "https://www.example.org"),
        ("http://example.org", "http://example.org"),
        ("HTTPS://WWW.Example.ORG", "https://www.example.org"),
        # The host is lower-cased; the path and query are kept as typed.
        ("https://Example.ORG/About/Us?Lang=PL&x=1", "https://example.org/About/Us?Lang=PL&x=1"),
        ("example.org/en/news", "https://example.org/en/news"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
        ("https://example.org:443/", "https://example.org"),
        ("https://example.org.", "https://example.org"),
        # International domain names are stored as punycode.
        ("bücher.de", "https://xn--bcher-kva.de"),
        ("https://BÜCHER.de/ścieżka", "https://xn--bcher-kva.de/ścieżka"),
        ("http://ελλάδα.gr", "http://xn--hxakic4aa.gr"),
        ("https://xn--bcher-kva.de", "https://xn--bcher-kva.de"),
    ],
)
def test_website_is_normalised(typed, stored):
    assert validation.website(typed) == stored


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JavaScript://example.org/%0aalert(1)",
        "ftp://example.org",
        "data:text/html,<script>alert(1)</script>",
        "https://user:secret@example.org",
        "https://user@example.org",
        "https://localhost",
        "http://intranet/",
        "https://exa mple.org",
        "https://example.org/a b",
        "https://example.org\n.evil.org",
        "https://.example.org",
        "https://example..org",
        "//example.org",
        "https://example.org:99999",
        "https://a<b>.org",
        'https://a".org',
        "https://exa$mple.org",
        "https://-example.org",
        "http://192.168.1.1",
        "http://[::1]/",
        "https://" + "a" * 64 + ".org",
        "example.org/" + "a" * 300,
    ],
)
def test_website_refuses_what_is_not_a_public_http_address(value):
    with pytest.raises(InvalidValue):
        validation.website(value)


def test_website_length_limit_counts_the_typed_address():
    ok = "https://example.org/" + "a" * (300 - len("https://example.org/"))
    assert validation.website(ok) == ok
    with pytest.raises(InvalidValue, match="at most 300 characters"):
        validation.website(ok + "a")


def test_website_required_or_optional():
    assert validation.website("") == ""
    assert validation.website("   ") == ""
    with pytest.raises(InvalidValue, match="Enter the organisation's website"):
        validation.website("", required=True)


# ---------------------------------------------------------------- email


def test_email_keeps_address_for_sending_and_folds_the_duplicate_key():
    address, key = validation.email_address("  Anna.Nowak@Lodzkie.PL ")
    # Sent to the local part as typed (domains are case-insensitive, so that part is lowered).
    assert address == "Anna.Nowak@lodzkie.pl"
    assert key == "anna.nowak@lodzkie.pl"
    assert validation.email_address("ANNA.NOWAK@LODZKIE.PL")[1] == key


def test_email_international_addresses_are_accepted_and_nfc_keyed():
    address, key = validation.email_address("Zofia@Łódź.example.pl")
    assert address.startswith("Zofia@")
    assert key == "zofia@łódź.example.pl"
    decomposed = unicodedata.normalize("NFD", "zofia@łódź.example.pl")
    assert validation.email_address(decomposed)[1] == key


@pytest.mark.parametrize(
    "value",
    [
        "anna",
        "anna@",
        "@lodzkie.pl",
        "anna@lodzkie",
        "anna@localhost",
        "anna@@lodzkie.pl",
        "anna nowak@lodzkie.pl",
        "anna@lodzkie.pl\nBcc: victim@example.org",
        "anna@-lodzkie.pl",
        "x@" + "a" * 250 + ".org",
    ],
)
def test_invalid_email_addresses_are_refused(value):
    with pytest.raises(InvalidValue):
        validation.email_address(value)


@pytest.mark.parametrize("value", ["", "   ", None])
def test_email_is_required(value):
    with pytest.raises(InvalidValue, match="Enter an email address"):
        validation.email_address(value)


def test_email_validation_makes_no_dns_lookups(monkeypatch):
    import dns.resolver

    def refuse(*args, **kwargs):
        raise AssertionError("a DNS look-up was attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse)
    monkeypatch.setattr(dns.resolver, "resolve", refuse)
    # A domain that does not exist is still a well-formed address.
    assert validation.email_address("someone@no-such-domain-jointly.example") == (
        "someone@no-such-domain-jointly.example",
        "someone@no-such-domain-jointly.example",
    )


# ---------------------------------------------------------------- country and type


@pytest.mark.parametrize(("typed", "code"), [("PL", "PL"), ("pl", "PL"), (" de ", "DE")])
def test_country_codes_are_upper_cased_iso_alpha2(typed, code):
    # Lower case is accepted (CSV imports are typed by hand); the stored code is upper case.
    assert validation.country_code(typed) == code


@pytest.mark.parametrize("value", ["XX", "EU", "UK", "P", "POL", "ÄÖ", "", None, "P1", "ＰＬ"])
def test_country_codes_that_are_not_iso_alpha2_are_refused(value):
    with pytest.raises(InvalidValue, match="Choose a country"):
        validation.country_code(value)


def test_country_choices_are_every_iso_country_with_readable_names():
    choices = dict(validation.country_choices())
    assert len(choices) == 249
    assert choices["PL"] == "Poland"
    assert choices["GB"] == "United Kingdom"
    assert choices["TW"] == "Taiwan"  # common name, not the official one
    assert "XX" not in choices
    assert validation.country_display_name("GR") == "Greece"


def test_organisation_types_are_the_fixed_list():
    assert [t.value for t in OrganisationType] == [
        "region",
        "public_authority",
        "cluster",
        "rto",
        "university",
        "company",
        "sme",
        "startup",
        "network",
        "ngo",
        "other",
    ]
    assert validation.organisation_type(" cluster ") is OrganisationType.CLUSTER
    for value in ("", None, "Region", "regions", "zzz", "public authority"):
        with pytest.raises(InvalidValue, match="type of organisation"):
            validation.organisation_type(value)


# ---------------------------------------------------------------- name key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Łódź", "lodz"),
        ("ŁÓDZKIE Region", "lodzkie region"),
        ("  Région   Île-de-France ", "region ile-de-france"),
        ("Straße", "strasse"),
        ("Ελλάδα", "ελλαδα"),
        ("ΑΘΗΝΑ", "αθηνα"),
        ("КИЇВ", "киів"),
    ],
)
def test_name_key_folds_accents_and_case(name, key):
    assert validation.name_key(name) == key


def test_name_key_keeps_greek_and_cyrillic_letters():
    for name in ("Ελλάδα", "Київ"):
        key = validation.name_key(name)
        assert key.isalpha()
        assert not key.isascii()
        assert key == key.casefold()
    # A search typed without accents finds the accented name and vice versa.
    assert validation.name_key("Lodz") == validation.name_key("Łódź")
    assert validation.name_key("ελλαδα") == validation.name_key("Ελλάδα")
    assert validation.name_key(unicodedata.normalize("NFD", "Łódź")) == "lodz"


# ---------------------------------------------------------------- CSV cells


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+48 42 000 00 00", "'+48 42 000 00 00"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("Łódzkie Region", "Łódzkie Region"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (12, "12"),
    ],
)
def test_csv_safe_prefixes_formula_like_cells(value, cell):
    assert csv_safe(value) == cell


def test_name_key_drops_control_characters():
    # A search term typed (or forged) with NUL must not reach PostgreSQL, which refuses it.
    assert validation.name_key("\x00") == ""
    assert validation.name_key("Łódź\x00Region") == "lodz region"
    assert validation.name_key("a\tb\x1fc") == "a b c"
