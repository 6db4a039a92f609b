"""`python -m bench` (`make bench`): build and serve benchmarks of the statement PDF, with results.

Runs bench/pdf_bench.py, then the renderer next to fpdf2, Typst and WeasyPrint
(bench/pdf_render_bench.py, bench/pdf_peers.py), then bench/serve_bench.py, prints the combined
tables and writes them to
bench/results/pdf-<date>.md with the raw numbers and the machine in pdf-<date>.json (--postgres
and --quick runs add -postgres / -quick to the name). Arguments pass through, e.g. `python -m bench --quick` or
`python -m bench --sizes 10000 100000 --skip-serve` (the PDF part only; --skip-peers leaves out
the comparison). Exits 1 when a target fails.

Then bench/login_bench.py (the public page beside failed staff sign-ins) writes its own
bench/results/login-<date>.md and .json; `--login-only` runs it alone, `--skip-login` leaves it out.
Then bench/signon_bench.py (sign-on POSTs on SQLite and on PostgreSQL + Redis + worker, page views
from gunicorn and through nginx) writes bench/results/signon-<date>.md and .json;
`--signon-only` runs it alone, `--skip-signon` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import login_bench, pdf_bench, pdf_render_bench, serve_bench, signon_bench

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info(postgres: bool) -> dict:
    from importlib.metadata import version

    info = {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "reportlab": version("reportlab"),
        "sqlalchemy": version("SQLAlchemy"),
        "flask": version("Flask"),
        "gunicorn": version("gunicorn"),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _wrk_version(),
        "git_commit": _first_line(["git", "rev-parse", "--short", "HEAD"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if postgres:
        info["postgresql"] = _postgres_version()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, cwd=RESULTS.parent, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""


def _wrk_version() -> str:
    match = re.search(r"\d+(\.\d+)+", _first_line(["wrk", "--version"]))
    return f"wrk {match.group(0)}" if match else "wrk"


def _postgres_version() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{pdf_bench.POSTGRES_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()


def _write(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")  # bench/results/*.tmp is ignored by git
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def _machine(info: dict) -> str:
    return (
        f"{info['nproc']} cores ({info['cpu']}), Python {info['python']}, ReportLab "
        f"{info['reportlab']}, SQLAlchemy {info['sqlalchemy']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        + f", gunicorn {info['gunicorn']}, {info['wrk']}; commit {info['git_commit']}; "
        f"load average at start {info['load_average_at_start']}, at end "
        f"{info['load_average_at_end']}."
    )


def run_login(args: argparse.Namespace, argv: list[str], info: dict) -> list[str]:
    """bench/login_bench.py, written to login-<date>.md / .json; returns the failed targets."""
    started = time.perf_counter()
    info = {**info, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    result = login_bench.run(args)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    seconds = time.perf_counter() - started
    today = datetime.now(UTC).date().isoformat()
    command = shlex.join(["python", "-m", "bench", *argv])
    report = "\n".join(
        [
            f"# Public pages beside failed staff sign-ins, {today}",
            "",
            f"`{command}`, login part {seconds / 60:.1f} min. {_machine(info)}",
            "",
            login_bench.format_results(result),
        ]
    )
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"login-{today}" + ("-postgres" if args.postgres else "")
        stem += "-quick" if args.quick else ""
        raw = {"date": today, "command": command, "machine": info, "login": result.to_json()}
        _write(RESULTS / f"{stem}.md", report + "\n")
        _write(RESULTS / f"{stem}.json", json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
        print(f"written: bench/results/{stem}.md, bench/results/{stem}.json", file=sys.stderr)
    return login_bench.failed_targets(result)


def render_markdown(
    today: str,
    command: str,
    info: dict,
    pdf: pdf_bench.BenchResult | None,
    peers: pdf_render_bench.PeerComparison | None,
    serve: serve_bench.ServeResult | None,
    seconds: float,
) -> str:
    machine = _machine(info)
    parts = [
        f"# Statement PDF benchmarks, {today}",
        "",
        f"`{command}`, {seconds / 60:.1f} min. {machine}",
    ]
    if pdf is not None:
        parts += [
            "",
            "## Building the PDF from the database",
            "",
            pdf_bench.format_results(pdf),
        ]
    if peers is not None:
        parts += [
            "",
            "## The renderer next to fpdf2, Typst and WeasyPrint",
            "",
            peers.format_markdown(),
        ]
    if serve is not None:
        parts += ["", "## Serving the cached PDF", "", serve_bench.format_results(serve)]
    return "\n".join(parts) + "\n"


def run_signon(args: argparse.Namespace, argv: list[str]) -> list[str]:
    """bench/signon_bench.py, written to bench/results/signon-<date>.md and .json; the failed
    targets' names."""
    started = time.perf_counter()
    today = datetime.now(UTC).date().isoformat()
    info = machine_info(postgres="postgres" in args.backends)
    result = signon_bench.run(args)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    seconds = time.perf_counter() - started
    command = shlex.join(["python", "-m", "bench", *argv])
    machine = (
        f"{info['nproc']} cores ({info['cpu']}), Python {info['python']}, Flask {info['flask']}, "
        f"SQLAlchemy {info['sqlalchemy']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        + f", gunicorn {info['gunicorn']}, {info['wrk']}; commit {info['git_commit']}; "
        f"load average at start {info['load_average_at_start']}, at end "
        f"{info['load_average_at_end']}."
    )
    report = "\n".join(
        [
            f"# Sign-on throughput and page views, {today}",
            "",
            f"`{command}`, {seconds / 60:.1f} min. {machine}",
            "",
            signon_bench.format_results(result),
            "",
        ]
    )
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"signon-{today}" + ("-quick" if args.quick else "")
        raw = {
            "date": today,
            "command": command,
            "seconds": seconds,
            "machine": info,
            "signon": result.to_json(),
        }
        _write(RESULTS / f"{stem}.md", report)
        _write(RESULTS / f"{stem}.json", json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
        print(f"written: bench/results/{stem}.md, bench/results/{stem}.json", file=sys.stderr)
    return [t["target"] for t in result.targets if t["result"] == "FAIL"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    pdf_bench.add_arguments(parser)
    serve_bench.add_arguments(parser)
    parser.add_argument("--skip-pdf", action="store_true", help="only the serving benchmark")
    parser.add_argument("--skip-serve", action="store_true", help="only the build benchmark")
    parser.add_argument("--no-write", action="store_true", help="print, write nothing")
    login_bench.add_arguments(parser)
    parser.add_argument("--login-only", action="store_true", help="only bench/login_bench.py")
    parser.add_argument("--skip-login", action="store_true", help="no bench/login_bench.py")
    signon_bench.add_arguments(parser)
    parser.add_argument("--signon-only", action="store_true", help="only bench/signon_bench.py")
    parser.add_argument("--skip-signon", action="store_true", help="no bench/signon_bench.py")
    parser.add_argument(
        "--skip-peers", action="store_true", help="no fpdf2 / Typst / WeasyPrint comparison"
    )
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = "3s" if args.quick else "10s"
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.signon_only:
        failed_signon = run_signon(args, argv)
        if failed_signon:
            print(f"FAILED targets: {', '.join(failed_signon)}", file=sys.stderr)
        return 1 if failed_signon else 0
    if args.login_only:
        failed_login = run_login(args, argv, machine_info(args.postgres))
        if failed_login:
            print(f"FAILED targets: {', '.join(failed_login)}", file=sys.stderr)
        return 1 if failed_login else 0

    started = time.perf_counter()
    today = datetime.now(UTC).date().isoformat()
    info = machine_info(args.postgres)
    pdf = None
    if not args.skip_pdf:
        pdf = pdf_bench.run(
            pdf_bench.sizes_from(args),
            postgres=args.postgres,
            repeat=args.repeat,
            naive_max=args.naive_max,
            cli_size=args.cli_size,
        )
    peers = None
    if not (args.skip_pdf or args.skip_peers):
        # The renderer alone next to fpdf2, Typst and WeasyPrint on the same content, with ratios.
        largest = max(pdf_bench.sizes_from(args))
        sizes = [n for n in pdf_render_bench.PEER_TARGET_SIZES if n <= largest]
        peers = pdf_render_bench.compare_with_peers(sizes or [largest])
    serve = None if args.skip_serve else serve_bench.run(args)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    seconds = time.perf_counter() - started

    command = shlex.join(["python", "-m", "bench", *argv])
    report = render_markdown(today, command, info, pdf, peers, serve, seconds)
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"pdf-{today}" + ("-postgres" if args.postgres else "")
        stem += "-quick" if args.quick else ""
        raw = {
            "date": today,
            "command": command,
            "seconds": seconds,
            "machine": info,
            "pdf": pdf.to_json() if pdf else None,
            "peers": peers.to_json() if peers else None,
            "serve": serve.to_json() if serve else None,
        }
        _write(RESULTS / f"{stem}.md", report)
        _write(RESULTS / f"{stem}.json", json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
        print(f"written: bench/results/{stem}.md, bench/results/{stem}.json", file=sys.stderr)
    targets = [*(pdf.targets if pdf else []), *(peers.targets() if peers else [])]
    failed = [t["target"] for t in targets if t["result"] == "FAIL"]
    if not args.skip_login:
        failed += run_login(args, argv, info)
    if not args.skip_signon:
        failed += run_signon(args, argv)
    if failed:
        print(f"FAILED targets: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
