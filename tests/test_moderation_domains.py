"""Registrable domains from the Public Suffix List (the bundled copy), not a partial hand-made list."""

from __future__ import annotations

import socket

import pytest

from petition.core import validation
from petition.moderation import signals


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        # Suffixes the old hand-written list lacked: every French ministry, Korean university or
        # Lombardy office reduced to the suffix itself, so all of them "matched" each other.
        ("www.interieur.gouv.fr", "interieur.gouv.fr"),
        ("www.kcl.ac.kr", "kcl.ac.kr"),
        ("www.regione.lombardia.it", "regione.lombardia.it"),
        # A hosting suffix: each subdomain is a different owner.
        ("acme.github.io", "acme.github.io"),
        ("localhost", "localhost"),
    ],
)
def test_registrable_domain_follows_the_public_suffix_list(host, expected):
    assert signals.registrable_domain(host) == expected


def test_two_ministries_do_not_match_each_other():
    assert signals.domains_match("anna@culture.gouv.fr", "https://www.interieur.gouv.fr") is False
    assert signals.domains_match("anna@mail.interieur.gouv.fr", "https://interieur.gouv.fr") is True


def test_free_mail_under_a_country_suffix_the_old_list_lacked():
    assert signals.is_free_mail("hotmail.com.ar")
    assert not signals.is_free_mail("unsam.edu.ar")


def test_the_list_is_read_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the public suffix list must not be fetched at run time")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    validation._public_suffixes.cache_clear()
    assert signals.registrable_domain("www.ed.ac.uk") == "ed.ac.uk"
