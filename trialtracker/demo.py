"""Demo data for a fresh install: users, sites, rooms and memberships (and, as the app grows,
protocols and participants). Every step is idempotent: running it twice changes nothing."""

import zlib
from datetime import datetime, time, timedelta
from itertools import combinations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from protocols.library import load_demo_protocols
from sessions import services
from sessions.models import Assignment, Deviation, Membership, Participant, Room, Site, StudySession

DEMO_PASSWORD = "trialtracker-demo"

SITES = [
    {
        "code": "S01",
        "name": "Front Range Research Clinic",
        "time_zone": "America/Denver",
        "rooms": ["Therapy room 1", "Therapy room 2", "Overnight suite A", "Overnight suite B"],
    },
    {
        "code": "S02",
        "name": "Thames Trauma Research Unit",
        "time_zone": "Europe/London",
        "rooms": ["Room Willow", "Room Alder", "Overnight room 1"],
    },
]

# username, first name, last name, [(site code, role), ...]
USERS = [
    ("coordinator", "Casey", "Morgan", [("S01", "coordinator"), ("S02", "coordinator")]),
    ("therapist", "Theo", "Ramirez", [("S01", "staff")]),
    ("therapist2", "Priya", "Shah", [("S01", "staff")]),
    ("therapist3", "Jonas", "Weber", [("S01", "staff")]),
    ("therapist4", "Amara", "Okafor", [("S01", "staff")]),
    ("therapist5", "Eleanor", "Hughes", [("S02", "staff")]),
    ("therapist6", "Rhys", "Davies", [("S02", "staff")]),
    ("therapist7", "Mei", "Chen", [("S02", "staff")]),
    ("monitor", "Morgan", "Ellis", [("S01", "monitor"), ("S02", "monitor")]),
]


def seed_users_and_sites(stdout=None) -> dict:
    user_model = get_user_model()
    sites = {}
    for spec in SITES:
        site, _ = Site.objects.update_or_create(
            code=spec["code"], defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
        )
        for room_name in spec["rooms"]:
            Room.objects.get_or_create(site=site, name=room_name)
        sites[site.code] = site

    users = {}
    for username, first, last, memberships in USERS:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        for site_code, role in memberships:
            if not Membership.objects.filter(user=user, site=sites[site_code], role=role).exists():
                membership = Membership(user=user, site=sites[site_code], role=role)
                membership._change_reason = "Demo data"
                membership.save()
        users[username] = user

    admin, created = user_model.objects.get_or_create(
        username="admin",
        defaults={
            "first_name": "Ada",
            "last_name": "Admin",
            "email": "admin@example.org",
            "is_staff": True,
            "is_superuser": True,
        },
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save()
    users["admin"] = admin
    return {"sites": sites, "users": users}


def seed_demo(stdout=None) -> dict:
    seeded = seed_users_and_sites(stdout)
    seeded["protocols"] = load_demo_protocols()
    seeded["participants"] = seed_participants(seeded, stdout=stdout)
    return seeded


# ---------------------------------------------------------------------------- participants
#
# About 40 participants, 20 per site, at every stage relative to today: enrolled from 1 to
# ~190 days ago, so some have just been enrolled, some are in preparation, some between dosing
# sessions, some have completed. Everything goes through sessions.services, so the audit trail
# shows it. Past sessions are back-entered (the service allows a past start for exactly that)
# and logged; the next session is booked; later ones stay unscheduled.

DAYS_AGO = [1, 3, 6, 10, 16, 23, 31, 38, 46, 55, 63, 72, 84, 96, 108, 121, 135, 150, 168, 185]

# index → what happens to that participant beyond the ordinary course (same at both sites).
STORIES: dict[int, dict] = {
    0: {"no_booking": True},  # just enrolled, nothing booked yet
    3: {"no_booking": True},  # PREP1's window is open and nothing is booked: to schedule
    4: {"unlogged": True},  # a session of the last few days is booked but not yet logged
    6: {"unsigned": True},  # logged, none of it signed yet
    7: {"missed": "PREP2"},  # missed, then rebooked inside the window
    8: {"late": "PREP2"},  # booked out of window: deviation left open
    9: {"overdue_at": "PREP3"},  # never booked, window closed: overdue
    10: {"withdraw_after": "PREP3"},
    12: {"late": "PREP3", "close_deviation": True},
    13: {"missed_deviation": "INT1"},  # missed and not rebooked: a missed-session deviation
    14: {"withdraw_after": "DOSE1"},
    15: {"stopped_early": "DOSE2", "unlogged": True},
    17: {"missed_deviation": "INT2B", "close_deviation": True},
}

# An open deviation reported after everything else: study code, session, description.
RECENT_DEVIATION = ("S01-0002", "PREP1", "Booked room was unavailable; session moved to another room (demo).")

BOOK_AHEAD_DAYS = 21
SHORT_TIMES = ((9, 0), (11, 0), (13, 30), (15, 30))
DOSING_TIMES = ((9, 0), (8, 30), (9, 30))


class _Diary:
    """Busy times of therapists and rooms, so the demo books without clashes at the first try."""

    def __init__(self):

        self.busy: dict[tuple[str, int], list[tuple]] = {}
        for therapist_id, start, end in Assignment.objects.filter(is_active=True).values_list(
            "therapist_id", "starts_at", "ends_at"
        ):
            self.add(("t", therapist_id), start, end)
        for room_id, start, until in StudySession.objects.filter(
            status__in=("scheduled", "completed"), room__isnull=False
        ).values_list("room_id", "scheduled_start", "room_busy_until"):
            self.add(("r", room_id), start, until)

    def add(self, key, start, end):
        self.busy.setdefault(key, []).append((start, end))

    def free(self, key, start, end) -> bool:
        return not any(s < end and start < e for s, e in self.busy.get(key, ()))


def _stable(*parts) -> int:

    return zlib.crc32("/".join(str(p) for p in parts).encode())


def _candidate_days(target, earliest, latest, preferred):
    """Days to try, nearest the preferred day first, inside the window."""

    days = [preferred]
    for step in range(1, (latest - earliest).days + 2):
        days += [preferred + timedelta(days=step), preferred - timedelta(days=step)]
    return [d for d in days if earliest <= d <= latest]


def _lead(index: int, staff: int) -> int:
    """Position of a participant's own therapist: the first of the site's staff (at S01 the demo
    login `therapist`) for every other participant, so that login has plenty to see, log and sign."""
    return 0 if index % 2 == 1 else 1 + (index // 2) % max(staff - 1, 1)


def _find_slot(*, diary, session, days, therapists, rooms, lead, now, past: bool):
    """First (start, room, therapists) free in the diary on the candidate days (all in the past, or
    all after now). `lead` is the participant's own therapist, tried first (continuity of care)."""
    definition = session.definition
    tz = session.participant.site.zone
    duration = timedelta(minutes=definition.duration_minutes)
    hold = timedelta(hours=definition.room_hold_hours)
    dosing = definition.is_dosing
    times = DOSING_TIMES if dosing else SHORT_TIMES
    suitable = [r for r in rooms if ("Overnight" in r.name) == dosing] or rooms
    suitable = suitable[lead % len(suitable) :] + suitable[: lead % len(suitable)]
    people = therapists[lead % len(therapists) :] + therapists[: lead % len(therapists)]
    teams = list(combinations(people, definition.therapists_required))
    for day in days:
        for hour, minute in times:
            start = datetime.combine(day, time(hour, minute), tzinfo=tz)
            end = start + duration
            if (end > now) if past else (start <= now):
                continue
            room = next((r for r in suitable if diary.free(("r", r.pk), start, end + hold)), None)
            if room is None:
                continue
            team = next((t for t in teams if all(diary.free(("t", u.pk), start, end) for u in t)), None)
            if team is not None:
                return start, room, list(team)
    return None


def _seed_one(*, participant, story, index, diary, therapists, rooms, coordinator, today, now):
    """Walk the participant's plan in order: book and log what lies in the past, book the next one."""

    tz = participant.site.zone
    sessions = list(
        participant.sessions.select_related("definition", "participant__site").order_by("definition__order")
    )
    rebooked_missed = False
    for session in sessions:
        session.refresh_from_db()
        code = session.definition.code
        if code == story.get("overdue_at") or story.get("no_booking"):
            return
        span = services.window_of(session)
        late = code == story.get("late")
        # Most sessions happen on their target day; one in three a day or two off (within the
        # window), which moves the later windows as it would in real life.
        spread = [
            d
            for d in (-2, -1, 1, 2)
            if -session.definition.window_early_days <= d <= session.definition.window_late_days
        ]
        luck = _stable(participant.study_code, code)
        preferred = span.target + timedelta(days=spread[luck // 3 % len(spread)] if luck % 3 == 0 and spread else 0)
        earliest, latest = span.earliest, span.latest
        if late:
            preferred = span.latest + timedelta(days=3)
            earliest, latest = preferred, preferred + timedelta(days=6)
        past = preferred < today
        if past:
            days = _candidate_days(span.target, earliest, min(latest, today - timedelta(days=1)), preferred)
        else:
            days = _candidate_days(span.target, max(earliest, today), max(latest, today), max(preferred, today))
        slot = _find_slot(
            diary=diary,
            session=session,
            days=days,
            therapists=therapists,
            rooms=rooms,
            lead=_lead(index, len(therapists)),
            now=now,
            past=past,
        )
        if slot is None:
            continue  # nothing free in the window: left to book (shows on the to-schedule list)
        start, room, team = slot
        try:
            result = services.schedule_session(
                session=session,
                start=start,
                room=room,
                therapists=team,
                by=coordinator,
                deviation_reason="Participant unavailable during the window (demo)" if late else "",
            )
        except ValidationError:
            continue
        booked = result.session
        diary.add(("r", room.pk), booked.scheduled_start, booked.room_busy_until)
        for therapist in team:
            diary.add(("t", therapist.pk), booked.scheduled_start, booked.scheduled_end)
        if result.deviation is not None and story.get("close_deviation"):
            services.close_deviation(
                deviation=result.deviation,
                resolution="Reviewed with the PI; no impact on safety (demo).",
                by=coordinator,
            )
        if not past:
            # Book ahead what falls in the next three weeks; later sessions stay to be scheduled.
            if booked.scheduled_start.astimezone(tz).date() > today + timedelta(days=BOOK_AHEAD_DAYS):
                return
            continue
        if story.get("unlogged") and booked.scheduled_start.astimezone(tz).date() >= today - timedelta(days=4):
            continue  # happened in the last few days: booked, waiting for its log
        lead = team[0]
        if code in (story.get("missed"), story.get("missed_deviation")) and not rebooked_missed:
            missed = services.log_session(
                session=booked,
                outcome="missed",
                actual_start=None,
                actual_end=None,
                attended_by=[],
                notes="Participant did not attend (demo).",
                by=lead,
            )
            services._record_signature(missed, by=lead)
            if code == story.get("missed_deviation"):
                deviation = services.record_deviation(
                    participant=participant,
                    session=missed,
                    category="missed",
                    description=f"{code} missed; not rebooked before its window closed (demo).",
                    by=coordinator,
                )
                if story.get("close_deviation"):
                    services.close_deviation(
                        deviation=deviation, resolution="Noted; protocol continues (demo).", by=coordinator
                    )
                continue
            rebooked_missed = True
            retry = _find_slot(
                diary=diary,
                session=missed,
                days=_candidate_days(
                    span.target,
                    start.astimezone(tz).date() + timedelta(days=1),
                    min(span.latest, today - timedelta(days=1)),
                    start.astimezone(tz).date() + timedelta(days=2),
                ),
                therapists=therapists,
                rooms=rooms,
                lead=_lead(index, len(therapists)),
                now=now,
                past=True,
            )
            if retry is None:
                continue
            start, room, team = retry
            booked = services.schedule_session(
                session=missed,
                start=start,
                room=room,
                therapists=team,
                by=coordinator,
                reason="Missed; rebooked inside the window",
            ).session
            diary.add(("r", room.pk), booked.scheduled_start, booked.room_busy_until)
            for therapist in team:
                diary.add(("t", therapist.pk), booked.scheduled_start, booked.scheduled_end)
            lead = team[0]
        stopped = code == story.get("stopped_early")
        actual_start = booked.scheduled_start + timedelta(minutes=_stable(code, participant.study_code) % 11)
        actual_end = booked.scheduled_end - timedelta(
            minutes=150 if stopped else _stable(participant.study_code, code) % 8
        )
        logged = services.log_session(
            session=booked,
            outcome="stopped_early" if stopped else "completed",
            actual_start=actual_start,
            actual_end=actual_end,
            attended_by=team,
            notes="Stopped early at the participant's request (demo)." if stopped else "",
            by=lead,
        )
        if not story.get("unsigned") and actual_start.astimezone(tz).date() < today - timedelta(days=10):
            services._record_signature(logged, by=lead)
        if code == story.get("withdraw_after"):
            withdrawn_after_day = min(actual_start.astimezone(tz).date() + timedelta(days=4), today)
            services.withdraw_participant(
                participant=participant,
                withdrawn_on=withdrawn_after_day,
                reason="Participant chose to leave the study (demo).",
                by=coordinator,
            )
            return


@transaction.atomic  # one commit, not hundreds: seeding a fresh database takes seconds
def seed_participants(seeded: dict, stdout=None) -> int:
    """About 40 demo participants at every stage; returns how many were added (0 on a second run)."""

    users, sites, protocols = seeded["users"], seeded["sites"], seeded["protocols"]
    coordinator = users["coordinator"]
    diary = _Diary()
    now = timezone.now()
    added = 0
    recent = None
    for site_number, site in enumerate(sorted(sites.values(), key=lambda s: s.code)):
        today = timezone.localdate(now, timezone=site.zone)
        therapists = sorted(
            (m.user for m in Membership.objects.filter(site=site, role="staff").select_related("user")),
            key=lambda u: u.username,
        )
        rooms = list(site.rooms.filter(is_active=True).order_by("name"))
        for index, days_ago in enumerate(DAYS_AGO):
            version = protocols["TT-339"] if (index + site_number) % 3 == 2 else protocols["TT-333"]
            code = f"{site.code}-{index + 1:04d}"
            if Participant.objects.filter(protocol=version.protocol, study_code=code).exists():
                continue

            participant = services.enroll_participant(
                site=site,
                protocol_version=version,
                study_code=code,
                enrollment_date=today - timedelta(days=days_ago + site_number * 2),
                by=coordinator,
            )
            _seed_one(
                participant=participant,
                story=STORIES.get(index, {}),
                index=index,
                diary=diary,
                therapists=therapists,
                rooms=rooms,
                coordinator=coordinator,
                today=today,
                now=now,
            )
            added += 1
            if code == RECENT_DEVIATION[0]:
                # Reported last, so the newest deviation in the demo is an open one.
                recent = participant
    if recent is not None:
        services.record_deviation(
            participant=recent,
            session=recent.sessions.get(definition__code=RECENT_DEVIATION[1]),
            category=Deviation.Category.OTHER,
            description=RECENT_DEVIATION[2],
            by=coordinator,
        )
    if stdout is not None and added:
        stdout.write(f"Added {added} demo participants.\n")
    return added
