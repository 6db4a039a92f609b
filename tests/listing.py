"""The approved signatories the public list, open data and header tests share (see the `listed` fixture)."""

from __future__ import annotations

FOUNDING = [
    "Vanguard Initiative",
    "European Clusters Alliance",
    "EuroTech Universities Alliance",
    "UAS4Europe",
]

# Approved signatories for the list tests, next to the four founding networks (all BE).
ROWS = [
    {"organisation_name": "Łódzkie Region", "organisation_type": "region", "country": "PL", "city": "Łódź"},
    {"organisation_name": "Région Grand Est", "organisation_type": "region", "country": "FR", "city": "Strasbourg"},
    {"organisation_name": "Aragón Regional Government", "organisation_type": "region", "country": "ES", "city": "Zaragoza"},
    {"organisation_name": "Zebra Cluster", "organisation_type": "cluster", "country": "DE", "city": "Berlin"},
    {"organisation_name": "Ąbc Cluster Polska", "organisation_type": "cluster", "country": "PL", "city": "Kraków"},
    {"organisation_name": "Bcd Cluster Polska", "organisation_type": "cluster", "country": "PL", "city": "Gdańsk"},
]  # fmt: skip

# Type order, then country name, then name with accents folded.
PUBLIC_ORDER = [
    "Région Grand Est",  # region · France
    "Łódzkie Region",  # region · Poland
    "Aragón Regional Government",  # region · Spain
    "Zebra Cluster",  # cluster · Germany
    "Ąbc Cluster Polska",  # cluster · Poland, "abc…"
    "Bcd Cluster Polska",  # cluster · Poland, "bcd…"
    "European Clusters Alliance",  # network · Belgium
    "EuroTech Universities Alliance",
    "UAS4Europe",
    "Vanguard Initiative",
]
