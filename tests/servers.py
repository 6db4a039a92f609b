"""Real servers for the deployment tests: gunicorn with the shipped config, nginx in front, a client.

Every process runs in its own session on free loopback ports, logs to the test's temp folder and is
stopped by the test that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.client
import http.cookiejar
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "interregional-innovation-investments"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A request head that never ends: what a slowloris client sends, and then nothing.
PARTIAL_HEAD = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)


def redis_reachable() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except RedisError:
        return False


class Browser:
    """Just enough of a browser: cookies, forms with their CSRF token, no redirects followed.

    `source` makes its connections come from another loopback address (127.0.0.2 …), so that
    tests can be several clients as a proxy sees them.
    """

    def __init__(self, base: str, source: str | None = None) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        handlers: list = [urllib.request.HTTPCookieProcessor(jar), NoRedirect]
        if source:

            class FromSource(urllib.request.HTTPHandler):
                def http_open(self, req):
                    connection = functools.partial(
                        http.client.HTTPConnection, source_address=(source, 0)
                    )
                    return self.do_open(connection, req)

            handlers.append(FromSource)
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), exc.read()

    def token(self, path: str) -> str:
        from tests.conftest import CSRF_RE

        status, _headers, body = self.request(path)
        assert status == 200, (path, status)
        match = CSRF_RE.search(body.decode())
        assert match, f"no form on {path}"
        return match.group(1)


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def flask_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def site_database(target: Path, tmp_path_factory, *, seeded: bool = True) -> None:
    """A SQLite file at `target` as `flask db upgrade` (and `flask seed`) leave it.

    Built once per test run by those two commands, into a folder that every xdist worker of the
    run shares (a file lock lets one build it), and copied for each topology, where each ran both
    commands itself (about 3 s of CPU each). Their output does not depend on the settings that
    differ between topologies (ports, secrets, folders); the commands themselves are tested by
    tests/test_app_entry_point.py.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    name = "site-seeded.db" if seeded else "site-migrated.db"
    template = shared / name
    with open(shared / "site-database.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            _build_site_database(template, seeded)
    shutil.copyfile(template, target)


def _build_site_database(template: Path, seeded: bool) -> None:
    work = template.with_name(f"{template.stem}-build")
    shutil.rmtree(work, ignore_errors=True)  # a build that failed before
    work.mkdir()
    database = work / "site.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "site-database-template",
        "PDF_DIR": str(work / "pdf"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": "9",  # nothing listens: the seed sends no mail
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
    }
    migrated = flask_cli(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    if seeded:
        seed = flask_cli(env, "seed")
        assert seed.returncode == 0, seed.stderr
        assert f"statement {SLUG}: created" in seed.stdout, seed.stdout
    # The write-ahead log folded into the file, so that the file alone is the whole database.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(database, template)


def start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    """gunicorn as `make serve` and the systemd unit run it: the repository's gunicorn.conf.py."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    with open(log, "w") as out:
        return subprocess.Popen(
            [gunicorn, "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_nginx(prefix: Path, listen_port: int, upstream_port: int) -> subprocess.Popen:
    """nginx in the foreground with the shipped site config, everything it writes under prefix."""
    from deploy.render import render_site, render_standalone

    assert NGINX, "nginx is not installed"
    prefix.mkdir(parents=True, exist_ok=True)
    site = render_site(
        upstream=f"127.0.0.1:{upstream_port}",
        static_root=ROOT / "static",
        listen=f"127.0.0.1:{listen_port}",
        server_name="localhost",
        log_dir=prefix,
        cache_dir=prefix / "cache",
    )
    conf = prefix / "nginx.conf"
    conf.write_text(render_standalone(site, prefix))
    command = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    with open(prefix / "stdout.log", "w") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(processes: Iterable[subprocess.Popen]) -> None:
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def answers(base: str, path: str = "/healthz") -> bool:
    try:
        with urllib.request.urlopen(base + path, timeout=2) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def open_slow_sockets(port: int, count: int, head: bytes = PARTIAL_HEAD) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if head:
            sock.sendall(head)
        sockets.append(sock)
    return sockets


def timed_get(port: int, path: str) -> tuple[int, float, bytes]:
    """One request on a fresh connection; the status, the seconds it took, the body."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, time.monotonic() - started, data


SITE_PATHS = ("/healthz", f"/statements/{SLUG}", "/static/css/site.css", f"/statements/{SLUG}")


def warm_up(port: int, rounds: int = 6) -> None:
    """Each worker compiles its templates on first use: get that done before timing anything."""
    for _ in range(rounds):
        for path in SITE_PATHS:
            timed_get(port, path)


def assert_site_answers(port: int) -> None:
    for path in SITE_PATHS:
        status, seconds, _ = timed_get(port, path)
        assert status == 200, path
        assert seconds < 1, f"{path} took {seconds:.2f} s"


def connections_by_process(port: int) -> dict[int, int]:
    """Established connections to 127.0.0.1:`port`, by the process that accepted each (read
    from /proc: the sockets of /proc/net/tcp, matched to the descriptors of every process)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
            inodes.add(f"socket:[{inode}]")
    counts: dict[int, int] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            held = sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) in inodes)
        except OSError:
            continue  # gone, or not ours to read
        if held:
            counts[int(fd_dir.parent.name)] = held
    return counts
