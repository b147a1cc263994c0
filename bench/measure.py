"""One benchmark round on one database: seed N participants, then time every main page.

Run by bench/run.py in a process of its own (DATABASE_URL names a freshly migrated database);
prints one JSON document on its last line of output. Requests go through Django's test Client
in-process, so the timings are the server's own work: every middleware, the view, the queries
and the template, without a network or an HTTP server in between.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (key, title, who requests it); page_urls() builds each URL, None when the page is missing.
PAGES = [
    ("bare", "Bare floor: 'ok' without a template", "coordinator"),
    ("floor", "Floor: empty page in the layout", "coordinator"),
    ("admin", "Django admin: StudySession changelist", "admin"),
    ("home", "Coordinator home", "coordinator"),
    ("participant", "Participant page", "coordinator"),
    ("calendar", "Site calendar, this week", "coordinator"),
    ("swimlanes", "Monitor swimlanes, page 1", "monitor"),
    ("csv", "Sessions CSV export (streamed)", "monitor"),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def page_urls(fixture) -> dict[str, str | None]:
    """Each page's URL for this database, None when the page does not exist on this branch."""
    from django.urls import NoReverseMatch, reverse

    from bench import urls as bench_urls

    def first(*candidates):
        for name, args, query in candidates:
            try:
                return reverse(name, kwargs=args) + query
            except NoReverseMatch:
                continue
        return None

    site, participant, protocol, week = fixture["site"], fixture["participant"], fixture["protocol"], fixture["week"]
    return {
        "bare": reverse("bench:bare"),
        "floor": reverse("bench:floor"),
        "admin": reverse(bench_urls.ADMIN_CHANGELIST),
        "home": reverse("home"),
        "participant": first(("sessions:participant_detail", {"pk": participant.pk}, "")),
        "calendar": first(("review:site_calendar", {}, f"?site={site.code}&week={week}")),
        "swimlanes": first(("review:monitor_review", {}, f"?protocol={protocol.pk}&page=1")),
        "csv": first(("review:export_sessions", {}, "")),
    }


def consume(response) -> tuple[int, int]:
    """Bytes and lines of the response body, reading a stream chunk by chunk as a client would."""
    if response.streaming:
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        response.close()
        return size, lines
    return len(response.content), response.content.count(b"\n")


class QueryCounter:
    """Counts every SQL statement the connection executes, including those run while streaming."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def probe_page(client, url: str) -> dict:
    """One request: status, SQL queries, size of the body."""
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        response = client.get(url)
        size, lines = consume(response)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}, not 200")
    return {"url": url, "queries": counter.count, "bytes": size, "lines": lines, "streaming": response.streaming}


def timed_request(client, url: str) -> tuple[float, float | None]:
    """Seconds until the whole body has been read, and until the first chunk of a stream."""
    began = time.perf_counter()
    response = client.get(url)
    if not response.streaming:
        response.content  # noqa: B018 - rendered already; the body is what a client receives
        return time.perf_counter() - began, None
    iterator = iter(response.streaming_content)
    next(iterator, b"")
    first_byte = time.perf_counter() - began
    for _chunk in iterator:
        pass
    response.close()
    return time.perf_counter() - began, first_byte


def summarise(result: dict, total: list[float], first_byte: list[float]) -> dict:
    result["repeat"] = len(total)
    result["median_ms"] = round(statistics.median(total) * 1000, 2)
    result["p95_ms"] = round(percentile(total, 0.95) * 1000, 2)
    if first_byte:
        result["ttfb_median_ms"] = round(statistics.median(first_byte) * 1000, 2)
        result["ttfb_p95_ms"] = round(percentile(first_byte, 0.95) * 1000, 2)
    return result


def stream_memory(client, url: str) -> dict:
    """Peak Python memory while the export is produced and read, chunk by chunk."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    response = client.get(url)
    size, lines = consume(response)
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    return {"peak_kib": round(peak / 1024, 1), "bytes": size, "lines": lines}


def fixture_objects() -> dict:
    from django.utils import timezone

    from bench.seed import COORDINATOR, PROTOCOL_CODE, SITES
    from protocols.models import Protocol
    from sessions.models import Participant, Site

    site = Site.objects.get(code=SITES[0][0])
    # The page a coordinator opens most: a participant in treatment, part-way through the plan.
    in_treatment = Participant.objects.filter(status=Participant.Status.IN_TREATMENT).order_by("study_code")
    participant = in_treatment.filter(site=site).first() or in_treatment.first()
    today = timezone.now().astimezone(site.zone).date()
    return {
        "site": site,
        "participant": participant,
        "protocol": Protocol.objects.get(code=PROTOCOL_CODE),
        "week": today.isoformat(),
        "coordinator": COORDINATOR,
    }


def login_cookie(username: str) -> str:
    """A signed-in session for the load test (stored in the database, like any other)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def run(participants: int, repeat: int, csv_repeat: int, only: set[str] | None) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.seed import ADMIN, COORDINATOR, MONITOR, seed

    seeded = seed(participants, stdout=sys.stderr)
    fixture = fixture_objects()
    urls = page_urls(fixture)
    users = {"coordinator": COORDINATOR, "monitor": MONITOR, "admin": ADMIN}
    clients = {}
    for role, username in users.items():
        clients[role] = Client()
        clients[role].force_login(get_user_model().objects.get(username=username))
    pages, present = {}, []
    for key, title, role in PAGES:
        if only and key not in only:
            continue
        if urls[key] is None:
            pages[key] = {"title": title, "missing": True}
            print(f"  {title}: missing", file=sys.stderr)
            continue
        pages[key] = probe_page(clients[role], urls[key]) | {"title": title}
        consume(clients[role].get(urls[key]))  # warm caches (templates, connection) before timing
        present.append((key, role))
    # Rounds through every page in turn, so that whatever else the machine does hits all pages alike.
    total = {key: [] for key, _ in present}
    first_byte = {key: [] for key, _ in present}
    for round_number in range(repeat):
        for key, role in present:
            if key == "csv" and round_number >= csv_repeat:
                continue
            seconds, first = timed_request(clients[role], urls[key])
            total[key].append(seconds)
            if first is not None:
                first_byte[key].append(first)
    for key, role in present:
        summarise(pages[key], total[key], first_byte[key])
        if key == "csv":
            pages[key]["memory"] = stream_memory(clients[role], urls[key])
        print(
            f"  {pages[key]['title']}: {pages[key]['median_ms']} ms median, {pages[key]['queries']} queries",
            file=sys.stderr,
        )
    return {
        "participants": participants,
        "seeded": seeded,
        "pages": pages,
        "cookie": login_cookie(COORDINATOR),
        "fixture": {"participant": fixture["participant"].study_code, "site": fixture["site"].code},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="One benchmark round (normally run by bench/run.py).")
    parser.add_argument("--participants", "-n", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--csv-repeat", type=int, default=5, help="timed requests of the CSV export")
    parser.add_argument("--only", default="", help="comma-separated page keys (default: all)")
    args = parser.parse_args(argv)
    from bench.boot import django_setup

    django_setup("bench.settings")
    only = {key for key in args.only.split(",") if key}
    result = run(args.participants, args.repeat, args.csv_repeat, only or None)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
