"""Benchmark the statement PDF renderer against a naive one-Table baseline on synthetic rows."""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

# Run: python -m bench.pdf_render_bench [--sizes 1000 10000 ...] [--naive-max 30000].
# Each case runs in a freshly spawned interpreter so its peak RSS is its own. The row generator,
# the document and the timing helpers are importable for a database-backed variant.

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from petition.pdf.layout import (
    ORGANISATION_TYPES,
    SignatoryRow,
    StatementDoc,
    render_statement_pdf,
)

CURRENT_VERSION = hashlib.sha256(b"statement body, version 2").hexdigest()
EARLIER_VERSION = hashlib.sha256(b"statement body, version 1").hexdigest()

# Relative weights of the organisation types in a realistic campaign.
TYPE_WEIGHTS = {
    "region": 6,
    "public_authority": 8,
    "cluster": 10,
    "rto": 7,
    "university": 12,
    "company": 16,
    "sme": 18,
    "startup": 8,
    "network": 6,
    "ngo": 6,
    "other": 3,
}

# (country name, cities, script of local names): "latin" names get diacritics from LATIN_WORDS.
COUNTRIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Austria", ("Wien", "Graz", "Linz"), "latin"),
    ("Belgium", ("Brussels", "Antwerpen", "Liège", "Gent"), "latin"),
    ("Bulgaria", ("София", "Пловдив", "Варна"), "cyrillic"),
    ("Croatia", ("Zagreb", "Split", "Osijek"), "latin"),
    ("Cyprus", ("Λευκωσία", "Λεμεσός"), "greek"),
    ("Czechia", ("Praha", "Brno", "Žďár nad Sázavou", "Ostrava"), "latin"),
    ("Denmark", ("København", "Aarhus", "Odense"), "latin"),
    ("Estonia", ("Tallinn", "Tartu"), "latin"),
    ("Finland", ("Helsinki", "Tampere", "Oulu"), "latin"),
    ("France", ("Paris", "Lyon", "Grenoble", "Saint-Étienne"), "latin"),
    ("Germany", ("Berlin", "München", "Düsseldorf", "Stuttgart"), "latin"),
    ("Greece", ("Αθήνα", "Θεσσαλονίκη", "Πάτρα"), "greek"),
    ("Hungary", ("Budapest", "Győr", "Pécs"), "latin"),
    ("Ireland", ("Dublin", "Cork", "Galway"), "latin"),
    ("Italy", ("Milano", "Torino", "Bologna", "Forlì"), "latin"),
    ("Latvia", ("Rīga", "Daugavpils"), "latin"),
    ("Lithuania", ("Vilnius", "Kaunas", "Šiauliai"), "latin"),
    ("Luxembourg", ("Luxembourg", "Esch-sur-Alzette"), "latin"),
    ("Netherlands", ("Amsterdam", "Eindhoven", "Rotterdam"), "latin"),
    ("North Macedonia", ("Скопје", "Битола"), "cyrillic"),
    ("Norway", ("Oslo", "Trondheim", "Tromsø"), "latin"),
    ("Poland", ("Warszawa", "Łódź", "Kraków", "Gdańsk", "Wrocław"), "latin"),
    ("Portugal", ("Lisboa", "Porto", "Braga"), "latin"),
    ("Romania", ("București", "Cluj-Napoca", "Iași", "Timișoara"), "latin"),
    ("Serbia", ("Београд", "Нови Сад"), "cyrillic"),
    ("Slovakia", ("Bratislava", "Košice", "Žilina"), "latin"),
    ("Slovenia", ("Ljubljana", "Maribor"), "latin"),
    ("Spain", ("Madrid", "Barcelona", "Bilbao", "Sevilla"), "latin"),
    ("Sweden", ("Stockholm", "Göteborg", "Malmö"), "latin"),
    ("Türkiye", ("İstanbul", "Ankara", "İzmir"), "latin"),
    ("Ukraine", ("Київ", "Харків", "Львів"), "cyrillic"),
)

TYPE_PATTERNS: dict[str, tuple[str, ...]] = {
    "region": ("{place} Region", "Regional Government of {place}", "{place} Regional Council"),
    "public_authority": ("City of {place}", "{place} Development Agency", "Ministry of {topic}"),
    "cluster": ("{topic} Cluster {place}", "{place} {topic} Cluster", "{word} Cluster Alliance"),
    "rto": ("{place} Institute for {topic}", "Centre for {topic} Research", "{word} Research"),
    "university": ("University of {place}", "{place} University of Technology", "{word} College"),
    "company": ("{word} {topic} AG", "{word} Industries", "{word} & {word2} Group"),
    "sme": ("{word} {topic} Ltd", "{word} Engineering", "{word} Solutions"),
    "startup": ("{word}{word2}", "{word} Labs", "{topic} {word} Technologies"),
    "network": ("European {topic} Network", "{place} {topic} Association", "{word} Alliance"),
    "ngo": ("{place} Civic Forum", "{topic} Foundation", "Friends of {word}"),
    "other": ("{word} Partners", "{place} {topic} Initiative", "{word} Observatory"),
}
TOPICS = (
    "Advanced Manufacturing", "Bioeconomy", "Digital Innovation", "Energy Transition", "Photonics",
    "Health Technologies", "Mobility", "Circular Economy", "Space", "Agri-Food", "Microelectronics",
    "Artificial Intelligence", "Hydrogen", "Textiles", "Maritime",
)  # fmt: skip
WORDS = (
    "Nova", "Vertex", "Aurora", "Helix", "Meridian", "Quantum", "Atlas", "Orbit", "Lumen",
    "Kestrel", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris",
    "Juniper", "Krona",
)  # fmt: skip
LATIN_WORDS = (
    "Łukasiewicz", "Śląsk", "Žďár", "Ștefan cel Mare", "Jūrmala", "Čakovec", "Győr", "Kraków",
    "Müller", "Société", "Ørsted", "Tórshavn", "Ağ", "Ėglė", "Ľubovňa", "Ñandú",
)  # fmt: skip
GREEK_NAMES = (
    "Περιφέρεια {0}", "Πανεπιστήμιο {0}", "Ινστιτούτο Τεχνολογίας {0}", "Σύνδεσμος Βιομηχανιών {0}",
    "Επιμελητήριο {0}",
)  # fmt: skip
GREEK_PLACES = ("Κεντρικής Μακεδονίας", "Κρήτης", "Αττικής", "Θεσσαλίας", "Ηπείρου", "Πατρών")
CYRILLIC_NAMES = (
    "Київська політехніка {0}", "Технологічний парк {0}", "Асоціація {0}", "Университет {0}",
    "Иновационен клъстер {0}", "Научни парк {0}",
)  # fmt: skip
CYRILLIC_PLACES = ("Харків", "Софія", "Пловдив", "Нови Сад", "Скопје", "Львів")


def type_counts_for(total: int) -> dict[str, int]:
    """Split ``total`` over the eleven types by TYPE_WEIGHTS (deterministic, sums exactly)."""
    weight_sum = sum(TYPE_WEIGHTS.values())
    counts = {code: total * w // weight_sum for code, w in TYPE_WEIGHTS.items()}
    for code in list(TYPE_WEIGHTS)[: total - sum(counts.values())]:
        counts[code] += 1
    return counts


def _name(rng: random.Random, type_code: str, country: tuple[str, tuple[str, ...], str]) -> str:
    _, cities, script = country
    # 15% of names in the local non-Latin script or with heavy diacritics; 3% very long.
    roll = rng.random()
    if roll < 0.15:
        if script == "greek":
            return rng.choice(GREEK_NAMES).format(rng.choice(GREEK_PLACES))
        if script == "cyrillic":
            return rng.choice(CYRILLIC_NAMES).format(rng.choice(CYRILLIC_PLACES))
        return (
            f"{rng.choice(LATIN_WORDS)} {rng.choice(TOPICS)} {rng.choice(('Centrum', 'Klaster'))}"
        )
    name = rng.choice(TYPE_PATTERNS[type_code]).format(
        place=rng.choice(cities),
        topic=rng.choice(TOPICS),
        word=rng.choice(WORDS),
        word2=rng.choice(WORDS),
    )
    if roll > 0.97:
        name += " — " + " and ".join(rng.sample(TOPICS, 4)) + " Joint Programme Office"
    return f"{name} {rng.randrange(1000)}" if rng.random() < 0.5 else name


def synthetic_rows(total: int, seed: int = 7) -> Iterator[SignatoryRow]:
    """Rows sorted by type order, country name, organisation name, generated bucket by bucket.

    Only one (type, country) bucket is in memory at a time, like a database cursor.
    """
    counts = type_counts_for(total)
    countries = sorted(COUNTRIES)
    for type_code, _label in ORGANISATION_TYPES:
        remaining = counts[type_code]
        for position, country in enumerate(countries):
            share = remaining // (len(countries) - position)
            remaining -= share
            rng = random.Random(f"{seed}:{type_code}:{country[0]}")
            bucket = []
            for _ in range(share):
                # 10% endorsed the earlier version; some have no city.
                version = EARLIER_VERSION if rng.random() < 0.10 else CURRENT_VERSION
                city = rng.choice(country[1]) if rng.random() < 0.92 else ""
                bucket.append(
                    SignatoryRow(
                        type_code, _name(rng, type_code, country), city, country[0], version
                    )
                )
            bucket.sort(key=lambda row: row.organisation_name)
            yield from bucket


STATEMENT_BODY = """\
## Why we sign

Europe's regions, clusters, research organisations and companies call for an innovation policy
that is **place-based**, builds on *smart specialisation*, and keeps interregional cooperation at
its heart.

1. Keep smart specialisation as the backbone of regional innovation strategies.
2. Fund interregional partnerships that scale up pilot plants and demonstrators.
3. Simplify the rules so that SMEs and start-ups can take part.

> Innovation happens in places, and places innovate together.

We invite every organisation that shares these aims to add its name below.
"""


def synthetic_doc(generated_at: datetime | None = None) -> StatementDoc:
    return StatementDoc(
        title="Joint statement on the future of regional innovation policy",
        subtitle="A call from Europe's regions, clusters and research organisations",
        published_on=date(2025, 3, 4),
        body_markdown=STATEMENT_BODY,
        campaign="Vanguard Initiative",
        version_sha256=CURRENT_VERSION,
        generated_at=generated_at or datetime(2025, 3, 5, 10, 22, tzinfo=UTC),
        keywords=("innovation", "regions", "joint statement"),
        earlier_versions={EARLIER_VERSION: date(2025, 2, 1)},
        language="en",
    )


@dataclass(frozen=True)
class CaseResult:
    renderer: str
    rows: int
    seconds: float
    pages: int
    size_bytes: int
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def render_streaming(rows: int, path: str) -> int:
    result = render_statement_pdf(
        path, synthetic_doc(), type_counts_for(rows), synthetic_rows(rows)
    )
    return result.pages


def render_naive(rows: int, path: str) -> int:
    """The obvious approach: the statement, then one platypus Table holding every row."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    from petition.pdf.layout import register_fonts
    from petition.pdf.layout.markdown_story import markdown_flowables
    from petition.pdf.layout.styles import TITLE

    register_fonts()
    doc = synthetic_doc()
    data = [["Organisation", "City", "Country"]]
    data += [[r.organisation_name, r.city, r.country_name] for r in synthetic_rows(rows)]
    table = Table(data, repeatRows=1, colWidths=(260, 100, 100))
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "DejaVuSans", 8)]))
    story = [Paragraph(doc.title, TITLE), *markdown_flowables(doc.body_markdown), table]
    pages: list[int] = []
    template = SimpleDocTemplate(path, pagesize=A4)
    template.build(story, onLaterPages=lambda canvas, _doc: pages.append(canvas.getPageNumber()))
    return len(pages) + 1


def _peer(name: str) -> Callable[[int, str], int]:
    def render(rows: int, path: str) -> int:
        from bench import pdf_peers  # dev-only packages, imported in the measuring process

        return int(getattr(pdf_peers, f"render_{name}")(rows, path))

    return render


RENDERERS: dict[str, Callable[[int, str], int]] = {
    "streaming": render_streaming,
    "naive-table": render_naive,
    "fpdf2": _peer("fpdf2"),
    "typst": _peer("typst"),
    "weasyprint": _peer("weasyprint"),
}
# The largest size each peer is run at (WeasyPrint's layout grows too slow and large past 10k).
PEER_MAX = {"fpdf2": 100_000, "typst": 100_000, "weasyprint": 10_000}


def _run_case(renderer: str, rows: int) -> CaseResult:
    """Body of one measurement; runs inside a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "statement.pdf")
        started = time.perf_counter()
        pages = RENDERERS[renderer](rows, path)
        seconds = time.perf_counter() - started
        size = os.path.getsize(path)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return CaseResult(renderer, rows, seconds, pages, size, peak_kb / 1024)


def measure(renderer: str, rows: int) -> CaseResult:
    """Run one case in a freshly spawned interpreter so timings and peak RSS are not shared."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_run_case, (renderer, rows))


def generator_seconds(rows: int) -> float:
    """Time to produce the synthetic rows alone (part of every measured render)."""
    started = time.perf_counter()
    for _ in synthetic_rows(rows):
        pass
    return time.perf_counter() - started


def format_table(results: list[CaseResult | tuple[str, int, str]]) -> str:
    header = (
        f"{'renderer':<12} {'rows':>8} {'seconds':>8} {'rows/s':>9} {'pages':>6} "
        f"{'size MB':>8} {'KB/10k':>7} {'peak RSS MB':>12}"
    )
    lines = [header, "-" * len(header)]
    for item in results:
        if isinstance(item, CaseResult):
            lines.append(
                f"{item.renderer:<12} {item.rows:>8,} {item.seconds:>8.2f} "
                f"{item.rows_per_second:>9,.0f} {item.pages:>6,} "
                f"{item.size_bytes / 1e6:>8.2f} {item.size_bytes / 1e3 / item.rows * 1e4:>7.0f} "
                f"{item.peak_rss_mb:>12.0f}"
            )
        else:
            renderer, rows, note = item
            lines.append(f"{renderer:<12} {rows:>8,} {note}")
    return "\n".join(lines)


def peer_ratios(results: list[CaseResult | tuple[str, int, str]]) -> str:
    """For each size: how many times faster the streaming renderer is than each peer."""
    ours = {r.rows: r for r in results if isinstance(r, CaseResult) and r.renderer == "streaming"}
    lines = ["speed-up of streaming over each peer (peer seconds / streaming seconds):"]
    for rows, mine in sorted(ours.items()):
        peers = [
            r
            for r in results
            if isinstance(r, CaseResult) and r.rows == rows and r.renderer in PEER_MAX
        ]
        if not peers:
            continue
        parts = [f"{r.renderer} {r.seconds / mine.seconds:.1f}x" for r in peers]
        fastest = min(peers, key=lambda r: r.seconds)
        verdict = "ok" if fastest.seconds >= 2 * mine.seconds else "MISSED (target 2x)"
        lines.append(
            f"  {rows:>8,}: " + ", ".join(parts) + f"; vs fastest ({fastest.renderer}) {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 30_000, 100_000])
    parser.add_argument(
        "--naive-max", type=int, default=30_000, help="largest size to try the naive baseline on"
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--peers", nargs="*", default=list(PEER_MAX), help="other renderers to compare with"
    )
    args = parser.parse_args(argv)

    results: list[CaseResult | tuple[str, int, str]] = []
    for rows in args.sizes:
        results.append(measure("streaming", rows))
        print(format_table(results[-1:]).splitlines()[-1], flush=True)
    if not args.skip_naive:
        for rows in args.sizes:
            if rows > args.naive_max:
                results.append(("naive-table", rows, "skipped (>120 s: quadratic table layout)"))
            else:
                results.append(measure("naive-table", rows))
            print(format_table(results[-1:]).splitlines()[-1], flush=True)
    for peer in args.peers:
        for rows in args.sizes:
            if rows > PEER_MAX[peer]:
                continue
            try:
                results.append(measure(peer, rows))
            except Exception as exc:  # a peer that fails is reported, not fatal
                results.append((peer, rows, f"failed: {type(exc).__name__}: {exc}"[:90]))
            print(format_table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(format_table(results))
    print()
    print(peer_ratios(results))
    largest = max(args.sizes)
    print(
        f"\n(synthetic row generation alone, {largest:,} rows: {generator_seconds(largest):.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
