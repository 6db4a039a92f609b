"""`make serve` (deploy/serve.py) and the systemd units in deploy/systemd/.

serve.py's supervision is exercised with real child processes standing in for gunicorn, the worker
and the scheduler (each records its start and its orderly stop), so that Ctrl-C, a crashed child
and a refused configuration are observable without the whole stack; then `make serve` itself runs
the real three on a fresh PostgreSQL database, Redis and an SMTP server, and Ctrl-C stops them.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, free_port
from tests.servers import (
    REDIS_URL,
    ROOT,
    SLUG,
    answers,
    flask_cli,
    redis_reachable,
    wait_until,
)

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path

    name, folder, lifetime = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])

    def stop(signum, frame):
        (folder / f"{name}.stopped").write_text(str(os.getpid()))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    (folder / f"{name}.started").write_text(str(os.getpid()))
    time.sleep(lifetime)
    sys.exit(3)
    """
)

SUPERVISOR = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from deploy.serve import run

    child, folder = sys.argv[1], sys.argv[2]
    preparation = [[sys.executable, "-c", "import sys; sys.exit(int(sys.argv[1]))", sys.argv[3]]]
    commands = {{
        name: [sys.executable, child, name, folder, lifetime]
        for name, lifetime in (("web", "60"), ("worker", sys.argv[4]), ("scheduler", "60"))
    }}
    sys.exit(run(preparation, commands, dict(os.environ)))
    """
)
NAMES = ("web", "worker", "scheduler")


def supervise(tmp_path: Path, preparation_status: int = 0, worker_lifetime: float = 60):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    supervisor = tmp_path / "supervisor.py"
    supervisor.write_text(SUPERVISOR.format(root=str(ROOT)))
    return subprocess.Popen(
        [
            sys.executable,
            str(supervisor),
            str(child),
            str(tmp_path),
            str(preparation_status),
            str(worker_lifetime),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def marks(tmp_path: Path, suffix: str) -> set[str]:
    return {name for name in NAMES if (tmp_path / f"{name}.{suffix}").exists()}


def finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return process.returncode, output


def test_ctrl_c_stops_all_three(tmp_path):
    process = supervise(tmp_path)
    wait_until(lambda: marks(tmp_path, "started") == set(NAMES), 20, "the three to start")
    assert marks(tmp_path, "stopped") == set()
    process.send_signal(signal.SIGINT)
    status, output = finish(process)
    assert status == 0, output
    assert marks(tmp_path, "stopped") == set(NAMES)
    for name in NAMES:
        pid = int((tmp_path / f"{name}.started").read_text())
        assert not _alive(pid), name


def test_one_exiting_stops_the_others_and_fails(tmp_path):
    process = supervise(tmp_path, worker_lifetime=1)
    status, output = finish(process)
    assert status == 3, output
    assert "worker exited with status 3" in output
    assert marks(tmp_path, "stopped") == {"web", "scheduler"}


def test_a_refused_configuration_starts_nothing(tmp_path):
    process = supervise(tmp_path, preparation_status=1)
    status, output = finish(process)
    assert status == 1
    assert "nothing started" in output
    assert marks(tmp_path, "started") == set()


def test_make_serve_runs_serve_py():
    dry_run = subprocess.run(
        ["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "deploy/serve.py" in dry_run.stdout


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------- systemd units

UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def test_each_unit_checks_the_configuration_first_and_runs_the_shipped_command():
    started = {}
    for path in UNITS:
        service = _unit(path)["Service"]
        assert service["ExecStartPre"].endswith("flask --app wsgi check-config"), path.name
        assert service["EnvironmentFile"] == "/etc/jointly/jointly.env", path.name
        assert service["Environment"] == "JOINTLY_ENV=production", path.name
        assert service["User"] == "jointly", path.name
        started[path.name] = service["ExecStart"]
    assert started == {
        "jointly-web.service": ("/srv/jointly/.venv/bin/gunicorn -c /srv/jointly/gunicorn.conf.py"),
        "jointly-worker.service": "/srv/jointly/.venv/bin/flask --app wsgi worker",
        "jointly-scheduler.service": "/srv/jointly/.venv/bin/flask --app wsgi scheduler",
    }
    target = _unit(ROOT / "deploy" / "systemd" / "jointly.target")
    assert set(target["Unit"]["Wants"].split()) == set(started)


def test_units_pass_systemd_analyze_with_this_checkout(tmp_path):
    """With the paths pointed at this checkout, systemd finds nothing to object to."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the structural test above still ran; systemd itself is not on this machine
    venv = Path(sys.executable).parent.parent
    for path in [*UNITS, ROOT / "deploy" / "systemd" / "jointly.target"]:
        text = path.read_text().replace("/srv/jointly/.venv", str(venv))
        text = text.replace("/srv/jointly", str(ROOT))
        (tmp_path / path.name).write_text(text)
    checked = subprocess.run(
        [analyze, "verify", *(str(tmp_path / p.name) for p in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complaints = [
        line
        for line in (checked.stdout + checked.stderr).splitlines()
        # A build machine has no `jointly` user and no /etc/jointly: expected, not a unit error.
        if line.strip() and "jointly.env" not in line
    ]
    assert checked.returncode == 0 and not complaints, complaints


# ---------------------------------------------------------------- make serve, for real


def test_make_serve_refuses_a_configuration_short_of_production(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "serve.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "PUBLIC_BASE_URL"):
        assert name in output, name
    assert "nothing started" in output and "started (pid" not in output


@pytest.fixture
def fresh_postgres():
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"jointly_serve_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres_only
def test_make_serve_runs_web_worker_and_scheduler_and_ctrl_c_stops_them(
    tmp_path, smtp, fresh_postgres
):
    if not redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    port = free_port()
    queue = f"jointly-test-{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SECRET_KEY": "make-serve-test",
        "DATABASE_URL": fresh_postgres,
        "REDIS_URL": REDIS_URL,
        "FLASK_RQ_QUEUE": queue,
        "FLASK_RATELIMIT_KEY_PREFIX": queue,
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "PUBLIC_BASE_URL": "https://statement.example.test",
        "PROXY_FIX_HOPS": "1",
        "PDF_DIR": str(tmp_path / "pdf"),
        "PDF_DEBOUNCE_SECONDS": "0.5",
        "HOUSEKEEPING_INTERVAL_SECONDS": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        serve = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "serve.py")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # check-config passed and the migrations ran: gunicorn answers, with Redis reachable.
        health = wait_until(lambda: _health(base), 90, "gunicorn under make serve")
        assert health["database"] == "ok" and health["queue"] == "ok", health
        # The scheduler: the housekeeping has run (recorded in the database).
        wait_until(
            lambda: ((_health(base) or {}).get("housekeeping") or {}).get("last_started"),
            30,
            "the scheduler's first housekeeping",
        )
        # The worker: the seed's import asks for a PDF, which only the RQ worker builds.
        seeded = flask_cli({**env, "JOINTLY_ENV": "production"}, "seed")
        assert seeded.returncode == 0, seeded.stderr
        wait_until(
            lambda: _status(f"{base}/statements/{SLUG}/statement.pdf") == 200,
            60,
            "the worker to build the PDF",
        )
        pids = {
            name: int(pid)
            for name, pid in re.findall(r"make serve: (\w+) started \(pid (\d+)\)", log.read_text())
        }
        assert set(pids) == set(NAMES)

        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert serve.wait(timeout=60) == 0, log.read_text()[-3000:]
        for name, pid in pids.items():
            assert not _alive(pid), name
        assert not answers(base)
        output = log.read_text()
        assert all(f"make serve: {name} stopped" in output for name in NAMES)
        assert "Traceback" not in output, output[-3000:]
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(timeout=10)
        for pid in re.findall(r"started \(pid (\d+)\)", log.read_text()):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        from redis import Redis

        connection = Redis.from_url(REDIS_URL)
        for key in [*connection.scan_iter(f"rq:*{queue}*"), *connection.scan_iter(f"{queue}*")]:
            connection.delete(key)
        connection.close()


def _health(base: str) -> dict | None:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return json.loads(exc.read()) if exc.code == 503 else None
    except (OSError, ValueError):
        return None


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code
    except OSError:
        return None


def test_a_gunicorn_worker_reads_the_sign_on_checks_data_before_its_first_request():
    """gunicorn.conf.py's post_worker_init: the font's character map and the Public Suffix
    List are read when a worker starts, not by the first sign-on of a burst."""
    import runpy

    from petition.core import validation

    validation.pdf_font_coverage.cache_clear()
    validation._public_suffixes.cache_clear()
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings["post_worker_init"](None)
    assert validation.pdf_font_coverage.cache_info().currsize == 1
    assert validation._public_suffixes.cache_info().currsize == 1
