"""The confirmation email is rendered once per language, statement title and campaign identity,
with stand-ins for the signer's values (core/outbox.py `Stencil`): each sign-on's email must be
exactly what rendering the templates for that signer gives, escaping and all."""

from __future__ import annotations

from dataclasses import replace
from itertools import count

import pytest
from flask import current_app

from petition.core import identity, outbox
from petition.core.i18n import SOURCE_LANGUAGE
from petition.models import Signature
from petition.signing import service as signing
from petition.statements.service import statement_to_sign

#: Values that escaping, the `inert` filter or formatting could treat differently.
AWKWARD = [
    ("Anna Nowak", "Łódzkie Region"),
    ('<script>alert("x")</script> & Co', "Tom & Jerry's <b>Cluster</b>"),
    ("evil.example", "http://phish.example/login"),
    ("ann@evil.example", "www.evil.example"),
    ("%(name)s %s {{ 7*7 }}", "{% trans %}x{% endtrans %}"),
    ("Ελένη Παπαδοπούλου", "Київський університет"),
    ("&amp; &lt;", "\\n\\x00 $1 \\1"),
]


@pytest.fixture
def tokens(monkeypatch):
    """Predictable links: the n-th token of the test is tok<n>."""
    numbers = count(1)

    def token():
        n = next(numbers)
        return f"tok{n}", f"hash{n}"

    monkeypatch.setattr(signing, "new_token", token)


def direct(signature, statement, resubmitted: bool, first_token: int):
    """The email as the templates render it for this signer, links and all."""
    lang = signature.lang or SOURCE_LANGUAGE
    return outbox.render_email(
        "confirm",
        signature=signature,
        statement=statement,
        confirm_url=signing.public_url(f"/confirm/tok{first_token}", lang),
        manage_url=signing.public_url(f"/manage/tok{first_token + 1}", lang),
        expires_days=current_app.config["TOKEN_MAX_AGE_DAYS"],
        resubmitted=resubmitted,
    )


@pytest.mark.parametrize("lang", ["en", "de", "pl", "fr", ""])
def test_each_signers_email_is_what_rendering_gives(app, seeded, tokens, lang):
    with app.test_request_context():
        statement = statement_to_sign(seeded)
        n = 1
        for resubmitted in (False, True):
            for name, organisation in AWKWARD:
                signature = Signature(
                    contact_name=name, organisation_name=organisation, lang=lang or None
                )
                email = signing._write_confirmation(signature, statement, resubmitted=resubmitted)
                assert email.email == direct(signature, statement, resubmitted, n), (name, lang)
                n += 2
        # One render per language and kind, whatever the number of signers.
        assert len(app.extensions["signing.confirmation_stencils"]) == 2


def test_each_language_has_its_own(app, seeded, tokens):
    with app.test_request_context():
        statement = statement_to_sign(seeded)
        n = 1
        for lang in ("en", "de", "en", "pl"):
            signature = Signature(contact_name="Ann", organisation_name="Org", lang=lang)
            email = signing._write_confirmation(signature, statement).email
            assert email == direct(signature, statement, False, n), lang
            n += 2


def test_the_html_part_escapes_what_the_signer_typed(app, seeded, tokens):
    with app.test_request_context():
        signature = Signature(contact_name="<b>Ann</b>", organisation_name="A & B", lang="en")
        email = signing._write_confirmation(signature, statement_to_sign(seeded)).email
    assert "&lt;b&gt;Ann&lt;/b&gt;" in email.html and "<b>Ann" not in email.html
    assert "A &amp; B" in email.html
    assert "Hello <b>Ann</b>," in email.text


def test_a_new_campaign_name_or_title_shows_in_the_next_email(app, seeded, tokens, monkeypatch):
    with app.test_request_context():
        statement = statement_to_sign(seeded)
        signature = Signature(contact_name="Ann", organisation_name="Org", lang="en")
        campaign = identity.current()
        monkeypatch.setattr(identity, "current", lambda: replace(campaign, name="Campaign One"))
        first = signing._write_confirmation(signature, statement).email
        monkeypatch.setattr(identity, "current", lambda: replace(campaign, name="Campaign Two"))
        renamed = signing._write_confirmation(signature, statement).email
        retitled = signing._write_confirmation(signature, replace(statement, title="New title"))
    assert "Campaign One" in first.html
    assert "Campaign Two" in renamed.html and "Campaign One" not in renamed.html
    assert "New title" in retitled.email.subject and "New title" not in renamed.subject


def test_filling_is_one_pass_and_takes_every_value():
    fields = outbox.stand_ins("a", "b")
    stencil = outbox.Stencil(
        outbox.Email(fields["a"], f"{fields['a']} {fields['b']}", f"<p>{fields['b']}</p>"), fields
    )
    # A value that holds another's stand-in keeps it as text.
    filled = stencil.fill(a=fields["b"], b="<x>")
    assert filled == outbox.Email(fields["b"], f"{fields['b']} <x>", "<p>&lt;x&gt;</p>")
    with pytest.raises(TypeError):
        stencil.fill(a="only one")
