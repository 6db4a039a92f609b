"""Ids in routes: one converter, bounded by the databases' 32-bit integer."""

from __future__ import annotations

from werkzeug.routing.converters import NumberConverter

from petition.core.http import MAX_ID, IdConverter
from tests.staff_helpers import signed_in


def test_every_number_in_a_route_is_a_bounded_id(app):
    numbered = []
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if isinstance(converter, NumberConverter):
                numbered.append((rule.rule, name))
                assert isinstance(converter, IdConverter), rule.rule
                assert converter.max == MAX_ID, rule.rule
    assert ("/staff/signatures/<id:signature_id>", "signature_id") in numbered
    assert len(numbered) >= 10


def test_an_id_past_32_bits_is_a_404_not_a_database_error(app, seeded):
    admin = signed_in(app, "admin@example.org", "admin")
    for path in (
        f"/staff/signatures/{MAX_ID + 1}",
        f"/staff/statements/{MAX_ID + 1}",
        f"/statements/{seeded}/versions/{MAX_ID + 1}.pdf",
        "/staff/signatures/²",
        "/staff/signatures/１",  # fullwidth 1: Werkzeug's <int:…> would take it as 1
        f"/statements/{seeded}/versions/１.pdf",
        "/staff/signatures/-1",
    ):
        assert admin.get(path).status_code == 404, path
    assert admin.get(f"/staff/signatures/{MAX_ID}").status_code == 404  # in range, no such row
