"""Bulk seeder for the benchmark: N participants of the demo protocol TT-333 across 10 sites.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tt_bench python bench/seed.py --participants 10000

Seed into a freshly migrated, empty database (bench/run.py makes one). Every field the pages
rely on is set the way the services would set it: windows and targets from the schedule engine
(protocols.schedule.project, anchored on what already happened), bookings with rooms and
therapist Assignments that never overlap (the PostgreSQL exclusion constraints would refuse
them), completed sessions logged, attended and mostly signed, missed sessions, out-of-window
bookings and their Deviations, withdrawn participants with their later sessions cancelled.

What it does not write: audit (simple-history) rows. bulk_create bypasses model save(), so
the seeded records have no history; pages that search the audit trail see only what the
benchmark itself changes. Everything is written with bulk_create in one transaction.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_PASSWORD = "trialtracker-bench"
PROTOCOL_CODE = "TT-333"
SPAN_DAYS = 3 * 365  # at 10,000 participants enrollment dates are spread over the last three years;
MIN_SPAN_DAYS = 180  # a small programme over the last six months, so every dashboard list has rows
BOOK_AHEAD_DAYS = 21  # sessions this close are booked; later ones wait to be scheduled
THERAPISTS_PER_SITE = 14
THERAPY_ROOMS = ["Therapy room 1", "Therapy room 2", "Therapy room 3", "Therapy room 4"]
OVERNIGHT_ROOMS = [f"Overnight suite {letter}" for letter in "ABCDEF"]
SITES = [
    ("B01", "Bench Denver", "America/Denver"),
    ("B02", "Bench London", "Europe/London"),
    ("B03", "Bench New York", "America/New_York"),
    ("B04", "Bench Los Angeles", "America/Los_Angeles"),
    ("B05", "Bench Berlin", "Europe/Berlin"),
    ("B06", "Bench Sydney", "Australia/Sydney"),
    ("B07", "Bench Chicago", "America/Chicago"),
    ("B08", "Bench Amsterdam", "Europe/Amsterdam"),
    ("B09", "Bench Toronto", "America/Toronto"),
    ("B10", "Bench Auckland", "Pacific/Auckland"),
]
COORDINATOR = "bench-coordinator"  # coordinator at every bench site
MONITOR = "bench-monitor"  # monitor at every bench site
ADMIN = "bench-admin"
SIGNATURE_MEANING = "I confirm this record is accurate"


def therapist_name(site_code: str, number: int) -> str:
    return f"bench-{site_code.lower()}-t{number:02d}"


class Calendar:
    """Who and what is busy when, so that seeded bookings never overlap (as the database demands)."""

    def __init__(self):
        self._busy: dict[tuple, list[tuple[datetime, datetime]]] = defaultdict(list)

    @staticmethod
    def _days(start: datetime, end: datetime):
        day = start.date()
        while day <= end.date():
            yield day
            day += timedelta(days=1)

    def is_free(self, key, start: datetime, end: datetime) -> bool:
        for day in self._days(start, end):
            for other_start, other_end in self._busy.get((key, day), ()):
                if other_start < end and start < other_end:
                    return False
        return True

    def take(self, key, start: datetime, end: datetime) -> None:
        for day in self._days(start, end):
            self._busy[(key, day)].append((start, end))


def slot_times(duration_minutes: int) -> list[clock]:
    """Local start times of a day's bookings: from 09:00, one after the other, ending by 19:00."""
    starts, minutes = [], 9 * 60
    while minutes + duration_minutes <= 19 * 60 or not starts:
        starts.append(clock(minutes // 60, minutes % 60))
        minutes += duration_minutes + 15
    return starts


def seed(participants: int = 10_000, *, rng_seed: int = 333, stdout=sys.stdout) -> dict:
    """Seed `participants` participants; returns counts and the seconds taken."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from protocols.library import load_demo_protocols
    from sessions.models import Membership, Site

    if Site.objects.filter(code=SITES[0][0]).exists():
        raise SystemExit("The bench sites exist already: seed into a fresh database (bench/run.py makes one).")
    began = time.perf_counter()
    rng = random.Random(rng_seed)
    user_model = get_user_model()
    with transaction.atomic():
        version = load_demo_protocols()[PROTOCOL_CODE]
        definitions = list(version.definitions.select_related("anchor").order_by("order"))

        sites = Site.objects.bulk_create([Site(code=c, name=n, time_zone=z) for c, n, z in SITES])
        rooms = _rooms(sites)
        password = make_password(BENCH_PASSWORD)  # hashed once: hashing per user would take minutes
        users = [
            user_model(username=COORDINATOR, first_name="Bench", last_name="Coordinator", password=password),
            user_model(username=MONITOR, first_name="Bench", last_name="Monitor", password=password),
            user_model(
                username=ADMIN,
                first_name="Bench",
                last_name="Admin",
                password=password,
                is_staff=True,
                is_superuser=True,
            ),
        ]
        first_names = ["Alex", "Sam", "Jordan", "Robin", "Kim", "Noor", "Lee", "Ari", "Jo", "Max", "Eli", "Ren"]
        for site in sites:
            for number in range(1, THERAPISTS_PER_SITE + 1):
                users.append(
                    user_model(
                        username=therapist_name(site.code, number),
                        first_name=rng.choice(first_names),
                        last_name=f"Therapist {site.code}-{number:02d}",
                        password=password,
                    )
                )
        users = user_model.objects.bulk_create(users)
        by_name = {u.username: u for u in users}
        coordinator = by_name[COORDINATOR]
        memberships = []
        therapists: dict[int, list] = {}
        for site in sites:
            memberships.append(Membership(user=coordinator, site=site, role=Membership.Role.COORDINATOR))
            memberships.append(Membership(user=by_name[MONITOR], site=site, role=Membership.Role.MONITOR))
            therapists[site.pk] = [by_name[therapist_name(site.code, n)] for n in range(1, THERAPISTS_PER_SITE + 1)]
            memberships += [Membership(user=t, site=site, role=Membership.Role.STAFF) for t in therapists[site.pk]]
        Membership.objects.bulk_create(memberships)

        counts = _seed_participants(
            participants,
            rng=rng,
            version=version,
            definitions=definitions,
            sites=sites,
            rooms=rooms,
            therapists=therapists,
            coordinator=coordinator,
        )
    counts["seconds"] = round(time.perf_counter() - began, 2)
    counts["sites"] = len(sites)
    counts["users"] = len(users)
    print(
        f"Seeded {counts['participants']:,} participants, {counts['sessions']:,} sessions, "
        f"{counts['assignments']:,} assignments, {counts['deviations']:,} deviations "
        f"across {len(sites)} sites in {counts['seconds']:.1f} s "
        f"({counts['write_seconds']:.1f} s of it writing to the database).",
        file=stdout,
    )
    return counts


def _rooms(sites) -> dict[int, dict[str, list]]:
    from sessions.models import Room

    rows = []
    for site in sites:
        rows += [Room(site=site, name=name) for name in THERAPY_ROOMS + OVERNIGHT_ROOMS]
    created = Room.objects.bulk_create(rows)
    rooms: dict[int, dict[str, list]] = {site.pk: {"therapy": [], "overnight": []} for site in sites}
    for room in created:
        rooms[room.site_id]["overnight" if room.name.startswith("Overnight") else "therapy"].append(room)
    return rooms


def _seed_participants(n, *, rng, version, definitions, sites, rooms, therapists, coordinator) -> dict:
    from django.db import connection

    from protocols.schedule import KnownSession, project
    from sessions.models import Assignment, Deviation, Participant, StudySession

    plan = [d.as_planned() for d in definitions]
    now = datetime.now(UTC)
    calendar = Calendar()
    slots = {d.pk: slot_times(d.duration_minutes) for d in definitions}
    participants, sessions, assignments, attended, deviations = [], [], [], [], []

    def pick(staff, wanted: int, start: datetime, end: datetime):
        """`wanted` therapists free from start to end, starting the search at a random colleague."""
        free = []
        offset = rng.randrange(len(staff))
        for therapist in staff[offset:] + staff[:offset]:
            if len(free) == wanted:
                break
            if calendar.is_free(("therapist", therapist.pk), start, end):
                free.append(therapist)
        return free if len(free) == wanted else None

    def book(site, definition, day: date):
        """First free start on `day` (or up to a week later) with a room and the therapists required."""
        zone = site.zone
        kind = "overnight" if definition.room_hold_hours else "therapy"
        site_rooms = rooms[site.pk][kind]
        staff = therapists[site.pk]
        for shift in range(7):
            for at in slots[definition.pk]:
                start = datetime.combine(day + timedelta(days=shift), at, tzinfo=zone).astimezone(UTC)
                end = start + timedelta(minutes=definition.duration_minutes)
                busy_until = end + timedelta(hours=definition.room_hold_hours)
                room = next((r for r in site_rooms if calendar.is_free(("room", r.pk), start, busy_until)), None)
                if room is None:
                    continue
                free = pick(staff, definition.therapists_required, start, end)
                if free is None:
                    continue
                calendar.take(("room", room.pk), start, busy_until)
                for therapist in free:
                    calendar.take(("therapist", therapist.pk), start, end)
                return start, end, busy_until, room, free
        return None

    span_days = max(MIN_SPAN_DAYS, min(SPAN_DAYS, SPAN_DAYS * n // 10_000))
    per_site = [0] * len(sites)
    for index in range(n):
        site = sites[index % len(sites)]
        per_site[index % len(sites)] += 1
        zone = site.zone
        today = now.astimezone(zone).date()
        enrollment = today - timedelta(days=rng.randint(0, span_days))
        withdrawn_on = None
        if rng.random() < 0.04:
            withdrawn_on = enrollment + timedelta(days=rng.randint(10, 130))
            if withdrawn_on > today:
                withdrawn_on = None
        participant = Participant(
            study_code=f"{site.code}-{per_site[index % len(sites)]:05d}",
            site=site,
            protocol=version.protocol,
            protocol_version=version,
            enrollment_date=enrollment,
            enrolled_by=coordinator,
        )
        participants.append(participant)
        known: dict[str, KnownSession] = {}
        projections = None  # re-projected only when something new is known (a booking)
        chain_open = True
        previous_day = enrollment
        booked_any = False
        finished = 0
        for definition in definitions:
            if projections is None:
                projections = project(plan, enrollment, zone, known)
            window = projections[definition.code].window
            session = StudySession(
                participant=participant,
                definition_id=definition.pk,
                target_date=window.target,
                window_opens=window.earliest,
                window_closes=window.latest,
            )
            sessions.append(session)
            if withdrawn_on is not None and (not chain_open or window.target >= withdrawn_on):
                session.status = StudySession.Status.CANCELLED
                session.cancel_reason = "Participant withdrawn from the study."
                session.revision = 1
                chain_open = False
                continue
            if not chain_open:
                continue
            day = min(max(window.target + timedelta(days=rng.randint(-2, 2)), window.earliest), window.latest)
            if rng.random() < 0.02:
                day = window.latest + timedelta(days=rng.randint(1, 3))  # booked late: a deviation
            day = max(day, previous_day + timedelta(days=1))
            if (
                day >= today + timedelta(days=BOOK_AHEAD_DAYS)
                or (day >= today and rng.random() < 0.3)  # on the coordinator's to-schedule list
                or (day < today and window.latest < today and rng.random() < 0.002)  # overdue
            ):
                chain_open = False
                continue
            booking = book(site, definition, day)
            if booking is None:
                chain_open = False
                continue
            start, end, busy_until, room, team = booking
            booked_any = True
            previous_day = start.astimezone(zone).date()
            session.scheduled_start, session.scheduled_end, session.room_busy_until = start, end, busy_until
            session.room_id = room.pk
            session.revision = 1
            booked_at = min(start - timedelta(days=rng.randint(3, 20)), now)
            if not window.contains(previous_day):
                late = (previous_day - window.latest).days
                deviations.append(
                    Deviation(
                        participant=participant,
                        session=session,
                        category=Deviation.Category.OUT_OF_WINDOW,
                        description=f"Booked {late} day(s) after the window closed: no earlier slot with the "
                        "participant's availability.",
                        reported_by_id=coordinator.pk,
                        reported_at=booked_at,
                    )
                )
            outcome_known = end < now
            missed = outcome_known and rng.random() < 0.04
            is_active = not missed
            if not outcome_known:
                session.status = StudySession.Status.SCHEDULED
            elif missed:
                session.status = StudySession.Status.MISSED
                session.outcome = StudySession.Outcome.MISSED
                session.logged_by_id = team[0].pk
                session.revision = 2
                finished += 1
                deviations.append(
                    Deviation(
                        participant=participant,
                        session=session,
                        category=Deviation.Category.MISSED,
                        description="The participant did not attend; rebooking was not possible in the window.",
                        reported_by_id=coordinator.pk,
                        reported_at=end + timedelta(hours=2),
                    )
                )
            else:
                session.status = StudySession.Status.COMPLETED
                session.outcome = StudySession.Outcome.COMPLETED
                session.actual_start = start + timedelta(minutes=rng.choice([0, 0, 5, 10]))
                session.actual_end = end
                session.logged_by_id = team[0].pk
                session.notes = "Session completed as planned."
                session.revision = 2
                finished += 1
                attended.append((session, team))
                if end < now - timedelta(days=7) or rng.random() < 0.5:
                    session.signed_by_id = rng.choice(team).pk
                    session.signed_at = min(end + timedelta(hours=rng.randint(1, 48)), now)
                    session.signature_meaning = SIGNATURE_MEANING
                    session.revision = 3
            for therapist in team:
                assignments.append(
                    Assignment(
                        session=session, therapist_id=therapist.pk, starts_at=start, ends_at=end, is_active=is_active
                    )
                )
            projections = None
            known[definition.code] = KnownSession(
                status=session.status,
                scheduled_start=start,
                scheduled_end=end,
                actual_start=session.actual_start,
                actual_end=session.actual_end,
                window=window if session.status == StudySession.Status.COMPLETED else None,
            )
        if withdrawn_on is not None:
            participant.status = Participant.Status.WITHDRAWN
            participant.withdrawn_on = withdrawn_on
            participant.withdrawal_reason = "Participant withdrew consent."
        elif finished == len(definitions):
            participant.status = Participant.Status.COMPLETED
        elif booked_any:
            participant.status = Participant.Status.IN_TREATMENT

    for deviation in deviations:
        if deviation.reported_at < now - timedelta(days=30):
            deviation.status = Deviation.Status.CLOSED
            deviation.resolution = "Reviewed with the monitor; no further action."
            deviation.closed_by_id = coordinator.pk
            deviation.closed_at = deviation.reported_at + timedelta(days=7)

    written_from = time.perf_counter()
    batch = 10_000
    Participant.objects.bulk_create(participants, batch_size=batch)
    StudySession.objects.bulk_create(sessions, batch_size=batch)
    Assignment.objects.bulk_create(assignments, batch_size=batch)
    through = StudySession.attended_by.through
    through.objects.bulk_create(
        [through(studysession_id=s.pk, user_id=t.pk) for s, team in attended for t in team], batch_size=batch
    )
    Deviation.objects.bulk_create(deviations, batch_size=batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live database
    return {
        "participants": len(participants),
        "sessions": len(sessions),
        "assignments": len(assignments),
        "deviations": len(deviations),
        "write_seconds": round(time.perf_counter() - written_from, 2),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", "-n", type=int, default=10_000, help="participants to seed (default 10000)")
    parser.add_argument("--seed", type=int, default=333, help="random seed (default 333)")
    args = parser.parse_args(argv)
    from bench.boot import django_setup

    django_setup()
    seed(args.participants, rng_seed=args.seed)


if __name__ == "__main__":
    main()
