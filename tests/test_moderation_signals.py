"""The moderator's signals: registrable domains, free mail, duplicate names, bursts; and their badges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from petition.extensions import db
from petition.models import Signature, SignatureState, utcnow
from petition.moderation import signals
from tests.staff_helpers import make_signature, signed_in


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.lodzkie.pl", "lodzkie.pl"),
        ("mail.lodzkie.pl", "lodzkie.pl"),
        ("LODZKIE.PL.", "lodzkie.pl"),
        ("www.ed.ac.uk", "ed.ac.uk"),
        ("mail.ed.ac.uk", "ed.ac.uk"),
        ("shop.example.co.uk", "example.co.uk"),
        ("firma.com.pl", "firma.com.pl"),
        ("www.wien.gv.at", "wien.gv.at"),
        ("example.org", "example.org"),
        ("a.b.c.example.org", "example.org"),
        ("192.0.2.1", "192.0.2.1"),
        ("", ""),
    ],
)
def test_registrable_domain(host, expected):
    assert signals.registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("email", "website", "expected"),
    [
        ("anna@mail.lodzkie.pl", "https://www.lodzkie.pl", True),
        ("anna@lodzkie.pl", "http://lodzkie.pl/en/", True),
        ("f.smith@ed.ac.uk", "https://www.ed.ac.uk", True),
        ("someone@ox.ac.uk", "https://www.ed.ac.uk", False),
        ("anna@gmail.com", "https://www.lodzkie.pl", False),
        ("anna@lodzkie.pl", "", None),
        (None, "https://www.lodzkie.pl", None),
    ],
)
def test_domains_match(email, website, expected):
    assert signals.domains_match(email, website) is expected


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("outlook.com", True),
        ("hotmail.fr", True),
        ("hotmail.co.uk", True),
        ("yahoo.de", True),
        ("gmx.at", True),
        ("gmx.net", True),
        ("web.de", True),
        ("mail.ru", True),
        ("yandex.ru", True),
        ("proton.me", True),
        ("icloud.com", True),
        ("wp.pl", True),
        ("o2.pl", True),
        ("libero.it", True),
        ("orange.fr", True),
        ("free.fr", True),
        ("lodzkie.pl", False),
        ("ed.ac.uk", False),
        ("", False),
    ],
)
def test_free_mail(domain, free):
    assert signals.is_free_mail(domain) is free


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Łódzkie Region", "LODZKIE REGION"),
        ("Łódzkie Region", "Lodzkie-Region S.A."),
        ("Brainport Development", "Brainport Development N.V."),
        ("Brainport Development", "Brainport Development NV"),
        ("Acme", "ACME GmbH"),
        ("Acme", "Acme Ltd."),
        ("Förderverein Nord", "Förderverein Nord e.V."),
        ("Nordic Tech", "Nordic Tech AB"),
        ("Nordic Tech", "Nordic Tech Oy"),
        ("Romtech", "RomTech SRL"),
        ("Dutch Lab", "Dutch Lab B.V."),
        ("Polska Firma", "Polska Firma Sp. z o.o."),
        ("Café Müller", "Cafe Muller"),
        ("Smith & Partners", "Smith and Partners Limited"),
        ("The Cluster", "Cluster"),
    ],
)
def test_organisation_key_ignores_case_accents_punctuation_and_legal_form(a, b):
    assert signals.organisation_key(a) == signals.organisation_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Lodzkie Region", "Mazowieckie Region"),
        ("Acme Robotics", "Acme"),
        ("AB", "Oy"),  # a name that is only a legal form is not emptied
    ],
)
def test_organisation_key_keeps_different_names_apart(a, b):
    assert signals.organisation_key(a) != signals.organisation_key(b)


def test_signals_for_crafted_rows(app, seeded):
    now = utcnow()
    approved = make_signature(
        app,
        seeded,
        name="Brainport Development N.V.",
        email="eva@brainport.nl",
        website="https://brainport.nl",
        country="NL",
        state=SignatureState.APPROVED,
        ip="198.51.100.1",
        created_at=now - timedelta(days=3),
    )
    duplicate = make_signature(
        app,
        seeded,
        name="brainport development",
        email="piet@gmail.com",
        website="https://brainport.nl",
        country="NL",
        ip="203.0.113.7",
        created_at=now - timedelta(hours=2),
    )
    same_ip = make_signature(
        app,
        seeded,
        name="Another Organisation",
        email="x@another.example",
        website="https://www.another.example",
        ip="203.0.113.7",
        created_at=now - timedelta(hours=1),
    )
    rejected_twin = make_signature(
        app,
        seeded,
        name="Another Organisation Ltd",
        email="y@another.example",
        website="https://another.example",
        state=SignatureState.REJECTED,
        ip="203.0.113.99",
        created_at=now - timedelta(hours=3),
    )
    with app.app_context():
        rows = [db.session.get(Signature, i) for i in (duplicate, same_ip)]
        result = signals.signals_for(rows)
    dup = result[duplicate]
    assert dup.free_mail and dup.domain_match is False
    assert [(d.signature_id, d.state) for d in dup.duplicates] == [(approved, "approved")]
    assert dup.same_ip == 1
    other = result[same_ip]
    assert other.domain_match is True and not other.free_mail
    assert other.duplicates == []  # a rejected twin is no duplicate on the list
    assert other.same_ip == 1
    assert other.same_domain == 1  # the rejected one from another.example, an hour apart
    assert rejected_twin not in result


def test_queue_page_shows_the_badges(app, seeded):
    make_signature(
        app,
        seeded,
        name="Łódzkie Region",
        email="anna@mail.lodzkie.pl",
        website="https://www.lodzkie.pl",
        ip="203.0.113.5",
    )
    make_signature(
        app,
        seeded,
        name="Lodzkie Region S.A.",
        email="jan@gmail.com",
        website="https://lodzkie.pl",
        ip="203.0.113.5",
    )
    make_signature(
        app,
        seeded,
        name="Other Body",
        email="o@other.example",
        website="https://unrelated.example",
        ip="198.51.100.20",
    )
    client = signed_in(app, "mod@example.org")
    page = client.get("/staff/queue").get_data(as_text=True)
    assert "✓ Domain match" in page
    assert "Free mail" in page
    assert "≠ Domain differs" in page
    assert "Possible duplicate of #" in page
    assert "Lodzkie Region S.A. (Awaiting a decision, Poland)" in page
    assert "1 more from this IP in 24 h" in page
