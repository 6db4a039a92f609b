"""A public page under wrk while staff sign-in fails from several addresses: can the argon2 work of
refused sign-ins starve the public site? (issue 15.8)

Run: python -m bench.login_bench [--duration 15s] [--rounds 2] (or `python -m bench --login-only`).

The application runs as in production: gunicorn with gunicorn.conf.py (its threaded worker, its
processes and threads), argon2id at the production cost, rate limits in Redis (REDIS_URL, as
JOINTLY_ENV=production requires) and PROXY_FIX_HOPS=1, the documented setting behind nginx. The
bench stands in for nginx: it sends each attacking client's address in X-Forwarded-For, which the
application trusts for exactly one hop, so the per-address limits count each of them. (nginx sets
that header from the connection and its page cache would take the public page off gunicorn
altogether; the bench leaves the cache out, the harder case.)

Each round measures `wrk --latency` on the statement page alone, then beside failed sign-ins:
  * at the limit: the most the configured limits let through, spread over several addresses
    (by default 2 per second = STAFF_LOGIN_GLOBAL_RATE_LIMIT's first window, 6 addresses, each
    under the per-address limit);
  * 10x the limit: ten times as many tries, from twice as many addresses (most answered 429);
  * a burst: 10 tries at the same instant every few seconds (the issue's "10 failed logins").
A last measurement runs the 10x load against a server with the sign-in limits lifted, to show
what the limits buy (informational, no target). Every try is a real one: the client fetches the
sign-in form with its own session and CSRF token first, then posts a wrong password for an existing
staff account, so each refusal with 401 cost one argon2 verification (a refusal before the password
check costs as much: accounts._burn_time).

Targets (the issue's): beside the attempts within and above the limits, the public page's p99 stays
under 250 ms and its rate at 0.8x or more of the page alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

from bench import pdf_bench, serve_bench  # noqa: E402

STAFF_EMAIL = "moderator@bench.example.org"
STAFF_PASSWORD = "the right one, never sent by the bench"  # noqa: S105 (a bench account)
TARGET_P99_MS = 250.0
TARGET_RATE_RATIO = 0.8
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"


@dataclass(frozen=True)
class Attack:
    """Failed sign-ins sent on a clock (open loop: a slow answer does not slow the attacker)."""

    name: str
    addresses: int
    per_second: float  # all addresses together; 0 with a burst
    burst: int = 0  # tries sent at the same instant …
    burst_every: float = 0.0  # … every so many seconds
    limits: bool = True  # the server's sign-in limits on (False: the informational control)
    target: bool = True

    def send_times(self, seconds: float) -> list[tuple[float, int]]:
        """(offset in seconds, address index) of every try within the run."""
        if self.burst:
            starts = [1.0 + k * self.burst_every for k in range(int(seconds // self.burst_every))]
            return [(t, i % self.addresses) for t in starts for i in range(self.burst)]
        count = int(seconds * self.per_second)
        return [(0.5 + k / self.per_second, k % self.addresses) for k in range(count)]


def attacks(per_second: float) -> list[Attack]:
    addresses = 6
    return [
        Attack("at the limit", addresses, per_second),
        Attack("10x the limit", 2 * addresses, 10 * per_second),
        Attack("burst of 10 every 5 s", 10, 0, burst=10, burst_every=5.0),
        Attack(
            "10x, sign-in limits lifted (control)",
            2 * addresses,
            10 * per_second,
            limits=False,
            target=False,
        ),
    ]


# ---------------------------------------------------------------- the attacking clients


class Client:
    """One attacking address: its own session cookie and CSRF token, as a browser would have."""

    def __init__(self, base: str, address: str) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.address = address
        self.cookie = ""
        self.token = ""

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"X-Forwarded-For": self.address}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("session="):
                    self.cookie = value.split(";", 1)[0]
            return response.status, text
        finally:
            conn.close()

    def open_form(self) -> None:
        status, page = self._request("GET", "/staff/login")
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page
        )
        if status != 200 or match is None or not self.cookie:
            raise RuntimeError(f"no sign-in form for {self.address}: HTTP {status}")
        self.token = match.group(1)

    def fail_sign_in(self, attempt: int) -> tuple[int, float]:
        body = urlencode(
            {
                "csrf_token": self.token,
                "email": STAFF_EMAIL,
                "password": f"wrong password {attempt}",
                "next": "",
            }
        )
        started = time.perf_counter()
        status, _ = self._request("POST", "/staff/login", body)
        return status, (time.perf_counter() - started) * 1000


@dataclass
class AttackLog:
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, ms: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies_ms.append(ms)


def run_attack(base: str, attack: Attack, seconds: float, stop: threading.Event) -> AttackLog:
    """Send the attack's tries on its clock until `seconds` pass or `stop` is set."""
    clients = [Client(base, f"198.51.100.{i + 1}") for i in range(attack.addresses)]
    for client in clients:
        client.open_form()
    log = AttackLog()
    schedule = attack.send_times(seconds)
    with ThreadPoolExecutor(max_workers=64) as pool:
        started = time.monotonic()
        for n, (offset, index) in enumerate(schedule):
            delay = started + offset - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            log.sent += 1
            pool.submit(lambda c=clients[index], n=n: log.add(*c.fail_sign_in(n)))
    return log


# ---------------------------------------------------------------- measuring


@dataclass
class Measurement:
    scenario: str
    round: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    tries_sent: int = 0
    tries_hashed: int = 0  # answered 401: one argon2 verification each
    tries_limited: int = 0  # answered 429 before any password check
    tries_other: dict[str, int] = field(default_factory=dict)
    try_p50_ms: float = 0.0
    try_max_ms: float = 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    base: str,
    page: str,
    args: argparse.Namespace,
    scenario: str,
    round_number: int,
    attack: Attack | None = None,
) -> Measurement:
    seconds = _seconds(args.duration)
    log = None
    if attack is not None:
        stop = threading.Event()
        result: dict[str, AttackLog] = {}
        thread = threading.Thread(
            target=lambda: result.setdefault("log", run_attack(base, attack, seconds, stop))
        )
        thread.start()
    try:
        wrk = serve_bench.run_wrk(
            base + page, args.duration, args.threads, args.login_connections, {}, percentiles=True
        )
    finally:
        if attack is not None:
            stop.set()
            thread.join()
            log = result.get("log")
    latency = wrk["latency_ms"]
    if "p99" not in latency:
        raise RuntimeError(f"wrk gave no latency distribution:\n{wrk['raw']}")
    found = Measurement(
        scenario,
        round_number,
        wrk["requests_per_second"],
        latency["p50"],
        latency["p99"],
        latency["max"],
        wrk["errors"],
    )
    if log is not None:
        found.tries_sent = log.sent
        found.tries_hashed = log.statuses.pop(401, 0)
        found.tries_limited = log.statuses.pop(429, 0)
        found.tries_other = {str(k): v for k, v in log.statuses.items()}
        found.try_p50_ms = round(_percentile(log.latencies_ms, 0.5), 1)
        found.try_max_ms = round(max(log.latencies_ms, default=0.0), 1)
    pdf_bench._log(
        f"[login] round {round_number}: {scenario}: {found.requests_per_second:,.0f} req/s, "
        f"p99 {found.p99_ms:,.1f} ms"
        + (
            f"; tries {found.tries_sent} sent, {found.tries_hashed} hashed (401), "
            f"{found.tries_limited} limited (429)"
            if log is not None
            else ""
        )
    )
    return found


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", duration)
    if match is None:
        raise ValueError(f"not a wrk duration: {duration!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# ---------------------------------------------------------------- the servers


class RedisPrefix:
    """The rate limits' keys of this run only (a prefix of its own), removed between measurements
    so that each starts with fresh windows, and at the end."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self.url = url
        self.prefix = f"jointly-login-bench-{time.time_ns()}"
        self.redis = Redis.from_url(url, socket_connect_timeout=2)
        self.redis.ping()

    def clear(self) -> None:
        keys = list(self.redis.scan_iter(match=f"*{self.prefix}*", count=1000))
        if keys:
            self.redis.delete(*keys)


def server_env(database: pdf_bench.BenchDatabase, redis: RedisPrefix, limits: bool) -> dict:
    env = database.env()
    env.update(
        REDIS_URL=redis.url,
        FLASK_RATELIMIT_KEY_PREFIX=redis.prefix,
        PROXY_FIX_HOPS="1",  # nginx in front, as deploy/jointly.env.example sets it
        GUNICORN_LOG_LEVEL="warning",
    )
    if not limits:
        env["FLASK_STAFF_LOGIN_RATE_LIMIT"] = "100000 per second"
        env["FLASK_STAFF_LOGIN_GLOBAL_RATE_LIMIT"] = "100000 per second"
    return env


def create_staff(database: pdf_bench.BenchDatabase) -> float:
    """The account the tries aim at; returns the seconds one production-cost hash took."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    started = time.perf_counter()
    subprocess.run(
        [*flask, "staff", "create", STAFF_EMAIL, "--role", "moderator", "--password-stdin"],
        input=STAFF_PASSWORD + "\n",
        text=True,
        cwd=REPO,
        env=database.env(),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def argon2_verify_ms() -> float:
    """One verification at the production parameters, timed in this process (median of 5)."""
    from petition.staff import accounts

    hasher = accounts._hasher_for(
        accounts.ARGON2_TIME_COST, accounts.ARGON2_MEMORY_COST, accounts.ARGON2_PARALLELISM
    )
    stored = hasher.hash("x" * 16)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        try:
            hasher.verify(stored, "y" * 16)
        except Exception:  # noqa: BLE001 (a wrong password raises, as intended)
            pass
        times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[2], 1)


def gunicorn_settings(base_env: dict[str, str]) -> dict:
    """What gunicorn.conf.py gives on this machine: worker class, processes, threads."""
    code = (
        "import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({'worker_class': c['worker_class'].__name__, "
        "'workers': c['workers'], 'threads': c['threads']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=base_env, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@dataclass
class LoginResult:
    page: str
    signatories: int
    gunicorn: dict
    argon2_ms: float
    login_limits: dict[str, str]
    wrk: str
    rounds: int
    measurements: list[Measurement]
    summary: list[dict]

    def to_json(self) -> dict:
        return asdict(self)


def run(args: argparse.Namespace) -> LoginResult:
    try:
        redis = RedisPrefix(args.redis)
    except Exception as exc:  # noqa: BLE001 (any connection failure)
        raise SystemExit(
            f"login bench: Redis at {args.redis} is not reachable ({exc}); production keeps the "
            "rate limits there (JOINTLY_ENV=production requires REDIS_URL). Start it or pass --redis."
        ) from exc
    workdir = Path(tempfile.mkdtemp(prefix="jointly-login-bench-"))
    try:
        pdf_bench._log(f"[login] preparing {args.login_size:,} signatories …")
        database = pdf_bench.create_database(args.login_size, workdir, postgres=args.postgres)
        try:
            # The PDF exists before serving, as in a running campaign: no rebuild competes.
            pdf_bench.measure_build("stream", database)
            create_staff(database)
            return _run_with(database, workdir, redis, args)
        finally:
            database.drop()
    finally:
        redis.clear()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_with(
    database: pdf_bench.BenchDatabase,
    workdir: Path,
    redis: RedisPrefix,
    args: argparse.Namespace,
) -> LoginResult:
    from petition.staff import CONFIG_DEFAULTS

    limits = {
        "STAFF_LOGIN_RATE_LIMIT": CONFIG_DEFAULTS["STAFF_LOGIN_RATE_LIMIT"],
        "STAFF_LOGIN_GLOBAL_RATE_LIMIT": CONFIG_DEFAULTS["STAFF_LOGIN_GLOBAL_RATE_LIMIT"],
    }
    per_second = float(re.match(r"\s*(\d+) per second", limits["STAFF_LOGIN_GLOBAL_RATE_LIMIT"])[1])
    page = f"/statements/{database.slug}"
    scenarios = [
        a for a in attacks(per_second) if not args.only or any(w in a.name for w in args.only)
    ]
    measurements: list[Measurement] = []
    with (
        serve_bench.Gunicorn(
            "wsgi:app", server_env(database, redis, True), workdir / "limited.log", workers=None
        ) as limited,
        serve_bench.Gunicorn(
            "wsgi:app", server_env(database, redis, False), workdir / "open.log", workers=None
        ) as unlimited,
    ):
        limited.wait_ready(page)
        unlimited.wait_ready(page)
        for round_number in range(1, args.rounds + 1):
            redis.clear()
            measurements.append(measure(limited.base, page, args, "page alone", round_number))
            for attack in scenarios:
                redis.clear()
                server = limited if attack.limits else unlimited
                measurements.append(
                    measure(server.base, page, args, attack.name, round_number, attack)
                )
    wrk = f"wrk -t{args.threads} -c{args.login_connections} -d{args.duration} --latency"
    return LoginResult(
        page,
        database.signatories,
        gunicorn_settings(database.env()),
        argon2_verify_ms(),
        limits,
        wrk,
        args.rounds,
        measurements,
        summarise(measurements, scenarios),
    )


def summarise(measurements: list[Measurement], scenarios: list[Attack]) -> list[dict]:
    """Per scenario its best round (the least disturbed by other work on the machine), against
    the best round of the page alone."""

    def best(name: str) -> Measurement:
        return max(
            (m for m in measurements if m.scenario == name), key=lambda m: m.requests_per_second
        )

    alone = best("page alone")
    rows = [
        {
            "scenario": alone.scenario,
            "measurement": asdict(alone),
            "ratio": 1.0,
            "result": "",
        }
    ]
    for attack in scenarios:
        found = best(attack.name)
        ratio = found.requests_per_second / alone.requests_per_second
        passed = found.p99_ms < TARGET_P99_MS and ratio >= TARGET_RATE_RATIO
        rows.append(
            {
                "scenario": attack.name,
                "measurement": asdict(found),
                "ratio": round(ratio, 3),
                "result": ("PASS" if passed else "FAIL") if attack.target else "(no target)",
            }
        )
    return rows


def format_results(result: LoginResult) -> str:
    headers = ["load beside the page", "page req/s", "× alone", "p50 ms", "p99 ms", "max ms"]
    headers += ["tries sent", "hashed (401)", "limited (429)", "try p50 ms", "target"]
    rows = []
    for row in result.summary:
        m = row["measurement"]
        attacked = row["scenario"] != "page alone"
        rows.append(
            [
                row["scenario"],
                f"{m['requests_per_second']:,.0f}",
                f"{row['ratio']:.2f}",
                f"{m['p50_ms']:,.1f}",
                f"{m['p99_ms']:,.1f}",
                f"{m['max_ms']:,.1f}",
                f"{m['tries_sent']:,}" if attacked else "",
                f"{m['tries_hashed']:,}" if attacked else "",
                f"{m['tries_limited']:,}" if attacked else "",
                f"{m['try_p50_ms']:,.1f}" if attacked else "",
                row["result"],
            ]
        )
    table = pdf_bench.markdown_table(headers, rows, right=set(range(1, 10)))
    g = result.gunicorn
    per_round = {}
    for m in result.measurements:
        per_round.setdefault(m.scenario, []).append(f"{m.requests_per_second:,.0f}")
    rounds = "; ".join(f"{name}: {' / '.join(v)}" for name, v in per_round.items())
    return "\n".join(
        [
            table,
            "",
            f"`GET {result.page}` ({result.signatories:,} signatories) under gunicorn.conf.py as in "
            f"production: {g['worker_class']}, {g['workers']} processes × {g['threads']} threads; "
            f"rate limits in Redis, PROXY_FIX_HOPS=1 (the bench stands in for nginx and sends each "
            f"attacker's address in X-Forwarded-For). `{result.wrk}` per measurement, "
            f"{result.rounds} round(s); each row is the scenario's best round. Sign-in limits: "
            f"{result.login_limits['STAFF_LOGIN_RATE_LIMIT']} per address, "
            f"{result.login_limits['STAFF_LOGIN_GLOBAL_RATE_LIMIT']} from all addresses together. "
            "A try answered 429 was refused by a rate limit or by STAFF_ARGON2_CPU_SHARE, before any "
            f"password check. One argon2id verification at the production cost: {result.argon2_ms} ms "
            "on one core (timed after the rounds, on the same shared machine). "
            f"Targets beside the attempts: p99 < {TARGET_P99_MS:.0f} ms and ≥ "
            f"{TARGET_RATE_RATIO}× the page alone's rate. wrk and the attacking clients run on the "
            "same cores as the server.",
            f"Page req/s of every round — {rounds}.",
        ]
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--login-size", type=int, default=1_000, help="signatories (login bench)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis for the rate limits")
    parser.add_argument(
        "--login-connections",
        type=int,
        default=8,
        help="wrk -c on the public page (login bench; the server is saturated either way)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="WORD",
        help="login bench: only the loads whose name has one of these",
    )


def failed_targets(result: LoginResult) -> list[str]:
    return [f"login: {row['scenario']}" for row in result.summary if row["result"] == "FAIL"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    serve_bench.add_arguments(parser)
    add_arguments(parser)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    args.duration = args.duration or "15s"
    args.rounds = args.rounds or 2
    result = run(args)
    print(format_results(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return 1 if failed_targets(result) else 0


if __name__ == "__main__":
    sys.exit(main())
