"""Benchmark the statement PDF renderer against a naive one-Table baseline on synthetic rows."""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
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
    cpu_seconds: float = 0.0  # user + system of the measuring process, all its threads

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

    register_fonts(reference=True)
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
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        pages = RENDERERS[renderer](rows, path)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        size = os.path.getsize(path)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak_kb = after.ru_maxrss  # KiB on Linux
    return CaseResult(renderer, rows, seconds, pages, size, peak_kb / 1024, cpu)


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


# The target: at least this many times faster than the fastest peer, at 10k and 100k.
TARGET_PEER_SPEEDUP = 2.0
PEER_TARGET_SIZES = (10_000, 100_000)
# A peer taking longer than this at one size is run once there, not `repeat` times.
SLOW_PEER_SECONDS = 20.0


@dataclass
class PeerComparison:
    """The streaming renderer and the peers on the same rows, runs interleaved in one session."""

    sizes: list[int]
    repeat: int
    runs: list[CaseResult]
    failures: list[tuple[str, int, str]]
    load_average: dict[str, list[float]]

    def median(self, renderer: str, rows: int) -> CaseResult | None:
        runs = [r for r in self.runs if r.renderer == renderer and r.rows == rows]
        if not runs:
            return None
        seconds = statistics.median(r.seconds for r in runs)
        return CaseResult(
            renderer,
            rows,
            seconds,
            runs[0].pages,
            runs[0].size_bytes,
            max(r.peak_rss_mb for r in runs),
            statistics.median(r.cpu_seconds for r in runs),
        )

    def speedup(self, rows: int) -> tuple[float, str] | None:
        """(fastest peer's seconds / streaming seconds, that peer) at ``rows``."""
        mine = self.median("streaming", rows)
        peers = [m for m in (self.median(p, rows) for p in PEER_MAX) if m is not None]
        if mine is None or not peers:
            return None
        fastest = min(peers, key=lambda r: r.seconds)
        return fastest.seconds / mine.seconds, fastest.renderer

    def targets(self) -> list[dict]:
        targets = []
        for rows in PEER_TARGET_SIZES:
            found = self.speedup(rows)
            result = "n/a (not measured)"
            measured = None
            if found is not None:
                ratio, peer = found
                measured = f"{ratio:.1f}× faster than {peer}"
                result = "PASS" if ratio >= TARGET_PEER_SPEEDUP else "FAIL"
            targets.append(
                {
                    "target": f"renderer vs fastest peer at {rows:,}",
                    "measured": measured,
                    "value": None if found is None else found[0],
                    "limit": f"≥ {TARGET_PEER_SPEEDUP:.0f}×",
                    "result": result,
                }
            )
        return targets

    def to_json(self) -> dict:
        return {
            "sizes": self.sizes,
            "repeat": self.repeat,
            "runs": [asdict(r) for r in self.runs],
            "failures": [list(f) for f in self.failures],
            "load_average": self.load_average,
            "targets": self.targets(),
        }

    def format_markdown(self) -> str:
        headers = [
            "renderer",
            "rows",
            "seconds",
            "CPU s",
            "runs",
            "rows/s",
            "pages",
            "size MB",
            "KB per 10k",
            "peak RSS MB",
            "× streaming time",
        ]
        table: list[list[str]] = []
        for rows in self.sizes:
            mine = self.median("streaming", rows)
            for renderer in ("streaming", *PEER_MAX):
                m = self.median(renderer, rows)
                failed = [f for f in self.failures if f[0] == renderer and f[1] == rows]
                if m is None:
                    if failed:
                        table.append([renderer, f"{rows:,}", "—", "", "", "", "", "", "", "", ""])
                        table[-1][-1] = failed[0][2]
                    continue
                runs = sum(1 for r in self.runs if r.renderer == renderer and r.rows == rows)
                table.append(
                    [
                        renderer,
                        f"{rows:,}",
                        f"{m.seconds:.2f}",
                        f"{m.cpu_seconds:.2f}",
                        str(runs),
                        f"{m.rows_per_second:,.0f}",
                        f"{m.pages:,}",
                        f"{m.size_bytes / 1e6:.2f}",
                        f"{m.size_bytes / 1e3 / rows * 1e4:,.0f}",
                        f"{m.peak_rss_mb:.0f}",
                        "1.0" if mine is None or m is mine else f"{m.seconds / mine.seconds:.1f}",
                    ]
                )
        main = _markdown_table(headers, table)
        summary = _markdown_table(
            ["target", "measured", "limit", "result"],
            [[t["target"], t["measured"] or "", t["limit"], t["result"]] for t in self.targets()],
        )
        notes = (
            "The renderer alone (no database) and each peer lay out the same synthetic rows "
            "(15% Greek, Cyrillic or heavily accented names, 3% very long ones) in the same "
            "session, every run in a fresh interpreter, runs taking turns so that other load on "
            "the machine falls on all of them alike; seconds (wall) and CPU s (user + system, "
            "all threads: Typst lays out on several) are the medians of the runs, peak RSS the "
            "largest. The target is judged on wall time. The peers are given the same layout as far as each allows "
            "(bench/pdf_peers.py): statement text, two columns, groups with country "
            "subheadings, Noto Serif and Noto Sans embedded as subsets, compressed streams; "
            "Typst writes no tags (pdf_tags=False), as the renderer writes no structure tree. "
            f"WeasyPrint runs to {PEER_MAX['weasyprint']:,} rows only. Load average before, "
            f"between sizes and after: {self.load_average}."
        )
        return f"{main}\n\n{summary}\n\n{notes}"


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    numeric = {i for i in range(1, len(headers)) if i not in (len(headers) - 1,)}

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return "\n".join([line(headers), rule + "|", *(line(r) for r in rows)])


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def compare_with_peers(
    sizes: list[int], repeat: int = 5, peers: list[str] | None = None
) -> PeerComparison:
    """Streaming and each peer at every size, interleaved: round r runs each renderer once."""
    peers = list(PEER_MAX) if peers is None else peers
    comparison = PeerComparison(sizes, repeat, [], [], {"start": _load()})
    for rows in sizes:
        slow: set[str] = set()
        for round_number in range(repeat):
            for renderer in ("streaming", *peers):
                if renderer != "streaming" and (rows > PEER_MAX[renderer] or renderer in slow):
                    continue
                if any(f[0] == renderer and f[1] == rows for f in comparison.failures):
                    continue
                try:
                    result = measure(renderer, rows)
                except Exception as exc:  # a peer that fails is reported, not fatal
                    note = f"failed: {type(exc).__name__}: {exc}"[:90]
                    comparison.failures.append((renderer, rows, note))
                    print(f"{renderer:<12} {rows:>8,} {note}", file=sys.stderr, flush=True)
                    continue
                comparison.runs.append(result)
                if renderer != "streaming" and result.seconds > SLOW_PEER_SECONDS:
                    slow.add(renderer)
                print(
                    f"[peers] round {round_number + 1}: " + format_table([result]).splitlines()[-1],
                    file=sys.stderr,
                    flush=True,
                )
        comparison.load_average[f"after {rows:,}"] = _load()
    return comparison


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
    parser.add_argument("--repeat", type=int, default=5, help="runs per renderer and size")
    args = parser.parse_args(argv)

    results: list[CaseResult | tuple[str, int, str]] = []
    if not args.skip_naive:
        for rows in args.sizes:
            results.append(measure("streaming", rows))
            print(format_table(results[-1:]).splitlines()[-1], flush=True)
        for rows in args.sizes:
            if rows > args.naive_max:
                results.append(("naive-table", rows, "skipped (>120 s: quadratic table layout)"))
            else:
                results.append(measure("naive-table", rows))
            print(format_table(results[-1:]).splitlines()[-1], flush=True)
        print()
        print(format_table(results))
    if args.peers:
        comparison = compare_with_peers(args.sizes, args.repeat, args.peers)
        print()
        print(comparison.format_markdown())
    largest = max(args.sizes)
    print(
        f"\n(synthetic row generation alone, {largest:,} rows: {generator_seconds(largest):.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
