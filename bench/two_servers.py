"""Two app servers, one PostgreSQL: concurrent overlapping bookings never double-book.

Usage (from the checkout, PostgreSQL at 127.0.0.1:5432):

    .venv/bin/python bench/two_servers.py            # database tt_bench_two, ports 8792 and 8793

It (re)creates the database, migrates it, seeds 100 bench participants (bench/seed.py), adds a
site TWO with six rooms and twelve therapists, and enrols 18 participants there through the real
service, all on the same day, so their first sessions share one protocol window. It then
starts two gunicorn servers on different ports, signs in as the coordinator on each (login
form, CSRF token and all), and in three rounds fires six schedule-form POSTs at once
(sessions:schedule), three through each server:

  1. the same therapist and the same room at the same time;
  2. the same room, each request with a different therapist, starts 15 minutes apart;
  3. the same therapist, each request with a different room, starts 15 minutes apart.

Each round must end with exactly one booking and a conflict message for the five others.
Finally it counts, in the whole database, overlapping active assignments of one therapist and
overlapping bookings of one room: both must be zero. Exit status 0 when all of that holds.
Both servers are stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import PYTHON, ROOT, bench_env, manage, recreate_database, start_gunicorn, stop_gunicorn  # noqa: E402

ROUND_SIZE = 6
ROUNDS = [
    ("same therapist, same room, same time", "same", "same", 0),
    ("same room, different therapists, starts 15 min apart", "same", "different", 15),
    ("same therapist, different rooms, starts 15 min apart", "different", "same", 15),
]
SITE_CODE = "TWO"


# --- setup, run inside Django ----------------------------------------------------------------


def setup_scenario() -> dict:
    """A site of its own (no seeded bookings in the way) and participants enrolled through the service."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from bench.seed import COORDINATOR, PROTOCOL_CODE, seed
    from protocols.models import ProtocolVersion
    from sessions.models import Membership, Room, Site, StudySession
    from sessions.services import enroll_participant

    seed(100, stdout=sys.stderr)  # other sites' data around it, as in real life
    site = Site.objects.create(code=SITE_CODE, name="Bench two-server site", time_zone="Europe/London")
    rooms = [Room.objects.create(site=site, name=f"Therapy room {n}") for n in range(1, ROUND_SIZE + 1)]
    password = make_password("not-used-for-signing-in")
    user_model = get_user_model()
    therapists = []
    for n in range(1, 2 * ROUND_SIZE + 1):
        user = user_model.objects.create(username=f"bench-two-t{n:02d}", last_name=f"Therapist {n}", password=password)
        Membership.objects.create(user=user, site=site, role=Membership.Role.STAFF)
        therapists.append(user.pk)
    coordinator = user_model.objects.get(username=COORDINATOR)
    Membership.objects.create(user=coordinator, site=site, role=Membership.Role.COORDINATOR)
    version = ProtocolVersion.objects.get(protocol__code=PROTOCOL_CODE, status=ProtocolVersion.Status.ACTIVE)
    today = timezone.now().astimezone(site.zone).date()
    sessions = []
    for number in range(len(ROUNDS) * ROUND_SIZE):
        participant = enroll_participant(
            site=site,
            protocol_version=version,
            study_code=f"{SITE_CODE}-{number + 1:03d}",
            enrollment_date=today,
            by=coordinator,
        )
        first = StudySession.objects.filter(participant=participant).order_by("definition__order").first()
        sessions.append(first.pk)
    first = StudySession.objects.select_related("definition").get(pk=sessions[0])
    return {
        "sessions": sessions,
        "rooms": [room.pk for room in rooms],
        "therapists": therapists,
        "required": first.definition.therapists_required,
        "days": [(first.target_date + timedelta(days=offset)).isoformat() for offset in range(len(ROUNDS))],
        "window": [first.window_opens.isoformat(), first.window_closes.isoformat()],
        "code": first.definition.code,
    }


# --- a small HTTP client with its own cookies (Secure cookies included: this is plain HTTP) -----


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}
        self._lock = threading.Lock()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self._opener = urllib.request.build_opener(NoRedirect)

    def request(self, path: str, data: list[tuple[str, str]] | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        with self._lock:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(self.base + path, data=body, headers={"Cookie": cookie})
        try:
            response = self._opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            text = response.read().decode("utf-8", "replace")
            headers = response.headers
        with self._lock:
            for header in headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, dict(headers), text

    def csrf_token(self, page: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not match:
            raise SystemExit("no CSRF token in the page")
        return match[1]

    def sign_in(self, username: str, password: str) -> None:
        status, _, page = self.request("/accounts/login/")
        token = self.csrf_token(page)
        form = [("csrfmiddlewaretoken", token), ("username", username), ("password", password)]
        status, headers, _ = self.request("/accounts/login/", form)
        if status != 302:
            raise SystemExit(f"signing in at {self.base} answered {status}, not a redirect")


def hidden_value(page: str, name: str) -> str:
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            return html.unescape(match[1]) if match else ""
    raise SystemExit(f"no {name} field in the schedule form")


def first_error(page: str) -> str:
    """The form's own words: the listed errors under "Not saved", else the first field error."""
    for pattern in (r'<ul class="[^"]*tt-errors[^"]*">(.*?)</ul>', r'class="[^"]*invalid-feedback[^"]*"[^>]*>(.*?)</'):
        match = re.search(pattern, page, re.S)
        if match:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(match[1]))).strip()
    return "(no message found)"


# --- the rounds ------------------------------------------------------------------------------


def run_round(browsers, scenario, number, rooms_mode, therapists_mode, stagger) -> dict:
    from django.urls import reverse

    sessions = scenario["sessions"][number * ROUND_SIZE : (number + 1) * ROUND_SIZE]
    required = scenario["required"]
    forms = []
    for index, session_pk in enumerate(sessions):
        browser = browsers[index % 2]
        path = reverse("sessions:schedule", kwargs={"pk": session_pk})
        status, _, page = browser.request(path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}")
        minutes = 10 * 60 + index * stagger
        if therapists_mode == "same":
            therapists = scenario["therapists"][:required]
        else:
            therapists = scenario["therapists"][index * required : (index + 1) * required]
        room = scenario["rooms"][0 if rooms_mode == "same" else index]
        data = [
            ("csrfmiddlewaretoken", browser.csrf_token(page)),
            ("revision", hidden_value(page, "revision")),
            ("day", scenario["days"][number]),
            ("start_time", f"{minutes // 60:02d}:{minutes % 60:02d}"),
            ("room", str(room)),
            *[("therapists", str(t)) for t in therapists],
            ("reason", ""),
            ("deviation_reason", ""),
        ]
        forms.append((browser, path, data))

    barrier = threading.Barrier(len(forms))
    outcomes: list[tuple[str, int, str] | None] = [None] * len(forms)

    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(forms)

    def fire(index, browser, path, data):
        barrier.wait()
        began = time.monotonic()
        status, headers, page = browser.request(path, data)
        spans[index] = (began, time.monotonic())
        if status == 302:
            outcomes[index] = (browser.base, status, "booked")
        elif status == 200:
            outcomes[index] = (browser.base, status, first_error(page))
        else:
            outcomes[index] = (browser.base, status, f"HTTP {status}")

    threads = [threading.Thread(target=fire, args=(i, *form)) for i, form in enumerate(forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # How many of the POSTs were in flight at the same moment (at most: all of them).
    in_flight = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    return {"outcomes": outcomes, "booked": sum(1 for o in outcomes if o[2] == "booked"), "in_flight": in_flight}


OVERLAPS_SQL = {
    "therapist": """
        SELECT count(*) FROM trial_sessions_assignment a
        JOIN trial_sessions_assignment b
          ON a.therapist_id = b.therapist_id AND a.id < b.id AND a.is_active AND b.is_active
         AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)""",
    "room": """
        SELECT count(*) FROM trial_sessions_studysession a
        JOIN trial_sessions_studysession b
          ON a.room_id = b.room_id AND a.id < b.id
         AND a.status IN ('scheduled', 'completed') AND b.status IN ('scheduled', 'completed')
         AND tstzrange(a.scheduled_start, a.room_busy_until) && tstzrange(b.scheduled_start, b.room_busy_until)""",
    "bookings made": """
        SELECT count(*) FROM trial_sessions_studysession s JOIN trial_sessions_participant p ON p.id = s.participant_id
        WHERE p.study_code LIKE 'TWO-%' AND s.status = 'scheduled'""",
}


def count_overlaps(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in OVERLAPS_SQL.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="tt_bench_two", help="database to (re)create (default tt_bench_two)")
    parser.add_argument("--ports", default="8792,8793", help="the two servers' ports")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "setup"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from bench.boot import django_setup

    if args.command == "setup":  # inside a process whose DATABASE_URL is the scenario database
        django_setup("bench.settings")
        print(json.dumps(setup_scenario()))
        return

    database_url = f"{args.server}/{args.database}"
    env = bench_env(database_url)
    recreate_database(args.server, args.database)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    done = subprocess.run(
        [PYTHON, "bench/two_servers.py", "setup"], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    scenario = json.loads(done.stdout.strip().splitlines()[-1])

    import os

    os.environ.update(env)
    django_setup("bench.settings")
    from bench.seed import BENCH_PASSWORD, COORDINATOR

    ports = [int(port) for port in args.ports.split(",")]
    servers = []
    lines = [
        "Two app servers, one PostgreSQL",
        "=" * 31,
        f"gunicorn x2 ({args.workers} workers each) on ports {ports[0]} and {ports[1]}, database {args.database}",
        f"{len(scenario['sessions'])} participants enrolled the same day; {scenario['code']} window "
        f"{scenario['window'][0]} to {scenario['window'][1]}; {ROUND_SIZE} concurrent schedule-form POSTs a round, "
        "alternating between the servers",
    ]
    ok = True
    try:
        for port in ports:
            servers.append(start_gunicorn(env, port, args.workers))
        browsers = [Browser(f"http://127.0.0.1:{port}") for port in ports]
        for browser in browsers:
            browser.sign_in(COORDINATOR, BENCH_PASSWORD)
        for number, (title, rooms_mode, therapists_mode, stagger) in enumerate(ROUNDS):
            result = run_round(browsers, scenario, number, rooms_mode, therapists_mode, stagger)
            good = result["booked"] == 1 and all(o[1] in (200, 302) for o in result["outcomes"])
            ok &= good
            lines.append("")
            lines.append(
                f"Round {number + 1}: {title}: {result['booked']} booked, {result['in_flight']} of {ROUND_SIZE} "
                f"requests in flight at once [{'PASS' if good else 'FAIL'}]"
            )
            for base, status, text in result["outcomes"]:
                lines.append(f"  {base[-4:]}  {status}  {text[:150]}")
            by_server = Counter(base[-4:] for base, _, text in result["outcomes"] if text == "booked")
            lines.append(f"  winner served by port {', '.join(by_server) or '-'}")
    finally:
        for server in servers:
            stop_gunicorn(server)
    overlaps = count_overlaps(database_url)
    lines.append("")
    lines.append(f"Database check over every booking ({args.database}):")
    lines.append(f"  overlapping active assignments of one therapist: {overlaps['therapist']}")
    lines.append(f"  overlapping bookings of one room (incl. room hold): {overlaps['room']}")
    lines.append(f"  sessions booked by the rounds: {overlaps['bookings made']} (expected {len(ROUNDS)})")
    double = overlaps["therapist"] + overlaps["room"]
    ok &= double == 0 and overlaps["bookings made"] == len(ROUNDS)
    lines.append(f"Double bookings: {double} [{'PASS' if ok else 'FAIL'}]")
    print("\n".join(lines))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
