"""A private production topology for fault tests: its own PostgreSQL and Redis, SMTP, gunicorn
(2 workers), `flask worker` and `flask scheduler`, each of which a test can stop, kill or restart.

Nothing here touches the shared services (PostgreSQL on 5432, Redis on 6379): the cluster is
`initdb`-ed into a temp folder and the Redis server started on a free port, both stopped at the end.
Outages are kept to seconds.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import SmtpSink, _Controller, free_port
from tests.servers import ROOT, SLUG, Browser, flask_cli, start_gunicorn, stop, wait_until


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def fault_tools_missing() -> str | None:
    """Why the fault topology cannot be built here, or None."""
    for tool in ("initdb", "pg_ctl"):
        if not _pg_bin(tool):
            return f"{tool} not found (PostgreSQL server binaries)"
    if not shutil.which("redis-server"):
        return "redis-server not found"
    if os.geteuid() == 0 and not _pg_user():
        return "running as root and no 'postgres' user to run initdb as"
    return None


def _pg_user() -> str | None:
    """initdb refuses root: as root, the cluster belongs to the 'postgres' account."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return None


class PostgresCluster:
    """A throw-away PostgreSQL cluster on a free port (fsync off: a test, not a database)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="jointly-faults-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.user = _pg_user()
        if self.user:
            shutil.chown(self.folder, self.user, self.user)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/jointly"

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, cwd=self.folder
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done

    def init(self) -> None:
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\n"
                "shared_buffers = 16MB\n"
            )
        self.start()
        self._run(
            _pg_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", "jointly",
        )  # fmt: skip

    def start(self) -> None:
        self._run(_pg_ctl(), "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_ctl(), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._run(_pg_ctl(), "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w",
                  "restart")  # fmt: skip

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def _pg_ctl() -> str:
    return _pg_bin("pg_ctl") or "pg_ctl"


class RedisServer:
    """redis-server on a free port, in memory only; stop() and start() keep the port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redis import Redis
        from redis.exceptions import RedisError

        log = open(self.folder / "redis.log", "a")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()

        def up() -> bool:
            try:
                return bool(Redis.from_url(self.url, socket_timeout=0.5).ping())
            except RedisError:
                return False

        wait_until(up, 15, "redis-server to answer")

    def stop(self) -> None:
        """Stopped the way an outage stops it: the process gone, its memory with it."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


class SmtpServer:
    """The SmtpSink with a switch: refuse connections (nothing listening), then listen again."""

    def __init__(self) -> None:
        self.sink = SmtpSink(port=free_port())
        self.controller: _Controller | None = None

    def start(self) -> None:
        self.controller = _Controller(self.sink, hostname=self.sink.host, port=self.sink.port)
        self.controller.start()

    def refuse_connections(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def stop(self) -> None:
        self.refuse_connections()


@dataclass
class Topology:
    """Everything a fault test drives: the services, the processes and a browser on gunicorn."""

    folder: Path
    postgres: PostgresCluster
    redis: RedisServer
    smtp: SmtpServer
    env: dict
    port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def browser(self) -> Browser:
        return Browser(f"http://127.0.0.1:{self.port}")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return flask_cli(self.env, *args)

    def start_process(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_worker(self) -> subprocess.Popen:
        return self.start_process("worker", "worker")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """The process and every descendant (RQ runs each job in a forked 'work horse' in a
        process group of its own, which killing the worker's group alone would spare)."""
        process = self.processes[name]
        family = [process.pid, *descendants(process.pid)]
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=15)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in family),
            15,
            f"every process of {name} to die",
        )

    def all_alive(self) -> dict[str, int | None]:
        """Exit codes of the processes that died (empty when every one still runs)."""
        return {n: p.poll() for n, p in self.processes.items() if p.poll() is not None}

    def log_text(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def query(self, sql: str, **params) -> list[tuple]:
        """Read the deployment's database directly (a fresh connection each time)."""
        import psycopg

        url = self.postgres.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=5) as connection:
            return list(connection.execute(sql, params or None).fetchall())

    def healthy(self) -> bool:
        try:
            status, _headers, body = self.browser.request("/healthz", timeout=5)
        except OSError:
            return False
        return status == 200 and b'"queue": "ok"' in body


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children …), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def topology(folder: Path) -> Iterator[Topology]:
    """Start PostgreSQL, Redis, SMTP, gunicorn -w 2, a worker and a scheduler; stop all after."""
    postgres = PostgresCluster()
    redis = RedisServer(folder)
    smtp = SmtpServer()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "FLASK_RQ_QUEUE": f"jointly-faults-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "fault-tests",
        "PDF_DIR": str(folder / "pdf"),
        "PDF_DEBOUNCE_SECONDS": "0.5",
        # A killed build's lease runs out within the test's patience, not after a minute.
        "PDF_BUILD_LEASE_SECONDS": "5",
        "MAIL_SERVER": smtp.sink.host,
        "MAIL_PORT": str(smtp.sink.port),
        "MAIL_TIMEOUT": "5",
        "MAIL_RETRY_BASE_SECONDS": "1",
        "MAIL_DEFAULT_SENDER": "Campaign <campaign@example.org>",
        # The drills sign up dozens of addresses at example.org within minutes; the cap per
        # recipient domain has its own tests (test_core_outbox_domain_cap) and would defer them.
        "MAIL_DOMAIN_HOURLY_LIMIT": "0",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SIGN_RATE_LIMIT": "1000 per minute",
        "HOUSEKEEPING_INTERVAL_SECONDS": "1",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_CONTROL_SOCKET": str(folder / "gunicorn.ctl"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_URL", None)
    env.pop("JOINTLY_ENV", None)
    topo = Topology(folder, postgres, redis, smtp, env, port)
    try:
        postgres.init()
        redis.start()
        smtp.start()
        migrated = topo.cli("db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        seeded = topo.cli("seed")
        assert seeded.returncode == 0, seeded.stderr
        topo.processes["web"] = start_gunicorn(env, port, folder / "web.log")
        topo.start_worker()
        topo.start_process("scheduler", "scheduler")
        wait_until(topo.healthy, 60, "gunicorn to answer /healthz")
        wait_until(
            lambda: topo.browser.request(f"/statements/{SLUG}/statement.pdf")[0] == 200,
            90,
            "the first PDF from the worker",
        )
        yield topo
    finally:
        stop(topo.processes.values())
        smtp.stop()
        redis.stop()
        postgres.destroy()


# ---------------------------------------------------------------- driving it


def sign_form(browser: Browser, email: str, name: str) -> dict:
    return {
        "csrf_token": browser.token(f"/statements/{SLUG}/sign"),
        "organisation_name": name,
        "organisation_type": "ngo",
        "country": "BE",
        "city": "Gent",
        "website": "https://example.org",
        "contact_name": "Contact Person",
        "email": email,
        "consent": "y",
    }


@dataclass
class Submission:
    email: str
    status: int
    headers: dict
    body: str


def submit(browser: Browser, form: dict) -> Submission:
    """One POST of the sign form; a connection error counts as status 0 (never expected)."""
    try:
        status, headers, body = browser.request(f"/statements/{SLUG}/sign", form, timeout=20)
    except OSError as exc:
        return Submission(form["email"], 0, {}, repr(exc))
    return Submission(form["email"], status, headers, body.decode(errors="replace"))


def assert_told_the_truth(results: list[Submission]) -> tuple[list[str], list[str]]:
    """Every answer is 'accepted' (302 to check-your-email) or an honest 503 + Retry-After.

    Returns (accepted emails, refused emails).
    """
    accepted, refused = [], []
    for result in results:
        if result.status == 302:
            assert result.headers["Location"].endswith("/check-your-email"), result
            accepted.append(result.email)
        else:
            assert result.status == 503, (result.status, result.body[:2000])
            assert result.headers.get("Retry-After") == "60", result.headers
            assert "Please try again in a minute" in result.body
            assert "nothing you sent was saved" in result.body
            assert f'value="{result.email}"' in result.body  # the form is offered again
            assert "Traceback" not in result.body
            refused.append(result.email)
    return accepted, refused


def stored_once(topo: Topology, emails: list[str]) -> None:
    rows = topo.query("SELECT email, count(*) FROM signatures GROUP BY email")
    counts = dict(rows)
    assert {e: counts.get(e, 0) for e in emails} == dict.fromkeys(emails, 1)


def confirmation_mails(topo: Topology, email: str) -> list:
    return [m for m in topo.smtp.sink.to(email) if "confirm" in m["Subject"].lower()]


def wait_for_mail_once(topo: Topology, emails: list[str], timeout: float = 60) -> None:
    """Each address receives its confirmation mail, and exactly once (by Message-ID)."""
    wait_until(
        lambda: all(confirmation_mails(topo, e) for e in emails),
        timeout,
        "a confirmation mail for every accepted submission",
    )
    time.sleep(2)  # time for a duplicate to show up, were there one
    for email in emails:
        mails = confirmation_mails(topo, email)
        assert len(mails) == 1, (email, [m["Message-ID"] for m in mails])


def confirm_and_approve(topo: Topology, email: str) -> None:
    """The signatory follows the emailed link; staff approve it with the CLI."""
    import re
    import urllib.parse

    from tests.conftest import CSRF_RE

    [mail] = confirmation_mails(topo, email)
    body = mail.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/confirm/[A-Za-z0-9_-]+", body).group(0)
    path = urllib.parse.urlsplit(link).path
    browser = topo.browser
    status, _, page = browser.request(path)
    assert status == 200, status
    token = CSRF_RE.search(page.decode()).group(1)
    status, _, page = browser.request(path, {"csrf_token": token})
    assert "Your endorsement is confirmed" in page.decode(), page[:2000]
    [(signature_id,)] = topo.query("SELECT id FROM signatures WHERE email = %(e)s", e=email)
    approved = topo.cli("signatures", "approve", str(signature_id))
    assert approved.returncode == 0, approved.stderr


def pdf_text(topo: Topology) -> str | None:
    status, _, data = topo.browser.request(f"/statements/{SLUG}/statement.pdf")
    if status != 200:
        return None
    path = topo.folder / "downloaded.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def pdf_matches_list(topo: Topology) -> bool:
    """The served PDF names exactly the organisations of the public list (open data)."""
    import json

    status, _, body = topo.browser.request(f"/statements/{SLUG}/signatories.json")
    if status != 200:
        return False
    listed = json.loads(body)
    text = pdf_text(topo) or ""
    names = [" ".join(s["organisation_name"].split()) for s in listed["signatories"]]
    return bool(names) and all(name in text for name in names)


# What a background process may log with a traceback while a service it needs is down.
OUTAGE_ERRORS = (
    "redis.exceptions.ConnectionError",
    "redis.exceptions.TimeoutError",
    "ConnectionRefusedError",
    "psycopg.OperationalError",
    "sqlalchemy.exc.OperationalError",
)


CHAINED = re.compile(
    r"^(During handling of the above exception|The above exception was the direct cause)", re.M
)


def unexpected_tracebacks(logs: str) -> list[str]:
    """Tracebacks in the logs whose exception is not a service being unreachable."""
    found = []
    for block in logs.split("Traceback (most recent call last):")[1:]:
        if CHAINED.search(block):
            # One link of a chain ("During handling …", "The above exception was the direct
            # cause …"): the chain is judged by its last exception, in the next block.
            continue
        lines = [line for line in block.splitlines() if line and not line.startswith(" ")]
        final = next((line for line in lines if not line.startswith("During handling")), "")
        if not final.startswith(OUTAGE_ERRORS):
            found.append(block[-1500:])
    return found
