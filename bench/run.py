"""The TrialTracker benchmark: pages at N=100 and N=10,000 participants, and a load test.

Usage (from the checkout, with PostgreSQL at 127.0.0.1:5432; see docs/performance.md):

    .venv/bin/python bench/run.py                      # N=100 and N=10000, then the load test
    .venv/bin/python bench/run.py --sizes 100,1000 --repeat 10 --no-load   # a quick look

For each size it (re)creates the database <prefix>_<N> (default tt_bench_100, tt_bench_10000),
migrates it, seeds N participants with bench/seed.py (timed) and measures every main page in a
process of its own (bench/measure.py): median and 95th percentile of the server time over
repeated requests, and the SQL queries of one request. Then it serves the largest database with
gunicorn (several workers) and points wrk at the coordinator home with a signed-in cookie.
It prints a report with each page's ratio to the floor and to Django admin, and pass/fail
for the targets. A page that does not exist yet prints "missing", never a number.
The databases are left behind for a look; --drop removes them at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results"
TARGET_PAGES = ["home", "participant", "calendar", "swimlanes", "csv"]
SEED_LIMIT_S = 60.0
FLOOR_FACTOR = 3.0


def bench_env(database_url: str) -> dict:
    """Production-like settings (DEBUG off, cached templates, manifest static files) over plain HTTP."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY=env.get("BENCH_SECRET_KEY", "bench-only-secret-key-not-for-production-7f3a9c2e"),
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    return env


def admin_connection(server: str):
    import psycopg

    return psycopg.connect(f"{server}/postgres", autocommit=True)


def recreate_database(server: str, name: str) -> None:
    with admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    with admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def measure(env: dict, n: int, args) -> dict:
    command = [PYTHON, "bench/measure.py", "-n", str(n), "--repeat", str(args.repeat)]
    command += ["--csv-repeat", str(args.csv_repeat)]
    if args.only:
        command += ["--only", args.only]
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- load test ---------------------------------------------------------------------------


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "trialtracker.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
    except BaseException:
        stop_gunicorn(process)
        raise
    return process


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown of its own workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def signed_in_status(url: str, cookie: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def parse_wrk(text: str) -> dict:
    def number_ms(value: str) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
        amount, unit = float(match[1]), match[2]
        return round(amount * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 2)

    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])}
    for share, value in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", text, re.M):
        result[f"p{share}_ms"] = number_ms(value)
    requests = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    result["requests"] = int(requests[1])
    result["duration"] = requests[2]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non_2xx"] = int(errors[1]) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", text)
    result["socket_errors"] = socket_errors[1].strip() if socket_errors else ""
    return result


def load_test(env: dict, cookie: str, args) -> dict:
    port = args.port
    process = start_gunicorn(env, port, args.workers)
    results = {"workers": args.workers, "connections": args.connections, "seconds": args.load_seconds}
    try:
        for key, path in (("home", "/"), ("floor", "/bench/floor/")):
            url = f"http://127.0.0.1:{port}{path}"
            status = signed_in_status(url, cookie)
            if status != 200:
                raise SystemExit(f"GET {path} with the session cookie answered {status}, not 200")
            command = [
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(args.connections),
                "--duration",
                f"{args.load_seconds}s",
                "--latency",
                "--header",
                f"Cookie: {cookie}",
                url,
            ]
            output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            results[key] = parse_wrk(output)
            results[key]["raw"] = output
    finally:
        stop_gunicorn(process)
    return results


# --- the report ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine(server: str, loads: list[tuple[float, float, float]]) -> str:
    import django
    import psycopg

    with admin_connection(server) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    averages = ", ".join(f"{one:.1f}" for one, _, _ in loads)
    return (
        f"Machine: {os.cpu_count()} CPUs, 1-minute load average {averages} at the start of each phase "
        f"(the machine is shared); PostgreSQL {version}, Django {django.get_version()}, psycopg {psycopg.__version__}, "
        f"Python {sys.version.split()[0]}; DEBUG=0, in-process test Client"
    )


def report(rounds: dict[int, dict], load: dict | None, header: str = "") -> tuple[str, bool]:
    sizes = sorted(rounds)
    small, large = sizes[0], sizes[-1]
    lines = []
    out = lines.append
    out("TrialTracker benchmark")
    out("=" * 22)
    if header:
        out(header)
    for n in sizes:
        seeded = rounds[n]["seeded"]
        out(
            f"N={n:,}: seeded {seeded['participants']:,} participants, {seeded['sessions']:,} sessions, "
            f"{seeded['assignments']:,} assignments, {seeded['deviations']:,} deviations "
            f"in {seeded['seconds']:.1f} s, {seeded.get('write_seconds', 0):.1f} s of it writing "
            f"(participant page: {rounds[n]['fixture']['participant']})"
        )
    out("")
    header = f"{'page':<42}" + "".join(f"{f'N={n:,}':>34}" for n in sizes)
    out(header)
    out(f"{'':<42}" + "".join(f"{'median / p95 ms   queries':>34}" for _ in sizes))
    keys = list(rounds[large]["pages"])
    for key in keys:
        cells = []
        for n in sizes:
            page = rounds[n]["pages"].get(key, {"missing": True})
            if page.get("missing"):
                cells.append(f"{'missing':>34}")
            else:
                cells.append(f"{page['median_ms']:>9.1f} / {page['p95_ms']:>7.1f}   {page['queries']:>7}    ")
        title = rounds[large]["pages"][key]["title"]
        out(f"{title:<42}" + "".join(cells))
        csv = rounds[large]["pages"][key]
        if key == "csv" and not csv.get("missing"):
            for n in sizes:
                page = rounds[n]["pages"][key]
                out(
                    f"    N={n:,}: first byte {page['ttfb_median_ms']:.1f} ms median "
                    f"(p95 {page['ttfb_p95_ms']:.1f}); {page['lines']:,} lines, {page['bytes'] / 1024:,.0f} KiB; "
                    f"peak memory while streaming {page['memory']['peak_kib']:,.0f} KiB"
                )
    out("")
    out(f"Ratios at N={large:,} (median; the CSV export by its first byte)")
    pages = rounds[large]["pages"]
    floor = pages.get("floor", {}).get("median_ms")
    admin = pages.get("admin", {}).get("median_ms")
    all_ok = True
    checks = []
    for key in TARGET_PAGES:
        page = pages.get(key, {"missing": True, "title": key})
        if page.get("missing"):
            out(f"  {page['title']:<40} missing")
            checks.append((f"{page['title']}: exists", False))
            continue
        served = page.get("ttfb_median_ms", page["median_ms"])
        if not floor or not admin:
            out(f"  {page['title']:<40} (floor or admin not measured)")
            continue
        out(f"  {page['title']:<40} {served / floor:5.1f}x floor   {served / admin:5.2f}x admin changelist")
        same = all(rounds[n]["pages"].get(key, {}).get("queries") == page["queries"] for n in sizes)
        counts = ", ".join(str(rounds[n]["pages"][key]["queries"]) for n in sizes)
        checks.append((f"{page['title']}: same query count at every N ({counts})", same))
        checks.append((f"{page['title']}: median within {FLOOR_FACTOR:.0f}x floor", served <= FLOOR_FACTOR * floor))
        checks.append((f"{page['title']}: no slower than the admin changelist", served <= admin))
    if large >= 10_000:
        seconds = rounds[large]["seeded"]["seconds"]
        checks.append((f"seeding {large:,} participants under {SEED_LIMIT_S:.0f} s ({seconds:.1f} s)", seconds < 60))
    csv_small = rounds[small]["pages"].get("csv", {})
    csv_large = rounds[large]["pages"].get("csv", {})
    if not csv_large.get("missing") and "memory" in csv_large and small != large:
        low, high = csv_small["memory"]["peak_kib"], csv_large["memory"]["peak_kib"]
        growth = csv_large["bytes"] / max(csv_small["bytes"], 1)
        checks.append(
            (
                f"CSV export memory flat: peak {low:,.0f} KiB at N={small:,}, {high:,.0f} KiB at N={large:,} "
                f"(output {growth:,.0f}x larger)",
                high <= 2 * low + 512,
            )
        )
    out("")
    out("Targets")
    for text, ok in checks:
        out(f"  [{verdict(ok)}] {text}")
        all_ok &= ok
    if load:
        out("")
        out(
            f"Load: gunicorn {load['workers']} sync workers, wrk 2 threads x {load['connections']} connections, "
            f"{load['seconds']} s each, N={large:,}, signed in as the coordinator"
        )
        for key in ("home", "floor"):
            result = load[key]
            shares = ", ".join(
                f"p{share} {result[f'p{share}_ms']:.1f} ms" if f"p{share}_ms" in result else f"p{share} n/a"
                for share in (50, 75, 90, 99)
            )
            out(
                f"  {key:<6} {result['requests_per_s']:8.1f} req/s   latency {shares}   "
                f"({result['requests']:,} requests, {result['non_2xx']} non-2xx"
                f"{', socket errors ' + result['socket_errors'] if result['socket_errors'] else ''})"
            )
    return "\n".join(lines), all_ok


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000", help="participant counts, comma-separated (default 100,10000)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--prefix", default="tt_bench", help="database name prefix (default tt_bench)")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--csv-repeat", type=int, default=5, help="timed CSV exports (default 5)")
    parser.add_argument("--only", default="", help="measure only these page keys, e.g. floor,home")
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn + wrk load test")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for the load test (default 4)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--load-seconds", type=int, default=15, help="wrk duration per URL (default 15)")
    parser.add_argument("--port", type=int, default=8791, help="port for gunicorn (default 8791)")
    parser.add_argument("--drop", action="store_true", help="drop the bench databases at the end")
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.sizes.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    rounds = {}
    env = None
    loads = []
    for n in sizes:
        loads.append(os.getloadavg())
        name = f"{args.prefix}_{n}"
        env = bench_env(f"{args.server}/{name}")
        print(f"--- N={n:,}: database {name}", file=sys.stderr)
        recreate_database(args.server, name)
        manage(env, "migrate", "--noinput", "-v0")
        if n == sizes[0]:
            manage(env, "collectstatic", "--noinput", "-v0")  # DEBUG=0 serves hashed static names
        rounds[n] = measure(env, n, args)
    load = None
    if not args.no_load:
        loads.append(os.getloadavg())
        print(f"--- load test on N={sizes[-1]:,}", file=sys.stderr)
        load = load_test(env, rounds[sizes[-1]]["cookie"], args)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"run-{stamp}.json").write_text(json.dumps({"rounds": rounds, "load": load}, indent=2))
    text, ok = report(rounds, load, machine(args.server, loads))
    (RESULTS / f"run-{stamp}.txt").write_text(text + "\n")
    print(text)
    if args.drop:
        for n in sizes:
            drop_database(args.server, f"{args.prefix}_{n}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
