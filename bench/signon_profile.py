"""Where a sign-on and a public page view spend their time, in process: cProfile, SQL counted.

Run: python -m bench.signon_profile [--postgres] [--requests 300]. A fresh database (1,000
signatories, the seed), the application with the test client, no server: every request is the
real view with its CSRF token, validation, transaction and rendering. Background jobs are
collected instead of run, so that a request's figures are its own; the confirmation emails are
then delivered one by one (`outbox.deliver`), measured apart: the mail's share of a submission.

Writes bench/results/signon-profile-<date>[-postgres].md: milliseconds per request (wall and
CPU), SQL statements per request with the statements of one sign-on, and per case the functions
with the most time of their own and the most time below them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from bench import pdf_bench  # noqa: E402

RESULTS = REPO / "bench" / "results"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def signon_form(n: int, token: str) -> dict[str, str]:
    """One submission of the form, with an email (and so a mail domain) of its own."""
    return {
        "csrf_token": token,
        "organisation_name": f"Bench Organisation {n}",
        "organisation_type": "company",
        "country": "DE",
        "city": "Berlin",
        "website": f"https://bench-{n}.org",
        "contact_name": "Ann Example",
        "contact_role": "Director",
        "email": f"signer{n}@bench-{n}.org",
        "comment": "",
        "consent": "y",
    }


class CollectingRunner:
    """Stands in for the jobs runner: keeps what would run, runs nothing."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple, dict]] = []

    def enqueue(self, func, *args, delay: float = 0.0, key=None, **kwargs) -> None:
        self.jobs.append((func, args, kwargs))

    def pending(self) -> int:
        return len(self.jobs)

    def wait_idle(self, timeout: float = 30.0, include_delayed: bool = True) -> bool:
        return True

    def clear(self) -> None:
        self.jobs.clear()

    def stop(self) -> None:
        pass


@dataclass
class Case:
    name: str
    wall_ms: float
    cpu_ms: float
    statements: float
    top_own: str = ""
    top_cumulative: str = ""
    sql: list[str] = field(default_factory=list)


def _profile_text(profile: cProfile.Profile, sort: str, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    text = out.getvalue()
    # From the table's header on: the summary lines above it repeat the figures we print.
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text.rstrip()


def measure(name: str, call: Callable[[], object], count: int, counter: list[str]) -> Case:
    for _ in range(5):  # warm: compiled statements, templates, caches
        call()
    counter.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    statements = len(counter) / count
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        call()
    profile.disable()
    return Case(
        name,
        wall / count * 1000,
        cpu / count * 1000,
        statements,
        _profile_text(profile, "tottime", 18),
        _profile_text(profile, "cumulative", 30),
    )


#: The batch of sign-ons written together in the profile (a burst on 2 cores forms about 4-8).
BATCH = 8


def prepared_batches(app, slug: str, numbers, count: int) -> list[list]:
    """`count` batches of BATCH new submissions, prepared (their emails rendered) as the threads
    that hand them in do before the batch is written."""
    from petition.signing import service as signing
    from petition.statements.service import statement_to_sign

    batches = []
    with app.test_request_context(f"/statements/{slug}/sign", method="POST"):
        statement = statement_to_sign(slug)
        for _ in range(count):
            batch = []
            for _ in range(BATCH):
                n = next(numbers)
                email = f"batched{n}@batched-org{n}.eu"
                data = signing.SignatureInput(
                    organisation_name=f"Batched Organisation {n}",
                    organisation_type="sme",
                    country="DE",
                    city="Köln",
                    website=f"https://batched-org{n}.eu",
                    contact_name=f"Contact {n}",
                    contact_role="",
                    email=email,
                    email_normalised=email,
                )
                batch.append(signing.prepare_submission(statement, data, "192.0.2.1"))
            batches.append(batch)
    return batches


def run(postgres: bool, count: int) -> tuple[list[Case], list[str], dict]:
    from sqlalchemy import event

    from petition import create_app
    from petition.core import outbox
    from petition.extensions import db
    from petition.signing import service as signing

    workdir = Path(tempfile.mkdtemp(prefix="jointly-signon-profile-"))
    database = pdf_bench.create_database(1_000, workdir, postgres=postgres)
    try:
        config = pdf_bench.app_config(database.url, database.pdf_dir, jobs_mode="thread")
        # As the wrk benchmark and deploy/jointly.env.example run it (the default, 0, asks the
        # database on every view).
        config["PAGE_FRESH_SECONDS"] = 1.0
        app = create_app(config)
        jobs = CollectingRunner()
        app.extensions["jobs"] = jobs
        with app.app_context():
            engine = db.engine
        executed: list[str] = []
        event.listen(
            engine, "before_cursor_execute", lambda *a: executed.append(" ".join(a[2].split()))
        )
        slug = database.slug
        visitor = app.test_client()
        signer = app.test_client()
        page = signer.get(f"/statements/{slug}/sign").get_data(as_text=True)
        match = TOKEN.search(page)
        if match is None:
            raise RuntimeError("the sign-on form has no CSRF token")
        token = match.group(1)
        numbers = iter(range(1, 10**9))

        def submit() -> None:
            response = signer.post(
                f"/statements/{slug}/sign", data=signon_form(next(numbers), token)
            )
            if response.status_code != 302:
                raise RuntimeError(f"sign-on answered {response.status_code}")

        submit()
        executed.clear()
        submit()
        one_signon = list(executed)
        etag = visitor.get(f"/statements/{slug}").headers["ETag"]
        cases = [
            measure("sign-on POST (request only)", submit, count, executed),
        ]
        deliveries = [job for job in jobs.jobs if job[0] is outbox.deliver]
        jobs.clear()

        def deliver_next() -> None:
            func, args, kwargs = deliveries.pop()
            with app.app_context():
                func(*args, **kwargs)

        # The mail of the submissions above: about 2 × count waiting in the outbox.
        cases.append(measure("confirmation mail: outbox.deliver", deliver_next, count, executed))
        # Under a burst the submissions a process holds at one moment are written together
        # (core/batching.py); their rows, in one transaction, for a batch of BATCH.
        batches = iter(prepared_batches(app, slug, numbers, 2 * max(count // BATCH, 1) + 5))

        def write_batch() -> None:
            with app.app_context():
                signing.store_together(next(batches))

        cases.append(
            measure(
                f"{BATCH} sign-ons written together (per batch; rows only)",
                write_batch,
                max(count // BATCH, 1),
                executed,
            )
        )
        jobs.clear()
        pages = [
            ("GET sign-on form (anonymous, new session)", f"/statements/{slug}/sign", {}),
            ("GET / (statement page)", "/", {}),
            ("GET statement page", f"/statements/{slug}", {}),
            (
                "GET statement page, If-None-Match (304)",
                f"/statements/{slug}",
                {"If-None-Match": etag},
            ),
            ("GET signatory list", f"/statements/{slug}/signatories", {}),
        ]
        for name, path, headers in pages:
            if "sign-on form" in name:
                # Every visitor arrives without a cookie and leaves with a session.
                def view(path=path, headers=headers) -> None:
                    app.test_client().get(path, headers=headers)
            else:

                def view(path=path, headers=headers) -> None:
                    visitor.get(path, headers=headers)

            cases.append(measure(name, view, count, executed))
        with app.app_context():
            db.engine.dispose()
        info = {
            "signatories": database.signatories,
            "backend": "PostgreSQL" if postgres else "SQLite",
        }
        return cases, one_signon, info
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def render(cases: list[Case], one_signon: list[str], info: dict, command: str) -> str:
    from bench.__main__ import machine_info

    machine = machine_info(postgres=info["backend"] == "PostgreSQL")
    rows = [[c.name, f"{c.wall_ms:.2f}", f"{c.cpu_ms:.2f}", f"{c.statements:.1f}"] for c in cases]
    lines = [
        f"# Sign-on and page views profiled in process ({info['backend']}), "
        f"{datetime.now(UTC).date().isoformat()}",
        "",
        f"`{command}`: the test client, no server; {info['signatories']:,} approved "
        f"signatories. {machine['nproc']} cores ({machine['cpu']}), Python {machine['python']}; "
        f"commit {machine['git_commit']}; load average {machine['load_average_at_start']}.",
        "",
        pdf_bench.markdown_table(
            ["case", "ms per request (wall)", "CPU ms", "SQL statements"], rows, right={1, 2, 3}
        ),
        "",
        "CPU ms is this process's CPU time (the database server's is not in it on PostgreSQL). "
        "The mail's share of a submission is the `outbox.deliver` row: claim, build, write, "
        "record (here to files; SMTP adds the relay's round trips). The page views are repeats "
        "of one URL: kept pages, within PAGE_FRESH_SECONDS of their ETag (no query).",
        "",
        "## The SQL of one sign-on POST",
        "",
        *[f"{i}. `{s[:160]}{'…' if len(s) > 160 else ''}`" for i, s in enumerate(one_signon, 1)],
    ]
    for c in cases:
        lines += [
            "",
            f"## {c.name}: most time of their own",
            "",
            "```",
            c.top_own,
            "```",
            "",
            f"## {c.name}: most time below them",
            "",
            "```",
            c.top_cumulative,
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432")
    parser.add_argument("--requests", type=int, default=300, help="requests per case")
    parser.add_argument("--no-write", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.INFO)  # one line per submission would be measured too
    cases, one_signon, info = run(args.postgres, args.requests)
    command = "python -m bench.signon_profile " + " ".join(argv)
    report = render(cases, one_signon, info, command.strip())
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"signon-profile-{datetime.now(UTC).date().isoformat()}"
        stem += "-postgres" if args.postgres else ""
        (RESULTS / f"{stem}.md").write_text(report, encoding="utf-8")
        print(f"written: bench/results/{stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
