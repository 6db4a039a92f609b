"""Every sign-form field at its maximum length, in any script, stores (SQLite and PostgreSQL); too long is a form error."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from petition.extensions import db
from petition.models import Signature
from tests.conftest import submit_sign, wait_jobs

# Lower-case letters only where a domain name is built from them (IDNA refuses capitals).
SCRIPTS = {
    "latin": "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿłśźżćńőűčďěňřšťžąęġħŧ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰ",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюяёђѓєѕіїјљњћќўџ",
    "cjk": "中文字日本語漢字東京大阪国際連合欧州経済復興投資地域革新",
    "emoji": "😀🚀🌍🎉💡🔬🌱🤝📈🧪🙂🐝",  # single code points: a flag is two,
}
MAX_LEN = {
    "organisation_name": 200,
    "city": 100,
    "contact_name": 200,
    "contact_role": 200,
    "comment": 1000,
    "website": 300,
    "email": 254,
}
# What the PDF prints must be in its fonts (Latin, Greek, Cyrillic: the form refuses the rest,
# tests/test_pdf_font_coverage.py); in a script the PDF cannot print, those fields use Cyrillic.
PRINTED = ("organisation_name", "city")
PRINTABLE = ("latin", "greek", "cyrillic")
_serial = itertools.count()
# Each example goes through the app's fixtures and a full-size form: slow and large by design.
_SLOW_FIXTURES = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.large_base_example,
    HealthCheck.data_too_large,
]


def _text(script: str, size: int):
    # Precomposed characters only, so NFC leaves the length alone and the stored value is the typed one.
    return st.text(alphabet=SCRIPTS[script], min_size=size, max_size=size)


@st.composite
def full_length_forms(draw) -> tuple[str, dict]:
    script = draw(st.sampled_from(sorted(SCRIPTS)))
    fields = {
        name: draw(
            _text(script if script in PRINTABLE or name not in PRINTED else "cyrillic", size)
        )
        for name, size in MAX_LEN.items()
        if name not in ("website", "email")
    }
    # A website typed in full: the path carries the script, so the stored form is exactly 300.
    prefix = "https://www.example.eu/"
    fields["website"] = prefix + draw(_text(script, MAX_LEN["website"] - len(prefix)))
    # An email of 254 characters: an ASCII local part (a non-ASCII one needs SMTPUTF8), one
    # label in the script (emoji are no IDNA label), ASCII labels to the full length.
    domain_script = "latin" if script == "emoji" else script
    local = f"s{next(_serial):06d}".ljust(64, "x")
    label = draw(_text(domain_script, 6))
    # The limit counts octets, of the address in UTF-8 and as sent (IDNA): fill up to it.
    label_octets = max(len(label.encode("idna")), len(label.encode("utf-8")))
    filler_len = MAX_LEN["email"] - len(local) - 1 - label_octets - len(".eu") - 1
    fillers = []
    while filler_len > 0:
        size = min(filler_len, 63)
        if filler_len - size == 1:  # no room left for a one-letter label and its dot
            size -= 2
        fillers.append("a" * size)
        filler_len -= size + 1
    fields["email"] = f"{local}@{label}." + ".".join(fillers) + ".eu"
    return script, fields


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=_SLOW_FIXTURES,
)
@given(case=full_length_forms())
def test_every_field_at_its_maximum_length_stores_in_any_script(app, client, seeded, case):
    script, fields = case
    assert all(len(fields[name]) == size for name, size in MAX_LEN.items() if name != "email")
    assert _email_octets(fields["email"]) == MAX_LEN["email"]
    response = submit_sign(client, seeded, **fields)
    assert response.status_code == 302, (script, _errors(response))
    with app.app_context():
        row = db.session.scalar(
            select(Signature).where(Signature.email_normalised == fields["email"].casefold())
        )
        assert row is not None, script
        for name in MAX_LEN:
            assert getattr(row, name) == unicodedata.normalize("NFC", fields[name]), (script, name)
    wait_jobs(app)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=_SLOW_FIXTURES,
)
@given(
    script=st.sampled_from(["ascii", *sorted(SCRIPTS)]),
    typed_len=st.integers(min_value=285, max_value=300),
    data=st.data(),
)
def test_a_website_too_long_once_stored_is_a_form_error(
    app, client, seeded, script, typed_len, data
):
    """Typed without https:// or with an international domain, 293-300 characters grow past 300."""
    host_alphabet = "abcdefghij" if script in ("ascii", "emoji") else SCRIPTS[script]
    host = data.draw(st.text(alphabet=host_alphabet, min_size=3, max_size=12)) + ".eu/"
    path_alphabet = "abcdefghij" if script == "ascii" else SCRIPTS[script]
    website = host + data.draw(_text_any(path_alphabet, typed_len - len(host)))
    email = f"limit{next(_serial)}@example.org"
    response = submit_sign(client, seeded, website=website, email=email)
    with app.app_context():
        stored = db.session.scalar(select(Signature.website).where(Signature.email == email))
    if response.status_code == 302:
        assert stored is not None and len(stored) <= 300
    else:
        assert response.status_code == 422, response.status_code
        assert "website" in response.get_data(as_text=True).lower()
        assert stored is None
    wait_jobs(app)


def _errors(response) -> list[str]:
    return re.findall(r'class="error-message" id="([^"]+)".*?</span>([^<]*)', response.text)


def _email_octets(email: str) -> int:
    local, domain = email.split("@")
    return max(len(email.encode("utf-8")), len(local + "@" + domain.encode("idna").decode()))


def _text_any(alphabet: str, size: int):
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


@pytest.mark.parametrize("typed_len", [292, 293, 296, 300])
def test_website_that_grows_past_the_column_is_refused(app, client, seeded, typed_len):
    website = "www.example.eu/" + "p" * (typed_len - len("www.example.eu/"))
    response = submit_sign(client, seeded, website=website)
    with app.app_context():
        stored = db.session.scalar(
            select(Signature.website).where(Signature.email == "anna.nowak@lodzkie.pl")
        )
    if typed_len + len("https://") <= 300:
        assert response.status_code == 302
        assert stored == "https://" + website
    else:
        assert response.status_code == 422
        assert "at most 300 characters" in response.get_data(as_text=True)
        assert stored is None
