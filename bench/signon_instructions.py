"""Instructions per sign-on, counted by valgrind: a measure of the code that the machine's speed
does not move.

Run: python -m bench.signon_instructions [--postgres] [--count 300]. The wrk runs of
bench/signon_bench.py swing by a third on a shared 2-core virtual machine, in-process timings by
half as much; the number of instructions a piece of code executes stays within a few percent.
Each case runs twice under `valgrind --tool=cachegrind --cache-sim=no`, once with no repetitions
and once with `--count`, and the difference is divided by the count: set-up, imports and warm-up
cancel out. Cases:

* request: the sign-on POST through the test client, the write stubbed (form, CSRF, session,
  email, response: the web process's part before the batch);
* batch: four prepared sign-ons written together (`signing.store_together`), per batch;
* mail: one confirmation delivered by `outbox.deliver_due` to a file on /dev/shm.

Only this process's instructions count (PostgreSQL's own work is not in them). Writes
bench/results/signon-instructions-<date>[-postgres].md.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results"
CASES = ("request", "batch", "mail")
#: Sign-ons written together in the batch case (a burst on 2 cores forms about four).
BATCH = 4
WARM = 30


def _inner(case: str, count: int, fill: int, postgres: bool) -> None:
    """The case itself, `count` times after the warm-up (under valgrind, see main). `fill` is the
    longer run's count, the same in both: what is prepared, and for the mail what is written
    first, is then alike, and only the case's own work differs."""
    from bench import pdf_bench, signon_profile
    from petition import create_app
    from petition.core import outbox
    from petition.signing import service as signing

    logging.disable(logging.INFO)
    workdir = Path(tempfile.mkdtemp(prefix="jointly-instructions-"))
    database = pdf_bench.create_database(100, workdir, postgres=postgres and case != "request")
    try:
        config = pdf_bench.app_config(database.url, database.pdf_dir, jobs_mode="thread")
        config["PAGE_FRESH_SECONDS"] = 1.0
        config["MAIL_DIR"] = str(Path("/dev/shm") / workdir.name)
        app = create_app(config)
        app.extensions["jobs"] = signon_profile.CollectingRunner()
        if case == "request":
            _requests(app, database.slug, count)
            return
        numbers = itertools.count(1)
        signon_profile.BATCH = BATCH
        # As many prepared (their emails rendered) in both runs: only the writing differs.
        batches = signon_profile.prepared_batches(app, database.slug, numbers, WARM + fill)
        written = WARM + count if case == "batch" else -(-(WARM + fill) // BATCH)
        for batch in batches[:written]:
            with app.app_context():
                signing.store_together(batch)
        if case == "mail":
            with app.app_context():
                left = WARM + count
                while left > 0:
                    sent = outbox.deliver_due(min(100, left))
                    if not sent:
                        raise RuntimeError(f"{left} confirmation mails short: none was due")
                    left -= sent
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(Path("/dev/shm") / workdir.name, ignore_errors=True)


def _requests(app, slug: str, count: int) -> None:
    from bench import signon_profile
    from petition.signing import service as signing

    class Stored:
        """The write left out: a submission is stored at once."""

        def submit(self, _item):
            return signing.SubmitOutcome.CREATED

    app.extensions["signing.group_commit"] = Stored()
    signer = app.test_client()
    page = signer.get(f"/statements/{slug}/sign").get_data(as_text=True)
    match = signon_profile.TOKEN.search(page)
    if match is None:
        raise RuntimeError("the sign-on form has no CSRF token")
    for n in range(WARM + count):
        form = signon_profile.signon_form(n, match.group(1))
        response = signer.post(f"/statements/{slug}/sign", data=form)
        if response.status_code != 302:
            raise RuntimeError(f"sign-on answered {response.status_code}")


def _instructions(case: str, count: int, fill: int, postgres: bool) -> int:
    """Instructions valgrind counted for the whole inner run."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.signon_instructions",
        "--inner",
        case,
        "--count",
        str(count),
        "--fill",
        str(fill),
    ] + (["--postgres"] if postgres else [])
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="the batch and mail on PostgreSQL")
    parser.add_argument("--count", type=int, default=300, help="repetitions counted per case")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--inner", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--fill", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    if args.inner:
        _inner(args.inner, args.count, args.fill, args.postgres)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    rows = []
    for case in args.cases:
        base = _instructions(case, 0, args.count, args.postgres)
        total = _instructions(case, args.count, args.count, args.postgres)
        per = (total - base) / args.count
        unit = {"request": "sign-on request", "batch": f"batch of {BATCH}", "mail": "mail"}[case]
        rows.append((case, unit, per, per / BATCH if case == "batch" else per))
        print(f"{case}: {per / 1e6:.2f} M instructions per {unit}", flush=True)
    from bench import pdf_bench
    from bench.__main__ import machine_info

    machine = machine_info(postgres=args.postgres)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    total = sum(row[3] for row in rows)
    lines = [
        f"# Instructions per sign-on ({backend}), {datetime.now(UTC).date().isoformat()}",
        "",
        f"`python -m bench.signon_instructions {' '.join(argv or sys.argv[1:])}`".replace(
            " `", "`"
        ),
        f"valgrind's count of this process's instructions, {args.count} repetitions less none; "
        f"commit {machine['git_commit']}, Python {machine['python']}.",
        "",
        pdf_bench.markdown_table(
            ["case", "per", "M instructions", "M instructions per sign-on"],
            [[c, u, f"{p / 1e6:.2f}", f"{s / 1e6:.2f}"] for c, u, p, s in rows],
            right={2, 3},
        ),
        "",
        f"A sign-on's share of these in all: {total / 1e6:.2f} M instructions (the batch's divided "
        f"by {BATCH}). The database server's work and gunicorn's are not in them.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"signon-instructions-{datetime.now(UTC).date().isoformat()}"
        path = RESULTS / f"{stem}{'-postgres' if args.postgres else ''}.md"
        path.write_text(report)
        print(f"written: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
