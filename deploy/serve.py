"""`make serve`: the production topology on this machine, in the foreground.

Runs `flask check-config` (nothing starts with a setting missing) and `flask db upgrade`, then
gunicorn with gunicorn.conf.py, `flask worker` and `flask scheduler`, against the services the
environment (or .env) names. Ctrl-C (or SIGTERM) stops all three; if one of them exits, the others are stopped too
and its exit status is returned. Put nginx in front (deploy/nginx/) as in every production set-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SECONDS = 45


def commands() -> dict[str, list[str]]:
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    return {
        "web": [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")],
        "worker": [*flask, "worker"],
        "scheduler": [*flask, "scheduler"],
    }


def preparation() -> list[list[str]]:
    """Run in order before anything starts; the first that fails stops `make serve`."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    return [[*flask, "check-config"], [*flask, "db", "upgrade"]]


def main() -> int:
    env = {**os.environ, "JOINTLY_ENV": os.environ.get("JOINTLY_ENV") or "production"}
    return run(preparation(), commands(), env)


def run(preparation: list[list[str]], commands: dict[str, list[str]], env: dict) -> int:
    for argv in preparation:
        done = subprocess.run(argv, cwd=ROOT, env=env)
        if done.returncode != 0:
            print(f"make serve: `{' '.join(argv[-2:])}` failed; nothing started", file=sys.stderr)
            return done.returncode

    stopping = False

    def request_stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    processes: dict[str, subprocess.Popen] = {}
    for name, argv in commands.items():
        # Own process groups: Ctrl-C reaches this script only, which stops each one in order.
        processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
        print(f"make serve: {name} started (pid {processes[name].pid})", flush=True)

    status = 0
    while not stopping:
        exited = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
        if exited:
            for name, code in exited.items():
                print(f"make serve: {name} exited with status {code}", file=sys.stderr, flush=True)
            status = next(iter(exited.values())) or 1
            break
        time.sleep(0.2)

    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"make serve: {name} stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
